//! The user's curation of one dataset: which samples are in the calibration
//! set, which are pinned in, which are excluded for good. Plain data and
//! logic only; the views draw it and the project file stores it.

use std::collections::BTreeSet;

use crate::metadata::{SampleKey, SampleMeta};

/// Membership flags of one sample.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub in_set: bool,
    pub pinned: bool,
    pub excluded: bool,
}

/// Which samples the grid shows (always within the current filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum GridSource {
    /// The calibration set.
    #[default]
    Set,
    /// Samples neither in the set nor excluded.
    Candidates,
    /// Samples the user excluded.
    Excluded,
    /// Every sample that passes the filter.
    All,
}

impl GridSource {
    pub const ALL: [GridSource; 4] = [
        GridSource::Set,
        GridSource::Candidates,
        GridSource::Excluded,
        GridSource::All,
    ];
    pub fn label(self) -> &'static str {
        match self {
            GridSource::Set => "Calibration set",
            GridSource::Candidates => "Candidates",
            GridSource::Excluded => "Excluded",
            GridSource::All => "Filtered view",
        }
    }
    pub fn admits(self, f: Flags) -> bool {
        match self {
            GridSource::Set => f.in_set,
            GridSource::Candidates => !f.in_set && !f.excluded,
            GridSource::Excluded => f.excluded,
            GridSource::All => true,
        }
    }
}

/// Rows plus the curation over them, indexed by position in `rows`.
#[derive(Debug, Default)]
pub struct Curation {
    pub rows: Vec<SampleMeta>,
    pub flags: Vec<Flags>,
    /// Keys matched by the dataset's rule (`seq/` is `seq`, unpadded stems).
    index: crate::dataset::KeyIndex,
    /// Bumped on every change of membership, so derived data (plots,
    /// distribution check, grid lists) is recomputed only when needed.
    pub generation: u64,
}

impl Curation {
    pub fn new(rows: Vec<SampleMeta>) -> Self {
        let index = crate::dataset::KeyIndex::new(
            rows.iter()
                .map(|r| (r.dataset_root.as_str(), r.filename.as_str())),
        );
        let flags = vec![Flags::default(); rows.len()];
        Self {
            rows,
            flags,
            index,
            generation: 1,
        }
    }

    pub fn find(&self, key: &SampleKey) -> Option<usize> {
        self.index.find(&key.dataset_root, &key.stem)
    }

    pub fn set_len(&self) -> usize {
        self.flags.iter().filter(|f| f.in_set).count()
    }

    pub fn set_indices(&self) -> Vec<usize> {
        (0..self.rows.len())
            .filter(|&i| self.flags[i].in_set)
            .collect()
    }

    fn keys_where(&self, pred: impl Fn(Flags) -> bool) -> Vec<SampleKey> {
        let mut v: Vec<SampleKey> = (0..self.rows.len())
            .filter(|&i| pred(self.flags[i]))
            .map(|i| self.rows[i].key())
            .collect();
        v.sort();
        v
    }
    pub fn set_keys(&self) -> Vec<SampleKey> {
        self.keys_where(|f| f.in_set)
    }
    pub fn pinned_keys(&self) -> Vec<SampleKey> {
        self.keys_where(|f| f.pinned)
    }
    pub fn excluded_keys(&self) -> Vec<SampleKey> {
        self.keys_where(|f| f.excluded)
    }

    /// Toggles set membership; taking a sample in clears its exclusion,
    /// taking it out drops its pin.
    pub fn toggle_in_set(&mut self, i: usize) {
        let f = &mut self.flags[i];
        if f.in_set {
            f.in_set = false;
            f.pinned = false;
        } else {
            f.in_set = true;
            f.excluded = false;
        }
        self.generation += 1;
    }

    /// Excludes a sample for good (or takes the exclusion back).
    pub fn toggle_excluded(&mut self, i: usize) {
        let f = &mut self.flags[i];
        if f.excluded {
            f.excluded = false;
        } else {
            *f = Flags {
                in_set: false,
                pinned: false,
                excluded: true,
            };
        }
        self.generation += 1;
    }

