//! The app: the frame loop (top bar, status bar, routing to the current
//! view), the one place where what views and finished tasks ask for is
//! applied ([`CalibApp::apply_commands`]), and persistence. The views own
//! their state and draw from a context (see [`super::view`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::calib_view::CalibView;
use super::command::Command;
use super::dataset::{Dataset, Loaded};
use super::dist_view::DistView;
use super::inspector::Inspector;
use super::jobs::Tasks;
use super::scan_view::ScanView;
use super::settings::SettingsPanel;
use super::start::{StartCtx, StartState};
use super::state::{Launch, Level, Notice, Persisted, View};
use super::status::Messages;
use super::view::ViewCtx;
use crate::fsutil::AppDirs;

pub struct CalibApp {
    pub persisted: Persisted,
    pub dirs: Option<AppDirs>,
    pub start: StartState,
    pub ds: Option<Dataset>,
    pub view: View,
    /// Background work (load, select, export, quantize); each hands back a command.
    pub tasks: Tasks,
    /// The status bar's messages and their history window.
    pub messages: Messages,
    pub inspector: Option<Inspector>,
    /// Autosave this long after the last change.
    pub autosave_after: Duration,
    /// An autosave writing in the background.
    pub autosaving: Option<poll_promise::Promise<Result<(), String>>>,
    /// The views below the tabs (the Quantize and Evaluate views further down).
    pub scan: ScanView,
    pub distribution: DistView,
    pub calibration: CalibView,
    /// The left panel beside the Scan, Distribution and Calibration views.
    pub settings: SettingsPanel,
    /// The Quantize view (its settings and its results).
    pub quantize: super::quantize::QuantizeView,
    /// What views asked for this frame, applied after drawing.
    pub cmds: super::command::Commands,
    /// File dialog and folder opener, when the desktop has them.
    pub desktop: super::dialogs::DesktopSupport,
    /// The Evaluate view (its own settings and runs).
    pub evaluate: super::eval_view::EvalView,
    /// The Diagnose view (its own settings and results).
    pub diagnose: super::diagnose_view::DiagnoseView,
}

impl CalibApp {
    /// A fresh app; `persisted` comes from eframe's storage (or defaults in tests).
    pub fn new(persisted: Persisted, launch: Launch) -> Self {
        Self::new_in(persisted, launch, AppDirs::discover().ok())
    }

    /// Like [`Self::new`] with the app's folders given (tests use temporary ones).
    pub fn new_in(mut persisted: Persisted, launch: Launch, dirs: Option<AppDirs>) -> Self {
        // Settings saved by an older version carry over (the view's own key wins, see `run`).
        let quantize = super::quantize::QuantizeView {
            settings: persisted.quantize.take().unwrap_or_default(),
            rt: Default::default(),
        };
        let mut app = Self {
            start: StartState {
                root_text: persisted.last_root.clone(),
                split_text: persisted.last_split.clone(),
                ..Default::default()
            },
            persisted,
            dirs,
            ds: None,
            view: View::Scan,
            tasks: Tasks::default(),
            messages: Messages::default(),
            inspector: None,
            autosave_after: Duration::from_secs(2),
            autosaving: None,
            scan: ScanView,
            distribution: DistView,
            calibration: CalibView::default(),
            settings: SettingsPanel::default(),
            quantize,
            cmds: Default::default(),
            desktop: super::dialogs::DesktopSupport::detect(),
            evaluate: Default::default(),
            diagnose: Default::default(),
        };
        if app.dirs.is_none() {
            app.error("No folder for the app's cache and projects was found; set CALIBSCOPE_HOME to a writable folder.".to_owned());
        }
        if let Some(p) = launch.project {
            app.start.open_project(&p, &app.cmds, app.dirs.as_ref());
        } else if let Some(root) = launch.root {
            app.start.root_text = root.display().to_string();
            if let Some(s) = &launch.split {
                app.start.split_text = s.display().to_string();
            }
            if let Some(m) = launch.metadata {
                app.start.metadata_text = m.display().to_string();
                app.start.open_metadata(&app.cmds);
            } else if launch.split.is_some() {
                app.start.open_dataset(&app.cmds, app.dirs.as_ref());
            }
        }
        // What the launch asked for starts (or says why not) before the first frame.
        app.apply_commands(None);
        app
    }

