//! The dataset scan: every split entry → one metadata row or one skip.
//!
//! [`scan`] resolves each entry's files, decodes its depth map and computes
//! the seed's statistics, in parallel (rayon) over all samples. Rows come
//! back in split order. Nothing stops the scan: each bad sample becomes a
//! [`SkippedSample`] with a [`SkipReason`] and a detail naming the file.
//! Progress (done / total / skipped, rate, ETA) is published on the
//! [`Progress`] handle; its cancel flag stops the scan within one sample
//! per thread and the outcome holds what was finished.
//!
//! With a [`ScanCache`], samples whose image and depth files have the same
//! size and modification time as before are not decoded again.
//! [`scan_cached`] (the one "open cache, scan, save cache" sequence) opens
//! the root's cache, scans and saves it.

mod cache;
mod imagesize;

use std::path::Path;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use crate::dataset::SkipReason;
use crate::dataset::{
    resolve_sample_listed, DatasetSettings, FolderListings, ResolvedSample, Skip, Split, SplitEntry,
};
use crate::depth::{self, DepthError, DepthStats};
use crate::metadata::{scene_type, SampleKey, SampleMeta};
use crate::progress::Progress;
pub use cache::{CacheKey, CachedResult, ScanCache};
use imagesize::image_size;

/// A split entry that produced no row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedSample {
    /// Position in the split's JSON list.
    pub index: usize,
    /// The sample's identity when the entry was readable.
    pub key: Option<SampleKey>,
    /// The entry's JSON text when it was not (malformed entries).
    pub raw: Option<String>,
    pub reason: SkipReason,
    /// What exactly was wrong, naming the file.
    pub detail: String,
}

impl SkippedSample {
    /// `dataset_root/stem`, or the raw entry text.
    pub fn what(&self) -> String {
        match (&self.key, &self.raw) {
            (Some(k), _) => k.to_string(),
            (None, Some(r)) => r.clone(),
            (None, None) => String::new(),
        }
    }
}

/// The result of a scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOutcome {
    /// One row per good sample, in split order.
    pub rows: Vec<SampleMeta>,
    /// Every entry that gave no row, in split order.
    pub skipped: Vec<SkippedSample>,
    /// True when the cancel flag stopped the scan; rows and skips then cover
    /// only the finished samples.
    pub cancelled: bool,
    /// Rows (and skips) taken from the cache instead of decoding.
    pub from_cache: usize,
    pub elapsed: Duration,
    /// Samples kept but worth a look (e.g. a depth map whose size does not
    /// fit its image), in split order.
    pub warnings: Vec<SampleWarning>,
}

/// A sample that gave a row, with something the user should check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleWarning {
    /// Position in the split's JSON list.
    pub index: usize,
    pub key: SampleKey,
    pub detail: String,
}

/// Why a depth map's size does not fit its image, if it does not: not the
/// same size and not a uniform downscale (same aspect within 2 %, at most 8
/// times smaller). A 1x1 depth map beside a 640x384 image is no ground truth
/// for it, yet would give a row.
pub fn depth_size_mismatch(depth: (u32, u32), image: (u32, u32)) -> Option<String> {
    let ((dw, dh), (iw, ih)) = (depth, image);
    if depth == image || iw == 0 || ih == 0 || dw == 0 || dh == 0 {
        return None;
    }
    let (sx, sy) = (dw as f64 / iw as f64, dh as f64 / ih as f64);
    let uniform = (sx - sy).abs() <= 0.02 * sx.max(sy);
    if uniform && sx.min(sy) >= 1.0 / 8.0 {
        return None;
    }
    Some(format!(
        "depth map is {dw}x{dh} but its image is {iw}x{ih}; check that this depth map belongs to the image"
    ))
}

impl ScanOutcome {
    /// Skips per reason, in [`SkipReason::ALL`] order, zero counts left out.
    pub fn skipped_by_reason(&self) -> Vec<(SkipReason, usize)> {
        SkipReason::ALL
            .iter()
            .map(|&r| (r, self.skipped.iter().filter(|s| s.reason == r).count()))
            .filter(|&(_, n)| n > 0)
            .collect()
    }
}

enum One {
    Row(SampleMeta, bool, Option<Box<SampleWarning>>),
    Skip(SkippedSample, bool),
    Cancelled,
}

