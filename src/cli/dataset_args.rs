//! How the commands that read samples (scan, copy, export, ptq) turn their
//! options into the dataset's settings, alike for all of them.

use std::path::Path;

use crate::dataset::DatasetSettings;

/// How a command that only reads samples (eval, diagnose) finds them: the
/// same options as scan's, so a dataset that scans also evaluates.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SampleArgs {
    /// Folder of RGB images inside each sequence [default: image_a6].
    #[arg(long)]
    pub image_folder: Option<String>,
    /// Image extension to try, in order (repeat the option); default png, jpg, jpeg.
    #[arg(long = "image-ext", value_name = "EXT")]
    pub image_exts: Vec<String>,
    /// Depth folder to try, in priority order (repeat the option); default the
    /// seed's list (newest_depth_maps, newest_synthetic_depth_maps, new_depth_maps, depth_maps).
    #[arg(long = "depth-folder", value_name = "NAME")]
    pub depth_folders: Vec<String>,
    /// Accept split entries whose files lie outside --root (absolute paths,
    /// `..`, links out of the dataset), as `scan --allow-absolute-roots` does.
    #[arg(long)]
    pub allow_absolute_roots: bool,
}

impl SampleArgs {
    /// The dataset settings these options describe.
    pub fn settings(&self) -> DatasetSettings {
        let mut s = dataset_settings(
            self.image_folder.as_deref(),
            &self.image_exts,
            self.allow_absolute_roots,
            None,
        );
        if !self.depth_folders.is_empty() {
            s.depth_folders = self.depth_folders.clone();
        }
        s
    }
}

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
