//! calibscope: curate INT8 calibration sets for depth-estimation networks.
//!
//! The library holds every pipeline stage as plain data in, plain data out;
//! the command line (`cli`) and the desktop app are thin layers over it.
//! Long stages take a [`progress::Progress`] handle for progress and cancel.

pub mod dataset;
pub mod demo;
pub mod depth;
pub mod fsutil;
pub mod metadata;
pub mod progress;
pub mod scan;

// Calibration-set selection, its distribution check and its exports.
pub mod distribution;
pub mod export;
pub mod select;

// PTQ (issue 5)
pub mod onnx;
pub mod preprocess;
pub mod quantize;
// Diagnosis of INT8 loss (issue 16)
pub mod diagnose;
pub mod runtime;
pub mod toolchain;

// Evaluation of predictions against ground truth (issue 15)
pub mod evaluate;

pub mod cli;
pub mod gui;
