//! Output file names as the seed gives them, and the checks that keep every
//! write inside the chosen folder.
//!
//! Seed name: `dataset_root.replace('/', '_').replace('synced_data_', '')`,
//! then `<that>_<stem>.<ext>` — replacements in that order, so
//! `synced_data/seq_01` → `seq_01`. We keep the source's extension (the
//! seed always wrote `.png`, skipping JPEG sequences).

use std::collections::HashSet;

use crate::metadata::SampleKey;

/// The seed's file name for a sample.
pub fn seed_name(dataset_root: &str, stem: &str, ext: &str) -> String {
    let safe = dataset_root.replace('/', "_").replace("synced_data_", "");
    format!("{safe}_{stem}.{ext}")
}

/// Refuses split entries that could make a path escape the output folder
/// (or read outside the dataset): `..` components in `dataset_root`, path
/// separators or `..` in the stem, NUL or control characters anywhere.
pub fn check_key(key: &SampleKey) -> Result<(), String> {
    let ctl = |s: &str| s.chars().any(|c| c.is_control());
    if key.stem.is_empty() {
        return Err("its new_filename (stem) is empty".into());
    }
    if key.stem.contains(['/', '\\']) || key.stem == "." || key.stem == ".." {
        return Err(format!(
            "its new_filename {:?} contains a path (separators or ..); a stem is a plain file name",
            key.stem
        ));
    }
    if key.stem.contains("..") {
        return Err(format!(
            "its new_filename {:?} contains '..'; a stem is a plain file name",
            key.stem
        ));
    }
    if key.dataset_root.split(['/', '\\']).any(|c| c == "..") {
        return Err(format!(
            "its dataset_root {:?} climbs out with '..'; use a path below the dataset root or an absolute path",
            key.dataset_root
        ));
    }
    if ctl(&key.stem) || ctl(&key.dataset_root) {
        return Err("it contains control characters".into());
    }
    Ok(())
}

/// A file name that is one plain component (no separators, not `.`/`..`).
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// Gives every sample a unique name: first come keep the seed's name, later
/// samples that would get the same name get `_2`, `_3`, … before the
/// extension (the first number not used by any other sample). Returns the
/// names and, per sample, whether it was renamed.
pub fn unique_names(bases: &[String]) -> Vec<(String, bool)> {
    let all: HashSet<&str> = bases.iter().map(String::as_str).collect();
    let mut used: HashSet<String> = HashSet::with_capacity(bases.len());
    bases
        .iter()
        .map(|b| {
            if used.insert(b.clone()) {
                return (b.clone(), false);
            }
            let (stem, ext) = match b.rfind('.') {
                Some(p) => (&b[..p], &b[p..]),
                None => (b.as_str(), ""),
            };
            let mut k = 2;
            loop {
                let cand = format!("{stem}_{k}{ext}");
                if !all.contains(cand.as_str()) && used.insert(cand.clone()) {
                    return (cand, true);
                }
                k += 1;
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(r: &str, s: &str) -> SampleKey {
        SampleKey {
            dataset_root: r.into(),
            stem: s.into(),
        }
    }

    #[test]
    fn names_like_the_seed() {
        assert_eq!(
            seed_name("synced_data/seq_01", "0000000001", "png"),
            "seq_01_0000000001.png"
        );
        assert_eq!(
            seed_name("/data/ncdb/synced_data/seq", "0000000002", "jpg"),
            "_data_ncdb_seq_0000000002.jpg"
        );
        assert_eq!(seed_name("a/b", "1", "png"), "a_b_1.png");
    }

    #[test]
    fn escaping_entries_are_refused() {
        assert!(check_key(&key("synced_data/seq", "0000000001")).is_ok());
        assert!(check_key(&key("/abs/seq", "0000000001")).is_ok());
        let e = check_key(&key("../../x", "1")).unwrap_err();
        assert!(e.contains("dataset_root") && e.contains(".."), "{e}");
        assert!(check_key(&key("a/../../x", "1")).is_err());
        assert!(check_key(&key("a\\..\\x", "1")).is_err());
        let e = check_key(&key("seq", "../../x")).unwrap_err();
        assert!(e.contains("new_filename"), "{e}");
        assert!(check_key(&key("seq", "..")).is_err());
        assert!(check_key(&key("seq", "")).is_err());
        assert!(check_key(&key("seq", "a\0b")).is_err());
    }

    #[test]
    fn collisions_get_suffixes_that_clash_with_nothing() {
        let b: Vec<String> = ["a_b_1.png", "a_b_1.png", "a_b_1_2.png", "a_b_1.png"]
            .map(String::from)
            .to_vec();
        let n = unique_names(&b);
        let names: Vec<&str> = n.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(
            names,
            ["a_b_1.png", "a_b_1_3.png", "a_b_1_2.png", "a_b_1_4.png"]
        );
        assert_eq!(n.iter().filter(|x| x.1).count(), 2);
    }
}
