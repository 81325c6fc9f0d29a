//! The dataset model: split files, sample identity, where a sample's files are.
//!
//! - [`DatasetSettings`]: image folder and extensions, the depth-folder
//!   priority list, the depth encoding, scene thresholds and whether entries
//!   may point outside the root. `Default` is the seed script's behaviour.
//! - [`read_split`] reads a split JSON (a list of entries) into a [`Split`]:
//!   good entries in order plus every malformed entry with its index and why.
//! - [`resolve_sample`] finds an entry's RGB image and depth map on disk
//!   (with sizes and modification times, for the scan cache) or says why not
//!   as a [`SkipReason`]; [`locate_image`] finds the image alone (copy,
//!   export, PTQ). Both apply the one path-escape rule: an entry may not
//!   leave the dataset root by its spelling (`..`, absolute paths) nor by a
//!   symbolic link ([`check_real_inside`]), unless
//!   [`DatasetSettings::allow_absolute_roots`].
//! - [`SampleKey::id`] and [`KeyIndex`]: when two spellings name the same
//!   sample (`seq/` is `seq`; an unpadded numeric stem finds its padded row).
//!
//! The dataset is read-only to us: nothing here writes.

mod key;
mod resolve;
mod split;

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use crate::depth::DepthEncoding;
pub use key::{root_id, unpadded, KeyIndex, SampleKey};
pub use resolve::{
    check_real_inside, locate_image, resolve_sample, resolve_sample_listed, spelled_inside,
    FileStamp, FolderListings, LocatedImage, ResolvedSample, Skip,
};
pub use split::{
    locate_split, read_split, read_split_file, DatasetError, EntryProblem, Split, SplitEntry,
};

/// The seed's depth-folder priority list (`create_ncdb_metadata.py`).
pub const SEED_DEPTH_FOLDERS: [&str; 4] = [
    "newest_depth_maps",
    "newest_synthetic_depth_maps",
    "new_depth_maps",
    "depth_maps",
];

/// How a dataset is read. Every field is visible to the user and saved with
/// the metadata, so two scans are comparable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatasetSettings {
    /// Folder of RGB images inside each sequence (`image_a6`).
    pub image_folder: String,
    /// Image extensions tried in order (without dot).
    pub image_extensions: Vec<String>,
    /// Depth folders tried in order; the first holding `<stem>.png` wins.
    pub depth_folders: Vec<String>,
    pub depth_encoding: DepthEncoding,
    /// Mean depth (m) below which a sample is `indoor`.
    pub indoor_below: f64,
    /// Mean depth (m) below which a sample is `outdoor_near` (else `outdoor_far`).
    pub near_below: f64,
    /// Accept entries whose files lie outside the dataset root (absolute
    /// paths elsewhere, `..`, symbolic links leading out). Off by default:
    /// such entries are refused.
    pub allow_absolute_roots: bool,
}

impl DatasetSettings {
    /// The dataset settings a `calibscope scan --json` metadata file was
    /// made with; `None` for a CSV or a JSON without them.
    pub fn from_metadata_file(path: &Path) -> Option<Self> {
        if !path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            return None;
        }
        let bytes = std::fs::read(path).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        serde_json::from_value(v.get("settings")?.get("dataset")?.clone()).ok()
    }
}

impl Default for DatasetSettings {
    fn default() -> Self {
        Self {
            image_folder: "image_a6".into(),
            image_extensions: vec!["png".into(), "jpg".into(), "jpeg".into()],
            depth_folders: SEED_DEPTH_FOLDERS.iter().map(|s| s.to_string()).collect(),
            depth_encoding: DepthEncoding::Auto,
            indoor_below: 5.0,
            near_below: 15.0,
            allow_absolute_roots: false,
        }
    }
}

/// Why a split entry produced no metadata row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Not an object, or without a usable `new_filename` / `image_path`.
    MalformedEntry,
    /// Points outside the dataset root (`..`, absolute path elsewhere).
    RefusedPath,
    MissingImage,
    MissingDepth,
    /// The RGB image's header cannot be read.
    UnreadableImage,
    /// The depth file is not a readable PNG (corrupt data, bad checksum).
    CorruptDepth,
    /// The depth PNG ends early.
    TruncatedDepth,
    /// A PNG, but not 8- or 16-bit greyscale.
    UnsupportedDepth,
    /// The depth map has no pixel with a measurement.
    NoValidPixels,
}

impl SkipReason {
    pub const ALL: [SkipReason; 9] = [
        SkipReason::MalformedEntry,
        SkipReason::RefusedPath,
        SkipReason::MissingImage,
        SkipReason::MissingDepth,
        SkipReason::UnreadableImage,
        SkipReason::CorruptDepth,
        SkipReason::TruncatedDepth,
        SkipReason::UnsupportedDepth,
        SkipReason::NoValidPixels,
    ];

    /// Short words for summaries and the skipped-samples file.
    pub fn label(self) -> &'static str {
        match self {
            SkipReason::MalformedEntry => "malformed split entry",
            SkipReason::RefusedPath => "path outside dataset root",
            SkipReason::MissingImage => "missing image",
            SkipReason::MissingDepth => "missing depth",
            SkipReason::UnreadableImage => "unreadable image",
            SkipReason::CorruptDepth => "corrupt depth PNG",
            SkipReason::TruncatedDepth => "truncated depth PNG",
            SkipReason::UnsupportedDepth => "unsupported depth format",
            SkipReason::NoValidPixels => "no valid depth pixels",
        }
    }

    /// The snake_case name used in files.
    pub fn code(self) -> &'static str {
        match self {
            SkipReason::MalformedEntry => "malformed_entry",
            SkipReason::RefusedPath => "refused_path",
            SkipReason::MissingImage => "missing_image",
            SkipReason::MissingDepth => "missing_depth",
            SkipReason::UnreadableImage => "unreadable_image",
            SkipReason::CorruptDepth => "corrupt_depth",
            SkipReason::TruncatedDepth => "truncated_depth",
            SkipReason::UnsupportedDepth => "unsupported_depth",
            SkipReason::NoValidPixels => "no_valid_pixels",
        }
    }
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}
