//! One evaluated sample up close: its RGB image, ground truth and each
//! run's decoded depth at the GT's size, computed off the UI thread, and
//! the colour images the Evaluate view shows (turbo depth on one shared
//! range, `hot` relative error, a diverging INT8−FP32 difference).

use std::path::{Path, PathBuf};

use crate::dataset::{DatasetSettings, ResolvedSample};
use crate::evaluate::{naming, predict, EvalRun};
use crate::metadata::SampleKey;

/// Everything the viewer draws for one sample, in plain arrays.
pub struct SampleMaps {
    pub key: SampleKey,
    pub rgb: Result<egui::ColorImage, String>,
    pub width: usize,
    pub height: usize,
    /// Ground truth in metres (0 where there is no measurement).
    pub gt: Vec<f32>,
    /// Per run (same order as the runs): decoded depth at the GT's size.
    pub preds: Vec<Result<Vec<f32>, String>>,
}

/// Loads the sample from the split and predicts it as each run did: a
/// model run's outputs come from the prediction cache under `cache_dir`
/// (`None`: the app's cache folder) when the evaluation stored them there,
/// so opening a sample does not run the network again.
pub fn compute(
    root: &Path,
    split: &Path,
    settings: &DatasetSettings,
    key: &SampleKey,
    runs: &[&EvalRun],
    cache_dir: Option<&Path>,
) -> Result<SampleMaps, String> {
    let sp = crate::dataset::read_split(root, split).map_err(|e| e.to_string())?;
    let entry = sp
        .entries
        .iter()
        .find(|e| e.key() == *key)
        .ok_or_else(|| format!("{key} is not in {}", split.display()))?;
    let smp = crate::dataset::resolve_sample(root, entry, settings).map_err(|s| s.detail)?;
    let gt =
        crate::depth::load_depth(&smp.depth, settings.depth_encoding).map_err(|e| e.to_string())?;
    let (w, h) = (gt.width as usize, gt.height as usize);
    let rgb = image::open(&smp.image)
        .map(|img| {
            let img = img.to_rgba8();
            egui::ColorImage::from_rgba_unmultiplied(
                [img.width() as usize, img.height() as usize],
                img.as_raw(),
            )
        })
        .map_err(|e| format!("cannot read image {}: {e}", smp.image.display()));
    let preds = runs
        .iter()
        .map(|run| predict_like(run, key, &smp, cache_dir, w, h))
        .collect();
    Ok(SampleMaps {
        key: key.clone(),
        rgb,
        width: w,
        height: h,
        gt: gt.metres,
        preds,
    })
}

/// The run's prediction for one sample, decoded by the run's decoder and
/// resized (bilinear, half-pixel centres) to the GT's size.
fn predict_like(
    run: &EvalRun,
    key: &SampleKey,
    smp: &ResolvedSample,
    cache_dir: Option<&Path>,
    w: usize,
    h: usize,
) -> Result<Vec<f32>, String> {
    let path = PathBuf::from(&run.source.path);
    let heads = if run.source.kind == "model" {
        match cached_heads(run, smp, cache_dir) {
            Some(heads) => heads,
            None => {
                let mut net = predict::Network::load(&path, run.source.preprocess.clone())?;
                let t = net.input(&smp.image)?;
                net.run(t)?
            }
        }
    } else {
        let folder = predict::list_folder(&path, &run.decoder)?;
        let names: Vec<String> = folder.files.iter().map(|(n, _)| n.clone()).collect();
        let m = naming::match_names(std::slice::from_ref(key), &names);
        let i = m.by_sample[0]
            .ok_or_else(|| format!("no prediction file for {key} in {}", path.display()))?;
        predict::load_files(&folder.files[i].1, &run.decoder, 1.0 / 255.0)?
    };
    let chosen = predict::select_heads(&heads, &run.decoder)?;
    let (sw, sh) = (chosen[0].width, chosen[0].height);
    let maps: Vec<Vec<f64>> = chosen
        .iter()
        .map(|hd| hd.values.iter().map(|&v| f64::from(v)).collect())
        .collect();
    let depth = run.decoder.decode_maps(&maps);
    let depth = if (sw, sh) == (w, h) {
        depth
    } else {
        crate::evaluate::metrics::resize_bilinear(&depth, sw, sh, w, h, false)
    };
    Ok(depth.into_iter().map(|d| d as f32).collect())
}

