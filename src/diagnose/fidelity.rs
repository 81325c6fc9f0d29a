//! The fidelity check run after every PTQ: the INT8 model against FP32 on
//! held-out inputs — output cosine, SQNR and (with a decoder) depth error —
//! with a warning in words when it is far worse than MinMax ranges would give.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::agreement::{Agreement, AgreementSummary};
use crate::preprocess::PreprocessSettings;
use crate::progress::Progress;
use crate::runtime::infer::Model;

/// Below this SQNR (dB) an output is far from FP32 whatever the method.
pub const POOR_SQNR_DB: f64 = 10.0;
/// A method this many dB below MinMax's SQNR is "far worse" (noise ×2 in amplitude).
pub const WORSE_THAN_MINMAX_DB: f64 = 6.0;

/// One model output, INT8 against FP32.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputFidelity {
    pub output: String,
    #[serde(flatten)]
    pub agreement: AgreementSummary,
}

/// The fidelity line of a PTQ run (plain data for the CLI, the app and the run's JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fidelity {
    /// Held-out inputs compared (none of them in the calibration set).
    pub samples: usize,
    pub first_sample: Option<String>,
    pub last_sample: Option<String>,
    pub outputs: Vec<OutputFidelity>,
    /// The worst output's cosine and SQNR.
    pub cosine: f64,
    pub sqnr_db: f64,
    /// Mean over held-out images of mean |d_int8 − d_fp32| / d_fp32 with the
    /// model's decoder, when one is known.
    pub depth_abs_rel_vs_fp32: Option<f64>,
    /// The same check with MinMax ranges from the same statistics (when the
    /// run used another method).
    pub minmax_sqnr_db: Option<f64>,
    pub minmax_cosine: Option<f64>,
    pub warning: Option<String>,
}

