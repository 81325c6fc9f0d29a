//! calibscope: curate INT8 calibration sets for depth-estimation networks.
//!
//! The library holds every pipeline stage as plain data in, plain data out;
//! the command line (`cli`) and the desktop app are thin layers over it.
//! Long stages take a [`progress::Progress`] handle for progress and cancel.
//!
//! "The seed", in these docs, is the users' original workflow: the Python
//! scripts `create_ncdb_metadata.py` (split → metadata CSV),
//! `create_calibration_split.py` (metadata → `calibration_split.json`),
//! `copy_calibration_images.py` (split → image folder and lists) and
//! `analyze_calibration_dataset.py` (`calibration_statistics.json`).
//! calibscope reads and writes their file formats and reproduces their
//! numbers; where it differs (e.g. JPEG images are scanned), the module says so.
//!
//! Where things live: [`dataset`] owns what a sample is called and where
//! its files are (split reading, key matching, the path-escape rule);
//! every other module asks it. The README's "Code map" has a line per module.

pub mod dataset;
pub mod demo;
pub mod depth;
pub mod fsutil;
pub mod hash;
pub mod metadata;
pub mod paths;
pub mod progress;
pub mod scan;

// Calibration-set selection, its distribution check and its exports.
pub mod distribution;
pub mod export;
pub mod report;
pub mod select;

// How a network's output becomes depth (PTQ's fidelity check and evaluation).
pub mod decoder;
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
