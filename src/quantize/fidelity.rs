//! The fidelity check run after every PTQ: the INT8 model against FP32 on
//! held-out inputs — output cosine, SQNR and (with a decoder) depth error —
//! with a warning in words when it is far worse than MinMax ranges would give.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::agreement::{Agreement, AgreementSummary};
use crate::decoder::{Decoder, DecoderKind};
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
            "Fidelity on {} inputs: output cosine {:.4}, SQNR {:.1} dB",
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

/// A candidate model's agreement with the reference.
#[derive(Debug, Clone, Default)]
pub struct ModelAgreement {
    /// Per output (matched by name; an output the candidate lacks is left out).
    pub outputs: BTreeMap<String, Agreement>,
    /// Mean over images of mean |d − d_ref| / d_ref, when a decoder was given.
    pub depth_abs_rel: Option<f64>,
}

/// Heads in the decoder's order from a model's outputs.
fn heads(decoder: &Decoder, outs: &[(String, Vec<f32>)]) -> Option<Vec<Vec<f64>>> {
    let names: Vec<&str> = match (decoder.kind, &decoder.output) {
        (DecoderKind::DualHead, _) => {
            vec![&decoder.integer_output, &decoder.fractional_output]
        }
        (_, Some(o)) => vec![o.as_str()],
        (_, None) => vec![outs.first()?.0.as_str()],
    };
    names
        .into_iter()
        .map(|n| {
            let (_, v) = outs.iter().find(|(o, _)| o == n)?;
            Some(v.iter().map(|&x| x as f64).collect())
        })
        .collect()
}

/// Mean |d − d_ref| / d_ref over pixels where both depths are finite and d_ref > 0.
fn depth_rel(
    decoder: &Decoder,
    reference: &[(String, Vec<f32>)],
    other: &[(String, Vec<f32>)],
) -> Option<f64> {
    let r = decoder.decode_maps(&heads(decoder, reference)?);
    let o = decoder.decode_maps(&heads(decoder, other)?);
    let (mut sum, mut n) = (0.0, 0usize);
    for (a, b) in r.iter().zip(&o) {
        if a.is_finite() && b.is_finite() && *a > 0.0 {
            sum += (b - a).abs() / a;
            n += 1;
        }
    }
    (n > 0).then(|| sum / n as f64)
}

/// Runs the reference and every candidate on each input and compares their
/// outputs (and decoded depth, with a decoder).
pub fn compare_models(
    reference: &[u8],
    candidates: &[&[u8]],
    inputs: &[PathBuf],
    pre: &PreprocessSettings,
    decoder: Option<&Decoder>,
    progress: &Progress,
) -> Result<Vec<ModelAgreement>, FidelityError> {
    let mut fp32 = Model::from_bytes(reference)?;
    let mut models = candidates
        .iter()
        .map(|b| Model::from_bytes(b))
        .collect::<Result<Vec<_>, _>>()?;
    let mut acc: Vec<ModelAgreement> = vec![ModelAgreement::default(); candidates.len()];
    let mut depth: Vec<(f64, usize)> = vec![(0.0, 0); candidates.len()];
    let shape = pre.input_shape();
    let copy = |all: Vec<(&str, &[i64], &[f32])>| -> Vec<(String, Vec<f32>)> {
        all.into_iter()
            .map(|(n, _, v)| (n.to_string(), v.to_vec()))
            .collect()
    };
    progress.begin("fidelity check", inputs.len() as u64);
    for p in inputs {
        if progress.is_cancelled() {
            return Err(FidelityError::Cancelled);
        }
        let (x, _) = pre.load_input(p)?;
        let mut reference_out = Vec::new();
        fp32.run_with(&pre.input_name, &shape, x.clone(), |all| {
            reference_out = copy(all)
        })?;
        for ((m, a), d) in models.iter_mut().zip(acc.iter_mut()).zip(depth.iter_mut()) {
            let mut out = Vec::new();
            m.run_with(&pre.input_name, &shape, x.clone(), |all| out = copy(all))?;
            for (n, v) in &out {
                if let Some((_, r)) = reference_out.iter().find(|(rn, _)| rn == n) {
                    a.outputs.entry(n.clone()).or_default().add(r, v);
                }
            }
            if let Some(rel) = decoder.and_then(|dec| depth_rel(dec, &reference_out, &out)) {
                d.0 += rel;
                d.1 += 1;
            }
        }
        progress.inc(1);
    }
    for (a, (sum, n)) in acc.iter_mut().zip(depth) {
        a.depth_abs_rel = (n > 0).then(|| sum / n as f64);
    }
    Ok(acc)
}

/// Builds the fidelity line from the agreements of the run's INT8 model and,
/// optionally, of the MinMax model. `input_warning`: a range warning on the
/// graph input, which explains a collapse.
pub fn fidelity_from(
    inputs: &[PathBuf],
    ours: &ModelAgreement,
    minmax: Option<&ModelAgreement>,
    input_warning: Option<&str>,
) -> Fidelity {
    let depth_abs_rel_vs_fp32 = ours.depth_abs_rel;
    let minmax_depth = minmax.and_then(|m| m.depth_abs_rel);
    let minmax = minmax.map(|m| &m.outputs);
    let ours = &ours.outputs;
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
    if let (Some(d), Some(md)) = (depth_abs_rel_vs_fp32, minmax_depth) {
        if d > 1.5 * md && d - md > 0.01 {
            why.push(format!(
                "its depth is off FP32 by {:.1} % against {:.1} % with MinMax ranges",
                d * 100.0,
                md * 100.0
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

    fn acc(x: &[f32], y: &[f32]) -> ModelAgreement {
        let mut a = Agreement::default();
        a.add(x, y);
        ModelAgreement {
            outputs: [("depth".to_string(), a)].into(),
            depth_abs_rel: None,
        }
    }

    #[test]
    fn depth_error_decodes_both_outputs() {
        let dec = Decoder {
            kind: DecoderKind::Linear,
            min_depth: 0.0,
            max_depth: 10.0,
            ..Default::default()
        };
        let r = vec![("s".to_string(), vec![0.5f32, 0.1])];
        let o = vec![("s".to_string(), vec![0.55f32, 0.1])];
        // depths 5 → 5.5 (10 %) and 1 → 1 (0 %): mean 5 %.
        assert!((depth_rel(&dec, &r, &o).unwrap() - 0.05).abs() < 1e-6);
    }

    #[test]
    fn warns_when_far_worse_than_minmax_and_names_the_cause() {
        let x = [1.0f32, 2.0, 3.0, 4.0];
        let good = acc(&x, &[1.01, 2.01, 3.01, 4.01]);
        let bad = acc(&x, &[0.5, 0.5, 0.5, 0.5]);
        let inputs = vec![PathBuf::from("a.png")];
        let f = fidelity_from(&inputs, &bad, Some(&good), Some("rgb collapsed"));
        let w = f.warning.clone().unwrap();
        assert!(
            w.contains("far worse than MinMax") && w.contains("rgb collapsed"),
            "{w}"
        );
        assert!(f.minmax_sqnr_db.unwrap() > f.sqnr_db + 6.0);
        let f = fidelity_from(&inputs, &good, Some(&good), Some("x"));
        assert!(f.warning.is_none(), "{:?}", f.warning);
        assert!(f.line().contains("SQNR"));
        // Without a MinMax reference, only an absolutely poor output warns.
        let f = fidelity_from(&inputs, &bad, None, None);
        assert!(f.warning.unwrap().contains("far from FP32"));
    }
}