impl Fidelity {
    /// One line for a terminal or a status bar.
    pub fn line(&self) -> String {
        let mut s = format!(
            "Fidelity on {} held-out inputs: output cosine {:.4}, SQNR {:.1} dB",
            self.samples, self.cosine, self.sqnr_db
        );
        if let Some(d) = self.depth_abs_rel_vs_fp32 {
            s.push_str(&format!(", depth off FP32 by {:.2} % (abs_rel)", d * 100.0));
        }
        if let Some(m) = self.minmax_sqnr_db {
            s.push_str(&format!(" (MinMax ranges: {m:.1} dB)"));
        }
        s
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FidelityError {
    #[error(transparent)]
    Preprocess(#[from] crate::preprocess::PreprocessError),
    #[error(transparent)]
    Infer(#[from] crate::runtime::infer::InferError),
    #[error("cancelled")]
    Cancelled,
}

/// Per output of the reference, the agreement of each candidate with it.
/// Outputs are matched by name; a candidate lacking one is left out for it.
pub fn compare_models(
    reference: &[u8],
    candidates: &[&[u8]],
    inputs: &[PathBuf],
    pre: &PreprocessSettings,
    progress: &Progress,
) -> Result<Vec<BTreeMap<String, Agreement>>, FidelityError> {
    let mut fp32 = Model::from_bytes(reference)?;
    let mut models = candidates
        .iter()
        .map(|b| Model::from_bytes(b))
        .collect::<Result<Vec<_>, _>>()?;
    let mut acc: Vec<BTreeMap<String, Agreement>> = vec![BTreeMap::new(); candidates.len()];
    let shape = pre.input_shape();
    progress.begin("fidelity check", inputs.len() as u64);
    for p in inputs {
        if progress.is_cancelled() {
            return Err(FidelityError::Cancelled);
        }
        let (x, _) = pre.load_input(p)?;
        let mut reference_out: Vec<(String, Vec<f32>)> = Vec::new();
        fp32.run_with(&pre.input_name, &shape, x.clone(), |all| {
            reference_out = all
                .into_iter()
                .map(|(n, _, v)| (n.to_string(), v.to_vec()))
                .collect();
        })?;
        for (m, a) in models.iter_mut().zip(acc.iter_mut()) {
            m.run_with(&pre.input_name, &shape, x.clone(), |all| {
                for (n, _, v) in all {
                    if let Some((_, r)) = reference_out.iter().find(|(rn, _)| rn == n) {
                        a.entry(n.to_string()).or_default().add(r, v);
                    }
                }
            })?;
        }
        progress.inc(1);
    }
    Ok(acc)
}

/// Builds the fidelity line from the agreements of the run's INT8 model and,
/// optionally, of the MinMax model. `input_warning`: a range warning on the
/// graph input, which explains a collapse.
pub fn fidelity_from(
    inputs: &[PathBuf],
    ours: &BTreeMap<String, Agreement>,
    minmax: Option<&BTreeMap<String, Agreement>>,
    depth_abs_rel_vs_fp32: Option<f64>,
    input_warning: Option<&str>,
) -> Fidelity {
    let outputs: Vec<OutputFidelity> = ours
        .iter()
        .map(|(n, a)| OutputFidelity {
            output: n.clone(),
            agreement: a.summary(),
        })
        .collect();
    let worst = |m: &BTreeMap<String, Agreement>| {
        m.values()
            .fold((f64::INFINITY, f64::INFINITY), |(c, s), a| {
                (c.min(a.cosine()), s.min(a.sqnr_db()))
            })
    };
    let (cosine, sqnr_db) = worst(ours);
    let mm = minmax.map(worst);
    let mut why = Vec::new();
    if let Some((_, ms)) = mm {
        if sqnr_db < ms - WORSE_THAN_MINMAX_DB {
            why.push(format!(
                "the INT8 output is far worse than MinMax ranges would give (SQNR {sqnr_db:.1} dB against {ms:.1} dB)"
            ));
        }
    }
    if sqnr_db < POOR_SQNR_DB && why.is_empty() {
        why.push(format!(
            "the INT8 output is far from FP32 (SQNR {sqnr_db:.1} dB, cosine {cosine:.3})"
        ));
    }
    if let (false, Some(w)) = (why.is_empty(), input_warning) {
        why.push(format!("likely cause: {w}"));
    }
    let name = |p: &PathBuf| p.display().to_string();
    Fidelity {
        samples: inputs.len(),
        first_sample: inputs.first().map(name),
        last_sample: inputs.last().map(name),
        outputs,
        cosine,
        sqnr_db,
        depth_abs_rel_vs_fp32,
        minmax_sqnr_db: mm.map(|m| m.1),
        minmax_cosine: mm.map(|m| m.0),
        warning: (!why.is_empty()).then(|| why.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(x: &[f32], y: &[f32]) -> BTreeMap<String, Agreement> {
        let mut a = Agreement::default();
        a.add(x, y);
        [("depth".to_string(), a)].into()
    }

    #[test]
    fn warns_when_far_worse_than_minmax_and_names_the_cause() {
        let x = [1.0f32, 2.0, 3.0, 4.0];
        let good = acc(&x, &[1.01, 2.01, 3.01, 4.01]);
        let bad = acc(&x, &[0.5, 0.5, 0.5, 0.5]);
        let inputs = vec![PathBuf::from("a.png")];
        let f = fidelity_from(&inputs, &bad, Some(&good), None, Some("rgb collapsed"));
        let w = f.warning.clone().unwrap();
        assert!(
            w.contains("far worse than MinMax") && w.contains("rgb collapsed"),
            "{w}"
        );
        assert!(f.minmax_sqnr_db.unwrap() > f.sqnr_db + 6.0);
        let f = fidelity_from(&inputs, &good, Some(&good), None, Some("x"));
        assert!(f.warning.is_none(), "{:?}", f.warning);
        assert!(f.line().contains("SQNR"));
        // Without a MinMax reference, only an absolutely poor output warns.
        let f = fidelity_from(&inputs, &bad, None, None, None);
        assert!(f.warning.unwrap().contains("far from FP32"));
    }
}
