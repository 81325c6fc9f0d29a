//! The app as a new user meets it (issue 19): a layout that holds in small
//! windows, messages in one place that never moves the page, a split that
//! belongs to its dataset, dialogs that say when the desktop has none, tab
//! counts and targets said plainly, and one output folder per calibration
//! set where every export finds the others' files.

mod gui_support;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use gui_support::{harness, settle};

use calibscope::fsutil::AppDirs;
use calibscope::gui::dialogs::DesktopSupport;
use calibscope::gui::{CalibApp, Persisted, View};

fn home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn dirs(tag: &str) -> AppDirs {
    let h = home();
    AppDirs {
        cache: h.join(tag).join("cache"),
        data: h.join("data"),
        config: h.join(tag).join("config"),
    }
}

const NO_DESKTOP: DesktopSupport = DesktopSupport {
    file_dialog: false,
    opener: false,
};

fn app(tag: &str) -> CalibApp {
    let mut a = CalibApp::new_in(Persisted::default(), Default::default(), Some(dirs(tag)));
    // The test machine's desktop must not decide what the test sees.
    a.desktop = NO_DESKTOP;
    a
}

fn open_demo(tag: &str, size: egui::Vec2) -> Harness<'static, CalibApp> {
    static GEN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = GEN.lock().unwrap_or_else(|e| e.into_inner());
    let mut h = harness(app(tag), size);
    settle(&mut h);
    h.get_by_label("Open demo dataset").click();
    settle(&mut h);
    settle(&mut h);
    assert!(h.state().ds.is_some(), "demo opened");
    h
}

fn demo_root() -> PathBuf {
    home().join("data").join("demo")
}

/// Item 4: at 1024×640 and 640×420 every tab stays visible beside the
/// buttons, and a message never moves the controls under the pointer.
#[test]
fn layout_holds_in_small_windows_and_messages_stay_put() {
    for (i, size) in [egui::vec2(1024.0, 640.0), egui::vec2(640.0, 420.0)]
        .into_iter()
        .enumerate()
    {
        let mut h = open_demo(&format!("small{i}"), size);
        for v in View::ALL {
            h.state_mut().view = v;
            settle(&mut h);
            let save = h.get_by_label("Save project").rect();
            let close = h.get_by_label("Close dataset").rect();
            for t in View::ALL {
                let r = h
                    .get_by_role_and_label(egui::accesskit::Role::Button, t.label())
                    .rect();
                assert!(
                    r.max.x <= size.x && r.min.x >= 0.0,
                    "{size:?} {v:?}: tab {} at {r:?} is off screen",
                    t.label()
                );
                assert!(
                    !r.intersects(save) && !r.intersects(close),
                    "{size:?} {v:?}: tab {} at {r:?} is under a button ({save:?}, {close:?})",
                    t.label()
                );
            }
        }
        // The settings panel keeps a usable width.
        h.state_mut().view = View::Calibration;
        settle(&mut h);
        // The dataset's path wraps to the panel's width.
        let folder = h.get_by_label_contains("Folder: ").rect();
        assert!(
            folder.width() > 120.0,
            "{size:?}: settings panel {folder:?}"
        );

        // A message shows in the status bar; the page does not move.
        let before = h.get_by_label("Run strategy").rect();
        h.state_mut()
            .error("Something went wrong in a long sentence that a user has to read.".into());
        settle(&mut h);
        h.get_by_label_contains("Error: Something went wrong");
        assert_eq!(h.get_by_label("Run strategy").rect(), before, "{size:?}");
        assert!(h.state().last_error().is_some());
        // A later success replaces the old error; the history keeps both.
        h.state_mut().info("All good now.".into());
        settle(&mut h);
        h.get_by_label_contains("All good now.");
        assert!(h
            .query_by_label_contains("Error: Something went wrong")
            .is_none());
        assert_eq!(h.state().last_error(), None);
        assert_eq!(h.get_by_label("Run strategy").rect(), before, "{size:?}");
        let n = h.state().messages.notices.len();
        h.get_by_label(&format!("Messages ({n})")).click();
        settle(&mut h);
        h.get_by_label("Something went wrong in a long sentence that a user has to read.");
    }
}

