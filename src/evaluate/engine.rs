//! The evaluation loop: a three-stage pipeline so reading files, running
//! the network and computing metrics overlap.
//!
//! loader thread (resolve files, read GT, read cache or preprocess the image)
//! → network (the calling thread; ONNX Runtime uses its own threads)
//! → metrics thread (decode, resize, mask, metrics, cache write).
//! Channels are bounded, so memory stays flat whatever the split size.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::metrics::{image_metrics_at, Bilinear, ImageMetrics, ValidityMask};
use super::predict::{self, Head, Network, PredictionCache, PredictionFiles};
use super::run::{
    self, CacheCounters, CalibrationInfo, EvalRun, ExcludedSample, SampleMetrics, SampleProblem,
    SampleRangeMetrics, SourceInfo, RUN_FORMAT,
};
use super::{naming, EvalError, EvalRequest, EvalSettings, PredictionSource, ResizeOrder};
use crate::dataset::{self, FolderListings, KeyIndex, ResolvedSample, SplitEntry};
use crate::depth::DepthMap;
use crate::progress::Progress;

/// What the loader hands on for one sample.
enum Pred {
    /// Read from the prediction cache.
    Cached(Vec<Head>),
    /// Read from a prediction folder.
    Files(Vec<Head>),
    /// Needs the network: the input tensor and where to cache the outputs.
    Input(Vec<f32>, Option<PathBuf>),
    /// Network outputs, to be cached at `store`.
    Ready {
        heads: Vec<Head>,
        store: Option<PathBuf>,
    },
}

struct Item {
    sample: usize,
    gt: DepthMap,
    pred: Pred,
}

enum Outcome {
    Done(SampleMetrics),
    NoValid(usize),
    Problem(usize, String),
}

