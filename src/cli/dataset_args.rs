//! How the commands that read samples (scan, copy, export, ptq) turn their
//! options into the dataset's settings, alike for all of them.

use std::path::Path;

use crate::dataset::DatasetSettings;

/// The dataset settings for a command: those a `calibscope scan --json`
/// metadata file was made with (when one is given), then the options the
/// user typed on top (`--image-folder`, `--image-ext`,
/// `--allow-absolute-roots`).
pub fn dataset_settings(
    image_folder: Option<&str>,
    image_exts: &[String],
    allow_absolute_roots: bool,
    metadata: Option<&Path>,
) -> DatasetSettings {
    let mut s = metadata
        .and_then(DatasetSettings::from_metadata_file)
        .unwrap_or_default();
    if let Some(f) = image_folder {
        s.image_folder = f.to_owned();
    }
    if !image_exts.is_empty() {
        s.image_extensions = image_exts
            .iter()
            .map(|e| e.trim_start_matches('.').to_owned())
            .collect();
    }
    // Opting in is the user's word for this run, not the metadata's.
    s.allow_absolute_roots = allow_absolute_roots;
    s
}
