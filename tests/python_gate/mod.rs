//! One rule for reference-parity tests that need Python: without
//! `python3` or its packages they print "skipped: …" and return, except
//! when `CALIBSCOPE_REQUIRE_PYTHON=1` (CI sets it in `.ci/run`), where a
//! missing interpreter or package is a failure — a parity test that
//! silently skips in CI checks nothing. Self-contained: copy this file
//! into another test folder and call `skip_or_fail` where a test skips.
#![allow(dead_code)]

/// Set to `1` to make missing Python (or packages) fail parity tests.
pub const REQUIRE_ENV: &str = "CALIBSCOPE_REQUIRE_PYTHON";

/// Whether parity tests must run here.
pub fn python_required() -> bool {
    std::env::var(REQUIRE_ENV).is_ok_and(|v| v.trim() == "1")
}

/// Call where a parity test is about to skip: prints `skipped: {why}`, or
/// panics with `why` when [`REQUIRE_ENV`] is `1`.
pub fn skip_or_fail(why: &str) {
    if python_required() {
        panic!("{why} — {REQUIRE_ENV}=1, so parity tests must run: install what is missing");
    }
    println!("skipped: {why}");
}
