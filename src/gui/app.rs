//! The app: persisted state (kept by eframe between runs) apart from runtime
//! state (the opened dataset, jobs, textures), and the frame loop that polls
//! jobs before drawing. Each view draws from its own file.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::charts::{self, Charts};
use super::columns::Column;
use super::curation::{Curation, GridSource};
use super::filters::Filter;
use super::inspector::Inspector;
use super::jobs::{self, Job};
use super::project::{self, DatasetChanges, Project};
use super::thumbs::Thumbs;
use crate::dataset::DatasetSettings;
use crate::distribution::DistributionReport;
use crate::fsutil::AppDirs;
use crate::metadata::SampleMeta;
use crate::select::{Bins, Selection};

/// What the user keeps between runs (eframe persistence).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Persisted {
    pub recent_projects: Vec<PathBuf>,
    pub last_root: String,
    pub last_split: String,
    /// Depth colour range of the inspector, metres.
    pub depth_range: [f32; 2],
    /// Grid tile width in points.
    pub tile_width: f32,
    /// The Quantize view's settings (model, method, output, toolchain command).
    pub quantize: super::quantize::QuantizeSettings,
}

impl Default for Persisted {
    fn default() -> Self {
        Self {
            recent_projects: Vec::new(),
            last_root: String::new(),
            last_split: String::new(),
            depth_range: [0.5, 15.0],
            tile_width: 168.0,
            quantize: Default::default(),
        }
    }
}

impl Persisted {
    pub fn remember_project(&mut self, path: &Path) {
        self.recent_projects.retain(|p| p != path);
        self.recent_projects.insert(0, path.to_path_buf());
        self.recent_projects.truncate(10);
    }
}

/// How the app was asked to start.
#[derive(Debug, Clone, Default)]
pub struct Launch {
    pub root: Option<PathBuf>,
    pub split: Option<PathBuf>,
    pub project: Option<PathBuf>,
    pub metadata: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Scan,
    Distribution,
    Calibration,
    Quantize,
    Evaluate,
    Diagnose,
}

impl View {
    pub const ALL: [View; 6] = [
        View::Scan,
        View::Distribution,
        View::Calibration,
        View::Quantize,
        View::Evaluate,
        View::Diagnose,
    ];
    pub fn label(self) -> &'static str {
        match self {
            View::Scan => "Scan",
            View::Distribution => "Distribution",
            View::Calibration => "Calibration set",
            View::Quantize => "Quantize",
            View::Evaluate => "Evaluate",
            View::Diagnose => "Diagnose",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// A message shown above the view until dismissed; may offer to open a folder.
#[derive(Debug, Clone)]
pub struct Notice {
    pub level: Level,
    pub text: String,
    pub folder: Option<PathBuf>,
}

/// Which strategy fills the calibration set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum StrategyKind {
    #[default]
    Stratified,
    Random,
    Diverse,
}

impl StrategyKind {
    pub const ALL: [StrategyKind; 3] = [
        StrategyKind::Stratified,
        StrategyKind::Random,
        StrategyKind::Diverse,
    ];
    pub fn label(self) -> &'static str {
        match self {
            StrategyKind::Stratified => "stratified",
            StrategyKind::Random => "random",
            StrategyKind::Diverse => "diverse",
        }
    }
    pub fn describe(self) -> &'static str {
        match self {
            StrategyKind::Stratified => "the seed's plan: bins on mean depth with target ratios (set the bins on the left); shortfalls refilled proportionally",
            StrategyKind::Random => "uniform random sample of the split (the \"100 random\" baseline)",
            StrategyKind::Diverse => "greedy farthest-point over depth percentiles, valid ratio and depth histogram: covers rare scenes",
        }
    }
}

/// The strategy and its parameters, as saved in the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StrategyState {
    pub kind: StrategyKind,
    pub target: usize,
    pub seed: u64,
    pub bins: Bins,
}

impl Default for StrategyState {
    fn default() -> Self {
        let d = crate::select::SelectionRequest::default();
        Self {
            kind: StrategyKind::Stratified,
            target: d.target,
            seed: d.seed,
            bins: Bins::default(),
        }
    }
}

/// Sorting and the sorted view of the table.
#[derive(Debug, Default)]
pub struct TableState {
    pub sort: Option<(Column, bool)>,
    pub order: Vec<usize>,
    key: Option<(Option<(Column, bool)>, u64)>,
}

