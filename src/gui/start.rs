//! The first screen: choose a dataset folder and split (typed or picked),
//! a metadata file or a recent project.

use std::path::{Path, PathBuf};

use super::command::{Command, Commands};
use super::dialogs::DesktopSupport;
use super::jobs::{Kind, Tasks};
use super::project::Project;
use crate::dataset::DatasetSettings;
use crate::fsutil::AppDirs;

/// What the start screen draws from (no dataset is open yet).
pub struct StartCtx<'a> {
    pub tasks: &'a Tasks,
    pub cmds: &'a Commands,
    pub dirs: Option<&'a AppDirs>,
    pub desktop: DesktopSupport,
    pub recent_projects: &'a [PathBuf],
}

impl StartCtx<'_> {
    fn pick(&self, field: &str, dialog: impl FnOnce() -> Option<PathBuf>) -> Option<PathBuf> {
        super::dialogs::pick_or_say(self.desktop, self.cmds, field, dialog)
    }
}

/// Text fields and choices of the start screen.
#[derive(Debug, Default)]
pub struct StartState {
    pub root_text: String,
    pub split_text: String,
    pub metadata_text: String,
    pub project_text: String,
    /// JSON files found in the root and its `splits/` folder.
    pub split_choices: Vec<PathBuf>,
    /// Root the choices were listed for.
    pub listed_root: Option<String>,
    pub root_error: Option<String>,
    /// Why the split field was just cleared (it belonged to another folder).
    pub split_note: Option<String>,
    /// Settings for the next "Open dataset".
    pub settings: DatasetSettings,
    /// The "add depth folder" field.
    pub new_folder: String,
}

impl StartState {
    pub fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut StartCtx) {
        show(self, ui, ctx);
    }

    /// The split path as typed: relative paths are taken inside the root.
    pub fn typed_split(&self) -> Option<PathBuf> {
        let s = self.split_text.trim();
        if s.is_empty() {
            return None;
        }
        let p = PathBuf::from(s);
        Some(if p.is_absolute() {
            p
        } else {
            PathBuf::from(self.root_text.trim()).join(p)
        })
    }

    /// Checks the typed root: it must be a readable folder.
    pub fn check_root(&mut self) -> Option<PathBuf> {
        let text = self.root_text.trim().to_owned();
        if text.is_empty() {
            self.root_error = Some("Type or choose the dataset folder first.".to_owned());
            return None;
        }
        let root = PathBuf::from(&text);
        match std::fs::read_dir(&root) {
            Ok(_) => {
                self.root_error = None;
                Some(root)
            }
            Err(e) => {
                self.root_error = Some(format!(
                    "Cannot read the dataset folder {}: {e}. Choose a folder you can read.",
                    root.display()
                ));
                None
            }
        }
    }

    /// "Open dataset": scans the typed root and split.
    pub fn open_dataset(&mut self, cmds: &Commands, dirs: Option<&AppDirs>) {
        let Some(root) = self.check_root() else {
            return;
        };
        let Some(split) = self.typed_split() else {
            self.root_error = Some(
                "Choose a split file (a JSON list in the folder or its splits/ folder).".to_owned(),
            );
            return;
        };
        let cache_dir = dirs.map(|d| d.cache.clone());
        super::tasks::start_scan(cmds, cache_dir, root, split, self.settings.clone(), None);
    }

    /// "Open demo dataset": generated into the app's data folder on first use, then scanned.
    pub fn open_demo(&mut self, cmds: &Commands, dirs: Option<&AppDirs>) {
        let Some(dirs) = dirs else {
            cmds.error("No data folder for the demo; set CALIBSCOPE_HOME to a writable folder.");
            return;
        };
        let root = dirs.data.join("demo");
        self.root_text = root.display().to_string();
        self.split_text = super::tasks::DEMO_SPLIT.to_owned();
        super::tasks::load_demo(cmds, root, dirs.cache.clone());
    }

    /// Opens a saved project: reloads its rows the way they were made.
    pub fn open_project(&mut self, path: &Path, cmds: &Commands, dirs: Option<&AppDirs>) {
        let p = match Project::load(path) {
            Ok(p) => p,
            Err(e) => {
                cmds.error(e);
                return;
            }
        };
        self.root_text = p.root.display().to_string();
        self.split_text = p
            .split
            .as_ref()
            .map(|s| s.display().to_string())
            .unwrap_or_default();
        let root = p.root.clone();
        if let Err(e) = std::fs::read_dir(&root) {
            cmds.error(format!(
                "The project's dataset folder {} cannot be read: {e}. Was it moved? Open the dataset again from its new place.",
                root.display()
            ));
            return;
        }
        let path = path.to_path_buf();
        if let Some(file) = p.metadata.clone() {
            let split = p.split.clone();
            super::tasks::load_metadata(cmds, root, split, file, Some((path, p)));
        } else if let Some(split) = p.split.clone() {
            let settings: DatasetSettings =
                serde_json::from_value(p.dataset_settings.clone()).unwrap_or_default();
            let cache_dir = dirs.map(|d| d.cache.clone());
            super::tasks::start_scan(cmds, cache_dir, root, split, settings, Some((path, p)));
        } else {
            cmds.error(format!(
                "{} names neither a split nor a metadata file; open its dataset again.",
                path.display()
            ));
        }
    }

    /// Loads rows from a metadata file (seed CSV or calibscope JSON) in the background.
    pub fn open_metadata(&mut self, cmds: &Commands) {
        let Some(root) = self.check_root() else {
            return;
        };
        let text = self.metadata_text.trim();
        if text.is_empty() {
            cmds.error("Type or choose a metadata file (CSV or JSON) first.");
            return;
        }
        let file = PathBuf::from(text);
        let split = self.typed_split();
        super::tasks::load_metadata(cmds, root, split, file, None);
    }
}

