//! calibscope: curate INT8 calibration sets for depth-estimation networks.
//!
//! The library holds every pipeline stage as plain data in, plain data out;
//! the command line (`cli`) and the desktop app are thin layers over it.
//! Long stages take a [`progress::Progress`] handle for progress and cancel.

pub mod fsutil;
pub mod metadata;
pub mod progress;

pub mod cli;
pub mod gui;