/// The grid's list, its selection and keyboard cursor.
#[derive(Debug, Default)]
pub struct GridState {
    pub source: GridSource,
    /// Row indices shown, in order.
    pub list: Vec<usize>,
    key: Option<(GridSource, u64)>,
    /// Selected row indices.
    pub selected: std::collections::BTreeSet<usize>,
    /// Position in `list` of the keyboard cursor / shift-click anchor.
    pub cursor: Option<usize>,
    pub anchor: Option<usize>,
    /// Scroll the cursor into view on the next frame.
    pub scroll_to_cursor: bool,
}

/// One opened dataset and everything derived from it.
pub struct Dataset {
    pub root: PathBuf,
    pub split: Option<PathBuf>,
    pub metadata_file: Option<PathBuf>,
    pub cur: Curation,
    /// (sample, reason) for every sample the scan skipped.
    pub skipped: Vec<(String, String)>,
    pub filter: Filter,
    /// Row indices passing the filter, recomputed when the filter changes.
    pub view: Vec<usize>,
    view_key: Option<(Filter, usize)>,
    /// Bumped whenever `view` is recomputed.
    pub view_gen: u64,
    pub table: TableState,
    pub grid: GridState,
    /// How the dataset was read (scan settings); rescans use them.
    pub settings: DatasetSettings,
    pub strategy: StrategyState,
    /// The last strategy run: plan table and notes.
    pub selection: Option<Selection>,
    /// The distribution check of the current set against the whole split.
    pub report: Option<DistributionReport>,
    report_key: Option<u64>,
    /// The whole split's side of the distribution check, kept across toggles.
    baseline: Option<crate::distribution::Baseline>,
    pub charts: Charts,
    /// (view generation, curation generation) the charts were computed for.
    charts_key: Option<(u64, u64)>,
    pub project_path: PathBuf,
    pub project: Project,
    /// Unsaved change since this instant (autosave after a short pause).
    pub dirty_since: Option<Instant>,
    pub last_saved: Option<Instant>,
}

impl Dataset {
    pub fn new(root: PathBuf, rows: Vec<SampleMeta>, project_path: PathBuf) -> Self {
        let project = Project::new(root.clone());
        Self {
            root,
            split: None,
            metadata_file: None,
            cur: Curation::new(rows),
            skipped: Vec::new(),
            filter: Filter::default(),
            view: Vec::new(),
            view_key: None,
            view_gen: 0,
            table: TableState::default(),
            grid: GridState::default(),
            settings: DatasetSettings::default(),
            strategy: StrategyState::default(),
            selection: None,
            report: None,
            report_key: None,
            baseline: None,
            charts: Charts::default(),
            charts_key: None,
            project_path,
            project,
            dirty_since: None,
            last_saved: None,
        }
    }

    /// Absolute path of a row's RGB image.
    pub fn image_path(&self, r: &SampleMeta) -> PathBuf {
        let p = Path::new(&r.image_path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.root.join(p)
        }
    }

    /// Absolute path of a row's depth map.
    pub fn depth_path(&self, r: &SampleMeta) -> PathBuf {
        let p = Path::new(&r.depth_path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.root.join(p)
        }
    }

    /// Forces the charts to be recomputed (e.g. the depth ranges changed).
    pub fn invalidate_charts(&mut self) {
        self.charts_key = None;
        self.report_key = None;
        self.baseline = None;
    }

    pub fn mark_dirty(&mut self) {
        if self.dirty_since.is_none() {
            self.dirty_since = Some(Instant::now());
        }
    }