/// Runs an evaluation (see the module docs of [`super`]).
pub fn evaluate(req: &EvalRequest, progress: &Progress) -> Result<EvalRun, EvalError> {
    req.settings.validate().map_err(EvalError::Settings)?;
    req.decoder.validate().map_err(EvalError::Settings)?;
    let split = dataset::read_split(&req.root, &req.split)?;
    let split_name = split.path.display().to_string();
    progress.begin("resolving samples", split.len() as u64);

    let mut skipped: Vec<SampleProblem> = split
        .problems
        .iter()
        .map(|p| SampleProblem {
            dataset_root: String::new(),
            stem: format!("entry {}", p.index),
            reason: p.detail.clone(),
        })
        .collect();
    let (entries, excluded) = leave_out(&split.entries, &req.excluded);
    if entries.is_empty() && !excluded.is_empty() {
        return Err(EvalError::NothingToEvaluate {
            split: split_name,
            why: format!("all {} samples are excluded as suspect", excluded.len()),
        });
    }
    let listings = FolderListings::build(&req.root, &split.entries, &req.dataset);
    let mut samples: Vec<ResolvedSample> = Vec::with_capacity(entries.len());
    for e in entries {
        match dataset::resolve_sample_listed(&req.root, e, &req.dataset, &listings) {
            Ok(s) => samples.push(s),
            Err(skip) => skipped.push(SampleProblem {
                dataset_root: e.dataset_root.clone(),
                stem: e.stem.clone(),
                reason: skip.detail,
            }),
        }
    }
    if samples.is_empty() {
        return Err(EvalError::NothingToEvaluate {
            split: split_name,
            why: "no sample has both an image and a depth map".into(),
        });
    }
    let mask = match &req.settings.validity_mask {
        Some(p) => Some(ValidityMask::load(p).map_err(EvalError::Settings)?),
        None => None,
    };

    let mut warnings_files = Vec::new();
    let source_info;
    let mut network = None;
    let mut cache = None;
    // Per sample: its prediction files (folder sources).
    let mut files: Vec<Option<PredictionFiles>> = vec![None; samples.len()];
    let mut uint8_scale = 1.0 / 255.0;
    match &req.source {
        PredictionSource::Model { path, preprocess } => {
            let sha = predict::file_sha256(path).map_err(EvalError::Model)?;
            let net = Network::load(path, preprocess.clone()).map_err(EvalError::Model)?;
            predict::check_outputs(&net.outputs, &req.decoder)
                .map_err(|e| EvalError::Model(format!("{}: {e}", path.display())))?;
            if req.use_cache {
                let root = match &req.cache_dir {
                    Some(d) => d.clone(),
                    None => {
                        crate::fsutil::AppDirs::discover()
                            .map_err(|e| EvalError::Io(e.to_string()))?
                            .cache
                    }
                };
                cache = Some(PredictionCache::new(&root, &sha, &net.preprocess));
            }
            source_info = SourceInfo {
                kind: "model".into(),
                path: run::path_text(&run::absolute(path)),
                sha256: Some(sha),
                preprocess: Some(net.preprocess.clone()),
                calibration: calibration_of(path, &mut warnings_files),
                layout: None,
            };
            network = Some(net);
        }
        PredictionSource::Folder {
            path,
            uint8_scale: s,
        } => {
            uint8_scale = *s;
            let folder =
                predict::list_folder(path, &req.decoder).map_err(EvalError::Predictions)?;
            let keys: Vec<_> = samples.iter().map(|s| s.key.clone()).collect();
            let names: Vec<String> = folder.files.iter().map(|f| f.0.clone()).collect();
            let m = naming::match_names(&keys, &names);
            for (i, j) in m.by_sample.iter().enumerate() {
                files[i] = j.map(|j| folder.files[j].1.clone());
            }
            warnings_files.extend(folder.problems.iter().cloned());
            warnings_files.extend(m.problems());
            source_info = SourceInfo {
                kind: "predictions".into(),
                path: run::path_text(&run::absolute(path)),
                sha256: None,
                preprocess: None,
                calibration: None,
                layout: Some(folder.layout.clone()),
            };
            if files.iter().all(Option::is_none) {
                return Err(EvalError::Predictions(format!(
                    "no file in {} matches a sample of {split_name}; files are named by stem (when unique) or the copy way (seq_01_0000000001.npy)",
                    path.display()
                )));
            }
        }
    }

    progress.begin("evaluating", samples.len() as u64);
    let mut counters = CacheCounters::default();
    let (tx_load, rx_load) = sync_channel::<Result<Item, (usize, String)>>(4);
    let (tx_net, rx_net) = sync_channel::<Result<Item, (usize, String)>>(4);
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(samples.len());
    let net_inputs = network.as_ref().map(|n| n.preprocess.clone());

    std::thread::scope(|s| {
        // Loader.
        let samples_ref = &samples;
        let files_ref = &files;
        let cache_ref = &cache;
        let decoder = &req.decoder;
        s.spawn(move || {
            for (i, smp) in samples_ref.iter().enumerate() {
                if progress.is_cancelled() {
                    break;
                }
                let item = load_item(
                    i,
                    smp,
                    files_ref[i].as_ref(),
                    net_inputs.as_ref(),
                    cache_ref.as_ref(),
                    decoder,
                    uint8_scale,
                    req,
                );
                if tx_load.send(item).is_err() {
                    break;
                }
            }
        });
        // Metrics.
        let metrics_thread = s.spawn(move || {
            metrics_stage(
                rx_net,
                samples_ref,
                req,
                mask.as_ref(),
                cache_ref.as_ref(),
                progress,
            )
        });
        // Network (this thread).
        network_stage(rx_load, tx_net, network.as_mut(), &mut counters, progress);
        let (outs, write_errors) = metrics_thread.join().unwrap_or_default();
        counters.write_errors = write_errors;
        outcomes = outs;
    });

    let mut per_sample = Vec::new();
    let mut no_valid = Vec::new();
    for o in outcomes {
        match o {
            Outcome::Done(m) => per_sample.push(m),
            Outcome::NoValid(i) => no_valid.push(problem(&samples[i], "no pixel passes the mask")),
            Outcome::Problem(i, why) => skipped.push(problem(&samples[i], &why)),
        }
    }
    per_sample.sort_by_key(|m| m.index);
    let cancelled = progress.is_cancelled();
    if per_sample.is_empty() && !cancelled {
        let why = skipped
            .first()
            .map(|p| p.reason.clone())
            .unwrap_or_else(|| "no image has a valid pixel under the mask".into());
        return Err(EvalError::NothingToEvaluate {
            split: split_name,
            why,
        });
    }
    let (metrics, std, pixels, per_range) = run::summarise(&per_sample, &req.settings.range_edges);
    Ok(EvalRun {
        format: RUN_FORMAT.into(),
        label: req.label.clone(),
        calibscope_version: env!("CARGO_PKG_VERSION").into(),
        created_unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        root: run::path_text(&run::absolute(&req.root)),
        split: split_name,
        source: source_info,
        decoder: req.decoder.clone(),
        settings: req.settings.clone(),
        resize_method: if req.settings.align_corners {
            run::RESIZE_ALIGN_CORNERS.into()
        } else {
            run::RESIZE_HALF_PIXEL.into()
        },
        std_convention: "population std over images (ddof=0, numpy's default)".into(),
        metrics,
        std,
        images: per_sample.len(),
        pixels,
        per_sample,
        per_range,
        no_valid_pixels: no_valid,
        skipped,
        excluded,
        unmatched_files: warnings_files,
        cache: counters,
        cancelled,
    })
}

