//! KS and Wasserstein-1 of the distribution check against numpy, using
//! scipy's own formulas (`ks_2samp` statistic, `wasserstein_distance`).

mod export_support;

use std::process::Command;

use calibscope::distribution;
use calibscope::select::{self, Bins, SelectionRequest, Strategy};
use export_support::*;

#[test]
fn ks_and_wasserstein_match_numpy() {
    let rows: Vec<_> = (0..2000)
        .map(|i| {
            row(
                &format!("seq_{}", i % 4),
                &format!("{:010}", i / 4),
                "png",
                mean_for(i, 2000),
            )
        })
        .collect();
    let req = SelectionRequest {
        strategy: Strategy::Random,
        target: 150,
        seed: 5,
        ..Default::default()
    };
    let sel = select::run(&rows, &req).unwrap();
    let rep = distribution::check(&rows, &sel.indices, &Bins::default()).unwrap();
    let (ks, w1) = (rep.ks.unwrap(), rep.wasserstein1.unwrap());
    assert!(ks > 0.0 && w1 > 0.0);
    let Some(py) = python_with(&["numpy"], "KS/W1 parity") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let all = tmp.path().join("all.txt");
    let set = tmp.path().join("set.txt");
    let fmt = |v: Vec<f64>| v.iter().map(|x| format!("{x:?}\n")).collect::<String>();
    std::fs::write(&all, fmt(rows.iter().map(|r| r.mean_depth).collect())).unwrap();
    std::fs::write(
        &set,
        fmt(sel.indices.iter().map(|&i| rows[i].mean_depth).collect()),
    )
    .unwrap();
    let script = r#"
import sys, numpy as np
u = np.loadtxt(sys.argv[1]); v = np.loadtxt(sys.argv[2])
# scipy.stats.ks_2samp statistic
data_all = np.concatenate([np.sort(u), np.sort(v)])
cdf1 = np.searchsorted(np.sort(u), data_all, side='right') / len(u)
cdf2 = np.searchsorted(np.sort(v), data_all, side='right') / len(v)
ks = np.max(np.abs(cdf1 - cdf2))
# scipy.stats.wasserstein_distance (_cdf_distance with p=1)
us, vs = np.sort(u), np.sort(v)
allv = np.concatenate((u, v)); allv.sort(kind='mergesort')
deltas = np.diff(allv)
ucdf = us.searchsorted(allv[:-1], 'right') / len(u)
vcdf = vs.searchsorted(allv[:-1], 'right') / len(v)
w1 = np.sum(np.multiply(np.abs(ucdf - vcdf), deltas))
print(repr(float(ks)), repr(float(w1)))
"#;
    let o = Command::new(py)
        .args(["-c", script, all.to_str().unwrap(), set.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let v: Vec<f64> = out.split_whitespace().map(|t| t.parse().unwrap()).collect();
    assert!((ks - v[0]).abs() < 1e-12, "KS ours {} numpy {}", ks, v[0]);
    assert!(
        (w1 - v[1]).abs() < 1e-9 * v[1].max(1.0),
        "W1 ours {} numpy {}",
        w1,
        v[1]
    );
}

/// Runs only as the child of `python_gate_fails_when_required`.
#[test]
fn python_gate_child() {
    if std::env::var("CALIBSCOPE_GATE_CHILD").is_ok() {
        export_support::skip_or_fail("gate probe: python3 lacks nothing_at_all");
    }
}

#[test]
fn python_gate_fails_when_required() {
    let run = |require: &str| {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["python_gate_child", "--exact", "--nocapture"])
            .env("CALIBSCOPE_GATE_CHILD", "1")
            .env(export_support::python_gate::REQUIRE_ENV, require)
            .output()
            .unwrap()
    };
    let o = run("1");
    assert!(!o.status.success(), "a missing package must fail under =1");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("gate probe") && text.contains("must run"),
        "{text}"
    );
    let o = run("0");
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("skipped: gate probe"));
}
