//! Decoders: how network outputs become metres. Recorded with every run.

use serde::{Deserialize, Serialize};

/// The decodings the users' networks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DecoderKind {
    /// Sigmoid `s` → inverse depth between min and max (monodepth2's
    /// `disp_to_depth`): `1 / (1/max + (1/min − 1/max)·s)`.
    #[default]
    SigmoidInverse,
    /// Two heads: `integer·max_depth + fractional`.
    DualHead,
    /// Direct linear: `min + (max − min)·s`.
    Linear,
    /// The output is depth in metres.
    Depth,
    /// The output is inverse depth (1/metres).
    InverseDepth,
}

impl DecoderKind {
    pub const ALL: [DecoderKind; 5] = [
        DecoderKind::SigmoidInverse,
        DecoderKind::DualHead,
        DecoderKind::Linear,
        DecoderKind::Depth,
        DecoderKind::InverseDepth,
    ];

    /// The name on the command line and in run files.
    pub fn name(self) -> &'static str {
        match self {
            DecoderKind::SigmoidInverse => "sigmoid-inverse",
            DecoderKind::DualHead => "dual-head",
            DecoderKind::Linear => "linear",
            DecoderKind::Depth => "depth",
            DecoderKind::InverseDepth => "inverse-depth",
        }
    }

    /// The formula, for help texts and tables.
    pub fn formula(self) -> &'static str {
        match self {
            DecoderKind::SigmoidInverse => "1 / (1/max + (1/min - 1/max) * s)",
            DecoderKind::DualHead => "integer * max + fractional",
            DecoderKind::Linear => "min + (max - min) * s",
            DecoderKind::Depth => "depth as output",
            DecoderKind::InverseDepth => "1 / output",
        }
    }
}

impl std::fmt::Display for DecoderKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DecoderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown decoder \"{s}\"; use sigmoid-inverse, dual-head, linear, depth or inverse-depth")
            })
    }
}

/// A decoder with its depth bounds and the outputs it reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Decoder {
    pub kind: DecoderKind,
    /// The network's depth bounds (used by sigmoid-inverse, linear and
    /// dual-head); these are the model's, not the evaluation range.
    pub min_depth: f64,
    pub max_depth: f64,
    /// The model output to read for single-head decoders; `None` takes the
    /// model's only (or first) output.
    pub output: Option<String>,
    /// Dual-head output names (also the sub-folder names of NPU dumps).
    pub integer_output: String,
    pub fractional_output: String,
}

impl Default for Decoder {
    fn default() -> Self {
        Self {
            kind: DecoderKind::SigmoidInverse,
            min_depth: 0.5,
            max_depth: 15.0,
            output: None,
            integer_output: "integer_sigmoid".into(),
            fractional_output: "fractional_sigmoid".into(),
        }
    }
}

impl Decoder {
    /// Number of raw heads the decoder reads (2 for dual head).
    pub fn heads(&self) -> usize {
        if self.kind == DecoderKind::DualHead {
            2
        } else {
            1
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let needs_bounds = matches!(
            self.kind,
            DecoderKind::SigmoidInverse | DecoderKind::Linear | DecoderKind::DualHead
        );
        let min_ok = self.min_depth > 0.0
            || (self.kind != DecoderKind::SigmoidInverse && self.min_depth >= 0.0);
        let ordered = self.max_depth.is_finite() && self.max_depth > self.min_depth;
        if needs_bounds && (!min_ok || !ordered) {
            return Err(format!(
                "decoder {} needs 0 < min depth < max depth (the network's bounds), got {} and {}",
                self.kind, self.min_depth, self.max_depth
            ));
        }
        if self.kind == DecoderKind::DualHead && self.integer_output == self.fractional_output {
            return Err(
                "the dual-head integer and fractional outputs must have different names".into(),
            );
        }
        Ok(())
    }

    /// Decodes one value (`heads` holds one value per head).
    #[inline]
    pub fn decode_value(&self, heads: &[f64]) -> f64 {
        let (min, max) = (self.min_depth, self.max_depth);
        match self.kind {
            DecoderKind::SigmoidInverse => {
                let (min_disp, max_disp) = (1.0 / max, 1.0 / min);
                1.0 / (min_disp + (max_disp - min_disp) * heads[0])
            }
            DecoderKind::DualHead => heads[0] * max + heads[1],
            DecoderKind::Linear => min + (max - min) * heads[0],
            DecoderKind::Depth => heads[0],
            DecoderKind::InverseDepth => 1.0 / heads[0],
        }
    }

    /// Decodes whole maps (all heads the same length) into metres.
    pub fn decode_maps(&self, heads: &[Vec<f64>]) -> Vec<f64> {
        match heads {
            [one] => one.iter().map(|&s| self.decode_value(&[s])).collect(),
            [a, b, ..] => a
                .iter()
                .zip(b)
                .map(|(&x, &y)| self.decode_value(&[x, y]))
                .collect(),
            [] => Vec::new(),
        }
    }

    /// One line for tables and logs: `sigmoid-inverse (0.5–100 m)`.
    pub fn describe(&self) -> String {
        match self.kind {
            DecoderKind::Depth | DecoderKind::InverseDepth => self.kind.name().to_string(),
            k => format!("{} ({}–{} m)", k.name(), self.min_depth, self.max_depth),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders_follow_their_formulas() {
        let mut d = Decoder {
            min_depth: 0.5,
            max_depth: 100.0,
            ..Default::default()
        };
        assert!((d.decode_value(&[0.0]) - 100.0).abs() < 1e-9);
        assert!((d.decode_value(&[1.0]) - 0.5).abs() < 1e-12);
        let s = 0.3;
        let want = 1.0 / (0.01 + (2.0 - 0.01) * s);
        assert!((d.decode_value(&[s]) - want).abs() < 1e-12);
        d.kind = DecoderKind::DualHead;
        assert!((d.decode_value(&[0.05, 0.25]) - 5.25).abs() < 1e-12);
        d.kind = DecoderKind::Linear;
        assert!((d.decode_value(&[0.5]) - 50.25).abs() < 1e-12);
        d.kind = DecoderKind::InverseDepth;
        assert_eq!(d.decode_value(&[0.25]), 4.0);
        assert_eq!(
            "dual-head".parse::<DecoderKind>(),
            Ok(DecoderKind::DualHead)
        );
        assert!("sigmoid"
            .parse::<DecoderKind>()
            .unwrap_err()
            .contains("sigmoid-inverse"));
    }

    #[test]
    fn bad_bounds_are_refused() {
        let d = Decoder {
            min_depth: 0.0,
            ..Default::default()
        };
        assert!(d.validate().unwrap_err().contains("min depth"));
        let d = Decoder {
            kind: DecoderKind::Depth,
            min_depth: 0.0,
            ..Default::default()
        };
        assert!(d.validate().is_ok());
    }
}
