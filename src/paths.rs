//! The one rule for outputs, used by every command and the app:
//! an output is never one of the run's inputs, never inside the dataset, and
//! never another output of the same run. Paths are compared where they really
//! are: `./../dir/x`, a symbolic link to `x` and a hard link to `x` all name `x`.

use std::path::{Component, Path, PathBuf};

/// Why an output path was refused. Every message names both paths and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("refusing to write the {what} to {out}: it is the {input_what} this run reads ({input}); choose another file name")]
    IsInput {
        what: String,
        out: PathBuf,
        input_what: String,
        input: PathBuf,
    },
    #[error("refusing to write the {what} to {out}: it is inside the dataset folder {root}, and the dataset is never modified; choose a path outside it")]
    InsideDataset {
        what: String,
        out: PathBuf,
        root: PathBuf,
    },
    #[error("refusing to write the {what} and the {other_what} to the same file {out}; give them different paths")]
    Twice {
        what: String,
        other_what: String,
        out: PathBuf,
    },
    #[error("{what} {out} names a folder, not a file; give a file name")]
    IsFolder { what: String, out: PathBuf },
}

/// `p` made absolute, with symbolic links resolved for the part that exists
/// and `.`/`..` removed from the part that does not (an output may not exist yet).
pub fn resolve(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let parts: Vec<Component> = abs.components().collect();
    // The longest prefix that exists. `symlink_metadata`: a dangling link is
    // where a write would land, so it is resolved as far as it goes.
    let mut n = parts.len();
    let mut existing: PathBuf;
    loop {
        existing = parts[..n].iter().collect();
        if n <= 1 || existing.symlink_metadata().is_ok() {
            break;
        }
        n -= 1;
    }
    let mut c = existing.canonicalize().unwrap_or(existing);
    // Absent parts hold no links, so `..` among them is plain text.
    for part in &parts[n..] {
        match part {
            Component::ParentDir => {
                c.pop();
            }
            Component::CurDir => {}
            other => c.push(other.as_os_str()),
        }
    }
    c
}

/// Whether `a` and `b` name the same file: the same resolved path, or (both
/// existing) the same file on disk, which catches hard links too.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if resolve(a) == resolve(b) {
        return true;
    }
    same_inode(a, b)
}

