//! Sample identity: when two spellings name the same sample.
//!
//! One rule, used by scan, select, export, copy, PTQ and the app:
//! - a key is `(dataset_root, stem)`; stems repeat across sequences;
//! - `seq/` and `seq` are the same dataset_root (trailing slashes ignored);
//! - stems are compared exactly (`01` and `001` are different files), but a
//!   key whose numeric stem lost its zero padding (the seed's
//!   `calibration_split.json` holds stems read by pandas as integers:
//!   `"new_filename": 42` for `0000000042`) finds the one sample of its
//!   sequence with the same digits after leading zeros.

use std::collections::HashMap;
use std::hash::Hasher;

use crate::hash::{FxBuild, FxHasher};
// The struct lives with the metadata rows (which depend on nothing here);
// its comparison rule lives here.
pub use crate::metadata::SampleKey;

impl SampleKey {
    /// The key as compared: dataset_root without trailing slashes, stem as is.
    pub fn id(&self) -> (&str, &str) {
        (root_id(&self.dataset_root), &self.stem)
    }
}

/// A dataset_root as an identity: `seq_02` and `seq_02/` name the same
/// folder, so trailing slashes are ignored when comparing samples.
pub fn root_id(root: &str) -> &str {
    let t = root.trim_end_matches('/');
    if t.is_empty() {
        root
    } else {
        t
    }
}

/// A numeric stem without its zero padding (`0000000042` → `42`, `000` →
/// `0`); `None` for a stem that is not all ASCII digits.
pub fn unpadded(stem: &str) -> Option<&str> {
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = stem.trim_start_matches('0');
    Some(if t.is_empty() { "0" } else { t })
}

/// Finds samples by key among a list (metadata rows, scanned samples):
/// exactly by [`SampleKey::id`] first, then by unpadded numeric stem when
/// exactly one sample of that dataset_root has those digits. Owns its
/// keys, so it can live beside the rows it indexes (the app's curation);
/// a lookup allocates nothing.
#[derive(Debug, Default, Clone)]
pub struct KeyIndex {
    /// Per position: (dataset_root without trailing slashes, stem).
    ids: Vec<(Box<str>, Box<str>)>,
    /// Hash of an id → positions with that hash (first of repeated keys only).
    exact: HashMap<u64, Vec<u32>, FxBuild>,
    /// Hash of (root, unpadded digits) → positions of numeric stems.
    unpadded: HashMap<u64, Vec<u32>, FxBuild>,
}

fn id_hash(root: &str, stem: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(root.as_bytes());
    h.write_u8(0xff);
    h.write(stem.as_bytes());
    h.finish()
}

impl KeyIndex {
    /// Indexes `(dataset_root, stem)` pairs by position; the first of
    /// repeated keys is the one found.
    pub fn new<'a>(keys: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let keys = keys.into_iter();
        let mut ix = KeyIndex {
            ids: Vec::with_capacity(keys.size_hint().0),
            ..Self::default()
        };
        for (i, (root, stem)) in keys.enumerate() {
            let root = root_id(root);
            ix.ids.push((root.into(), stem.into()));
            if ix.find_exact(root, stem).is_some() {
                continue;
            }
            ix.exact
                .entry(id_hash(root, stem))
                .or_default()
                .push(i as u32);
            if let Some(digits) = unpadded(stem) {
                ix.unpadded
                    .entry(id_hash(root, digits))
                    .or_default()
                    .push(i as u32);
            }
        }
        ix
    }

    /// The position of the sample `(dataset_root, stem)` names, if any.
    pub fn find(&self, dataset_root: &str, stem: &str) -> Option<usize> {
        self.find_exact(dataset_root, stem).or_else(|| {
            let root = root_id(dataset_root);
            let digits = unpadded(stem)?;
            let mut hits = self
                .unpadded
                .get(&id_hash(root, digits))?
                .iter()
                .map(|&i| i as usize)
                .filter(|&i| &*self.ids[i].0 == root && unpadded(&self.ids[i].1) == Some(digits));
            // Two samples with those digits (`01`, `001`): ambiguous.
            match (hits.next(), hits.next()) {
                (Some(i), None) => Some(i),
                _ => None,
            }
        })
    }

    /// [`KeyIndex::find`] without the unpadded fallback.
    pub fn find_exact(&self, dataset_root: &str, stem: &str) -> Option<usize> {
        let root = root_id(dataset_root);
        self.exact
            .get(&id_hash(root, stem))?
            .iter()
            .map(|&i| i as usize)
            .find(|&i| &*self.ids[i].0 == root && &*self.ids[i].1 == stem)
    }

    /// The key at `position`, as compared.
    pub fn id(&self, position: usize) -> Option<(&str, &str)> {
        self.ids.get(position).map(|(r, s)| (&**r, &**s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slashes_and_unpadded_stems() {
        let rows = [
            ("a", "0000000042"),
            ("b", "0000000042"),
            ("c", "01"),
            ("c", "001"),
            ("d/", "x"),
            ("a", "0000000042"),
        ];
        let ix = KeyIndex::new(rows.iter().copied());
        assert_eq!(ix.find("b", "42"), Some(1));
        assert_eq!(ix.find("b/", "42"), Some(1));
        assert_eq!(ix.find("a", "0000000042"), Some(0));
        // Two rows share the digits: ambiguous, no match.
        assert_eq!(ix.find("c", "1"), None);
        assert_eq!(ix.find("c", "001"), Some(3));
        assert_eq!(ix.find("d", "x"), Some(4));
        assert_eq!(ix.find_exact("b", "42"), None);
        assert_eq!(unpadded("000"), Some("0"));
        assert_eq!(unpadded("12a"), None);
        assert_eq!(unpadded(""), None);
        let k = SampleKey {
            dataset_root: "seq//".into(),
            stem: "7".into(),
        };
        assert_eq!(k.id(), ("seq", "7"));
        assert_eq!(root_id("/"), "/");
    }
}
