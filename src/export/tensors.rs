//! Preprocessed input tensors for toolchains that want raw input instead of
//! images. Each image goes through [`PreprocessSettings::tensor_from_image_bytes`]
//! — the very code calibration uses, so an exported `.npy` and the calibration
//! input for the same image and settings are byte-identical. With the default
//! settings that is RGB in [0, 1] (8-bit /255, 16-bit /65535), resized to W×H
//! with the bilinear `Triangle` filter in floating point (skipped when the size
//! already matches), NCHW. Written as `.npy` v1.0, little-endian float32,
//! C order, shape `[1, 3, H, W]` (or `[1, H, W, 3]` for NHWC). The files are
//! named like the copied images with `.npy`, listed with absolute paths in
//! `tensor_list.txt`. Each file is written atomically; a rerun rewrites them.

use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::{
    check_all, check_root, dedup_samples, ensure_outside_dataset, names, remove_stale_temporaries,
    ExportError, ExportSample, Skipped,
};
use crate::fsutil;
use crate::preprocess::PreprocessSettings;
use crate::progress::Progress;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TensorOptions {
    pub width: u32,
    pub height: u32,
    /// Accept absolute dataset_roots / image paths outside the dataset root.
    pub allow_absolute_roots: bool,
}

/// Largest tensor side accepted (see [`crate::preprocess::MAX_SIDE`]).
pub const MAX_TENSOR_SIDE: u32 = crate::preprocess::MAX_SIDE;

impl Default for TensorOptions {
    /// The users' network input, 640×384.
    fn default() -> Self {
        TensorOptions {
            width: 640,
            height: 384,
            allow_absolute_roots: false,
        }
    }
}

impl TensorOptions {
    /// The preprocessing these options stand for: the defaults (bilinear, RGB,
    /// 1/255, no mean/std, NCHW) at this size.
    pub fn preprocess(&self) -> PreprocessSettings {
        PreprocessSettings {
            width: self.width,
            height: self.height,
            ..PreprocessSettings::default()
        }
    }