    pub fn info(&mut self, text: String) {
        self.notify(Notice {
            level: Level::Info,
            text,
            folder: None,
        });
    }

    pub fn error(&mut self, text: String) {
        self.notify(Notice {
            level: Level::Error,
            text,
            folder: None,
        });
    }

    /// Adds a message to the status bar (the newest shows, older ones are
    /// in the history; a later success replaces an old error there).
    pub fn notify(&mut self, n: Notice) {
        self.messages.push(n);
    }

    /// Applies what the views asked for during the frame.
    /// `ctx` is missing outside a frame (tests polling jobs by hand).
    pub fn apply_commands(&mut self, ctx: Option<&egui::Context>) {
        // Applying one may send more (a finished selection says what it did).
        while let Some(c) = self.cmds.pop() {
            match c {
                Command::Notify(n) => self.notify(n),
                Command::OpenFolder(dir) => self.open_folder(ctx, &dir),
                Command::ShowView(v, why) => {
                    self.view = v;
                    self.info(why);
                }
                Command::KeepFloat(names) => {
                    let list = &mut self.quantize.settings.keep_float_tensors;
                    let why = super::diagnose_view::keep_float(list, &names);
                    self.view = View::Quantize;
                    self.info(why);
                }
                Command::Run(run) => {
                    if !self.tasks.start(run.kind, &run.name, run.work) {
                        if let Some(busy) = run.busy {
                            self.error(busy);
                        }
                    }
                }
                Command::OpenProject(path) => {
                    self.start
                        .open_project(&path, &self.cmds, self.dirs.as_ref())
                }
                Command::Inspect(row) => {
                    if let Some(ds) = &self.ds {
                        super::inspector::open(&mut self.inspector, ds, row);
                    }
                }
                Command::Install(loaded) => self.install(*loaded),
                Command::TakeSelection(sel) => {
                    if let Some(ds) = &mut self.ds {
                        super::tasks::take_selection(ds, *sel, &self.cmds);
                    }
                }
                Command::Quantize(done) => self.quantize.take(*done, self.ds.as_mut(), &self.cmds),
            }
        }
    }

    /// Opens a folder in the file manager, or says why not and puts its path
    /// on the clipboard.
    pub fn open_folder(&mut self, ctx: Option<&egui::Context>, dir: &Path) {
        if let Err(e) = super::dialogs::open_folder(self.desktop, dir) {
            if let Some(ctx) = ctx {
                ctx.copy_text(dir.display().to_string());
            }
            self.error(e);
        }
    }

    pub fn projects_dir(&self) -> Option<PathBuf> {
        self.dirs.as_ref().map(|d| d.data.join("projects"))
    }

    /// Takes finished tasks' results in (as commands). Called every frame before drawing.
    pub fn poll_jobs(&mut self) {
        self.quantize.rt.drain();
        // Work asked for outside a frame (at launch, by tests) starts now.
        self.apply_commands(None);
        for c in self.tasks.finished() {
            self.cmds.send(c);
        }
        self.apply_commands(None);
    }

    /// Makes loaded rows the open dataset (reopening its project if it has one).
    pub fn install(&mut self, mut loaded: Loaded) {
        let Some(projects) = self.projects_dir() else {
            self.error(
                "No folder for projects; set CALIBSCOPE_HOME to a writable folder.".to_owned(),
            );
            return;
        };
        for w in std::mem::take(&mut loaded.warnings) {
            self.info(w);
        }
        let (ds, text) = Dataset::from_loaded(loaded, &projects);
        self.persisted.last_root = ds.root.display().to_string();
        self.persisted.last_split = self.start.split_text.clone();
        // The set's output folder: the one it was exported to, else beside the project.
        self.calibration.export.dir = ds
            .project
            .export_dir
            .clone()
            .unwrap_or_else(|| super::tasks::default_export_dir(&ds.project_path))
            .display()
            .to_string();
        self.persisted.remember_project(&ds.project_path);
        self.ds = Some(ds);
        self.inspector = None;
        self.view = View::Scan;
        self.info(text);
    }

