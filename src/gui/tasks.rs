//! The app's background tasks: open (scan) a dataset or the demo, run a
//! selection strategy, export. Each hands the library's own functions to a
//! [`Task`](super::jobs::Task) whose [`Command`] turns the outcome into app
//! state or a message; nothing here computes what the library computes.

use std::path::{Path, PathBuf};

use super::command::{Command, Commands};
use super::dataset::{Dataset, Loaded, StrategyKind};
use super::jobs::Kind;
use super::project::Project;
use super::state::{Level, Notice};
use crate::dataset::{read_split, DatasetSettings};
use crate::export::{self, ExportSample, TensorOptions};
use crate::select::{self, Selection, SelectionRequest, Strategy};

/// Split the demo opens with.
pub const DEMO_SPLIT: &str = "splits/combined_train.json";

fn cache_at(cache_dir: Option<&Path>) -> crate::scan::CacheAt<'_> {
    cache_dir.map_or(crate::scan::CacheAt::Nowhere, crate::scan::CacheAt::Folder)
}

/// Loads rows in the background; they become the open dataset when done.
pub fn load(
    cmds: &Commands,
    work: impl FnOnce(&crate::progress::Progress) -> Result<Loaded, String> + Send + 'static,
) {
    let busy = "A dataset is still loading; wait for it or cancel it first.";
    cmds.run(Kind::Load, "load", Some(busy), move |p| match work(p) {
        Ok(loaded) => Command::Install(Box::new(loaded)),
        Err(e) => Command::error(e),
    });
}

/// Reads the split and scans it (with the scan cache under `cache_dir`) in the background.
pub fn start_scan(
    cmds: &Commands,
    cache_dir: Option<PathBuf>,
    root: PathBuf,
    split: PathBuf,
    settings: DatasetSettings,
    project: Option<(PathBuf, Project)>,
) {
    load(cmds, move |p| {
        p.begin("read split", 1);
        let sp = read_split(&root, &split).map_err(|e| e.to_string())?;
        let (out, warnings) = crate::scan::scan_cached(
            &root,
            &sp,
            &settings,
            cache_at(cache_dir.as_deref()),
            false,
            p,
        );
        let skipped = out
            .skipped
            .iter()
            .map(|s| {
                (
                    format!("#{} {}", s.index, s.what()),
                    format!("{}: {}", s.reason.label(), s.detail),
                )
            })
            .collect();
        Ok(Loaded {
            root,
            split: Some(split),
            metadata_file: None,
            rows: out.rows,
            skipped,
            cancelled: out.cancelled,
            settings,
            warnings,
            project,
        })
    });
}

/// The demo dataset in `root`: generated on first use, then scanned.
pub fn load_demo(cmds: &Commands, root: PathBuf, cache_dir: PathBuf) {
    load(cmds, move |p| {
        // A demo made before the model was part of it is made again (same seed, same files).
        let complete = root.join(crate::demo::MARKER).is_file()
            && root.join(crate::demo::DEMO_MODEL_PATH).is_file();
        if !complete {
            crate::demo::generate(&root, &crate::demo::DemoOptions::default(), p)
                .map_err(|e| format!("could not make the demo dataset: {e}"))?;
            if p.is_cancelled() {
                return Err("Demo generation cancelled.".to_owned());
            }
        }
        let split = PathBuf::from(DEMO_SPLIT);
        let settings = DatasetSettings::default();
        p.begin("read split", 1);
        let sp = read_split(&root, &split).map_err(|e| e.to_string())?;
        let (out, warnings) =
            crate::scan::scan_cached(&root, &sp, &settings, cache_at(Some(&cache_dir)), false, p);
        Ok(Loaded {
            root,
            split: Some(split),
            metadata_file: None,
            skipped: out
                .skipped
                .iter()
                .map(|s| {
                    (
                        format!("#{} {}", s.index, s.what()),
                        format!("{}: {}", s.reason.label(), s.detail),
                    )
                })
                .collect(),
            rows: out.rows,
            cancelled: out.cancelled,
            settings,
            warnings,
            project: None,
        })
    });
}

