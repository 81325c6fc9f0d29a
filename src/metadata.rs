//! Per-sample metadata rows and their files.
//!
//! The CSV form has exactly the columns, order and header that the seed's
//! `create_ncdb_metadata.py` writes, so a user's existing
//! `ncdb_train_metadata.csv` loads and ours loads in their scripts. The JSON
//! form adds what the CSV cannot hold: the settings used and the small
//! per-sample depth histogram.

use std::fmt;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fsutil;

/// The seed CSV's header, in order.
pub const CSV_COLUMNS: [&str; 18] = [
    "dataset_root",
    "filename",
    "image_path",
    "depth_path",
    "depth_variant",
    "mean_depth",
    "median_depth",
    "min_depth",
    "max_depth",
    "std_depth",
    "p50",
    "p90",
    "p95",
    "width",
    "height",
    "scene_type",
    "valid_pixels",
    "total_pixels",
];

/// A numeric statistic of a sample, named as in the seed's CSV
/// (`valid_ratio` is derived): the one list the app's table, its filters
/// and the selection's bins draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stat {
    MeanDepth,
    MedianDepth,
    MinDepth,
    MaxDepth,
    StdDepth,
    P50,
    P90,
    P95,
    Width,
    Height,
    ValidPixels,
    TotalPixels,
    ValidRatio,
}

impl Stat {
    pub const ALL: [Stat; 13] = [
        Stat::MeanDepth,
        Stat::MedianDepth,
        Stat::MinDepth,
        Stat::MaxDepth,
        Stat::StdDepth,
        Stat::P50,
        Stat::P90,
        Stat::P95,
        Stat::Width,
        Stat::Height,
        Stat::ValidPixels,
        Stat::TotalPixels,
        Stat::ValidRatio,
    ];

    /// The CSV column's name.
    pub fn name(self) -> &'static str {
        match self {
            Stat::MeanDepth => "mean_depth",
            Stat::MedianDepth => "median_depth",
            Stat::MinDepth => "min_depth",
            Stat::MaxDepth => "max_depth",
            Stat::StdDepth => "std_depth",
            Stat::P50 => "p50",
            Stat::P90 => "p90",
            Stat::P95 => "p95",
            Stat::Width => "width",
            Stat::Height => "height",
            Stat::ValidPixels => "valid_pixels",
            Stat::TotalPixels => "total_pixels",
            Stat::ValidRatio => "valid_ratio",
        }
    }

    pub fn value(self, r: &SampleMeta) -> f64 {
        match self {
            Stat::MeanDepth => r.mean_depth,
            Stat::MedianDepth => r.median_depth,
            Stat::MinDepth => r.min_depth,
            Stat::MaxDepth => r.max_depth,
            Stat::StdDepth => r.std_depth,
            Stat::P50 => r.p50,
            Stat::P90 => r.p90,
            Stat::P95 => r.p95,
            Stat::Width => r.width as f64,
            Stat::Height => r.height as f64,
            Stat::ValidPixels => r.valid_pixels as f64,
            Stat::TotalPixels => r.total_pixels as f64,
            Stat::ValidRatio => r.valid_ratio(),
        }
    }
}

/// Upper edges (metres) of the per-sample depth histogram bins; the last bin
/// is open-ended. Fixed so histograms from different scans compare.
pub const DEPTH_HIST_EDGES: [f64; 8] = [1.0, 2.0, 3.0, 5.0, 8.0, 15.0, 30.0, 60.0];
/// Number of bins in [`SampleMeta::depth_hist`] (edges plus the open last bin).
pub const DEPTH_HIST_BINS: usize = DEPTH_HIST_EDGES.len() + 1;

/// Index of the histogram bin a depth in metres falls into.
pub fn depth_hist_bin(depth_m: f64) -> usize {
    DEPTH_HIST_EDGES
        .iter()
        .position(|&e| depth_m < e)
        .unwrap_or(DEPTH_HIST_EDGES.len())
}

/// A sample's identity: (dataset_root as spelled in the split, stem).
/// Stems repeat across sequences, so the stem alone is never an identity.
/// When two keys name the same sample is the `dataset` module's rule
/// (`SampleKey::id`, `dataset::KeyIndex`); metadata depends on nothing there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SampleKey {
    pub dataset_root: String,
    pub stem: String,
}

impl fmt::Display for SampleKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.dataset_root, self.stem)
    }
}

/// One scanned sample: the seed's columns plus an optional depth histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleMeta {
    /// `dataset_root` exactly as the split spelled it (relative or absolute).
    pub dataset_root: String,
    /// The stem (`new_filename`), e.g. `0000000123`.
    pub filename: String,
    /// RGB image path relative to the dataset root.
    pub image_path: String,
    /// Depth map path relative to the dataset root.
    pub depth_path: String,
    /// The depth folder the map was found in.
    pub depth_variant: String,
    pub mean_depth: f64,
    pub median_depth: f64,
    pub min_depth: f64,
    pub max_depth: f64,
    pub std_depth: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    /// Size of the RGB image.
    pub width: u32,
    pub height: u32,
    pub scene_type: String,
    pub valid_pixels: u64,
    pub total_pixels: u64,
    /// Fraction of valid pixels per [`DEPTH_HIST_EDGES`] bin; empty when the
    /// row came from a CSV (the seed's format has no such column).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depth_hist: Vec<f32>,
}

