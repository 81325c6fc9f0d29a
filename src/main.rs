use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = calibscope::cli::Cli::parse();
    if cli.command.is_some() {
        // Rust ignores SIGPIPE, so printing into a closed pipe (`calibscope
        // scan … | head`) would panic; a headless command should stop quietly
        // like any Unix tool. Outputs are renamed into place, so a stop here
        // leaves no half-written file. The app keeps Rust's default.
        #[cfg(unix)]
        // SAFETY: called before any thread starts; only resets one signal's disposition.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    calibscope::cli::run(cli)
}
