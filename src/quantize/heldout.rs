//! Held-out inputs for the fidelity check: samples the calibration never saw.
//! First the list's own entries beyond the ones used (`--max-images`), then
//! the other files of the calibration inputs' folders (the sequence's other
//! frames, the folder's other `.npy`), picked evenly so they span the folder.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

const IMAGE_EXTS: &[&str] = &["png", "jpg", "jpeg"];

fn kind(p: &Path) -> Option<bool> {
    let e = p.extension()?.to_str()?.to_ascii_lowercase();
    if e == "npy" {
        Some(true)
    } else if IMAGE_EXTS.contains(&e.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// Up to `n` inputs not in `calibration`: `unused` first (in order), then
/// the calibration folders' other files of the same kind (image or `.npy`).
pub fn held_out_inputs(calibration: &[PathBuf], unused: &[PathBuf], n: usize) -> Vec<PathBuf> {
    let used: HashSet<&PathBuf> = calibration.iter().collect();
    let kinds: HashSet<bool> = calibration.iter().filter_map(|p| kind(p)).collect();
    let mut out: Vec<PathBuf> = unused
        .iter()
        .filter(|p| !used.contains(p))
        .take(n)
        .cloned()
        .collect();
    if out.len() >= n {
        return out;
    }
    let dirs: BTreeSet<&Path> = calibration.iter().filter_map(|p| p.parent()).collect();
    let taken: HashSet<PathBuf> = out.iter().cloned().collect();
    let mut siblings: Vec<PathBuf> = Vec::new();
    for d in dirs {
        let Ok(rd) = std::fs::read_dir(d) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| kind(p).is_some_and(|k| kinds.contains(&k)))
            .filter(|p| !used.contains(p) && !taken.contains(p) && p.is_file())
            .collect();
        files.sort();
        siblings.extend(files);
    }
    let want = n - out.len();
    if siblings.len() <= want {
        out.extend(siblings);
    } else {
        // Evenly spaced, so a long sequence is not represented by its first frames only.
        out.extend((0..want).map(|i| siblings[i * siblings.len() / want].clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unused_first_then_even_siblings_of_the_same_kind() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        for i in 0..10 {
            std::fs::write(d.join(format!("{i:02}.png")), b"x").unwrap();
        }
        std::fs::write(d.join("a.npy"), b"x").unwrap();
        std::fs::write(d.join("notes.txt"), b"x").unwrap();
        let cal = vec![d.join("00.png"), d.join("01.png")];
        let unused = vec![d.join("05.png")];
        let got = held_out_inputs(&cal, &unused, 4);
        assert_eq!(got[0], d.join("05.png"));
        assert_eq!(got.len(), 4);
        assert!(got.iter().all(|p| !cal.contains(p)));
        assert!(got.iter().all(|p| p.extension().unwrap() == "png"));
        // 7 siblings (02..09 minus 05), 3 wanted: indices 0, 2, 4 → 02, 04, 07.
        assert_eq!(
            got[1..],
            [d.join("02.png"), d.join("04.png"), d.join("07.png")]
        );
        // A folder with nothing else: none.
        let all: Vec<PathBuf> = (0..10).map(|i| d.join(format!("{i:02}.png"))).collect();
        assert!(held_out_inputs(&all, &[], 16).is_empty());
    }
}