/// Item 5: a split typed as an absolute path of another dataset is cleared
/// (and the screen says so) when the dataset folder changes; the demo's
/// marker file is not offered as a split.
#[test]
fn a_new_dataset_folder_forgets_the_old_split() {
    let mut h = open_demo("split", egui::vec2(1280.0, 800.0));
    let root = demo_root();
    h.state_mut().close_dataset();
    let choices = calibscope::gui::start::list_splits(&root).unwrap();
    assert!(!choices.is_empty());
    assert!(
        choices
            .iter()
            .all(|c| c.file_name().unwrap() != calibscope::demo::MARKER),
        "{choices:?}"
    );
    let old_split = root.join("splits/combined_train.json");
    h.state_mut().start.split_text = old_split.display().to_string();
    settle(&mut h);
    let other = home().join("other-dataset");
    std::fs::create_dir_all(&other).unwrap();
    h.state_mut().start.root_text = other.display().to_string();
    settle(&mut h);
    assert_eq!(h.state().start.split_text, "");
    h.get_by_label_contains("belonged to the previous dataset folder, so it was cleared");
    // A split inside the new folder, or relative to it, stays.
    h.state_mut().start.split_text = "splits/mine.json".into();
    h.state_mut().start.root_text = root.display().to_string();
    settle(&mut h);
    assert_eq!(h.state().start.split_text, "splits/mine.json");
}

/// Item 6: without a file dialog or a folder opener, the buttons say so and
/// point to the typed field.
#[test]
fn browse_and_open_folder_say_when_the_desktop_cannot() {
    let mut h = harness(app("nodialog"), egui::vec2(1280.0, 800.0));
    settle(&mut h);
    h.get_by_label("Browse folder…").click();
    settle(&mut h);
    h.get_by_label_contains("No file dialog is available on this desktop");
    h.get_by_label_contains("type the path into the “Dataset folder” field");
    let dir = home().join("somewhere");
    h.state_mut()
        .cmds
        .send(calibscope::gui::command::Command::OpenFolder(dir.clone()));
    settle(&mut h);
    h.get_by_label_contains(&format!(
        "Cannot open the folder here (no xdg-open on this desktop); its path is {}",
        dir.display()
    ));
}