/// Splits the split's entries into those to evaluate and those excluded
/// (with the reason, keyed as in the split). Keys match by the dataset's
/// one rule ([`KeyIndex`]); every entry sharing an excluded key goes.
fn leave_out<'a>(
    entries: &'a [SplitEntry],
    exclude: &[ExcludedSample],
) -> (Vec<&'a SplitEntry>, Vec<ExcludedSample>) {
    if exclude.is_empty() {
        return (entries.iter().collect(), Vec::new());
    }
    let index = KeyIndex::new(
        entries
            .iter()
            .map(|e| (e.dataset_root.as_str(), e.stem.as_str())),
    );
    // Split id → reason (the first given for it).
    let mut reasons: HashMap<(&str, &str), &str> = HashMap::new();
    for x in exclude {
        if let Some(id) = index
            .find(&x.dataset_root, &x.stem)
            .and_then(|i| index.id(i))
        {
            reasons.entry(id).or_insert(&x.reason);
        }
    }
    let mut kept = Vec::with_capacity(entries.len());
    let mut out = Vec::new();
    for e in entries {
        match reasons.get(&e.key().id()) {
            Some(reason) => out.push(ExcludedSample {
                dataset_root: e.dataset_root.clone(),
                stem: e.stem.clone(),
                reason: reason.to_string(),
            }),
            None => kept.push(e),
        }
    }
    (kept, out)
}

fn problem(s: &ResolvedSample, why: &str) -> SampleProblem {
    SampleProblem {
        dataset_root: s.key.dataset_root.clone(),
        stem: s.key.stem.clone(),
        reason: why.to_string(),
    }
}