#[cfg(unix)]
fn same_inode(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_inode(_: &Path, _: &Path) -> bool {
    false
}

/// The paths one run reads and writes, checked together before anything is
/// written (`check`). Labels are the users' words ("metadata CSV", "split").
#[derive(Debug, Default, Clone)]
pub struct RunPaths {
    inputs: Vec<(String, PathBuf)>,
    datasets: Vec<PathBuf>,
    outputs: Vec<(String, PathBuf)>,
}

impl RunPaths {
    pub fn new() -> Self {
        Self::default()
    }

    /// A file the run reads.
    pub fn input(mut self, what: &str, p: &Path) -> Self {
        self.inputs.push((what.to_owned(), p.to_path_buf()));
        self
    }

    /// A folder the run reads and must never write into (a dataset root, a
    /// folder of calibration inputs).
    pub fn dataset(mut self, root: &Path) -> Self {
        self.datasets.push(root.to_path_buf());
        self
    }

    /// A file the run writes.
    pub fn output(mut self, what: &str, p: &Path) -> Self {
        self.outputs.push((what.to_owned(), p.to_path_buf()));
        self
    }

    /// Applies the rule; the first violation found is returned.
    pub fn check(&self) -> Result<(), OutputError> {
        let datasets: Vec<PathBuf> = self.datasets.iter().map(|d| resolve(d)).collect();
        let inputs: Vec<(&str, &Path, PathBuf)> = self
            .inputs
            .iter()
            .map(|(w, p)| (w.as_str(), p.as_path(), resolve(p)))
            .collect();
        let mut seen: Vec<(&str, &Path, PathBuf)> = Vec::new();
        for (what, out) in &self.outputs {
            let r = resolve(out);
            if out.as_os_str().is_empty() || r.is_dir() {
                return Err(OutputError::IsFolder {
                    what: what.clone(),
                    out: out.clone(),
                });
            }
            for (iw, ip, ir) in &inputs {
                if *ir == r || same_inode(ip, out) {
                    return Err(OutputError::IsInput {
                        what: what.clone(),
                        out: out.clone(),
                        input_what: (*iw).to_owned(),
                        input: ip.to_path_buf(),
                    });
                }
            }
            if let Some(root) = datasets.iter().find(|d| r.starts_with(d)) {
                return Err(OutputError::InsideDataset {
                    what: what.clone(),
                    out: out.clone(),
                    root: root.clone(),
                });
            }
            if let Some((ow, _, _)) = seen
                .iter()
                .find(|(_, op, or)| *or == r || same_inode(op, out))
            {
                return Err(OutputError::Twice {
                    what: (*ow).to_owned(),
                    other_what: what.clone(),
                    out: out.clone(),
                });
            }
            seen.push((what, out, r));
        }
        Ok(())
    }
}

/// The rule for one output, for callers with a single save path (the app's
/// save dialogs): `out` is not one of `inputs` and not inside any of `datasets`.
pub fn check_output(out: &Path, inputs: &[&Path], datasets: &[&Path]) -> Result<(), String> {
    let mut run = RunPaths::new().output("file", out);
    for i in inputs {
        run = run.input("input", i);
    }
    for d in datasets {
        run = run.dataset(d);
    }
    run.check().map_err(|e| e.to_string())
}

/// `s` with control characters (NUL, newlines, escapes) written as `\n`,
/// `\0`, `\u{1b}`…: a stem can hold any character, and raw ones would cut
/// CSV lines or drive the terminal.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn other_spellings_are_the_same_file() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("dir");
        fs::create_dir(&dir).unwrap();
        let m = dir.join("model.onnx");
        fs::write(&m, b"x").unwrap();
        let spelled = dir.join("../dir/./model.onnx");
        assert_eq!(resolve(&spelled), resolve(&m));
        assert!(same_file(&spelled, &m));
        let absent = dir.join("new/../model.onnx");
        assert_eq!(resolve(&absent), resolve(&m));
        #[cfg(unix)]
        {
            let link = t.path().join("link.onnx");
            std::os::unix::fs::symlink(&m, &link).unwrap();
            assert!(same_file(&link, &m));
            let hard = t.path().join("hard.onnx");
            fs::hard_link(&m, &hard).unwrap();
            assert!(same_file(&hard, &m));
            let e = RunPaths::new()
                .input("FP32 model", &m)
                .output("INT8 model", &hard)
                .check()
                .unwrap_err();
            assert!(matches!(e, OutputError::IsInput { .. }), "{e}");
        }
        assert!(!same_file(&m, &dir.join("other.onnx")));
    }

    #[test]
    fn the_rule_refuses_inputs_dataset_and_duplicates() {
        let t = tempfile::tempdir().unwrap();
        let ds = t.path().join("data");
        fs::create_dir_all(ds.join("seq")).unwrap();
        let split = ds.join("split.json");
        fs::write(&split, b"[]").unwrap();
        let out = t.path().join("out.csv");
        let ok = RunPaths::new()
            .input("split", &split)
            .dataset(&ds)
            .output("metadata CSV", &out)
            .output("JSON", &t.path().join("out.json"));
        assert!(ok.check().is_ok());
        let e = ok
            .clone()
            .output("skipped list", &t.path().join("./out.csv"))
            .check()
            .unwrap_err();
        assert!(matches!(e, OutputError::Twice { .. }), "{e}");
        assert!(e.to_string().contains("different paths"), "{e}");
        let e = RunPaths::new()
            .dataset(&ds)
            .output("CSV", &ds.join("seq/new/../x.csv"))
            .check()
            .unwrap_err();
        assert!(e.to_string().contains("inside the dataset folder"), "{e}");
        let e = RunPaths::new()
            .input("split", &split)
            .output("CSV", &t.path().join("data/seq/../split.json"))
            .check()
            .unwrap_err();
        assert!(e.to_string().contains("is the split this run reads"), "{e}");
        let e = check_output(&ds, &[], &[]).unwrap_err();
        assert!(e.contains("names a folder"), "{e}");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("seq_01/0042"), "seq_01/0042");
        assert_eq!(
            printable("a\0b\nc\u{1b}[31m\u{85}"),
            "a\\0b\\nc\\u{1b}[31m\\u{85}"
        );
    }
}
