//! The incremental scan cache: earlier results per sample, reused while the
//! image and depth files keep their size and modification time.
//!
//! One JSON file per dataset root under the app's cache folder (never in the
//! dataset), written atomically. A missing, corrupt or foreign cache file is
//! ignored with a warning: it only costs a full scan.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::dataset::{FileStamp, ResolvedSample, SkipReason};
use crate::depth::{DepthEncoding, DepthStats};
use crate::fsutil::{self, AppDirs};

const FORMAT: &str = "calibscope-scan-cache-v1";

/// What identifies one cached measurement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CacheKey {
    pub image: String,
    pub depth: String,
    pub encoding: DepthEncoding,
    pub image_stamp: FileStamp,
    pub depth_stamp: FileStamp,
}

impl CacheKey {
    pub fn new(r: &ResolvedSample, encoding: DepthEncoding) -> Self {
        Self {
            image: r.image.display().to_string(),
            depth: r.depth.display().to_string(),
            encoding,
            image_stamp: r.image_stamp,
            depth_stamp: r.depth_stamp,
        }
    }

    fn slot(&self) -> (String, String, DepthEncoding) {
        (self.image.clone(), self.depth.clone(), self.encoding)
    }
}

/// A measurement: the statistics and image size, or why the files are unusable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CachedResult {
    Stats {
        stats: DepthStats,
        width: u32,
        height: u32,
    },
    Skip(SkipReason, String),
}

#[derive(Serialize, Deserialize)]
struct Stored {
    key: CacheKey,
    result: StoredResult,
}

/// Floats are stored as their bits: JSON text does not always parse back
/// to the very same f64, and a cached row must equal a fresh one exactly.
#[derive(Serialize, Deserialize)]
enum StoredResult {
    Stats {
        /// mean, median, min, max, std, p50, p90, p95.
        bits: [u64; 8],
        valid_pixels: u64,
        total_pixels: u64,
        depth_size: (u32, u32),
        hist_bits: Vec<u32>,
        width: u32,
        height: u32,
    },
    Skip(SkipReason, String),
}

impl From<&CachedResult> for StoredResult {
    fn from(r: &CachedResult) -> Self {
        match r {
            CachedResult::Stats {
                stats: s,
                width,
                height,
            } => StoredResult::Stats {
                bits: [s.mean, s.median, s.min, s.max, s.std, s.p50, s.p90, s.p95]
                    .map(f64::to_bits),
                valid_pixels: s.valid_pixels,
                total_pixels: s.total_pixels,
                depth_size: (s.width, s.height),
                hist_bits: s.hist.iter().map(|h| h.to_bits()).collect(),
                width: *width,
                height: *height,
            },
            CachedResult::Skip(r, d) => StoredResult::Skip(*r, d.clone()),
        }
    }
}

impl From<StoredResult> for CachedResult {
    fn from(r: StoredResult) -> Self {
        match r {
            StoredResult::Stats {
                bits,
                valid_pixels,
                total_pixels,
                depth_size,
                hist_bits,
                width,
                height,
            } => {
                let [mean, median, min, max, std, p50, p90, p95] = bits.map(f64::from_bits);
                CachedResult::Stats {
                    stats: DepthStats {
                        mean,
                        median,
                        min,
                        max,
                        std,
                        p50,
                        p90,
                        p95,
                        valid_pixels,
                        total_pixels,
                        width: depth_size.0,
                        height: depth_size.1,
                        hist: hist_bits.into_iter().map(f32::from_bits).collect(),
                    },
                    width,
                    height,
                }
            }
            StoredResult::Skip(r, d) => CachedResult::Skip(r, d),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct FileForm {
    format: String,
    root: String,
    entries: Vec<Stored>,
}

/// Cached measurements for one dataset root.
#[derive(Debug, Default)]
pub struct ScanCache {
    path: Option<PathBuf>,
    root: String,
    /// Keyed by (image, depth, encoding); the stamps are checked on lookup,
    /// so a changed file replaces its old entry instead of piling up.
    map: HashMap<(String, String, DepthEncoding), (CacheKey, CachedResult)>,
    dirty: bool,
    warning: Option<String>,
}

impl ScanCache {
    /// A cache that is never saved.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// The cache file for `root` under the app's cache folder.
    pub fn default_path(root: &Path) -> io::Result<PathBuf> {
        Ok(Self::path_in(&AppDirs::discover()?.cache, root))
    }

    /// The cache file for `root` under the cache folder `cache_dir`.
    pub fn path_in(cache_dir: &Path, root: &Path) -> PathBuf {
        let abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let name = format!(
            "{:016x}.json",
            crate::hash::fnv1a(abs.display().to_string().as_bytes())
        );
        cache_dir.join("scan").join(name)
    }

    /// Opens the cache of `root` in the app's cache folder.
    pub fn open_default(root: &Path) -> io::Result<Self> {
        let path = Self::default_path(root)?;
        Ok(Self::open_at(&path, root))
    }

    /// Opens (or starts) the cache file `path` for dataset `root`. Never
    /// fails: an unreadable file gives an empty cache and a warning.
    pub fn open_at(path: &Path, root: &Path) -> Self {
        let root = std::path::absolute(root)
            .unwrap_or_else(|_| root.to_path_buf())
            .display()
            .to_string();
        let mut cache = Self {
            path: Some(path.to_path_buf()),
            root: root.clone(),
            ..Self::default()
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return cache,
            Err(e) => {
                cache.warning = Some(format!("ignoring scan cache {}: {e}", path.display()));
                return cache;
            }
        };
        match serde_json::from_slice::<FileForm>(&bytes) {
            Ok(f) if f.format == FORMAT && f.root == root => {
                for s in f.entries {
                    cache.map.insert(s.key.slot(), (s.key, s.result.into()));
                }
            }
            Ok(_) => {
                cache.warning = Some(format!(
                    "ignoring scan cache {}: made for another dataset or version",
                    path.display()
                ));
            }
            Err(e) => {
                cache.warning = Some(format!(
                    "ignoring corrupt scan cache {} ({e}); it will be rewritten",
                    path.display()
                ));
            }
        }
        cache
    }

    /// A warning from opening, once.
    pub fn take_warning(&mut self) -> Option<String> {
        self.warning.take()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The result for `key` if its files are unchanged.
    pub fn get(&self, key: &CacheKey) -> Option<&CachedResult> {
        self.map
            .get(&key.slot())
            .filter(|(k, _)| k == key)
            .map(|(_, r)| r)
    }

    /// Forgets every cached result (the file is rewritten on the next save).
    pub fn clear(&mut self) {
        self.map.clear();
        self.dirty = true;
    }

    pub fn insert(&mut self, key: CacheKey, result: CachedResult) {
        self.map.insert(key.slot(), (key, result));
        self.dirty = true;
    }

    /// Writes the cache atomically if anything changed since it was opened.
    pub fn save(&mut self) -> io::Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        let mut entries: Vec<Stored> = self
            .map
            .values()
            .map(|(k, r)| Stored {
                key: k.clone(),
                result: r.into(),
            })
            .collect();
        entries.sort_by(|a, b| (&a.key.depth, &a.key.image).cmp(&(&b.key.depth, &b.key.image)));
        let form = FileForm {
            format: FORMAT.into(),
            root: self.root.clone(),
            entries,
        };
        fsutil::write_atomic_with(path, |w| {
            serde_json::to_writer(w, &form).map_err(io::Error::other)
        })?;
        self.dirty = false;
        Ok(())
    }
}