/// The calibration record of an INT8 model from the `.ranges.json` beside it.
fn calibration_of(model: &Path, warnings: &mut Vec<String>) -> Option<CalibrationInfo> {
    let (ranges, _) = crate::quantize::artefact_paths(model);
    if !ranges.is_file() {
        return None;
    }
    match crate::quantize::RangesFile::read(&ranges) {
        Ok(f) => Some(CalibrationInfo {
            ranges_file: run::path_text(&ranges),
            method: f.method,
            method_options: f.method_options,
            calibration_set: f.calibration_set,
            fp32_model_sha256: f.model_sha256,
        }),
        Err(e) => {
            warnings.push(format!("calibration record not read: {e}"));
            None
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn load_item(
    i: usize,
    smp: &ResolvedSample,
    files: Option<&PredictionFiles>,
    net: Option<&crate::preprocess::PreprocessSettings>,
    cache: Option<&PredictionCache>,
    decoder: &super::Decoder,
    uint8_scale: f64,
    req: &EvalRequest,
) -> Result<Item, (usize, String)> {
    let gt = crate::depth::load_depth(&smp.depth, req.dataset.depth_encoding)
        .map_err(|e| (i, e.to_string()))?;
    let pred = if let Some(p) = net {
        let entry = cache.map(|c| c.entry(&smp.image, &smp.image_stamp));
        match cache.zip(entry.as_ref()).and_then(|(c, e)| c.load(e)) {
            Some(heads) => Pred::Cached(heads),
            None => {
                let bytes = std::fs::read(&smp.image)
                    .map_err(|e| (i, format!("cannot read image {}: {e}", smp.image.display())))?;
                let t = p
                    .tensor_from_image_bytes(&bytes, &smp.image)
                    .map_err(|e| (i, e.to_string()))?;
                Pred::Input(t, entry)
            }
        }
    } else {
        match files {
            Some(f) => {
                Pred::Files(predict::load_files(f, decoder, uint8_scale).map_err(|e| (i, e))?)
            }
            None => return Err((i, "no prediction file for this sample".into())),
        }
    };
    Ok(Item {
        sample: i,
        gt,
        pred,
    })
}

type Msg = Result<Item, (usize, String)>;

fn network_stage(
    rx: Receiver<Msg>,
    tx: SyncSender<Msg>,
    mut net: Option<&mut Network>,
    counters: &mut CacheCounters,
    progress: &Progress,
) {
    for msg in rx {
        if progress.is_cancelled() {
            break;
        }
        let out = match msg {
            Ok(Item {
                sample,
                gt,
                pred: Pred::Input(t, entry),
            }) => match net.as_deref_mut() {
                Some(n) => {
                    counters.network_runs += 1;
                    if entry.is_some() {
                        counters.misses += 1;
                    }
                    match n.run(t) {
                        Ok(heads) => Ok(Item {
                            sample,
                            gt,
                            pred: Pred::Ready {
                                heads,
                                store: entry,
                            },
                        }),
                        Err(e) => Err((sample, e)),
                    }
                }
                None => Err((sample, "no network loaded for a model source".into())),
            },
            Ok(it) => {
                if let Pred::Cached(_) = it.pred {
                    counters.hits += 1;
                }
                Ok(it)
            }
            Err(e) => Err(e),
        };
        if tx.send(out).is_err() {
            break;
        }
    }
}

fn metrics_stage(
    rx: Receiver<Msg>,
    samples: &[ResolvedSample],
    req: &EvalRequest,
    mask: Option<&ValidityMask>,
    cache: Option<&PredictionCache>,
    progress: &Progress,
) -> (Vec<Outcome>, u64) {
    let mut masks: HashMap<(usize, usize), ValidityMask> = HashMap::new();
    let mut out = Vec::new();
    let mut write_errors = 0;
    for msg in rx {
        let o = match msg {
            Err((i, why)) => Outcome::Problem(i, why),
            Ok(item) => {
                let i = item.sample;
                let (w, h) = (item.gt.width as usize, item.gt.height as usize);
                let m = mask.map(|m| &*masks.entry((w, h)).or_insert_with(|| m.resized(w, h)));
                match &item.pred {
                    Pred::Ready { heads, store } => {
                        if let (Some(c), Some(e)) = (cache, store) {
                            if c.store(e, heads).is_err() {
                                write_errors += 1;
                            }
                        }
                        score(heads, &item.gt, samples, i, req, m)
                    }
                    Pred::Cached(heads) | Pred::Files(heads) => {
                        score(heads, &item.gt, samples, i, req, m)
                    }
                    Pred::Input(..) => Outcome::Problem(i, "the network did not run".into()),
                }
            }
        };
        if matches!(o, Outcome::Problem(..)) {
            progress.inc_skipped(1);
        } else {
            progress.inc(1);
        }
        out.push(o);
    }
    (out, write_errors)
}

/// Decodes, resizes and scores one sample.
fn score(
    all: &[Head],
    gt: &DepthMap,
    samples: &[ResolvedSample],
    i: usize,
    req: &EvalRequest,
    mask: Option<&ValidityMask>,
) -> Outcome {
    let heads = match select(all, req) {
        Ok(h) => h,
        Err(e) => return Outcome::Problem(i, e),
    };
    let r = match score_prediction(gt, &heads, &req.decoder, &req.settings, mask) {
        Ok(r) => r,
        Err(e) => return Outcome::Problem(i, e),
    };
    let smp = &samples[i];
    match r.metrics {
        None => Outcome::NoValid(i),
        Some(metrics) => Outcome::Done(SampleMetrics {
            dataset_root: smp.key.dataset_root.clone(),
            stem: smp.key.stem.clone(),
            index: smp.index,
            metrics,
            pixels: r.pixels,
            scale: r.scale,
            ranges: r
                .ranges
                .into_iter()
                .map(|v| {
                    v.map(|v| SampleRangeMetrics {
                        metrics: v.metrics,
                        pixels: v.pixels,
                    })
                })
                .collect(),
        }),
    }
}

/// One sample's metrics from its GT and raw prediction heads (in the
/// decoder's order): resize to the GT size (before or after decoding, as
/// the settings say), decode, then [`image_metrics`]. The validity mask,
/// when given, must have the GT's size.
pub fn score_prediction(
    gt: &DepthMap,
    heads: &[&Head],
    decoder: &super::Decoder,
    s: &EvalSettings,
    mask: Option<&ValidityMask>,
) -> Result<ImageMetrics, String> {
    let (w, h) = (gt.width as usize, gt.height as usize);
    let Some(first) = heads.first() else {
        return Err("no prediction head".into());
    };
    if heads.len() != decoder.heads() {
        return Err(format!(
            "decoder {} reads {} heads, the prediction has {}",
            decoder.kind,
            decoder.heads(),
            heads.len()
        ));
    }
    let (pw, ph) = (first.width, first.height);
    if heads.iter().any(|hd| (hd.width, hd.height) != (pw, ph)) {
        return Err("the prediction heads differ in size".into());
    }
    if mask.is_some_and(|m| (m.width, m.height) != (w, h)) {
        return Err("the validity mask and the GT differ in size".into());
    }
    // Only the pixels that pass the mask are sampled (GT is sparse); the
    // values are those of a full bilinear resize.
    let b = Bilinear::new(pw, ph, w, h, s.align_corners);
    let r = match s.resize {
        ResizeOrder::BeforeDecoding => {
            let mut v = vec![0.0; heads.len()];
            image_metrics_at(&gt.metres, w, h, s, mask, |x, y| {
                for (k, hd) in heads.iter().enumerate() {
                    v[k] = b.at(x, y, |i| hd.values[i] as f64);
                }
                decoder.decode_value(&v)
            })
        }
        ResizeOrder::AfterDecoding => {
            let raw: Vec<Vec<f64>> = heads
                .iter()
                .map(|hd| hd.values.iter().map(|&v| v as f64).collect())
                .collect();
            let depth = decoder.decode_maps(&raw);
            image_metrics_at(&gt.metres, w, h, s, mask, |x, y| b.at(x, y, |i| depth[i]))
        }
    };
    Ok(r)
}

fn select<'a>(all: &'a [Head], req: &EvalRequest) -> Result<Vec<&'a Head>, String> {
    match &req.source {
        PredictionSource::Model { .. } => predict::select_heads(all, &req.decoder),
        PredictionSource::Folder { .. } => Ok(all.iter().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: usize, root: &str, stem: &str) -> SplitEntry {
        SplitEntry {
            index,
            dataset_root: root.into(),
            stem: stem.into(),
            image_path: None,
        }
    }

    fn ex(root: &str, stem: &str, reason: &str) -> ExcludedSample {
        ExcludedSample {
            dataset_root: root.into(),
            stem: stem.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn excluded_keys_match_like_select_and_keep_the_split_spelling() {
        let entries = [
            entry(0, "seq_a/", "0000000042"),
            entry(1, "seq_a", "0000000043"),
            entry(2, "seq_b", "0000000042"),
            // The same sample listed twice: both go.
            entry(3, "seq_a", "0000000042"),
        ];
        let (kept, out) = leave_out(
            &entries,
            &[
                ex("seq_a", "42", "GT shifted"),
                ex("seq_a/", "0000000042", "second reason ignored"),
                ex("elsewhere", "1", "not in this split"),
            ],
        );
        let kept: Vec<usize> = kept.iter().map(|e| e.index).collect();
        assert_eq!(kept, [1, 2]);
        assert_eq!(
            out,
            [
                ex("seq_a/", "0000000042", "GT shifted"),
                ex("seq_a", "0000000042", "GT shifted"),
            ]
        );
        let (kept, out) = leave_out(&entries, &[]);
        assert_eq!((kept.len(), out.len()), (4, 0));
    }
}
