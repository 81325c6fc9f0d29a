//! Artefacts beside the INT8 model: `ranges.json` (reloadable, to requantize
//! without recalibrating) and a TensorRT-style calibration cache.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::calibrate::CalibrationSetId;
use super::methods::{ActivationType, MethodOptions, RangeMethod};

pub const RANGES_FORMAT: &str = "calibscope-ranges/1";

/// One row of the ranges table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeRow {
    pub tensor: String,
    /// Calibrated range under `method`.
    pub min: f32,
    pub max: f32,
    /// Present when the tensor got a Q/DQ pair.
    pub scale: Option<f32>,
    pub zero_point: Option<i32>,
    /// The tensor whose parameters this one reuses (pooling, Resize).
    pub shared_with: Option<String>,
    pub method: RangeMethod,
    /// Observed extremes over the calibration set (before the method clipped them).
    pub observed_min: f32,
    pub observed_max: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangesFile {
    pub format: String,
    pub model: String,
    pub model_sha256: String,
    pub method: RangeMethod,
    pub method_options: MethodOptions,
    pub activation_type: ActivationType,
    pub calibration_set: CalibrationSetId,
    pub tensors: Vec<RangeRow>,
}

impl RangesFile {
    pub fn ranges(&self) -> HashMap<String, (f32, f32)> {
        self.tensors
            .iter()
            .map(|r| (r.tensor.clone(), (r.min, r.max)))
            .collect()
    }

    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let f: Self = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a calibscope ranges.json: {e}", path.display()))?;
        if f.format != RANGES_FORMAT {
            return Err(format!(
                "{}: unknown format {} (expected {RANGES_FORMAT})",
                path.display(),
                f.format
            ));
        }
        // A range reversed or not finite would give a negative or NaN scale
        // in the INT8 model; refuse the file instead.
        if let Some(r) = f
            .tensors
            .iter()
            .find(|r| !(r.min.is_finite() && r.max.is_finite() && r.min <= r.max))
        {
            return Err(format!(
                "{}: tensor {} has min {} and max {}; a range needs finite values with min <= max. Fix the file or calibrate again",
                path.display(),
                r.tensor,
                r.min,
                r.max
            ));
        }
        Ok(f)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("ranges serialise")
    }

    /// TensorRT calibration cache: a header line, then `tensor: <hex of f32 scale>`
    /// per tensor with scale = max(|min|, |max|) / 127 (symmetric int8).
    pub fn tensorrt_cache(&self) -> String {
        let kind = match self.method {
            RangeMethod::Entropy => "EntropyCalibration2",
            RangeMethod::Percentile => "PercentileCalibration",
            RangeMethod::Mse => "MSECalibration",
            RangeMethod::MinMax => "MinMaxCalibration",
        };
        let mut out = format!("TRT-8601-{kind}\n");
        for r in &self.tensors {
            let amax = r.min.abs().max(r.max.abs());
            let scale = amax / 127.0;
            out.push_str(&format!("{}: {:08x}\n", r.tensor, scale.to_bits()));
        }
        out
    }
}

/// Parses a TensorRT calibration cache back to tensor → scale (for checks).
pub fn parse_tensorrt_cache(text: &str) -> HashMap<String, f32> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let (name, hex) = l.rsplit_once(": ")?;
            let bits = u32::from_str_radix(hex.trim(), 16).ok()?;
            Some((name.to_string(), f32::from_bits(bits)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip_and_cache_text() {
        let f = RangesFile {
            format: RANGES_FORMAT.into(),
            model: "m.onnx".into(),
            model_sha256: "ab".into(),
            method: RangeMethod::Entropy,
            method_options: MethodOptions::default(),
            activation_type: ActivationType::Uint8,
            calibration_set: CalibrationSetId {
                count: 3,
                ..Default::default()
            },
            tensors: vec![RangeRow {
                tensor: "conv1:0".into(),
                min: -1.27,
                max: 0.5,
                scale: Some(0.01),
                zero_point: Some(127),
                shared_with: None,
                method: RangeMethod::Entropy,
                observed_min: -2.0,
                observed_max: 0.5,
            }],
        };
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("r.json");
        std::fs::write(&p, f.to_json()).unwrap();
        assert_eq!(RangesFile::read(&p).unwrap(), f);
        let cache = f.tensorrt_cache();
        assert!(cache.starts_with("TRT-8601-EntropyCalibration2\n"));
        let back = parse_tensorrt_cache(&cache);
        assert!((back["conv1:0"] - 0.01).abs() < 1e-7);
        std::fs::write(&p, "{}").unwrap();
        assert!(RangesFile::read(&p)
            .unwrap_err()
            .contains("not a calibscope ranges.json"));
    }
}
