//! The command line: one subcommand per pipeline stage, each a thin layer
//! over the library. Without a subcommand the desktop app opens.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

pub mod compare;
pub mod copy;
mod dataset_args;
pub mod demo;
pub mod diagnose;
mod diagnose_methods;
pub mod eval;
pub mod export;
pub mod ptq;
pub mod scan;
pub mod select;
mod ticking;
pub mod toolchain;

pub use dataset_args::{dataset_settings, SampleArgs};

#[derive(Debug, Parser)]
#[command(
    name = "calibscope",
    version,
    about = "Curate INT8 calibration sets for depth networks: scan, select, export, quantize"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Open the app on this dataset folder (without a subcommand).
    #[arg(long)]
    pub root: Option<std::path::PathBuf>,
    /// Split file to open with --root (relative to the root, or absolute).
    #[arg(long)]
    pub split: Option<std::path::PathBuf>,
    /// Metadata file (seed CSV or calibscope JSON) to open with --root.
    #[arg(long)]
    pub metadata: Option<std::path::PathBuf>,
    /// Open the app on a saved project file.
    #[arg(long)]
    pub project: Option<std::path::PathBuf>,
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
    /// Where an INT8 model loses against FP32: fidelity and per-tensor errors, as JSON.
    Diagnose(Box<diagnose::DiagnoseArgs>),
    /// Evaluate a model or a folder of predictions on a split: abs_rel … a3, per depth range.
    Eval(Box<eval::EvalArgs>),
    /// Run the vendor's quantizer (command template, no shell); check an ONNX output's fidelity.
    Toolchain(Box<toolchain::ToolchainArgs>),
    /// Compare saved evaluation runs against a baseline (Δ, Δ%, worst samples, per range).
    Compare(compare::CompareArgs),
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        None => {
            let launch = crate::gui::Launch {
                root: cli.root,
                split: cli.split,
                project: cli.project,
                metadata: cli.metadata,
            };
            match crate::gui::run(launch) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    eprintln!("(every step also runs headless: see `calibscope --help`)");
                    let _ = Cli::command().print_help();
                    ExitCode::FAILURE
                }
            }
        }
        Some(cmd) => match cmd {
            Command::Demo(a) => demo::run(a),
            Command::Scan(a) => scan::run(a),
            Command::Select(a) => select::run(a),
            Command::Copy(a) => copy::run(a),
            Command::Export(a) => export::run(a),
            Command::Ptq(a) => ptq::run(*a),
            Command::Diagnose(a) => diagnose::run(*a),
            Command::Eval(a) => eval::run(*a),
            Command::Compare(a) => compare::run(a),
            Command::Toolchain(a) => toolchain::run(*a),
        },
    }
}