/// The run's stored network outputs for the sample, keyed as the evaluation
/// keyed them (model SHA-256, preprocessing, image file identity).
pub fn cached_heads(
    run: &EvalRun,
    smp: &ResolvedSample,
    cache_dir: Option<&Path>,
) -> Option<Vec<predict::Head>> {
    let (sha, pre) = (run.source.sha256.as_ref()?, run.source.preprocess.as_ref()?);
    let root = match cache_dir {
        Some(d) => d.to_path_buf(),
        None => crate::fsutil::AppDirs::discover().ok()?.cache,
    };
    let cache = predict::PredictionCache::new(&root, sha, pre);
    cache.load(&cache.entry(&smp.image, &smp.image_stamp))
}

/// Sparse GT points grown to `r` pixels so they are visible when scaled down:
/// an empty pixel takes the nearest measured value in its (2r+1)² window.
pub fn dilate(v: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let valid = |d: f32| d > 0.0 && d.is_finite();
    let mut out = v.to_vec();
    for y in 0..h {
        for x in 0..w {
            if valid(v[y * w + x]) {
                continue;
            }
            let mut best: Option<(usize, f32)> = None;
            for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                    let d = v[yy * w + xx];
                    if valid(d) {
                        let dist = yy.abs_diff(y).pow(2) + xx.abs_diff(x).pow(2);
                        if best.is_none_or(|(b, _)| dist < b) {
                            best = Some((dist, d));
                        }
                    }
                }
            }
            if let Some((_, d)) = best {
                out[y * w + x] = d;
            }
        }
    }
    out
}

/// `|pred − gt| / gt` where GT is measured, NaN elsewhere.
pub fn relative_error(pred: &[f32], gt: &[f32]) -> Vec<f32> {
    pred.iter()
        .zip(gt)
        .map(|(&p, &g)| {
            if g > 0.0 && g.is_finite() {
                (p - g).abs() / g
            } else {
                f32::NAN
            }
        })
        .collect()
}

/// A colour image of values through `map`, transparent where NaN.
pub fn paint(v: &[f32], w: usize, h: usize, map: impl Fn(f32) -> [u8; 3]) -> egui::ColorImage {
    let mut px = Vec::with_capacity(v.len() * 4);
    for &x in v {
        if x.is_finite() {
            let [r, g, b] = map(x);
            px.extend_from_slice(&[r, g, b, 255]);
        } else {
            px.extend_from_slice(&[0, 0, 0, 0]);
        }
    }
    egui::ColorImage::from_rgba_unmultiplied([w, h], &px)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dilation_grows_points_and_keeps_measurements() {
        let mut v = vec![0.0f32; 25];
        v[12] = 4.0; // centre of 5×5
        v[0] = 1.0;
        let d = dilate(&v, 5, 5, 1);
        assert_eq!(d[12], 4.0);
        assert_eq!(d[0], 1.0);
        assert_eq!(d[7], 4.0, "above the centre");
        assert_eq!(d[1], 1.0, "nearest wins");
        assert_eq!(d[4], 0.0, "too far from any point");
    }

    #[test]
    fn relative_error_is_nan_without_ground_truth() {
        let e = relative_error(&[2.0, 3.0, 1.0], &[4.0, 0.0, 1.0]);
        assert_eq!(e[0], 0.5);
        assert!(e[1].is_nan());
        assert_eq!(e[2], 0.0);
    }
}