impl SampleMeta {
    pub fn key(&self) -> SampleKey {
        SampleKey {
            dataset_root: self.dataset_root.clone(),
            stem: self.filename.clone(),
        }
    }

    /// Share of pixels with a valid depth measurement.
    pub fn valid_ratio(&self) -> f64 {
        if self.total_pixels == 0 {
            0.0
        } else {
            self.valid_pixels as f64 / self.total_pixels as f64
        }
    }
}

/// Scene type from mean depth, as the seed names it (`indoor` below the
/// first threshold, `outdoor_near` below the second, else `outdoor_far`).
pub fn scene_type(mean_depth: f64, indoor_below: f64, near_below: f64) -> &'static str {
    if mean_depth < indoor_below {
        "indoor"
    } else if mean_depth < near_below {
        "outdoor_near"
    } else {
        "outdoor_far"
    }
}

/// Errors reading a metadata file; each names the file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("cannot read metadata file {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path} is not a metadata CSV: missing column(s) {missing}; expected the header written by `calibscope scan` or create_ncdb_metadata.py")]
    MissingColumns { path: String, missing: String },
    #[error("{path}, line {line}: {reason}")]
    BadRow {
        path: String,
        line: u64,
        reason: String,
    },
    #[error("{path} is not calibscope metadata JSON: {reason}")]
    BadJson { path: String, reason: String },
}

/// Writes rows as the seed's CSV (atomically).
pub fn write_csv(path: &Path, rows: &[SampleMeta]) -> io::Result<()> {
    fsutil::write_atomic_with(path, |w| {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(CSV_COLUMNS).map_err(io::Error::other)?;
        for r in rows {
            out.write_record(csv_record(r)).map_err(io::Error::other)?;
        }
        out.flush()
    })
}

fn csv_record(r: &SampleMeta) -> [String; 18] {
    [
        r.dataset_root.clone(),
        r.filename.clone(),
        r.image_path.clone(),
        r.depth_path.clone(),
        r.depth_variant.clone(),
        float(r.mean_depth),
        float(r.median_depth),
        float(r.min_depth),
        float(r.max_depth),
        float(r.std_depth),
        float(r.p50),
        float(r.p90),
        float(r.p95),
        r.width.to_string(),
        r.height.to_string(),
        r.scene_type.clone(),
        r.valid_pixels.to_string(),
        r.total_pixels.to_string(),
    ]
}

/// pandas writes floats with Python's shortest repr, which always has a
/// decimal point; Rust's `{}` drops it for whole numbers (`3` vs `3.0`).
fn float(v: f64) -> String {
    let s = format!("{v}");
    if v.is_finite() && !s.contains(['.', 'e', 'E']) {
        format!("{s}.0")
    } else {
        s
    }
}

/// Reads a seed-format CSV. Extra columns are ignored; a stem written by
/// pandas as a number (leading zeros lost) is not repaired, since the CSV
/// holds it as text exactly as the seed wrote it.
pub fn read_csv(path: &Path) -> Result<Vec<SampleMeta>, MetadataError> {
    let p = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| MetadataError::Io {
        path: p.clone(),
        source,
    })?;
    let mut rdr = csv::ReaderBuilder::new().flexible(false).from_reader(file);
    let headers = rdr
        .headers()
        .map_err(|e| MetadataError::BadRow {
            path: p.clone(),
            line: 1,
            reason: e.to_string(),
        })?
        .clone();
    let idx: Vec<Option<usize>> = CSV_COLUMNS
        .iter()
        .map(|c| headers.iter().position(|h| h.trim() == *c))
        .collect();
    let missing: Vec<&str> = CSV_COLUMNS
        .iter()
        .zip(&idx)
        .filter(|(_, i)| i.is_none())
        .map(|(c, _)| *c)
        .collect();
    if !missing.is_empty() {
        return Err(MetadataError::MissingColumns {
            path: p,
            missing: missing.join(", "),
        });
    }
    let idx: Vec<usize> = idx.into_iter().flatten().collect();
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| MetadataError::BadRow {
            path: p.clone(),
            line: e.position().map(|q| q.line()).unwrap_or(0),
            reason: e.to_string(),
        })?;
        let line = rec.position().map(|q| q.line()).unwrap_or(0);
        let field = |i: usize| rec.get(idx[i]).unwrap_or("");
        let bad = |col: &str, v: &str| MetadataError::BadRow {
            path: p.clone(),
            line,
            reason: format!("column {col}: cannot read {v:?} as a number"),
        };
        let f = |i: usize| -> Result<f64, MetadataError> {
            let v = field(i).trim();
            v.parse::<f64>().map_err(|_| bad(CSV_COLUMNS[i], v))
        };
        // pandas may write integer columns as floats ("640.0") after a NaN.
        let u = |i: usize| -> Result<u64, MetadataError> {
            let v = field(i).trim();
            v.parse::<u64>()
                .or_else(|_| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.fract() == 0.0 && *x >= 0.0)
                        .map(|x| x as u64)
                        .ok_or(())
                })
                .map_err(|_| bad(CSV_COLUMNS[i], v))
        };
        rows.push(SampleMeta {
            dataset_root: field(0).to_owned(),
            filename: field(1).to_owned(),
            image_path: field(2).to_owned(),
            depth_path: field(3).to_owned(),
            depth_variant: field(4).to_owned(),
            mean_depth: f(5)?,
            median_depth: f(6)?,
            min_depth: f(7)?,
            max_depth: f(8)?,
            std_depth: f(9)?,
            p50: f(10)?,
            p90: f(11)?,
            p95: f(12)?,
            width: u(13)? as u32,
            height: u(14)? as u32,
            scene_type: field(15).to_owned(),
            valid_pixels: u(16)?,
            total_pixels: u(17)?,
            depth_hist: Vec::new(),
        });
    }
    Ok(rows)
}

