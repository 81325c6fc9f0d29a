//! The first screen: choose a dataset folder and split (typed or picked),
//! a metadata file or a recent project.

use std::path::PathBuf;

use super::app::CalibApp;

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

pub fn show(app: &mut CalibApp, ui: &mut egui::Ui) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.add_space(12.0);
        ui.heading("Curate the INT8 calibration set of a depth network");
        ui.label("Open a dataset folder (NCDB layout: split JSON files, image_a6/ images, 16-bit depth PNGs), look at its depth distribution, and pick the images the quantizer will see.");
        ui.add_space(12.0);

        ui.group(|ui| {
            ui.strong("Dataset");
            ui.horizontal(|ui| {
                path_field(ui, "Dataset folder", &mut app.start.root_text, "/data/ncdb");
                if ui.button("Browse folder…").clicked() {
                    if let Some(p) = app.pick_folder("Dataset folder") {
                        app.start.root_text = p.display().to_string();
                    }
                }
            });
            refresh_split_choices(app);
            if let Some(e) = &app.start.root_error {
                ui.colored_label(ui.visuals().error_fg_color, e);
            }
            if let Some(n) = &app.start.split_note {
                ui.colored_label(ui.visuals().warn_fg_color, n);
            }
            ui.horizontal(|ui| {
                path_field(
                    ui,
                    "Split file",
                    &mut app.start.split_text,
                    "splits/combined_train.json",
                );
                let choices = app.start.split_choices.clone();
                egui::ComboBox::from_label("Splits found")
                    .selected_text(format!("{} files", choices.len()))
                    .show_ui(ui, |ui| {
                        for c in choices {
                            let s = c.display().to_string();
                            if ui.selectable_label(app.start.split_text == s, &s).clicked() {
                                app.start.split_text = s;
                                app.start.split_note = None;
                            }
                        }
                    });
            });
        });

        ui.horizontal(|ui| {
            let busy = app.jobs.load.is_some();
            if ui
                .add_enabled(!busy, egui::Button::new("Open dataset"))
                .on_hover_text("Scan the split (cached: a rescan of unchanged files is instant)")
                .clicked()
            {
                super::tasks::open_dataset(app);
            }
            if ui
                .add_enabled(!busy, egui::Button::new("Open demo dataset"))
                .on_hover_text("A small generated dataset in NCDB layout (made in the app's data folder on first use)")
                .clicked()
            {
                super::tasks::open_demo(app);
            }
        });
        egui::CollapsingHeader::new("Scan settings")
            .id_salt("start_settings")
            .show(ui, |ui| {
                let mut folder = std::mem::take(&mut app.start.new_folder);
                super::settings::dataset_settings_ui(ui, &mut app.start.settings, &mut folder);
                app.start.new_folder = folder;
            });

        ui.add_space(8.0);
        ui.group(|ui| {
            ui.strong("From a metadata file");
            ui.label("A metadata CSV in the seed's format (create_ncdb_metadata.py) or a calibscope metadata JSON; image paths are taken inside the dataset folder above.");
            ui.horizontal(|ui| {
                path_field(ui, "Metadata file", &mut app.start.metadata_text, "ncdb_train_metadata.csv");
                if ui.button("Browse file…").clicked() {
                    if let Some(p) = app.pick("Metadata file", || {
                        rfd::FileDialog::new()
                            .add_filter("metadata", &["csv", "json"])
                            .pick_file()
                    }) {
                        app.start.metadata_text = p.display().to_string();
                    }
                }
            });
            let busy = app.jobs.load.is_some();
            if ui
                .add_enabled(!busy, egui::Button::new("Open metadata file"))
                .clicked()
            {
                app.open_metadata();
            }
        });

        ui.add_space(8.0);
        ui.group(|ui| {
            ui.strong("Projects");
            ui.horizontal(|ui| {
                path_field(ui, "Project file", &mut app.start.project_text, "my.calibscope.json");
                if ui.button("Browse project…").clicked() {
                    if let Some(p) = app.pick("Project file", || {
                        rfd::FileDialog::new()
                            .add_filter("calibscope project", &["json"])
                            .pick_file()
                    }) {
                        app.start.project_text = p.display().to_string();
                    }
                }
                if ui.button("Open project").clicked() {
                    let p = PathBuf::from(app.start.project_text.trim());
                    app.open_project(&p);
                }
            });
            if app.persisted.recent_projects.is_empty() {
                ui.weak("No recent projects yet.");
            } else {
                ui.label("Recent projects:");
                let recent = app.persisted.recent_projects.clone();
                for p in recent {
                    let name = p
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if ui
                        .link(name)
                        .on_hover_text(p.display().to_string())
                        .clicked()
                    {
                        app.open_project(&p);
                    }
                }
            }
        });
    });
}

/// Re-lists the split files when the typed root changed.
fn refresh_split_choices(app: &mut CalibApp) {
    let text = app.start.root_text.trim().to_owned();
    if app.start.listed_root.as_deref() == Some(text.as_str()) {
        return;
    }
    let had_root = app
        .start
        .listed_root
        .replace(text.clone())
        .is_some_and(|r| !r.is_empty());
    app.start.split_choices.clear();
    if text.is_empty() {
        app.start.root_error = None;
        return;
    }
    match list_splits(std::path::Path::new(&text)) {
        Ok(v) => {
            app.start.split_choices = v;
            app.start.root_error = None;
            if had_root {
                forget_foreign_split(app, std::path::Path::new(&text));
            }
        }
        Err(e) => app.start.root_error = Some(e),
    }
}

/// A split typed as an absolute path outside a newly chosen dataset folder
/// belonged to the previous one: it is cleared, and the screen says so
/// (scanning the new folder with the old split would mix two datasets).
/// Only readable folders get here, so typing a path letter by letter never
/// clears a split that lies under the finished path.
pub fn forget_foreign_split(app: &mut CalibApp, root: &std::path::Path) {
    let split = app.start.split_text.trim();
    if split.is_empty() {
        return;
    }
    let p = std::path::Path::new(split);
    if p.is_absolute() && !p.starts_with(root) {
        app.start.split_note = Some(format!(
            "The split {split} belonged to the previous dataset folder, so it was cleared: choose one of this folder's splits."
        ));
        app.start.split_text.clear();
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