    /// Autosaves the project a moment after the last change.
    pub fn autosave(&mut self) {
        let due = self
            .ds
            .as_ref()
            .and_then(|d| d.dirty_since)
            .is_some_and(|t| t.elapsed() >= self.autosave_after);
        if due {
            if let Some(ds) = &mut self.ds {
                self.autosaving = Some(ds.save_in_background());
            }
        }
        if self
            .autosaving
            .as_ref()
            .is_some_and(|p| p.ready().is_some())
        {
            let done = self
                .autosaving
                .take()
                .expect("checked above")
                .block_and_take();
            if let Err(e) = done {
                self.error(e);
            }
        }
    }

    pub fn close_dataset(&mut self) {
        if let Some(ds) = &mut self.ds {
            if ds.dirty_since.is_some() {
                if let Err(e) = ds.save() {
                    self.error(e);
                }
            }
        }
        self.ds = None;
        self.inspector = None;
    }

    /// Draws one frame of the whole app.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.poll_jobs();
        if let Some(ds) = &mut self.ds {
            ds.refresh();
        }
        if self.tasks.any_running() {
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }
        self.top_bar(ui);
        super::status::status_bar(
            ui,
            &mut self.messages,
            &self.tasks,
            self.ds.as_ref(),
            &self.cmds,
        );
        if self.ds.is_none() {
            let mut ctx = StartCtx {
                tasks: &self.tasks,
                cmds: &self.cmds,
                dirs: self.dirs.as_ref(),
                desktop: self.desktop,
                recent_projects: &self.persisted.recent_projects,
            };
            egui::CentralPanel::default().show(ui, |ui| self.start.ui(ui, &mut ctx));
        } else if self.view == View::Evaluate {
            egui::CentralPanel::default().show(ui, |ui| self.evaluate_view(ui));
        } else if self.view == View::Diagnose {
            egui::CentralPanel::default().show(ui, |ui| self.diagnose_view(ui));
        } else {
            self.dataset_views(ui);
        }
        self.messages.window(ui.ctx(), &self.cmds);
        if let Some(t) = &mut self.calibration.thumbs {
            t.end_frame(ui.ctx());
        }
        self.apply_commands(Some(ui.ctx()));
        self.autosave();
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("top_bar").show(ui, |ui| {
            ui.horizontal(|ui| {
                // Tabs first, buttons next, the dataset's name in what is left
                // (truncated): nothing hides under anything at 640 points.
                let narrow = ui.available_width() < 900.0;
                if narrow {
                    // Six tabs and two buttons fit in 640 points only packed tighter.
                    ui.spacing_mut().item_spacing.x = 3.0;
                    ui.spacing_mut().button_padding.x = 2.0;
                }
                if !narrow || self.ds.is_none() {
                    ui.heading("calibscope");
                }
                if self.ds.is_none() {
                    return;
                }
                ui.separator();
                for v in View::ALL {
                    if ui.selectable_label(self.view == v, v.label()).clicked() {
                        self.view = v;
                    }
                }
                ui.separator();
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui.button("Close dataset").clicked() {
                        self.close_dataset();
                        return;
                    }
                    if ui
                        .button("Save project")
                        .on_hover_text("Saves now; changes also save automatically.")
                        .clicked()
                    {
                        if let Some(ds) = &mut self.ds {
                            match ds.save() {
                                Ok(()) => {
                                    let t = format!("Saved {}.", ds.project_path.display());
                                    self.info(t);
                                }
                                Err(e) => self.error(e),
                            }
                        }
                    }
                    if let Some(ds) = &self.ds {
                        let name = ds
                            .split
                            .as_ref()
                            .and_then(|s| s.file_name())
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                            ui.add(
                                egui::Label::new(format!("{}  {}", ds.root.display(), name))
                                    .truncate(),
                            )
                            .on_hover_text(format!(
                                "{}  {}\nProject: {}",
                                ds.root.display(),
                                name,
                                ds.project_path.display()
                            ));
                        });
                    }
                });
            });
        });
    }

    /// The Scan, Distribution and Calibration views with the settings panel
    /// on the left and the inspector (when open) on the right.
    fn dataset_views(&mut self, ui: &mut egui::Ui) {
        let Some(ds) = &mut self.ds else {
            return;
        };
        let quantize = self.view == View::Quantize;
        let mut ctx = ViewCtx {
            ds,
            tasks: &self.tasks,
            cmds: &self.cmds,
            dirs: self.dirs.as_ref(),
            desktop: self.desktop,
            persisted: &mut self.persisted,
            allow_absolute_roots: self.start.settings.allow_absolute_roots,
        };
        if quantize {
            // The scan settings and the inspector have nothing to say about quantizing.
            let decoder = &self.evaluate.decoder;
            egui::CentralPanel::default().show(ui, |ui| self.quantize.ui(ui, &mut ctx, decoder));
            return;
        }
        // Side panels never take more than their share of a small window,
        // so the central view keeps at least a third of it.
        let w = ui.available_width();
        let left_max = (w * 0.3).clamp(200.0, 420.0);
        egui::Panel::left("settings")
            .resizable(true)
            .default_size(250.0_f32.min(left_max))
            .size_range(200.0..=left_max)
            .show(ui, |ui| self.settings.ui(ui, &mut ctx));
        if let Some(insp) = &mut self.inspector {
            let right_max = (w * 0.35).clamp(220.0, 440.0);
            let open = egui::Panel::right("inspector")
                .resizable(true)
                .default_size(360.0_f32.min(right_max))
                .size_range(220.0..=right_max)
                .show(ui, |ui| insp.ui(ui, &mut ctx))
                .inner;
            if !open {
                self.inspector = None;
            }
        }
        egui::CentralPanel::default().show(ui, |ui| match self.view {
            View::Scan => self.scan.ui(ui, &mut ctx),
            View::Distribution => self.distribution.ui(ui, &mut ctx),
            View::Calibration => self.calibration.ui(ui, &mut ctx),
            // Drawn full-width by `show`.
            View::Quantize | View::Evaluate | View::Diagnose => {}
        });
    }

    /// The Evaluate view, drawn from a context of what it reads.
    fn evaluate_view(&mut self, ui: &mut egui::Ui) {
        let Some(ds) = &mut self.ds else {
            return;
        };
        let q = &self.quantize.settings;
        let fp32 = (!q.model.trim().is_empty()).then(|| {
            let pre = q
                .preprocess
                .clone()
                .filter(|_| q.preprocess_model == q.model.trim());
            (PathBuf::from(q.model.trim()), pre)
        });
        let int8 = self.quantize.rt.latest_int8(&ds.project);
        let mut ctx = super::eval_view::EvalCtx {
            ds,
            fp32,
            int8,
            cache_dir: self.dirs.as_ref().map(|d| d.cache.join("predictions")),
            cmds: &self.cmds,
        };
        self.evaluate.show(ui, &mut ctx);
    }

    /// The Diagnose view, drawn from a context of what it reads.
    fn diagnose_view(&mut self, ui: &mut egui::Ui) {
        let Some(ds) = &self.ds else { return };
        let int8 = self.quantize.rt.latest_int8(&ds.project);
        let mut ctx = super::diagnose_view::DiagCtx {
            ds,
            quantize: &self.quantize.settings,
            int8,
            cmds: &self.cmds,
        };
        self.diagnose.show(ui, &mut ctx);
    }

    /// The current error: the newest message when it is one (a later
    /// success replaces it in the status bar).
    pub fn last_error(&self) -> Option<&str> {
        self.messages.last_error()
    }
}

impl eframe::App for CalibApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.persisted);
        eframe::set_value(storage, super::eval_view::STORAGE_KEY, &self.evaluate);
        eframe::set_value(storage, super::quantize::STORAGE_KEY, &self.quantize);
        eframe::set_value(storage, super::diagnose_view::STORAGE_KEY, &self.diagnose);
        if let Some(ds) = &mut self.ds {
            if ds.dirty_since.is_some() {
                let _ = ds.save();
            }
        }
    }
}
