//! What the app's parts share and the views read: the persisted settings,
//! how the app was launched, the views' names and the messages.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
    /// The Quantize view's settings as saved before the view kept its own
    /// (read once to carry them over, never written again).
    #[serde(skip_serializing, deserialize_with = "older_quantize")]
    pub quantize: Option<super::quantize::QuantizeSettings>,
}

impl Default for Persisted {
    fn default() -> Self {
        Self {
            recent_projects: Vec::new(),
            last_root: String::new(),
            last_split: String::new(),
            depth_range: [0.5, 15.0],
            tile_width: 168.0,
            quantize: None,
        }
    }
}

/// The older layout saved the settings themselves, not an `Option` (RON
/// would want `Some(…)` around them and reject the whole file).
fn older_quantize<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<super::quantize::QuantizeSettings>, D::Error> {
    super::quantize::QuantizeSettings::deserialize(d).map(Some)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Storage in memory, read the way eframe reads the app's file.
    #[derive(Default)]
    struct Memory(std::collections::HashMap<String, String>);

    impl eframe::Storage for Memory {
        fn get_string(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn set_string(&mut self, key: &str, value: String) {
            self.0.insert(key.to_owned(), value);
        }
        fn remove_string(&mut self, key: &str) {
            self.0.remove(key);
        }
        fn flush(&mut self) {}
    }

    #[test]
    fn quantize_settings_saved_by_an_older_version_are_read_and_not_written_again() {
        // What the previous layout wrote (RON, the settings inline).
        let old = r#"(recent_projects:["/p/a.calibscope.json"],last_root:"/data",last_split:"s.json",depth_range:(0.5,15.0),tile_width:168.0,quantize:(model:"/m/a.onnx",toolchain_template:"vendor_x {model}"))"#;
        let mut store = Memory::default();
        eframe::Storage::set_string(&mut store, eframe::APP_KEY, old.to_owned());
        let p: Persisted = eframe::get_value(&store, eframe::APP_KEY).expect("old file reads");
        assert_eq!(p.last_root, "/data");
        assert_eq!(p.recent_projects, [PathBuf::from("/p/a.calibscope.json")]);
        let q = p.quantize.as_ref().expect("carried over");
        assert_eq!(q.model, "/m/a.onnx");
        assert_eq!(q.toolchain_template, "vendor_x {model}");

        eframe::set_value(&mut store, eframe::APP_KEY, &p);
        let again = eframe::Storage::get_string(&store, eframe::APP_KEY).unwrap();
        assert!(!again.contains("quantize"), "{again}");
        let p2: Persisted = eframe::get_value(&store, eframe::APP_KEY).expect("new file reads");
        assert_eq!(p2.last_root, "/data");
        assert!(p2.quantize.is_none());
    }
}