    /// Brings the derived lists up to date with the rows, filter and curation.
    /// Cheap when nothing changed (a comparison of the filter).
    pub fn refresh(&mut self) {
        let vk = (self.filter.clone(), self.cur.rows.len());
        if self.view_key.as_ref() != Some(&vk) {
            self.view = self.filter.apply(&self.cur.rows);
            self.view_key = Some(vk);
            self.view_gen += 1;
        }
        let ck = (self.view_gen, self.cur.generation);
        if let Some((vg, _)) = self.charts_key.filter(|&(vg, g)| vg == ck.0 && g != ck.1) {
            // Only the set changed: the view's side of every chart stays.
            self.charts.update_set(
                &self.cur.rows,
                &self.cur.flags,
                &self.view,
                &self.strategy.bins,
            );
            self.charts_key = Some((vg, ck.1));
        } else if self.charts_key != Some(ck) {
            let edges = charts::mean_depth_edges(&self.cur.rows);
            self.charts = Charts::compute(
                &self.cur.rows,
                &self.cur.flags,
                &self.view,
                &self.strategy.bins,
                edges,
            );
            self.charts_key = Some(ck);
        }
        if self.report_key != Some(self.cur.generation) {
            let set = self.cur.set_indices();
            let rows = &self.cur.rows;
            let bins = &self.strategy.bins;
            // Bins that do not validate (the settings panel says why) give no check.
            if self.baseline.is_none() {
                self.baseline = crate::distribution::Baseline::new(rows, bins).ok();
            }
            self.report = self.baseline.as_ref().map(|b| b.compare(rows, &set));
            self.report_key = Some(self.cur.generation);
        }
        let gk = (self.grid.source, ck.0 ^ (ck.1 << 32));
        if self.grid.key != Some(gk) {
            let src = self.grid.source;
            let flags = &self.cur.flags;
            let old_cursor_row = self
                .grid
                .cursor
                .and_then(|c| self.grid.list.get(c).copied());
            self.grid.list = self
                .view
                .iter()
                .copied()
                .filter(|&i| src.admits(flags[i]))
                .collect();
            // Keep the cursor on the same sample when it is still listed, else at the same place.
            self.grid.cursor = match old_cursor_row {
                Some(row) => self
                    .grid
                    .list
                    .iter()
                    .position(|&i| i == row)
                    .or_else(|| {
                        self.grid
                            .cursor
                            .map(|c| c.min(self.grid.list.len().saturating_sub(1)))
                    })
                    .filter(|_| !self.grid.list.is_empty()),
                None => None,
            };
            self.grid.key = Some(gk);
        }
        let tk = (self.table.sort, self.view_gen);
        if self.table.key != Some(tk) {
            let mut order = self.view.clone();
            if let Some((col, asc)) = self.table.sort {
                let rows = &self.cur.rows;
                order.sort_by(|&a, &b| {
                    let o = col.cmp(&rows[a], &rows[b]);
                    if asc {
                        o
                    } else {
                        o.reverse()
                    }
                });
            }
            self.table.order = order;
            self.table.key = Some(tk);
        }
    }

    /// The project as it stands now.
    pub fn to_project(&self) -> Project {
        let mut p = self.project.clone();
        p.root = self.root.clone();
        p.split = self.split.clone();
        p.metadata = self.metadata_file.clone();
        p.filter = self.filter.clone();
        p.dataset_settings = serde_json::to_value(&self.settings).unwrap_or_default();
        p.strategy = serde_json::to_value(&self.strategy).unwrap_or_default();
        p.pinned = self.cur.pinned_keys();
        p.excluded = self.cur.excluded_keys();
        p.selection = self.cur.set_keys();
        p.samples = Project::stamp(&self.cur.rows);
        p
    }

    /// Writes the project file in the background (autosave: the UI never waits on the disk).
    pub fn save_in_background(&mut self) -> poll_promise::Promise<Result<(), String>> {
        let p = self.to_project();
        let path = self.project_path.clone();
        self.dirty_since = None;
        self.last_saved = Some(Instant::now());
        super::jobs::promise("autosave", move || p.save(&path))
    }

    /// Writes the project file (atomically).
    pub fn save(&mut self) -> Result<(), String> {
        let p = self.to_project();
        p.save(&self.project_path)?;
        self.project = p;
        self.dirty_since = None;
        self.last_saved = Some(Instant::now());
        Ok(())
    }

    /// Takes the curation of a saved project over; returns what changed in the dataset.
    pub fn adopt(&mut self, p: Project) -> (DatasetChanges, Vec<crate::metadata::SampleKey>) {
        let changes = DatasetChanges::compare(&p.samples, &self.cur.rows);
        let gone = self.cur.restore(&p.selection, &p.pinned, &p.excluded);
        self.filter = p.filter.clone();
        if let Ok(st) = serde_json::from_value::<StrategyState>(p.strategy.clone()) {
            self.strategy = st;
        }
        if let Ok(ds) = serde_json::from_value::<DatasetSettings>(p.dataset_settings.clone()) {
            self.settings = ds;
        }
        self.invalidate_charts();
        self.project = p;
        (changes, gone)
    }
}

/// Rows loaded by a background job, ready to become a [`Dataset`].
pub struct Loaded {
    pub root: PathBuf,
    pub split: Option<PathBuf>,
    pub metadata_file: Option<PathBuf>,
    pub rows: Vec<SampleMeta>,
    pub skipped: Vec<(String, String)>,
    pub cancelled: bool,
    pub settings: DatasetSettings,
    /// Things the user should know (cache problems and the like).
    pub warnings: Vec<String>,
    /// Project to adopt once loaded.
    pub project: Option<(PathBuf, Project)>,
}