/// Scans `split` under `root`. `cache`, when given, is read for unchanged
/// files and updated in memory with new results (call
/// [`ScanCache::save`] afterwards, or use [`scan_with_default_cache`]).
pub fn scan(
    root: &Path,
    split: &Split,
    settings: &DatasetSettings,
    cache: Option<&mut ScanCache>,
    progress: &Progress,
) -> ScanOutcome {
    let start = Instant::now();
    progress.begin("scan", split.len() as u64);
    progress.inc_skipped(split.problems.len() as u64);
    let reader = cache.as_deref();
    // One directory listing per sequence folder instead of a `stat` per
    // sample per candidate folder.
    let listings = FolderListings::build(root, &split.entries, settings);
    let results: Vec<(One, Option<(CacheKey, CachedResult)>)> = split
        .entries
        .par_iter()
        .map(|entry| {
            if progress.is_cancelled() {
                return (One::Cancelled, None);
            }
            let (one, fresh) = scan_one(root, entry, settings, &listings, reader);
            match &one {
                One::Row(..) => progress.inc(1),
                One::Skip(..) => progress.inc_skipped(1),
                One::Cancelled => {}
            }
            (one, fresh)
        })
        .collect();

    let mut out = ScanOutcome::default();
    let mut fresh_entries = Vec::new();
    for (one, fresh) in results {
        match one {
            One::Row(row, cached, warning) => {
                out.from_cache += usize::from(cached);
                out.warnings.extend(warning.map(|w| *w));
                out.rows.push(row);
            }
            One::Skip(s, cached) => {
                out.from_cache += usize::from(cached);
                out.skipped.push(s);
            }
            One::Cancelled => out.cancelled = true,
        }
        fresh_entries.extend(fresh);
    }
    if let Some(c) = cache {
        for (k, v) in fresh_entries {
            c.insert(k, v);
        }
    }
    out.skipped
        .extend(split.problems.iter().map(|p| SkippedSample {
            index: p.index,
            key: None,
            raw: Some(p.raw.clone()),
            reason: p.reason,
            detail: p.detail.clone(),
        }));
    out.skipped.sort_by_key(|s| s.index);
    out.elapsed = start.elapsed();
    out
}

/// Opens the cache for `root` in the app's cache folder (a missing or
/// unreadable cache only costs time), scans, and saves the cache.
/// Returns the outcome and any cache warnings for the user.
pub fn scan_with_default_cache(
    root: &Path,
    split: &Split,
    settings: &DatasetSettings,
    progress: &Progress,
) -> (ScanOutcome, Vec<String>) {
    scan_cached(root, split, settings, CacheAt::Default, false, progress)
}

/// Where a scan keeps its cache.
#[derive(Debug, Clone, Copy)]
pub enum CacheAt<'a> {
    /// The app's cache folder, found from the environment.
    Default,
    /// This cache folder (the app passes the folder it already found).
    Folder(&'a Path),
    /// No cache file: everything is decoded, nothing is saved.
    Nowhere,
}

/// The one "open cache, scan, save cache" sequence (CLI, app, library):
/// opens the cache of `root` at `at` (`fresh`: use no old result, but keep
/// the file so the new results are saved), scans, and saves the cache. A
/// cache that cannot be opened or saved only costs time: it becomes a
/// warning for the user, returned with the outcome.
pub fn scan_cached(
    root: &Path,
    split: &Split,
    settings: &DatasetSettings,
    at: CacheAt<'_>,
    fresh: bool,
    progress: &Progress,
) -> (ScanOutcome, Vec<String>) {
    let mut warnings = Vec::new();
    let mut cache = match at {
        CacheAt::Default => ScanCache::open_default(root).unwrap_or_else(|e| {
            warnings.push(format!("scan cache unavailable, scanning everything: {e}"));
            ScanCache::in_memory()
        }),
        CacheAt::Folder(dir) => ScanCache::open_at(&ScanCache::path_in(dir, root), root),
        CacheAt::Nowhere => ScanCache::in_memory(),
    };
    warnings.extend(cache.take_warning());
    if fresh {
        cache.clear();
    }
    let out = scan(root, split, settings, Some(&mut cache), progress);
    if let Err(e) = cache.save() {
        warnings.push(format!("could not save the scan cache: {e}"));
    }
    (out, warnings)
}

fn skip_of(entry: &SplitEntry, s: Skip) -> SkippedSample {
    SkippedSample {
        index: entry.index,
        key: Some(entry.key()),
        raw: None,
        reason: s.reason,
        detail: s.detail,
    }
}

