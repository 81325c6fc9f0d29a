use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = calibscope::cli::Cli::parse();
    calibscope::cli::run(cli)
}