    /// Pins a sample into the set (or unpins it, leaving it in the set).
    pub fn toggle_pinned(&mut self, i: usize) {
        let f = &mut self.flags[i];
        if f.pinned {
            f.pinned = false;
        } else {
            *f = Flags {
                in_set: true,
                pinned: true,
                excluded: false,
            };
        }
        self.generation += 1;
    }

    /// Puts every given sample into the set (except pinned ones, already in).
    pub fn include_all(&mut self, idx: &[usize]) {
        for &i in idx {
            let f = &mut self.flags[i];
            f.in_set = true;
            f.excluded = false;
        }
        self.generation += 1;
    }

    /// Excludes every given sample.
    pub fn exclude_all(&mut self, idx: &[usize]) {
        for &i in idx {
            self.flags[i] = Flags {
                in_set: false,
                pinned: false,
                excluded: true,
            };
        }
        self.generation += 1;
    }

    /// Replaces the set with a strategy's result; pins stay in, excluded stay out.
    pub fn replace_set(&mut self, keys: impl IntoIterator<Item = SampleKey>) -> usize {
        for f in &mut self.flags {
            f.in_set = f.pinned;
        }
        let mut missing = 0;
        for k in keys {
            match self.find(&k) {
                Some(i) if !self.flags[i].excluded => self.flags[i].in_set = true,
                Some(_) => {}
                None => missing += 1,
            }
        }
        self.generation += 1;
        missing
    }

    /// Restores saved decisions; returns the keys that no longer exist.
    pub fn restore(
        &mut self,
        set: &[SampleKey],
        pinned: &[SampleKey],
        excluded: &[SampleKey],
    ) -> Vec<SampleKey> {
        let mut gone = Vec::new();
        for f in &mut self.flags {
            *f = Flags::default();
        }
        for (keys, which) in [(set, 0), (pinned, 1), (excluded, 2)] {
            for k in keys {
                match self.find(k) {
                    Some(i) => match which {
                        0 => self.flags[i].in_set = true,
                        1 => {
                            self.flags[i].pinned = true;
                            self.flags[i].in_set = true;
                        }
                        _ => {
                            self.flags[i].excluded = true;
                            self.flags[i].in_set = false;
                        }
                    },
                    None => gone.push(k.clone()),
                }
            }
        }
        gone.sort();
        gone.dedup();
        self.generation += 1;
        gone
    }

    /// Scene types and depth folders present, sorted, for filter controls.
    pub fn categories(&self) -> (Vec<String>, Vec<String>) {
        let scenes: BTreeSet<&str> = self.rows.iter().map(|r| r.scene_type.as_str()).collect();
        let folders: BTreeSet<&str> = self.rows.iter().map(|r| r.depth_variant.as_str()).collect();
        (
            scenes.into_iter().map(str::to_owned).collect(),
            folders.into_iter().map(str::to_owned).collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<SampleMeta> {
        (0..n)
            .map(|i| {
                crate::metadata::tests::row(
                    &format!("seq{}", i % 2),
                    &format!("{:010}", i / 2),
                    i as f64,
                )
            })
            .collect()
    }

    #[test]
    fn repeated_stems_are_distinct_samples() {
        let c = Curation::new(rows(4));
        let a = c.find(&c.rows[0].key()).unwrap();
        let b = c.find(&c.rows[1].key()).unwrap();
        assert_eq!(c.rows[0].filename, c.rows[1].filename);
        assert_ne!(a, b);
    }

    #[test]
    fn pins_and_exclusions_survive_a_new_set() {
        let mut c = Curation::new(rows(6));
        c.toggle_pinned(0);
        c.toggle_excluded(1);
        let keys: Vec<_> = [1, 2, 3].iter().map(|&i| c.rows[i].key()).collect();
        assert_eq!(c.replace_set(keys), 0);
        assert_eq!(c.set_indices(), vec![0, 2, 3]);
        assert!(c.flags[1].excluded && !c.flags[1].in_set);
        c.toggle_in_set(0);
        assert!(!c.flags[0].pinned && !c.flags[0].in_set);
        let gone = c.restore(
            &[c.rows[2].key()],
            &[SampleKey {
                dataset_root: "nope".into(),
                stem: "1".into(),
            }],
            &[],
        );
        assert_eq!(gone.len(), 1);
        assert_eq!(c.set_indices(), vec![2]);
    }
}