/// Reads a metadata file's rows in the background (a fresh open or a project's).
pub fn load_metadata(
    cmds: &Commands,
    root: PathBuf,
    split: Option<PathBuf>,
    file: PathBuf,
    project: Option<(PathBuf, Project)>,
) {
    load(cmds, move |p| {
        p.begin("read metadata", 1);
        let rows = crate::metadata::read_any(&file).map_err(|e| e.to_string())?;
        p.inc(1);
        Ok(Loaded {
            root,
            split,
            metadata_file: Some(file),
            rows,
            skipped: Vec::new(),
            cancelled: false,
            settings: DatasetSettings::default(),
            warnings: Vec::new(),
            project,
        })
    });
}

/// Scans the open dataset again with its (edited) settings, keeping the curation.
pub fn rescan(ds: &Dataset, cache_dir: Option<PathBuf>, cmds: &Commands) {
    let Some(split) = ds.split.clone() else {
        cmds.error(
            "This dataset was opened from a metadata file; open it from its split to scan it.",
        );
        return;
    };
    let root = ds.root.clone();
    let settings = ds.settings.clone();
    let project = (ds.project_path.clone(), ds.to_project());
    start_scan(cmds, cache_dir, root, split, settings, Some(project));
}

/// Runs the chosen strategy around the pins and exclusions.
pub fn run_selection(ds: &Dataset, cmds: &Commands) {
    let st = &ds.strategy;
    let req = SelectionRequest {
        strategy: match st.kind {
            StrategyKind::Stratified => Strategy::Stratified(st.bins.clone()),
            StrategyKind::Random => Strategy::Random,
            StrategyKind::Diverse => Strategy::Diverse,
        },
        target: st.target,
        seed: st.seed,
        pinned: ds.cur.pinned_keys().into_iter().collect(),
        excluded: ds.cur.excluded_keys().into_iter().collect(),
    };
    let rows = ds.cur.rows.clone();
    cmds.run(Kind::Select, "select", None, move |p| {
        p.begin(req.strategy.name(), 1);
        let sel = select::run(&rows, &req);
        p.inc(1);
        match sel {
            Ok(sel) => Command::TakeSelection(Box::new(sel)),
            Err(e) => Command::error(e.to_string()),
        }
    });
}

/// Takes a finished selection in: the set becomes it (pins in, exclusions out).
pub fn take_selection(ds: &mut Dataset, sel: Selection, cmds: &Commands) {
    let keys = sel.keys(&ds.cur.rows);
    ds.cur.replace_set(keys);
    let mut text = format!(
        "{}: {} samples in the calibration set (target {}).",
        ds.strategy.kind.label(),
        ds.cur.set_len(),
        sel.target
    );
    if !sel.notes.is_empty() {
        text.push('\n');
        text.push_str(&readable_notes(&sel.notes));
    }
    ds.selection = Some(sel);
    ds.mark_dirty();
    cmds.info(text);
}

fn samples(ds: &Dataset) -> (PathBuf, Vec<ExportSample>, Vec<usize>) {
    let idx = ds.cur.set_indices();
    let s = idx
        .iter()
        .map(|&i| ExportSample::from_row(&ds.root, &ds.cur.rows[i]))
        .collect();
    (ds.root.clone(), s, idx)
}

fn start_export(
    cmds: &Commands,
    name: &str,
    work: impl FnOnce(&crate::progress::Progress) -> Result<Notice, String> + Send + 'static,
) {
    let busy = "An export is still running; wait for it or cancel it first.";
    cmds.run(Kind::Export, name, Some(busy), move |p| match work(p) {
        Ok(notice) => Command::Notify(notice),
        Err(e) => Command::error(e),
    });
}

fn done(text: String, folder: &Path) -> Notice {
    Notice {
        level: Level::Info,
        text,
        folder: Some(folder.to_path_buf()),
    }
}

/// Writes `calibration_split.json` (the seed's format) into `dir`.
pub fn export_split(ds: &Dataset, cmds: &Commands, dir: PathBuf) {
    let keys: Vec<_> = ds
        .cur
        .set_indices()
        .iter()
        .map(|&i| ds.cur.rows[i].key())
        .collect();
    let root = ds.root.clone();
    start_export(cmds, "export split", move |p| {
        p.begin("write split", 1);
        let path = dir.join("calibration_split.json");
        crate::paths::check_output(&path, &[], &[&root])?;
        export::write_split(&path, &keys).map_err(|e| e.to_string())?;
        p.inc(1);
        Ok(done(
            format!("Wrote {} ({} samples).", path.display(), keys.len()),
            &dir,
        ))
    });
}

