//! How closely one tensor follows another, streamed over images: cosine,
//! SQNR in dB (ONNX Runtime's `qdq_loss_debug` formula over the
//! concatenation of all images), max and mean absolute error.

use serde::{Deserialize, Serialize};

/// Running sums for comparing a reference `x` with a candidate `y`.
#[derive(Debug, Clone, Default)]
pub struct Agreement {
    xx: f64,
    yy: f64,
    xy: f64,
    dd: f64,
    abs: f64,
    max_abs: f64,
    n: u64,
}

/// The comparison's result, plain data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgreementSummary {
    pub cosine: f64,
    pub sqnr_db: f64,
    pub max_abs_error: f64,
    pub mean_abs_error: f64,
    pub values: u64,
}

impl Agreement {
    /// Adds one image's values (same length; extra values of the longer are ignored).
    pub fn add(&mut self, x: &[f32], y: &[f32]) {
        for (a, b) in x.iter().zip(y) {
            let (a, b) = (*a as f64, *b as f64);
            let d = a - b;
            self.xx += a * a;
            self.yy += b * b;
            self.xy += a * b;
            self.dd += d * d;
            self.abs += d.abs();
            if d.abs() > self.max_abs {
                self.max_abs = d.abs();
            }
        }
        self.n += x.len().min(y.len()) as u64;
    }

    /// ONNX Runtime's `compute_signal_to_quantization_noice_ratio`:
    /// 20·log10(max(‖x‖, ε) / max(‖x − y‖, ε)) with ε float64's machine epsilon.
    pub fn sqnr_db(&self) -> f64 {
        let eps = f64::EPSILON;
        20.0 * (self.xx.sqrt().max(eps) / self.dd.sqrt().max(eps)).log10()
    }

    /// Cosine similarity; 1 when both are all zeros, 0 when only one is.
    pub fn cosine(&self) -> f64 {
        if self.xx == 0.0 && self.yy == 0.0 {
            return 1.0;
        }
        if self.xx == 0.0 || self.yy == 0.0 {
            return 0.0;
        }
        self.xy / (self.xx.sqrt() * self.yy.sqrt())
    }

    pub fn summary(&self) -> AgreementSummary {
        AgreementSummary {
            cosine: self.cosine(),
            sqnr_db: self.sqnr_db(),
            max_abs_error: self.max_abs,
            mean_abs_error: if self.n == 0 {
                0.0
            } else {
                self.abs / self.n as f64
            },
            values: self.n,
        }
    }
}

/// Quantize-dequantize as QuantizeLinear then DequantizeLinear compute it
/// (round half to even, saturate to [qmin, qmax]).
pub fn fake_quantize(v: f32, scale: f32, zero_point: i32, qmin: i32, qmax: i32) -> f32 {
    let q = ((v / scale).round_ties_even() + zero_point as f32).clamp(qmin as f32, qmax as f32);
    (q - zero_point as f32) * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqnr_and_cosine_by_hand() {
        let mut a = Agreement::default();
        // ‖x‖ = 5 (3,4), ‖x−y‖ = 0.5 → 20·log10(10) = 20 dB.
        a.add(&[3.0], &[3.3]);
        a.add(&[4.0], &[4.4]);
        let s = a.summary();
        assert!((s.sqnr_db - 20.0).abs() < 1e-5, "{}", s.sqnr_db);
        assert!((s.cosine - 1.0).abs() < 1e-12);
        assert!((s.max_abs_error - 0.4).abs() < 1e-6);
        assert!((s.mean_abs_error - 0.35).abs() < 1e-6);
        let mut b = Agreement::default();
        b.add(&[1.0, 0.0], &[0.0, 1.0]);
        assert_eq!(b.cosine(), 0.0);
        // Identical tensors: ‖x−y‖ floors at ε.
        let mut c = Agreement::default();
        c.add(&[1.0], &[1.0]);
        assert!((c.sqnr_db() - 20.0 * (1.0 / f64::EPSILON).log10()).abs() < 1e-9);
    }

    #[test]
    fn fake_quantize_rounds_half_to_even_and_saturates() {
        assert_eq!(fake_quantize(0.5, 1.0, 0, 0, 255), 0.0);
        assert_eq!(fake_quantize(1.5, 1.0, 0, 0, 255), 2.0);
        assert_eq!(fake_quantize(300.0, 1.0, 0, 0, 255), 255.0);
        assert_eq!(fake_quantize(-3.0, 0.5, 10, 0, 255), -3.0);
        assert_eq!(fake_quantize(-6.0, 0.5, 10, 0, 255), -5.0);
    }
}