/// Every job the app can run; at most one of each at a time.
#[derive(Default)]
pub struct Jobs {
    pub load: Option<Job<Result<Loaded, String>>>,
    pub select: Option<Job<Result<Selection, String>>>,
    pub export: Option<Job<Result<Notice, String>>>,
    /// The Quantize view's: read the model, run PTQ, run the external toolchain.
    pub inspect: Option<Job<super::quantize::Inspected>>,
    pub ptq: Option<Job<Result<super::quantize::PtqOutcome, String>>>,
    pub toolchain: Option<Job<Result<crate::toolchain::ToolchainRun, String>>>,
}

impl Jobs {
    pub fn any_running(&self) -> bool {
        self.load.is_some()
            || self.select.is_some()
            || self.export.is_some()
            || self.inspect.is_some()
            || self.ptq.is_some()
            || self.toolchain.is_some()
    }

    /// The running job's name and progress, for the status bar.
    pub fn running(&self) -> Option<(&str, &crate::progress::Progress)> {
        if let Some(j) = &self.load {
            return Some((&j.name, &j.progress));
        }
        if let Some(j) = &self.select {
            return Some((&j.name, &j.progress));
        }
        if let Some(j) = &self.export {
            return Some((&j.name, &j.progress));
        }
        if let Some(j) = &self.ptq {
            return Some((&j.name, &j.progress));
        }
        if let Some(j) = &self.toolchain {
            return Some((&j.name, &j.progress));
        }
        self.inspect
            .as_ref()
            .map(|j| (j.name.as_str(), &j.progress))
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

/// The library's messages name command-line flags; in the app the same
/// choice is a control, named here instead.
pub fn app_words(text: &str) -> String {
    const FLAGS: [(&str, &str); 6] = [
        (
            "pass --allow-other-files to keep them there",
            "tick “Keep other files” to copy beside them",
        ),
        ("--allow-other-files", "“Keep other files”"),
        (
            "--allow-absolute-roots",
            "“Allow paths outside the root” in the scan settings",
        ),
        (
            "(--input-size WxH)",
            "(the width and height fields of the Quantize view)",
        ),
        (
            "scan with --json and select on that metadata to include them",
            "open the dataset by scanning it instead of from a CSV to include them",
        ),
        (
            "use --mode copy or symlink",
            "choose the copy or symlink copy mode",
        ),
    ];
    let mut t = text.to_owned();
    for (flag, words) in FLAGS {
        if t.contains(flag) {
            t = t.replace(flag, words);
        }
    }
    t.replace("check --root", "check the dataset folder")
}

/// Messages kept in the history.
const MAX_NOTICES: usize = 200;

pub struct CalibApp {
    pub persisted: Persisted,
    pub dirs: Option<AppDirs>,
    pub start: StartState,
    pub ds: Option<Dataset>,
    pub view: View,
    pub jobs: Jobs,
    pub notices: Vec<Notice>,
    pub thumbs: Option<Thumbs>,
    pub inspector: Option<Inspector>,
    /// Autosave this long after the last change.
    pub autosave_after: Duration,
    /// An autosave writing in the background.
    pub autosaving: Option<poll_promise::Promise<Result<(), String>>>,
    /// Fields of the export section.
    pub export: ExportForm,
    /// The Quantize view's results and logs.
    pub quantize: super::quantize::QuantizeState,
    /// What views asked for this frame, applied after drawing.
    pub cmds: super::command::Commands,
    /// File dialog and folder opener, when the desktop has them.
    pub desktop: super::dialogs::DesktopSupport,
    /// The message history window is open.
    pub show_messages: bool,
    /// The Evaluate view (its own settings and runs).
    pub evaluate: super::eval_view::EvalView,
    /// The Diagnose view (its own settings and results).
    pub diagnose: super::diagnose_view::DiagnoseView,
}

/// What the export section's fields hold.
#[derive(Debug, Clone)]
pub struct ExportForm {
    pub dir: String,
    pub mode: crate::export::LinkMode,
    /// Copy beside files calibscope did not write.
    pub keep_other_files: bool,
    pub tensor_w: u32,
    pub tensor_h: u32,
}

impl Default for ExportForm {
    fn default() -> Self {
        Self {
            dir: String::new(),
            mode: crate::export::LinkMode::Copy,
            keep_other_files: false,
            tensor_w: 640,
            tensor_h: 384,
        }
    }
}

impl CalibApp {
    /// A fresh app; `persisted` comes from eframe's storage (or defaults in tests).
    pub fn new(persisted: Persisted, launch: Launch) -> Self {
        Self::new_in(persisted, launch, AppDirs::discover().ok())
    }

    /// Like [`Self::new`] with the app's folders given (tests use temporary ones).
    pub fn new_in(persisted: Persisted, launch: Launch, dirs: Option<AppDirs>) -> Self {
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
            jobs: Jobs::default(),
            notices: Vec::new(),
            thumbs: None,
            inspector: None,
            autosave_after: Duration::from_secs(2),
            autosaving: None,
            export: ExportForm::default(),
            quantize: Default::default(),
            cmds: Default::default(),
            desktop: super::dialogs::DesktopSupport::detect(),
            show_messages: false,
            evaluate: Default::default(),
            diagnose: Default::default(),
        };
        if app.dirs.is_none() {
            app.error("No folder for the app's cache and projects was found; set CALIBSCOPE_HOME to a writable folder.".to_owned());
        }
        if let Some(p) = launch.project {
            app.open_project(&p);
        } else if let Some(root) = launch.root {
            app.start.root_text = root.display().to_string();
            if let Some(s) = &launch.split {
                app.start.split_text = s.display().to_string();
            }
            if let Some(m) = launch.metadata {
                app.start.metadata_text = m.display().to_string();
                app.open_metadata();
            } else if launch.split.is_some() {
                super::tasks::open_dataset(&mut app);
            }
        }
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
    pub fn notify(&mut self, mut n: Notice) {
        n.text = app_words(&n.text);
        self.notices.push(n);
        if self.notices.len() > MAX_NOTICES {
            let extra = self.notices.len() - MAX_NOTICES;
            self.notices.drain(..extra);
        }
    }

    /// Applies what the views asked for during the frame.
    pub fn apply_commands(&mut self, ctx: &egui::Context) {
        for c in self.cmds.take() {
            match c {
                super::command::Command::Notify(n) => self.notify(n),
                super::command::Command::OpenFolder(dir) => self.open_folder(ctx, &dir),
                super::command::Command::ShowView(v, why) => {
                    self.view = v;
                    self.info(why);
                }
                super::command::Command::KeepFloat(names) => {
                    let q = &mut self.persisted.quantize.keep_float_tensors;
                    let why = super::diagnose_view::keep_float(q, &names);
                    self.view = View::Quantize;
                    self.info(why);
                }
            }
        }
    }

    /// Opens a folder in the file manager, or says why not and puts its path
    /// on the clipboard.
    pub fn open_folder(&mut self, ctx: &egui::Context, dir: &Path) {
        if let Err(e) = super::dialogs::open_folder(self.desktop, dir) {
            ctx.copy_text(dir.display().to_string());
            self.error(e);
        }
    }

    /// Asks for a folder with the desktop's dialog; `field` names the typed
    /// field to use when there is no dialog.
    pub fn pick_folder(&mut self, field: &str) -> Option<PathBuf> {
        self.pick(field, || rfd::FileDialog::new().pick_folder())
    }

    /// Runs a file dialog (see [`super::dialogs::pick`]); a missing dialog is reported.
    pub fn pick(
        &mut self,
        field: &str,
        dialog: impl FnOnce() -> Option<PathBuf>,
    ) -> Option<PathBuf> {
        match super::dialogs::pick(self.desktop, field, dialog) {
            Ok(p) => p,
            Err(e) => {
                self.error(e);
                None
            }
        }
    }

    pub fn projects_dir(&self) -> Option<PathBuf> {
        self.dirs.as_ref().map(|d| d.data.join("projects"))
    }

    /// The split path as typed: relative paths are taken inside the root.
    pub fn typed_split(&self) -> Option<PathBuf> {
        let s = self.start.split_text.trim();
        if s.is_empty() {
            return None;
        }
        let p = PathBuf::from(s);
        Some(if p.is_absolute() {
            p
        } else {
            PathBuf::from(self.start.root_text.trim()).join(p)
        })
    }

    /// Checks the typed root: it must be a readable folder.
    pub fn check_root(&mut self) -> Option<PathBuf> {
        let text = self.start.root_text.trim().to_owned();
        if text.is_empty() {
            self.start.root_error = Some("Type or choose the dataset folder first.".to_owned());
            return None;
        }
        let root = PathBuf::from(&text);
        match std::fs::read_dir(&root) {
            Ok(_) => {
                self.start.root_error = None;
                Some(root)
            }
            Err(e) => {
                self.start.root_error = Some(format!(
                    "Cannot read the dataset folder {}: {e}. Choose a folder you can read.",
                    root.display()
                ));
                None
            }
        }
    }

    /// Loads rows from a metadata file (seed CSV or calibscope JSON) in the background.
    pub fn open_metadata(&mut self) {
        let Some(root) = self.check_root() else {
            return;
        };
        let text = self.start.metadata_text.trim();
        if text.is_empty() {
            self.error("Type or choose a metadata file (CSV or JSON) first.".to_owned());
            return;
        }
        let file = PathBuf::from(text);
        let split = self.typed_split();
        self.load_metadata(root, split, file, None);
    }

    /// The background job that reads a metadata file's rows (a fresh open or a project's).
    fn load_metadata(
        &mut self,
        root: PathBuf,
        split: Option<PathBuf>,
        file: PathBuf,
        project: Option<(PathBuf, Project)>,
    ) {
        self.start_load(move |p| {
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

    /// Opens a saved project: reloads its rows the way they were made.
    pub fn open_project(&mut self, path: &Path) {
        let p = match Project::load(path) {
            Ok(p) => p,
            Err(e) => {
                self.error(e);
                return;
            }
        };
        self.start.root_text = p.root.display().to_string();
        self.start.split_text = p
            .split
            .as_ref()
            .map(|s| s.display().to_string())
            .unwrap_or_default();
        let root = p.root.clone();
        if let Err(e) = std::fs::read_dir(&root) {
            self.error(format!(
                "The project's dataset folder {} cannot be read: {e}. Was it moved? Open the dataset again from its new place.",
                root.display()
            ));
            return;
        }
        let path = path.to_path_buf();
        if let Some(file) = p.metadata.clone() {
            let split = p.split.clone();
            self.load_metadata(root, split, file, Some((path, p)));
        } else if let Some(split) = p.split.clone() {
            let settings: DatasetSettings =
                serde_json::from_value(p.dataset_settings.clone()).unwrap_or_default();
            super::tasks::start_scan(self, root, split, settings, Some((path, p)));
        } else {
            self.error(format!(
                "{} names neither a split nor a metadata file; open its dataset again.",
                path.display()
            ));
        }
    }

    pub(super) fn start_load(
        &mut self,
        work: impl FnOnce(&crate::progress::Progress) -> Result<Loaded, String> + Send + 'static,
    ) {
        if self.jobs.load.is_some() {
            self.error("A dataset is still loading; wait for it or cancel it first.".to_owned());
            return;
        }
        self.jobs.load = Some(Job::spawn("load", work, || {}));
    }

    /// Takes finished jobs' results in. Called every frame before drawing.
    pub fn poll_jobs(&mut self) {
        if let Some(job) = &mut self.jobs.load {
            if let Some(result) = job.poll() {
                self.jobs.load = None;
                match result {
                    Ok(Ok(loaded)) => self.install(loaded),
                    Ok(Err(e)) => self.error(e),
                    Err(e) => self.error(format!("Loading stopped: {e}")),
                }
            }
        }
        if let Some(job) = &mut self.jobs.select {
            if let Some(result) = job.poll() {
                self.jobs.select = None;
                match result {
                    Ok(Ok(sel)) => super::tasks::take_selection(self, sel),
                    Ok(Err(e)) => self.error(e),
                    Err(e) => self.error(format!("Selection stopped: {e}")),
                }
            }
        }
        if let Some(job) = &mut self.jobs.export {
            if let Some(result) = job.poll() {
                self.jobs.export = None;
                match result {
                    Ok(Ok(notice)) => self.notify(notice),
                    Ok(Err(e)) => self.error(e),
                    Err(e) => self.error(format!("Export stopped: {e}")),
                }
            }
        }
        super::ptq_tasks::poll(self);
    }

    /// Blocks until every job has finished and been taken in (tests).
    pub fn wait_for_jobs(&mut self) {
        while self.jobs.any_running() {
            std::thread::sleep(Duration::from_millis(5));
            self.poll_jobs();
        }
    }

    /// Makes loaded rows the open dataset (reopening its project if it has one).
    pub fn install(&mut self, loaded: Loaded) {
        let Some(projects) = self.projects_dir() else {
            self.error(
                "No folder for projects; set CALIBSCOPE_HOME to a writable folder.".to_owned(),
            );
            return;
        };
        let project_path = loaded
            .project
            .as_ref()
            .map(|(p, _)| p.clone())
            .unwrap_or_else(|| {
                project::default_project_path(&projects, &loaded.root, loaded.split.as_deref())
            });
        let n = loaded.rows.len();
        let mut ds = Dataset::new(loaded.root, loaded.rows, project_path.clone());
        ds.split = loaded.split;
        ds.metadata_file = loaded.metadata_file;
        ds.skipped = loaded.skipped;
        ds.settings = loaded.settings;
        for w in loaded.warnings {
            self.info(w);
        }
        self.persisted.last_root = ds.root.display().to_string();
        self.persisted.last_split = self.start.split_text.clone();
        let saved = match loaded.project {
            Some((_, p)) => Some(p),
            // A dataset opened before keeps its curation.
            None if project_path.exists() => Project::load(&project_path).ok(),
            None => None,
        };
        let mut text = format!("Loaded {n} samples from {}.", ds.root.display());
        if loaded.cancelled {
            text.push_str(" Cancelled: only the samples finished so far are shown.");
        }
        if !ds.skipped.is_empty() {
            text.push_str(&format!(
                " {} skipped (see the Scan view).",
                ds.skipped.len()
            ));
        }
        if let Some(p) = saved {
            let (changes, gone) = ds.adopt(p);
            text.push_str(&format!(" Project {} reopened. ", project_path.display()));
            text.push_str(&changes.describe());
            if !gone.is_empty() {
                text.push_str(&format!(
                    " {} saved decisions refer to samples no longer present.",
                    gone.len()
                ));
            }
        }
        ds.refresh();
        // The set's output folder: the one it was exported to, else beside the project.
        self.export.dir = ds
            .project
            .export_dir
            .clone()
            .unwrap_or_else(|| super::tasks::default_export_dir(&project_path))
            .display()
            .to_string();
        self.persisted.remember_project(&project_path);
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
        if self.jobs.any_running() {
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }
        self.top_bar(ui);
        self.status_bar(ui);
        if self.ds.is_none() {
            egui::CentralPanel::default().show(ui, |ui| {
                super::start::show(self, ui);
            });
        } else if self.view == View::Evaluate {
            egui::CentralPanel::default().show(ui, |ui| self.evaluate_view(ui));
        } else if self.view == View::Diagnose {
            egui::CentralPanel::default().show(ui, |ui| self.diagnose_view(ui));
        } else if self.view == View::Quantize {
            // The scan settings and the inspector have nothing to say about quantizing.
            egui::CentralPanel::default().show(ui, |ui| {
                super::quantize_view::show(self, ui);
            });
        } else {
            // Side panels never take more than their share of a small window,
            // so the central view keeps at least a third of it.
            let w = ui.available_width();
            let left_max = (w * 0.3).clamp(200.0, 420.0);
            egui::Panel::left("settings")
                .resizable(true)
                .default_size(250.0_f32.min(left_max))
                .size_range(200.0..=left_max)
                .show(ui, |ui| super::settings::show(self, ui));
            if self.inspector.is_some() {
                let right_max = (w * 0.35).clamp(220.0, 440.0);
                egui::Panel::right("inspector")
                    .resizable(true)
                    .default_size(360.0_f32.min(right_max))
                    .size_range(220.0..=right_max)
                    .show(ui, |ui| super::inspector::show(self, ui));
            }
            egui::CentralPanel::default().show(ui, |ui| match self.view {
                View::Scan => super::scan_view::show(self, ui),
                View::Distribution => super::dist_view::show(self, ui),
                View::Calibration => super::calib_view::show(self, ui),
                View::Quantize => super::quantize_view::show(self, ui),
                View::Evaluate => self.evaluate_view(ui),
                View::Diagnose => self.diagnose_view(ui),
            });
        }
        self.messages_window(ui.ctx());
        if let Some(t) = &mut self.thumbs {
            t.end_frame(ui.ctx());
        }
        self.apply_commands(ui.ctx());
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

    /// The Evaluate view, drawn from a context of what it reads.
    fn evaluate_view(&mut self, ui: &mut egui::Ui) {
        let Some(ds) = &mut self.ds else {
            return;
        };
        let q = &self.persisted.quantize;
        let fp32 = (!q.model.trim().is_empty()).then(|| {
            let pre = q
                .preprocess
                .clone()
                .filter(|_| q.preprocess_model == q.model.trim());
            (PathBuf::from(q.model.trim()), pre)
        });
        let int8 = self
            .quantize
            .outcome
            .as_ref()
            .map(|o| o.report.output.clone())
            .or_else(|| ds.project.ptq_runs.last().map(|r| r.model.clone()));
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
        let int8 = self
            .quantize
            .outcome
            .as_ref()
            .map(|o| o.report.output.clone())
            .or_else(|| ds.project.ptq_runs.last().map(|r| r.model.clone()));
        let mut ctx = super::diagnose_view::DiagCtx {
            ds,
            quantize: &self.persisted.quantize,
            int8,
            cmds: &self.cmds,
        };
        self.diagnose.show(ui, &mut ctx);
    }

    /// Two fixed rows at the bottom: the newest message (with the history
    /// behind a button), then progress or counts. Messages never push the
    /// page down, so buttons stay where the pointer is.
    fn status_bar(&mut self, ui: &mut egui::Ui) {
        egui::Panel::bottom("status_bar").show(ui, |ui| {
            ui.horizontal(|ui| {
                let n = self.notices.len();
                if ui
                    .add_enabled(n > 0, egui::Button::new(format!("Messages ({n})")).small())
                    .on_hover_text("Every message of this session, newest first")
                    .clicked()
                {
                    self.show_messages = !self.show_messages;
                }
                let mut open = None;
                match self.notices.last() {
                    Some(note) => {
                        if let Some(dir) = &note.folder {
                            if ui.small_button("Open folder").clicked() {
                                open = Some(dir.clone());
                            }
                        }
                        let color = match note.level {
                            Level::Error => ui.visuals().error_fg_color,
                            Level::Info => ui.visuals().text_color(),
                        };
                        let text = match note.level {
                            Level::Error => format!("Error: {}", note.text),
                            Level::Info => note.text.clone(),
                        };
                        ui.add(
                            egui::Label::new(egui::RichText::new(&text).color(color)).truncate(),
                        )
                        .on_hover_text(&text);
                    }
                    None => {
                        ui.weak("No messages yet.");
                    }
                }
                if let Some(dir) = open {
                    self.cmds.send(super::command::Command::OpenFolder(dir));
                }
            });
            ui.horizontal(|ui| {
                let mut running = false;
                if let Some((_, progress)) = self.jobs.running() {
                    running = true;
                    jobs::progress_bar(ui, progress, "", 260.0);
                }
                if !running {
                    match &self.ds {
                        Some(ds) => {
                            ui.label(format!(
                                "{} samples · {} in view · {} in the calibration set",
                                ds.cur.rows.len(),
                                ds.view.len(),
                                ds.cur.set_len()
                            ));
                            if !ds.filter.is_empty() {
                                ui.add(
                                    egui::Label::new(format!("· filter: {}", ds.filter.describe()))
                                        .truncate(),
                                );
                            }
                            if ds.dirty_since.is_some() {
                                ui.weak("· unsaved");
                            } else if ds.last_saved.is_some() {
                                ui.weak("· saved");
                            }
                        }
                        None => {
                            ui.label("No dataset open.");
                        }
                    }
                }
            });
        });
    }

    /// The message history, newest first, in a window over the page.
    fn messages_window(&mut self, ctx: &egui::Context) {
        if !self.show_messages {
            return;
        }
        let mut open = true;
        let mut clear = false;
        let mut folder = None;
        egui::Window::new("Messages")
            .open(&mut open)
            .default_size([560.0, 300.0])
            .vscroll(true)
            .show(ctx, |ui| {
                if ui.button("Clear messages").clicked() {
                    clear = true;
                }
                for n in self.notices.iter().rev() {
                    ui.separator();
                    ui.horizontal_wrapped(|ui| {
                        if n.level == Level::Error {
                            ui.colored_label(ui.visuals().error_fg_color, "Error:");
                        }
                        ui.label(&n.text);
                        if let Some(dir) = &n.folder {
                            if ui.small_button("Open folder").clicked() {
                                folder = Some(dir.clone());
                            }
                        }
                    });
                }
            });
        if clear {
            self.notices.clear();
            open = false;
        }
        self.show_messages = open;
        if let Some(dir) = folder {
            self.cmds.send(super::command::Command::OpenFolder(dir));
        }
    }

    /// The current error: the newest message when it is one (a later
    /// success replaces it in the status bar).
    pub fn last_error(&self) -> Option<&str> {
        self.notices
            .last()
            .filter(|n| n.level == Level::Error)
            .map(|n| n.text.as_str())
    }

    /// Thumbnail loader, created on first use with its disk cache.
    pub fn thumbs(&mut self, ppp: f32) -> &mut Thumbs {
        let w = (self.persisted.tile_width * ppp).round() as u32;
        let size = [w, (w as f32 * 0.6).round() as u32];
        if self.thumbs.as_ref().is_some_and(|t| t.size() != size) {
            self.thumbs = None;
        }
        let cache = self.dirs.as_ref().map(|d| d.cache.join("thumbs"));
        self.thumbs.get_or_insert_with(|| Thumbs::new(size, cache))
    }
}

impl eframe::App for CalibApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.persisted);
        eframe::set_value(storage, super::eval_view::STORAGE_KEY, &self.evaluate);
        eframe::set_value(storage, super::diagnose_view::STORAGE_KEY, &self.diagnose);
        if let Some(ds) = &mut self.ds {
            if ds.dirty_since.is_some() {
                let _ = ds.save();
            }
        }
    }
}