fn scan_one(
    root: &Path,
    entry: &SplitEntry,
    settings: &DatasetSettings,
    listings: &FolderListings,
    cache: Option<&ScanCache>,
) -> (One, Option<(CacheKey, CachedResult)>) {
    let r = match resolve_sample_listed(root, entry, settings, listings) {
        Ok(r) => r,
        Err(s) => return (One::Skip(skip_of(entry, s), false), None),
    };
    let Some(cache) = cache else {
        let result = measure(&r, settings);
        return (finish(entry, &r, result, settings, false), None);
    };
    let key = CacheKey::new(&r, settings.depth_encoding);
    if let Some(hit) = cache.get(&key) {
        return (finish(entry, &r, hit.clone(), settings, true), None);
    }
    let result = measure(&r, settings);
    let one = finish(entry, &r, result.clone(), settings, false);
    (one, Some((key, result)))
}

/// Decodes the depth map and reads the image's size.
fn measure(r: &ResolvedSample, settings: &DatasetSettings) -> CachedResult {
    let stats = match depth::analyse_file_sized(
        &r.depth,
        Some(r.depth_stamp.size),
        settings.depth_encoding,
    ) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return CachedResult::Skip(
                SkipReason::NoValidPixels,
                format!(
                    "{} has no pixel with a depth measurement",
                    r.depth.display()
                ),
            )
        }
        Err(e) => {
            let reason = match e {
                DepthError::Truncated { .. } => SkipReason::TruncatedDepth,
                DepthError::Unsupported { .. } => SkipReason::UnsupportedDepth,
                DepthError::Io { .. } | DepthError::Corrupt { .. } => SkipReason::CorruptDepth,
            };
            return CachedResult::Skip(reason, e.to_string());
        }
    };
    match image_size(&r.image) {
        Ok((w, h)) => CachedResult::Stats {
            stats,
            width: w,
            height: h,
        },
        Err(e) => CachedResult::Skip(
            SkipReason::UnreadableImage,
            format!("cannot read image {}: {e}", r.image.display()),
        ),
    }
}

fn finish(
    entry: &SplitEntry,
    r: &ResolvedSample,
    result: CachedResult,
    settings: &DatasetSettings,
    cached: bool,
) -> One {
    match result {
        CachedResult::Skip(reason, detail) => {
            One::Skip(skip_of(entry, Skip { reason, detail }), cached)
        }
        CachedResult::Stats {
            stats,
            width,
            height,
        } => {
            let warning =
                depth_size_mismatch((stats.width, stats.height), (width, height)).map(|w| {
                    Box::new(SampleWarning {
                        index: entry.index,
                        key: entry.key(),
                        detail: format!("{w} ({})", r.depth.display()),
                    })
                });
            let row = row(entry, r, stats, width, height, settings);
            One::Row(row, cached, warning)
        }
    }
}

fn row(
    entry: &SplitEntry,
    r: &ResolvedSample,
    s: DepthStats,
    width: u32,
    height: u32,
    settings: &DatasetSettings,
) -> SampleMeta {
    SampleMeta {
        dataset_root: entry.dataset_root.clone(),
        filename: entry.stem.clone(),
        image_path: r.image_rel.clone(),
        depth_path: r.depth_rel.clone(),
        depth_variant: r.depth_variant.clone(),
        mean_depth: s.mean,
        median_depth: s.median,
        min_depth: s.min,
        max_depth: s.max,
        std_depth: s.std,
        p50: s.p50,
        p90: s.p90,
        p95: s.p95,
        width,
        height,
        scene_type: scene_type(s.mean, settings.indoor_below, settings.near_below).to_owned(),
        valid_pixels: s.valid_pixels,
        total_pixels: s.total_pixels,
        depth_hist: s.hist,
    }
}

#[cfg(test)]
mod tests {
    use super::depth_size_mismatch;

    #[test]
    fn depth_sizes_that_do_not_fit_the_image_are_named() {
        assert_eq!(depth_size_mismatch((640, 384), (640, 384)), None);
        // A uniform downscale (half, quarter) is a usual depth resolution.
        assert_eq!(depth_size_mismatch((320, 192), (640, 384)), None);
        assert_eq!(depth_size_mismatch((160, 96), (640, 384)), None);
        let w = depth_size_mismatch((1, 1), (640, 384)).unwrap();
        assert!(
            w.contains("depth map is 1x1 but its image is 640x384"),
            "{w}"
        );
        assert!(depth_size_mismatch((640, 480), (640, 384)).is_some());
        assert!(
            depth_size_mismatch((40, 24), (640, 384)).is_some(),
            "16x smaller"
        );
    }
}
