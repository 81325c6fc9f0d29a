//! Diagnosis of INT8 loss: how far an INT8 model is from FP32 (fidelity),
//! which tensors lose most (per-tensor comparison), and the floor set by
//! the output's own 8-bit encoding.

pub mod agreement;
pub mod fidelity;
pub mod floor;
pub mod heldout;
pub mod histograms;
pub mod inspect;
pub mod methods;
pub mod run;
pub mod sweep;
pub mod tensors;

pub use agreement::{Agreement, AgreementSummary};
pub use fidelity::{Fidelity, OutputFidelity};
