//! Diagnosis of INT8 loss: how far an INT8 model is from FP32 (fidelity),
//! which tensors lose most (per-tensor comparison), and the floor set by
//! the output's own 8-bit encoding.

pub mod floor;
pub mod histograms;
pub mod inspect;
pub mod methods;
pub mod run;
pub mod sweep;
pub mod tensors;

// The fidelity check runs after every PTQ run, so it lives with PTQ;
// diagnosis reads it under its old names too.
pub use crate::quantize::{agreement, fidelity, heldout};
pub use agreement::{Agreement, AgreementSummary};
pub use fidelity::{Fidelity, OutputFidelity};