/// The JSON metadata form: rows plus the settings that produced them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MetadataFile {
    /// Format marker so a wrong JSON file is recognised.
    pub format: String,
    pub calibscope_version: String,
    /// The scan settings, as the scan module serialises them.
    pub settings: serde_json::Value,
    pub samples: Vec<SampleMeta>,
}

pub const JSON_FORMAT: &str = "calibscope-metadata-v1";

pub fn write_json(path: &Path, settings: serde_json::Value, rows: &[SampleMeta]) -> io::Result<()> {
    let file = MetadataFile {
        format: JSON_FORMAT.to_owned(),
        calibscope_version: env!("CARGO_PKG_VERSION").to_owned(),
        settings,
        samples: rows.to_vec(),
    };
    fsutil::write_atomic_with(path, |w| {
        serde_json::to_writer_pretty(&mut *w, &file).map_err(io::Error::other)
    })
}

pub fn read_json(path: &Path) -> Result<MetadataFile, MetadataError> {
    let p = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| MetadataError::Io {
        path: p.clone(),
        source,
    })?;
    let file: MetadataFile =
        serde_json::from_slice(&bytes).map_err(|e| MetadataError::BadJson {
            path: p.clone(),
            reason: e.to_string(),
        })?;
    if file.format != JSON_FORMAT {
        return Err(MetadataError::BadJson {
            path: p,
            reason: format!("format is {:?}, expected {JSON_FORMAT:?}", file.format),
        });
    }
    Ok(file)
}

/// Reads metadata rows from a `.csv` (seed format) or `.json` (ours), by extension.
pub fn read_any(path: &Path) -> Result<Vec<SampleMeta>, MetadataError> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        read_json(path).map(|f| f.samples)
    } else {
        read_csv(path)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn every_stat_is_a_csv_column_but_the_derived_ratio() {
        for s in Stat::ALL {
            assert_eq!(
                CSV_COLUMNS.contains(&s.name()),
                s != Stat::ValidRatio,
                "{}",
                s.name()
            );
        }
    }

    /// A plausible row with every statistic set; tests override what they need.
    pub(crate) fn row(root: &str, stem: &str, mean: f64) -> SampleMeta {
        SampleMeta {
            dataset_root: root.into(),
            filename: stem.into(),
            image_path: format!("{root}/image_a6/{stem}.png"),
            depth_path: format!("{root}/newest_depth_maps/{stem}.png"),
            depth_variant: "newest_depth_maps".into(),
            mean_depth: mean,
            median_depth: mean,
            min_depth: 0.5,
            max_depth: 3.0,
            std_depth: 0.25,
            p50: mean,
            p90: 2.0,
            p95: 2.5,
            width: 640,
            height: 384,
            scene_type: scene_type(mean, 5.0, 15.0).into(),
            valid_pixels: 100,
            total_pixels: 245760,
            depth_hist: vec![],
        }
    }

    #[test]
    fn csv_round_trip_keeps_header_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let rows = vec![
            row("synced_data/seq_a", "0000000001", 4.123456954956055),
            row("/abs/seq,b", "0000000001", 3.0),
        ];
        write_csv(&path, &rows).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().next().unwrap(), CSV_COLUMNS.join(","));
        assert!(text.contains(",3.0,"), "{text}");
        assert_eq!(read_csv(&path).unwrap(), rows);
    }

    #[test]
    fn csv_missing_column_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        std::fs::write(&path, "dataset_root,filename\na,b\n").unwrap();
        let err = read_csv(&path).unwrap_err().to_string();
        assert!(err.contains("mean_depth") && err.contains("m.csv"), "{err}");
    }

    #[test]
    fn hist_bins() {
        assert_eq!(depth_hist_bin(0.5), 0);
        assert_eq!(depth_hist_bin(1.0), 1);
        assert_eq!(depth_hist_bin(14.9), 5);
        assert_eq!(depth_hist_bin(99.0), DEPTH_HIST_BINS - 1);
    }
}
