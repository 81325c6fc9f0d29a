//! The open dataset and everything derived from it (filtered view, sorted
//! table, grid list, charts, distribution check), kept up to date by
//! [`Dataset::refresh`] each frame; plus the strategy's saved settings.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::charts::{self, Charts};
use super::columns::Column;
use super::curation::{Curation, GridSource};
use super::filters::Filter;
use super::project::{DatasetChanges, Project};
use crate::dataset::DatasetSettings;
use crate::distribution::DistributionReport;
use crate::metadata::SampleMeta;
use crate::select::{Bins, Selection};

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

    /// Makes loaded rows a dataset, reopening its project (the one it was
    /// loaded for, else the one saved for this dataset under `projects`);
    /// also says what happened, for the status bar.
    pub fn from_loaded(loaded: Loaded, projects: &Path) -> (Self, String) {
        let project_path = loaded
            .project
            .as_ref()
            .map(|(p, _)| p.clone())
            .unwrap_or_else(|| {
                super::project::default_project_path(
                    projects,
                    &loaded.root,
                    loaded.split.as_deref(),
                )
            });
        let n = loaded.rows.len();
        let mut ds = Dataset::new(loaded.root, loaded.rows, project_path.clone());
        ds.split = loaded.split;
        ds.metadata_file = loaded.metadata_file;
        ds.skipped = loaded.skipped;
        ds.settings = loaded.settings;
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
        (ds, text)
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
