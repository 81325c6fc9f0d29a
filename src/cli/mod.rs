//! The command line: one subcommand per pipeline stage, each a thin layer
//! over the library. Without a subcommand the desktop app opens.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

pub mod demo;
pub mod ptq;

#[derive(Debug, Parser)]
#[command(
    name = "calibscope",
    version,
    about = "Curate INT8 calibration sets for depth networks: scan, select, export, quantize, evaluate"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a small demo dataset in NCDB layout.
    Demo(demo::DemoArgs),
    /// Quantize an FP32 ONNX model to INT8 (QDQ) from a calibration set.
    Ptq(Box<ptq::PtqArgs>),
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        None => {
            // The desktop app arrives in a later step; until then show the help.
            let _ = Cli::command().print_help();
            ExitCode::SUCCESS
        }
        Some(cmd) => match cmd {
            Command::Demo(a) => demo::run(a),
            Command::Ptq(a) => ptq::run(*a),
        },
    }
}