    /// Values per tensor (3·W·H), or an error naming the limits when a side
    /// is 0 or above [`MAX_TENSOR_SIDE`].
    pub fn validate(&self) -> Result<usize, ExportError> {
        self.preprocess()
            .validate()
            .map_err(|e| ExportError::Invalid(e.to_string()))
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TensorReport {
    /// Tensor files written, in selection order.
    pub written: Vec<PathBuf>,
    pub skipped: Vec<Skipped>,
    /// Samples listed more than once (written once).
    pub duplicates: Vec<crate::metadata::SampleKey>,
    pub list_file: Option<PathBuf>,
    pub cancelled: bool,
}

/// The float32 `.npy` header for `shape` (see [`crate::preprocess::npy_header`]).
pub fn npy_header(shape: &[usize]) -> Vec<u8> {
    crate::preprocess::npy_header("<f4", shape)
}

/// Decodes and preprocesses one image into NCHW float32 values.
pub fn image_to_nchw(path: &Path, opts: TensorOptions) -> Result<Vec<f32>, String> {
    image_to_tensor(path, &opts.preprocess())
}

/// Decodes and preprocesses one image as calibration does.
pub fn image_to_tensor(path: &Path, pre: &PreprocessSettings) -> Result<Vec<f32>, String> {
    pre.validate().map_err(|e| e.to_string())?;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    pre.tensor_from_image_bytes(&bytes, path)
        .map_err(|e| e.to_string())
}

/// Writes one tensor per sample into `out_dir` (outside `dataset_root`)
/// plus `tensor_list.txt`, with the default preprocessing at the options' size.
pub fn write_tensors(
    dataset_root: &Path,
    samples: &[ExportSample],
    out_dir: &Path,
    opts: TensorOptions,
    progress: &Progress,
) -> Result<TensorReport, ExportError> {
    opts.validate()?;
    write_tensors_with(
        dataset_root,
        samples,
        out_dir,
        &opts.preprocess(),
        opts.allow_absolute_roots,
        progress,
    )
}

/// [`write_tensors`] with any preprocessing settings (filter, channel order,
/// scale, mean/std, layout), e.g. those a PTQ run uses.
pub fn write_tensors_with(
    dataset_root: &Path,
    samples: &[ExportSample],
    out_dir: &Path,
    pre: &PreprocessSettings,
    allow_absolute_roots: bool,
    progress: &Progress,
) -> Result<TensorReport, ExportError> {
    pre.validate()
        .map_err(|e| ExportError::Invalid(e.to_string()))?;
    check_all(dataset_root, samples, allow_absolute_roots)?;
    check_root(dataset_root)?;
    ensure_outside_dataset(dataset_root, out_dir)?;
    // A sample listed twice is written once.
    let (samples, duplicates) = dedup_samples(samples);
    let samples = &samples[..];
    let bases: Vec<String> = samples
        .iter()
        .map(|s| names::seed_name(&s.key.dataset_root, &s.key.stem, "npy"))
        .collect();
    let unique = names::unique_names(&bases);
    std::fs::create_dir_all(out_dir).map_err(|e| ExportError::io(out_dir, e))?;
    remove_stale_temporaries(out_dir)?;
    let abs_out = std::path::absolute(out_dir).map_err(|e| ExportError::io(out_dir, e))?;
    progress.begin("tensors", samples.len() as u64);
    let shape: Vec<usize> = pre.input_shape().iter().map(|&d| d as usize).collect();
    let header = npy_header(&shape);
    let results: Vec<Option<Result<PathBuf, String>>> = samples
        .par_iter()
        .zip(unique.par_iter())
        .map(|(s, (name, _))| {
            if progress.is_cancelled() {
                return None;
            }
            let r = image_to_tensor(&s.image, pre).and_then(|t| {
                let dest = out_dir.join(name);
                fsutil::write_atomic_with(&dest, |w| {
                    w.write_all(&header)?;
                    for v in &t {
                        w.write_all(&v.to_le_bytes())?;
                    }
                    Ok(())
                })
                .map(|_| abs_out.join(name))
                .map_err(|e| format!("cannot write {}: {e}", dest.display()))
            });
            match &r {
                Ok(_) => progress.inc(1),
                Err(_) => progress.inc_skipped(1),
            }
            Some(r)
        })
        .collect();
    let mut report = TensorReport {
        duplicates,
        ..TensorReport::default()
    };
    for (s, r) in samples.iter().zip(results) {
        match r {
            None => report.cancelled = true,
            Some(Ok(p)) => report.written.push(p),
            Some(Err(reason)) => report.skipped.push(Skipped {
                key: s.key.clone(),
                reason,
            }),
        }
    }
    if !report.cancelled {
        let list = out_dir.join("tensor_list.txt");
        let text: String = report
            .written
            .iter()
            .map(|p| format!("{}\n", p.display()))
            .collect();
        fsutil::write_atomic(&list, text.as_bytes()).map_err(|e| ExportError::io(&list, e))?;
        report.list_file = Some(list);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_numpy_v1_and_aligned() {
        let h = npy_header(&[1, 3, 384, 640]);
        assert_eq!(h.len() % 64, 0);
        assert_eq!(&h[..8], b"\x93NUMPY\x01\x00");
        let text = std::str::from_utf8(&h[10..]).unwrap();
        assert!(text
            .starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 384, 640), }"));
        assert!(text.ends_with(" \n"));
        assert_eq!(u16::from_le_bytes([h[8], h[9]]) as usize, h.len() - 10);
        assert!(String::from_utf8(npy_header(&[5])[10..].to_vec())
            .unwrap()
            .contains("(5,)"));
    }

    #[test]
    fn nchw_layout_and_range() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.png");
        let mut img = image::RgbImage::new(4, 2);
        img.put_pixel(1, 0, image::Rgb([255, 0, 51]));
        img.save(&p).unwrap();
        let t = image_to_nchw(
            &p,
            TensorOptions {
                width: 4,
                height: 2,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(t.len(), 24);
        assert_eq!(t[1], 1.0); // R plane, pixel (1,0)
        assert_eq!(t[8 + 1], 0.0); // G plane
        assert!((t[16 + 1] - 0.2).abs() < 1e-6); // B plane
        let r = image_to_nchw(
            &p,
            TensorOptions {
                width: 8,
                height: 4,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.len(), 3 * 32);
        assert!(r.iter().all(|v| (0.0..=1.0).contains(v)));
    }

    #[test]
    fn huge_or_empty_sizes_are_clear_errors() {
        let o = |width, height| TensorOptions {
            width,
            height,
            ..Default::default()
        };
        let e = o(65536, 65536).validate().unwrap_err().to_string();
        assert!(e.contains("at most 8192"), "{e}");
        assert!(o(0, 5).validate().is_err());
        assert_eq!(o(8192, 8192).validate().unwrap(), 3 * 8192 * 8192);
        let e = image_to_nchw(Path::new("/nonexistent.png"), o(70000, 2)).unwrap_err();
        assert!(e.contains("8192"), "{e}");
    }
}
