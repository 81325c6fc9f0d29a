//! The command line: one subcommand per pipeline stage, each a thin layer
//! over the library. Without a subcommand the desktop app opens.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

pub mod copy;
pub mod demo;
pub mod export;
pub mod ptq;
pub mod scan;
pub mod select;

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
    /// Scan a split: per-sample depth statistics (the seed's metadata CSV).
    Scan(scan::ScanArgs),
    /// Choose a calibration set from scan metadata; print the plan and distribution check.
    Select(select::SelectArgs),
    /// Copy (or link) the selected images into a folder with image_list.txt and dataset.txt.
    Copy(copy::CopyArgs),
    /// Write calibration_statistics.json and optional preprocessed .npy tensors.
    Export(export::ExportArgs),
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
            Command::Scan(a) => scan::run(a),
            Command::Select(a) => select::run(a),
            Command::Copy(a) => copy::run(a),
            Command::Export(a) => export::run(a),
            Command::Ptq(a) => ptq::run(*a),
        },
    }
}
