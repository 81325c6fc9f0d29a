//! The `--exclude` file: samples to leave out of an evaluation, as CSV with
//! the header `dataset_root,stem,reason` (the columns the run's `excluded`
//! list and `per_image.csv` use, so a row can be pasted from either).
//! Extra columns are ignored; a reason is required (the run records it).

use std::path::Path;

use super::run::ExcludedSample;

/// Reads an exclusion CSV; errors name the file, the line and the fix.
pub fn read_excluded(path: &Path) -> Result<Vec<ExcludedSample>, String> {
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot read the exclusion list {}: {e}", path.display()))?;
    parse_excluded(file, path)
}

fn parse_excluded(input: impl std::io::Read, path: &Path) -> Result<Vec<ExcludedSample>, String> {
    let name = path.display();
    let mut rd = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let header = rd
        .headers()
        .map_err(|e| format!("{name}: {e}; the first line must be dataset_root,stem,reason"))?
        .clone();
    let col = |n: &str| header.iter().position(|h| h == n);
    let (Some(root), Some(stem), Some(reason)) = (col("dataset_root"), col("stem"), col("reason"))
    else {
        return Err(format!(
            "{name}: line 1 is \"{}\"; the first line must be the header dataset_root,stem,reason",
            header.iter().collect::<Vec<_>>().join(",")
        ));
    };
    let mut out = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| format!("{name}: {e}"))?;
        let line = rec.position().map_or(0, |p| p.line());
        if rec.iter().all(str::is_empty) {
            continue;
        }
        let get = |i: usize| rec.get(i).unwrap_or("");
        let (r, s, why) = (get(root), get(stem), get(reason));
        if s.is_empty() {
            return Err(format!(
                "{name}: line {line} has no stem; each line is dataset_root,stem,reason (e.g. seq_01,0000000042,GT misaligned)"
            ));
        }
        if why.is_empty() {
            return Err(format!(
                "{name}: line {line} ({r}/{s}) gives no reason; say why the sample is left out (e.g. GT misaligned)"
            ));
        }
        out.push(ExcludedSample {
            dataset_root: r.to_string(),
            stem: s.to_string(),
            reason: why.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<ExcludedSample>, String> {
        parse_excluded(text.as_bytes(), Path::new("suspects.csv"))
    }

    #[test]
    fn reads_rows_with_quoted_reasons_and_any_column_order() {
        let got = parse(
            "stem,dataset_root,reason,note\n0000000042,seq_01,\"GT shifted, 2 px\",x\n\n7,seq_02/,blur\n",
        )
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].dataset_root, "seq_01");
        assert_eq!(got[0].stem, "0000000042");
        assert_eq!(got[0].reason, "GT shifted, 2 px");
        assert_eq!(got[1].dataset_root, "seq_02/");
        assert_eq!(parse("dataset_root,stem,reason\n").unwrap(), vec![]);
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e = parse("seq_01,42,blur\n").unwrap_err();
        assert!(
            e.contains("suspects.csv: line 1") && e.contains("header"),
            "{e}"
        );
        let e = parse("dataset_root,stem,reason\nseq_01,1,ok\nseq_01,2\n").unwrap_err();
        assert!(e.contains("line 3") && e.contains("no reason"), "{e}");
        let e = parse("dataset_root,stem,reason\nseq_01,,why\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("no stem"), "{e}");
        let e = parse_excluded(
            &b"dataset_root,stem,reason\nseq,\xff,x\n"[..],
            Path::new("s.csv"),
        )
        .unwrap_err();
        assert!(e.starts_with("s.csv:"), "{e}");
        let e = read_excluded(Path::new("/nonexistent/suspects.csv")).unwrap_err();
        assert!(e.contains("/nonexistent/suspects.csv"), "{e}");
    }
}