/// Where Copy images puts the images and lists inside the set's output folder.
pub const IMAGES_SUBDIR: &str = "images/";
/// Where Export tensors puts the `.npy` files inside the set's output folder.
pub const TENSORS_SUBDIR: &str = "tensors/";

/// The images folder of a set's output folder: kept apart from the split and
/// report so that Copy never finds files it did not write there.
pub fn images_dir(out: &Path) -> PathBuf {
    out.join(IMAGES_SUBDIR.trim_end_matches('/'))
}

pub fn tensors_dir(out: &Path) -> PathBuf {
    out.join(TENSORS_SUBDIR.trim_end_matches('/'))
}

/// A calibration set's output folder by default: beside its project file,
/// outside the dataset (`<project>-out/`).
pub fn default_export_dir(project_path: &Path) -> PathBuf {
    let name = project_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = name
        .strip_suffix(&format!(".{}", super::project::PROJECT_EXT))
        .unwrap_or(&name);
    project_path
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!("{base}-out"))
}

/// The strategy's remarks one per line; a list after a colon (the refills
/// of a shortfall) one item per indented line.
pub fn readable_notes(notes: &[String]) -> String {
    let mut out = String::new();
    for n in notes {
        match n.split_once(": ") {
            Some((head, list)) if list.contains(", ") => {
                out.push_str(&format!("• {head}:\n"));
                for item in list.split(", ") {
                    out.push_str(&format!("    {item}\n"));
                }
            }
            _ => out.push_str(&format!("• {n}\n")),
        }
    }
    out.trim_end().to_owned()
}

/// Copies (or links) the set's images with the list files.
pub fn copy_images(ds: &Dataset, cmds: &Commands, dir: PathBuf, opts: export::CopyOptions) {
    let (root, samples, _) = samples(ds);
    start_export(cmds, "copy images", move |p| {
        let r = export::copy_images(&root, &samples, &dir, opts, p).map_err(|e| e.to_string())?;
        let mut text = format!(
            "{} {} images into {} ({} new, {} already there)",
            if r.cancelled {
                "Cancelled after placing"
            } else {
                "Placed"
            },
            r.images.len(),
            dir.display(),
            r.written,
            r.already_present
        );
        if !r.renamed.is_empty() {
            text.push_str(&format!(
                "; {} renamed to avoid a name clash",
                r.renamed.len()
            ));
        }
        if !r.skipped.is_empty() {
            let first = &r.skipped[0];
            text.push_str(&format!(
                "; {} skipped (first: {}: {})",
                r.skipped.len(),
                first.key,
                first.reason
            ));
        }
        text.push('.');
        Ok(done(text, &dir))
    });
}

/// Writes preprocessed `.npy` tensors of the set.
pub fn export_tensors(ds: &Dataset, cmds: &Commands, dir: PathBuf, opts: TensorOptions) {
    let (root, samples, _) = samples(ds);
    start_export(cmds, "tensors", move |p| {
        let r = export::write_tensors(&root, &samples, &dir, opts, p).map_err(|e| e.to_string())?;
        let mut text = format!(
            "Wrote {} tensors [1,3,{},{}] into {}",
            r.written.len(),
            opts.height,
            opts.width,
            dir.display()
        );
        if r.cancelled {
            text.push_str(" (cancelled)");
        }
        if !r.skipped.is_empty() {
            text.push_str(&format!("; {} skipped", r.skipped.len()));
        }
        text.push('.');
        Ok(done(text, &dir))
    });
}

/// The report: `calibration_statistics.json` and the figures drawn for the
/// file (`crate::report`, as `calibscope export --report` writes them) from
/// the Distribution view's data: its view of the dataset and the set.
pub fn export_report(ds: &Dataset, cmds: &Commands, dir: PathBuf) {
    let (_, _, selected) = samples(ds);
    let (rows, view) = (ds.cur.rows.clone(), ds.view.clone());
    let (bins, root) = (ds.strategy.bins.clone(), ds.root.clone());
    start_export(cmds, "report", move |p| {
        let input = crate::report::ReportInputs {
            rows: &rows,
            view: &view,
            selected: &selected,
            bins: &bins,
            image_root: Some(&root),
        };
        let files = crate::report::write_report(&dir, &input, p).map_err(|e| e.to_string())?;
        Ok(done(
            format!(
                "Wrote {} and {} figures into {}.",
                files.statistics.display(),
                files.figures.len(),
                dir.display()
            ),
            &dir,
        ))
    });
}