/// Items 8 and 2: tab counts say the set's size under a filter, a target
/// above the split says so, and the set's one output folder (outside the
/// dataset, beside the project, remembered by it) takes the split, the
/// images and the tensors without one export refusing another's files.
#[test]
fn counts_targets_and_one_output_folder_per_set() {
    let mut h = open_demo("export", egui::vec2(1280.0, 800.0));
    let root = demo_root();
    h.get_by_label("Calibration set").click();
    settle(&mut h);
    h.state_mut().ds.as_mut().unwrap().strategy.target = 20;
    settle(&mut h);
    h.get_by_label("Run strategy").click();
    settle(&mut h);
    settle(&mut h);
    assert_eq!(h.state().ds.as_ref().unwrap().cur.set_len(), 20);

    // A filter that keeps part of the set: the tab still says 20.
    {
        let ds = h.state_mut().ds.as_mut().unwrap();
        let set = ds.cur.set_indices();
        let mut means: Vec<f64> = set.iter().map(|&i| ds.cur.rows[i].mean_depth).collect();
        means.sort_by(|a, b| a.total_cmp(b));
        let cut = means[9];
        ds.filter
            .set_range(calibscope::gui::columns::Stat::MeanDepth, 0.0, cut);
    }
    settle(&mut h);
    let ds = h.state().ds.as_ref().unwrap();
    let in_filter = ds.view.iter().filter(|&&i| ds.cur.flags[i].in_set).count();
    assert!(in_filter < 20 && in_filter > 0, "{in_filter}");
    h.get_by_label(&format!("Calibration set (20, {in_filter} in the filter)"));
    h.state_mut().ds.as_mut().unwrap().filter = Default::default();

    // A target above the split.
    let n = h.state().ds.as_ref().unwrap().cur.rows.len();
    h.state_mut().ds.as_mut().unwrap().strategy.target = n + 50;
    settle(&mut h);
    h.get_by_label(&format!(
        "more than the {n} usable samples: all of them will be taken"
    ));
    h.state_mut().ds.as_mut().unwrap().strategy.target = 20;
    settle(&mut h);

    // The default output folder: beside the project, outside the dataset.
    let out = PathBuf::from(h.state().calibration.export.dir.clone());
    let project = h.state().ds.as_ref().unwrap().project_path.clone();
    assert_eq!(out.parent(), project.parent(), "{}", out.display());
    assert!(!out.starts_with(&root));
    h.get_by_label("Export the calibration set").click();
    settle(&mut h);
    for b in ["Export split", "Copy images", "Export tensors"] {
        h.get_by_label(b).click();
        settle(&mut h);
        settle(&mut h);
        assert_eq!(h.state().last_error(), None, "{b}");
    }
    // Copy again after the split is there: not refused.
    h.get_by_label("Copy images").click();
    settle(&mut h);
    settle(&mut h);
    assert_eq!(h.state().last_error(), None);
    assert!(out.join("calibration_split.json").is_file());
    let list = std::fs::read_to_string(out.join("images/image_list.txt")).unwrap();
    assert_eq!(list.lines().count(), 20);
    assert!(out.join("tensors/tensor_list.txt").is_file());
    let folder_msgs: Vec<_> = h
        .state()
        .messages
        .notices
        .iter()
        .map(|n| n.text.clone())
        .collect();
    assert!(
        folder_msgs.iter().all(|t| !t.contains("--")),
        "no command-line flag in the app's messages: {folder_msgs:?}"
    );

    // The project remembers the folder.
    h.state_mut().ds.as_mut().unwrap().save().unwrap();
    let p = calibscope::gui::project::Project::load(&project).unwrap();
    assert_eq!(p.export_dir.as_deref(), Some(out.as_path()));
}

#[test]
fn flags_in_library_messages_become_the_apps_words() {
    let t = calibscope::gui::state::app_words(
        "/o holds 1 file(s) calibscope did not write (e.g. a.txt); toolchains that read the whole folder would calibrate on them. Choose an empty or new folder, or pass --allow-other-files to keep them there",
    );
    assert!(
        t.ends_with("tick “Keep other files” to copy beside them"),
        "{t}"
    );
    assert!(!t.contains("--"));
}

/// Item 7: the valid-pixel-ratio axis spans the data, the sort arrow leads
/// the column name (a narrow column cuts the end, not the arrow), and a bar
/// click says why the page changed.
#[test]
fn plots_fit_the_data_and_the_sort_arrow_shows() {
    let mut h = open_demo("plots", egui::vec2(1280.0, 800.0));
    let ds = h.state().ds.as_ref().unwrap();
    let e = &ds.charts.valid_hist.edges;
    let (lo, hi) = ds
        .cur
        .rows
        .iter()
        .map(|r| r.valid_ratio())
        .fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    assert!(
        e[0] <= lo && *e.last().unwrap() >= hi,
        "{e:?} covers {lo}..{hi}"
    );
    assert!(
        *e.last().unwrap() - e[0] < 0.5,
        "the demo's sparse depth ({lo:.3}..{hi:.3}) is not squeezed into 0..1: {e:?}"
    );
    h.get_by_label("mean_depth").click();
    settle(&mut h);
    h.get_by_label("⏶ mean_depth");
    h.get_by_label("⏶ mean_depth").click();
    settle(&mut h);
    h.get_by_label("⏷ mean_depth");

    // What a click on a histogram bar does, said in the status bar.
    h.state_mut().cmds.send(calibscope::gui::command::Command::ShowView(
        View::Calibration,
        "You clicked a bar: showing the samples with mean_depth from 1.00 to 2.00 in the Calibration set view".into(),
    ));
    settle(&mut h);
    assert_eq!(h.state().view, View::Calibration);
    h.get_by_label_contains("You clicked a bar");
}