/// JSON files in the root and in its `splits/` folder, sorted.
pub fn list_splits(root: &std::path::Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let rd = std::fs::read_dir(root).map_err(|e| {
        format!(
            "Cannot read the dataset folder {}: {e}. Choose a folder you can read.",
            root.display()
        )
    })?;
    let is_json = |p: &std::path::Path| {
        p.extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_file() && is_json(&p) && looks_like_split(&p) {
            out.push(PathBuf::from(e.file_name()));
        }
    }
    if let Ok(rd) = std::fs::read_dir(root.join("splits")) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_file() && is_json(&p) && looks_like_split(&p) {
                out.push(PathBuf::from("splits").join(e.file_name()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A split file is a JSON list of samples: other JSON files beside it (the
/// demo's `calibscope-demo.json` marker, metadata, projects) are objects.
/// Only the first bytes are read.
fn looks_like_split(p: &std::path::Path) -> bool {
    use std::io::Read;
    let mut buf = [0u8; 256];
    let Ok(mut f) = std::fs::File::open(p) else {
        return false;
    };
    let n = f.read(&mut buf).unwrap_or(0);
    let text = &buf[..n];
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    text.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'[')
}

/// A labelled single-line text field (the label names it for screen readers and tests).
pub fn path_field(ui: &mut egui::Ui, label: &str, text: &mut String, hint: &str) -> egui::Response {
    ui.horizontal(|ui| {
        let l = ui.add_sized([120.0, 20.0], egui::Label::new(label));
        ui.add(
            egui::TextEdit::singleline(text)
                .hint_text(hint)
                .desired_width((ui.available_width() - 8.0).clamp(120.0, 420.0)),
        )
        .labelled_by(l.id)
    })
    .inner
}

fn show(st: &mut StartState, ui: &mut egui::Ui, ctx: &mut StartCtx) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.add_space(12.0);
        ui.heading("Curate the INT8 calibration set of a depth network");
        ui.label("Open a dataset folder (NCDB layout: split JSON files, image_a6/ images, 16-bit depth PNGs), look at its depth distribution, and pick the images the quantizer will see.");
        ui.add_space(12.0);

        ui.group(|ui| {
            ui.strong("Dataset");
            ui.horizontal(|ui| {
                path_field(ui, "Dataset folder", &mut st.root_text, "/data/ncdb");
                if ui.button("Browse folder…").clicked() {
                    if let Some(p) = ctx.pick("Dataset folder", || rfd::FileDialog::new().pick_folder()) {
                        st.root_text = p.display().to_string();
                    }
                }
            });
            refresh_split_choices(st);
            if let Some(e) = &st.root_error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            if let Some(n) = &st.split_note {
                ui.colored_label(ui.visuals().warn_fg_color, n);
            }
            ui.horizontal(|ui| {
                path_field(
                    ui,
                    "Split file",
                    &mut st.split_text,
                    "splits/combined_train.json",
                );
                let choices = st.split_choices.clone();
                egui::ComboBox::from_label("Splits found")
                    .selected_text(format!("{} files", choices.len()))
                    .show_ui(ui, |ui| {
                        for c in choices {
                            let s = c.display().to_string();
                            if ui.selectable_label(st.split_text == s, &s).clicked() {
                                st.split_text = s;
                                st.split_note = None;
                            }
                        }
                    });
            });
        });

        ui.horizontal(|ui| {
            let busy = ctx.tasks.is_running(Kind::Load);
            if ui
                .add_enabled(!busy, egui::Button::new("Open dataset"))
                .on_hover_text("Scan the split (cached: a rescan of unchanged files is instant)")
                .clicked()
            {
                st.open_dataset(ctx.cmds, ctx.dirs);
            }
            if ui
                .add_enabled(!busy, egui::Button::new("Open demo dataset"))
                .on_hover_text("A small generated dataset in NCDB layout (made in the app's data folder on first use)")
                .clicked()
            {
                st.open_demo(ctx.cmds, ctx.dirs);
            }
        });
        egui::CollapsingHeader::new("Scan settings")
            .id_salt("start_settings")
            .show(ui, |ui| {
                super::settings::dataset_settings_ui(ui, &mut st.settings, &mut st.new_folder);
            });

        ui.add_space(8.0);
        ui.group(|ui| {
            ui.strong("From a metadata file");
            ui.label("A metadata CSV in the seed's format (create_ncdb_metadata.py) or a calibscope metadata JSON; image paths are taken inside the dataset folder above.");
            ui.horizontal(|ui| {
                path_field(ui, "Metadata file", &mut st.metadata_text, "ncdb_train_metadata.csv");
                if ui.button("Browse file…").clicked() {
                    if let Some(p) = ctx.pick("Metadata file", || {
                        rfd::FileDialog::new()
                            .add_filter("metadata", &["csv", "json"])
                            .pick_file()
                    }) {
                        st.metadata_text = p.display().to_string();
                    }
                }
            });
            let busy = ctx.tasks.is_running(Kind::Load);
            if ui
                .add_enabled(!busy, egui::Button::new("Open metadata file"))
                .clicked()
            {
                st.open_metadata(ctx.cmds);
            }
        });

        ui.add_space(8.0);
        ui.group(|ui| {
            ui.strong("Projects");
            ui.horizontal(|ui| {
                path_field(ui, "Project file", &mut st.project_text, "my.calibscope.json");
                if ui.button("Browse project…").clicked() {
                    if let Some(p) = ctx.pick("Project file", || {
                        rfd::FileDialog::new()
                            .add_filter("calibscope project", &["json"])
                            .pick_file()
                    }) {
                        st.project_text = p.display().to_string();
                    }
                }
                if ui.button("Open project").clicked() {
                    let p = PathBuf::from(st.project_text.trim());
                    ctx.cmds.send(Command::OpenProject(p));
                }
            });
            if ctx.recent_projects.is_empty() {
                ui.weak("No recent projects yet.");
            } else {
                ui.label("Recent projects:");
                for p in ctx.recent_projects {
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if ui
                        .link(name)
                        .on_hover_text(p.display().to_string())
                        .clicked()
                    {
                        ctx.cmds.send(Command::OpenProject(p.clone()));
                    }
                }
            }
        });
    });
}

/// Re-lists the split files when the typed root changed.
fn refresh_split_choices(st: &mut StartState) {
    let text = st.root_text.trim().to_owned();
    if st.listed_root.as_deref() == Some(text.as_str()) {
        return;
    }
    let had_root = st
        .listed_root
        .replace(text.clone())
        .is_some_and(|r| !r.is_empty());
    st.split_choices.clear();
    if text.is_empty() {
        st.root_error = None;
        return;
    }
    match list_splits(std::path::Path::new(&text)) {
        Ok(v) => {
            st.split_choices = v;
            st.root_error = None;
            if had_root {
                forget_foreign_split(st, std::path::Path::new(&text));
            }
        }
        Err(e) => st.root_error = Some(e),
    }
}

/// A split typed as an absolute path outside a newly chosen dataset folder
/// belonged to the previous one: it is cleared, and the screen says so
/// (scanning the new folder with the old split would mix two datasets).
/// Only readable folders get here, so typing a path letter by letter never
/// clears a split that lies under the finished path.
pub fn forget_foreign_split(st: &mut StartState, root: &std::path::Path) {
    let split = st.split_text.trim();
    if split.is_empty() {
        return;
    }
    let p = std::path::Path::new(split);
    if p.is_absolute() && !p.starts_with(root) {
        st.split_note = Some(format!(
            "The split {split} belonged to the previous dataset folder, so it was cleared: choose one of this folder's splits."
        ));
        st.split_text.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_root_and_splits_folder() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("train_split.json"), "[]").unwrap();
        std::fs::write(d.path().join("notes.txt"), "").unwrap();
        // The demo's marker is JSON but no split.
        std::fs::write(d.path().join("calibscope-demo.json"), " {\"files\": []}").unwrap();
        std::fs::create_dir(d.path().join("splits")).unwrap();
        std::fs::write(d.path().join("splits/combined_val.json"), "[]").unwrap();
        let v = list_splits(d.path()).unwrap();
        assert_eq!(
            v,
            vec![
                PathBuf::from("splits/combined_val.json"),
                PathBuf::from("train_split.json")
            ]
        );
        let err = list_splits(&d.path().join("missing")).unwrap_err();
        assert!(err.contains("Cannot read the dataset folder"), "{err}");
    }
}
