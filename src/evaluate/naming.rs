//! Matching prediction files to split samples by name.
//!
//! A file `<name>.<ext>` belongs to a sample when `<name>` is the sample's
//! `copy` name (`dataset_root` with `/`→`_`, `synced_data_` dropped, then
//! `_<stem>`: [`crate::export::names::seed_name`]) or its stem. A stem that
//! belongs to two samples of the split (stems repeat across sequences) is
//! ambiguous: reported with its candidates, never guessed.

use std::collections::HashMap;

use crate::export::names::seed_name;
use crate::metadata::SampleKey;

/// The `copy` name of a sample without extension (`seq_01_0000000001`).
pub fn copy_name(key: &SampleKey) -> String {
    let n = seed_name(&key.dataset_root, &key.stem, "x");
    n[..n.len() - 2].to_string()
}

/// A name that matches several samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Ambiguous {
    pub name: String,
    pub candidates: Vec<SampleKey>,
}

/// The outcome of matching names to samples.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Matching {
    /// Per sample (same order as given): the index of its name in `names`.
    pub by_sample: Vec<Option<usize>>,
    pub ambiguous: Vec<Ambiguous>,
    /// Names that match no sample.
    pub unmatched_names: Vec<String>,
    /// Names that match a sample already matched by another name
    /// (e.g. both `<stem>.npy` and `<copy name>.npy`): `(name, kept name)`.
    pub duplicates: Vec<(String, String)>,
}

impl Matching {
    /// Samples without a file (indices into the samples given).
    pub fn unmatched_samples(&self) -> Vec<usize> {
        (0..self.by_sample.len())
            .filter(|&i| self.by_sample[i].is_none())
            .collect()
    }

    /// One line per problem, for reports.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for a in &self.ambiguous {
            let c: Vec<String> = a.candidates.iter().map(|k| k.to_string()).collect();
            out.push(format!(
                "{}: ambiguous, the stem belongs to {} samples ({}); name the file the copy way (e.g. {})",
                a.name,
                a.candidates.len(),
                c.join(", "),
                a.candidates.first().map(copy_name).unwrap_or_default()
            ));
        }
        for n in &self.unmatched_names {
            out.push(format!("{n}: matches no sample of the split"));
        }
        for (n, kept) in &self.duplicates {
            out.push(format!("{n}: same sample as {kept}, ignored"));
        }
        out
    }
}

/// Matches file names (without extension) to samples. Copy names win over
/// stems; a stem shared by several samples is ambiguous.
pub fn match_names(samples: &[SampleKey], names: &[String]) -> Matching {
    let mut by_copy: HashMap<String, Vec<usize>> = HashMap::new();
    let mut by_stem: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, k) in samples.iter().enumerate() {
        by_copy.entry(copy_name(k)).or_default().push(i);
        by_stem.entry(k.stem.as_str()).or_default().push(i);
    }
    let mut m = Matching {
        by_sample: vec![None; samples.len()],
        ..Default::default()
    };
    // Copy names first, so `<copy>.npy` keeps its sample even when a bare
    // `<stem>.npy` for the same sample comes earlier in the listing.
    let mut order: Vec<(usize, bool)> = Vec::with_capacity(names.len());
    for (j, n) in names.iter().enumerate() {
        order.push((j, by_copy.get(n).is_some_and(|v| v.len() == 1)));
    }
    order.sort_by_key(|&(j, copy)| (!copy, j));
    for (j, _) in order {
        let name = &names[j];
        let hits = by_copy
            .get(name)
            .or_else(|| by_stem.get(name.as_str()))
            .cloned()
            .unwrap_or_default();
        match hits.as_slice() {
            [] => m.unmatched_names.push(name.clone()),
            [i] => match m.by_sample[*i] {
                Some(kept) => m.duplicates.push((name.clone(), names[kept].clone())),
                None => m.by_sample[*i] = Some(j),
            },
            many => m.ambiguous.push(Ambiguous {
                name: name.clone(),
                candidates: many.iter().map(|&i| samples[i].clone()).collect(),
            }),
        }
    }
    m.unmatched_names.sort();
    m
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
    fn stems_copy_names_and_ambiguity() {
        let samples = vec![
            key("synced_data/seq_00", "0000000001"),
            key("synced_data/seq_01", "0000000001"),
            key("synced_data/seq_01", "0000000002"),
        ];
        assert_eq!(copy_name(&samples[0]), "seq_00_0000000001");
        let names: Vec<String> = [
            "0000000001",
            "seq_01_0000000001",
            "0000000002",
            "seq_01_0000000002",
            "other",
        ]
        .map(String::from)
        .to_vec();
        let m = match_names(&samples, &names);
        assert_eq!(m.by_sample, vec![None, Some(1), Some(3)]);
        assert_eq!(m.ambiguous.len(), 1);
        assert_eq!(m.ambiguous[0].name, "0000000001");
        assert_eq!(m.ambiguous[0].candidates.len(), 2);
        assert_eq!(m.unmatched_names, vec!["other".to_string()]);
        assert_eq!(
            m.duplicates,
            vec![("0000000002".to_string(), "seq_01_0000000002".to_string())]
        );
        assert_eq!(m.unmatched_samples(), vec![0]);
        assert!(m.problems()[0].contains("ambiguous"));
    }
}
