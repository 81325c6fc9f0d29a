//! The external toolchain: the vendor's quantizer, driven by a command
//! template with placeholders, run without a shell, its log streamed line by
//! line over a channel, cancellable, and its output file recorded.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::progress::Progress;

pub const PLACEHOLDERS: &[&str] = &[
    "{model}",
    "{output}",
    "{image_list}",
    "{image_dir}",
    "{num_samples}",
];

/// What the placeholders stand for in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ToolchainJob {
    pub model: PathBuf,
    pub output: PathBuf,
    pub image_list: PathBuf,
    pub image_dir: PathBuf,
    pub num_samples: usize,
}

/// One line of the tool's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogLine {
    Stdout(String),
    Stderr(String),
}

/// The record of a finished run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolchainRun {
    pub argv: Vec<String>,
    pub exit_code: Option<i32>,
    pub cancelled: bool,
    pub output: PathBuf,
    /// Size of the output file after the run, if it exists.
    pub output_bytes: Option<u64>,
    pub seconds: f64,
}

impl ToolchainRun {
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0) && !self.cancelled && self.output_bytes.is_some()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ToolchainError {
    #[error("command template: {0}")]
    Template(String),
    #[error(
        "cannot start {program}: {source}; check the command's first word is an installed program"
    )]
    Spawn {
        program: String,
        source: std::io::Error,
    },
}

/// Splits a template into words like a shell would (spaces, '…' and "…"
/// quotes, backslash escapes) but runs no shell, then fills placeholders in
/// each word, so a path with spaces stays one argument.
pub fn expand_template(template: &str, job: &ToolchainJob) -> Result<Vec<String>, ToolchainError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') | (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(ToolchainError::Template("unclosed quote".into()));
    }
    if in_word {
        words.push(cur);
    }
    if words.is_empty() {
        return Err(ToolchainError::Template("empty command".into()));
    }
    let subst = |w: &str| -> Result<String, ToolchainError> {
        let out = w
            .replace("{model}", &job.model.display().to_string())
            .replace("{output}", &job.output.display().to_string())
            .replace("{image_list}", &job.image_list.display().to_string())
            .replace("{image_dir}", &job.image_dir.display().to_string())
            .replace("{num_samples}", &job.num_samples.to_string());
        if let Some(i) = out.find('{') {
            if let Some(j) = out[i..].find('}') {
                let name = &out[i..i + j + 1];
                if name.len() > 2
                    && name[1..name.len() - 1]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_')
                {
                    return Err(ToolchainError::Template(format!(
                        "unknown placeholder {name}; known: {}",
                        PLACEHOLDERS.join(", ")
                    )));
                }
            }
        }
        Ok(out)
    };
    words.iter().map(|w| subst(w)).collect()
}

/// Runs the tool. Log lines go to `log` as they come; cancel through
/// `progress` kills the process within ~50 ms.
pub fn run_toolchain(
    template: &str,
    job: &ToolchainJob,
    log: Sender<LogLine>,
    progress: &Progress,
) -> Result<ToolchainRun, ToolchainError> {
    let argv = expand_template(template, job)?;
    let t0 = Instant::now();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ToolchainError::Spawn {
            program: argv[0].clone(),
            source,
        })?;
    progress.begin("external toolchain", 0);
    let out = child.stdout.take().expect("piped stdout");
    let err = child.stderr.take().expect("piped stderr");
    let log2 = log.clone();
    let t_out = std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = log.send(LogLine::Stdout(line));
        }
    });
    let t_err = std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = log2.send(LogLine::Stderr(line));
        }
    });
    let mut cancelled = false;
    let status = loop {
        if let Ok(Some(st)) = child.try_wait() {
            break Some(st);
        }
        if progress.is_cancelled() {
            let _ = child.kill();
            cancelled = true;
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = t_out.join();
    let _ = t_err.join();
    Ok(ToolchainRun {
        argv,
        exit_code: if cancelled {
            None
        } else {
            status.and_then(|s| s.code())
        },
        cancelled,
        output: job.output.clone(),
        output_bytes: std::fs::metadata(&job.output).ok().map(|m| m.len()),
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// What the fidelity check of a toolchain's ONNX output needs.
#[derive(Debug, Clone, Default)]
pub struct OutputCheck {
    /// The FP32 model the tool was given.
    pub fp32: PathBuf,
    /// The inputs the tool calibrated on (never used as held-out inputs).
    pub calibration: Vec<PathBuf>,
    /// Held-out inputs; None: the calibration folders' other files, as `ptq` picks them.
    pub held_out: Option<Vec<PathBuf>>,
    /// How many held-out inputs (0 turns the check off).
    pub samples: usize,
    /// None: from the FP32 model's input.
    pub preprocess: Option<crate::preprocess::PreprocessSettings>,
    pub input_size: Option<(u32, u32)>,
    /// The model's decoder, for the depth error.
    pub decoder: Option<crate::evaluate::Decoder>,
}

/// The fidelity of a toolchain's output, or why there is none.
#[derive(Debug, Clone, Serialize)]
pub struct OutputFidelity {
    pub fidelity: Option<crate::diagnose::Fidelity>,
    pub note: Option<String>,
    /// `<name>.fidelity.json` beside the output, when written.
    pub path: Option<PathBuf>,
}

/// Whether the tool's output is an ONNX model (by its name: vendor formats
/// such as `.rknn` are not run here).
pub fn output_is_onnx(run: &ToolchainRun) -> bool {
    run.output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// The fidelity check `ptq` runs, on a toolchain's ONNX output: INT8 against
/// FP32 on held-out inputs (output cosine, SQNR, depth error with the
/// decoder), against MinMax ranges calibrated here on the tool's own inputs
/// for the warning in words, stored in `<name>.fidelity.json` beside the
/// output. None when the run failed or its output is not ONNX. Cancel
/// through `progress`.
pub fn output_fidelity(
    run: &ToolchainRun,
    check: &OutputCheck,
    progress: &Progress,
) -> Option<OutputFidelity> {
    use crate::diagnose::fidelity;
    use crate::quantize::{self, CalibrationSource, PtqOptions, PtqRequest, PtqSettings};
    if !run.succeeded() || !output_is_onnx(run) {
        return None;
    }
    let note = |n: String| {
        Some(OutputFidelity {
            fidelity: None,
            note: Some(n),
            path: None,
        })
    };
    if check.samples == 0 {
        return note("fidelity check turned off".into());
    }
    let held_out: Vec<PathBuf> = match &check.held_out {
        Some(v) => v
            .iter()
            .filter(|p| !check.calibration.contains(p))
            .take(check.samples)
            .cloned()
            .collect(),
        None => crate::diagnose::heldout::held_out_inputs(&check.calibration, &[], check.samples),
    };
    if held_out.is_empty() {
        return note("no fidelity check: no held-out inputs (the calibration folders hold no other files); give some to compare the tool's model with FP32".into());
    }
    let pre = match &check.preprocess {
        Some(p) => p.clone(),
        None => match quantize::inspect_model(&check.fp32, check.input_size) {
            Ok((_, p)) => p,
            Err(e) => return note(format!("no fidelity check: {e}")),
        },
    };
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let (fp32, tool) = match (read(&check.fp32), read(&run.output)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return note(format!("no fidelity check: {e}")),
    };
    // MinMax from calibscope on the tool's own calibration inputs: the
    // yardstick for "far worse than MinMax".
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return note(format!("no fidelity check: no temporary folder: {e}")),
    };
    let minmax_req = PtqRequest {
        model: check.fp32.clone(),
        calibration: CalibrationSource::Files(check.calibration.clone()),
        settings: PtqSettings {
            preprocess: Some(pre.clone()),
            ..Default::default()
        },
        output: dir.path().join("minmax_int8.onnx"),
        ranges_from: None,
    };
    let minmax_opts = PtqOptions {
        fidelity_samples: 0,
        ..Default::default()
    };
    let minmax = if check.calibration.is_empty() {
        None
    } else {
        quantize::run_ptq_with(&minmax_req, &minmax_opts, progress)
            .ok()
            .and_then(|r| std::fs::read(r.output).ok())
    };
    let mut candidates: Vec<&[u8]> = vec![&tool];
    if let Some(m) = &minmax {
        candidates.push(m);
    }
    let acc = match fidelity::compare_models(
        &fp32,
        &candidates,
        &held_out,
        &pre,
        check.decoder.as_ref(),
        progress,
    ) {
        Ok(a) => a,
        Err(fidelity::FidelityError::Cancelled) => {
            return note(
                "no fidelity check: cancelled (the tool's output is kept, unchecked)".into(),
            )
        }
        Err(e) => {
            return note(format!(
                "no fidelity check: the tool's model did not run like the FP32 model: {e}"
            ))
        }
    };
    let f = fidelity::fidelity_from(&held_out, &acc[0], acc.get(1), None);
    let path = crate::quantize::fidelity_path_for(&run.output);
    let json = serde_json::to_string_pretty(&f).expect("fidelity serialises");
    match crate::fsutil::write_atomic(&path, json.as_bytes()) {
        Ok(()) => Some(OutputFidelity {
            fidelity: Some(f),
            note: None,
            path: Some(path),
        }),
        Err(e) => Some(OutputFidelity {
            fidelity: Some(f),
            note: Some(format!("cannot write {}: {e}", path.display())),
            path: None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> ToolchainJob {
        ToolchainJob {
            model: "/m/my model.onnx".into(),
            output: "/o/out.bin".into(),
            image_list: "/c/image_list.txt".into(),
            image_dir: "/c".into(),
            num_samples: 300,
        }
    }

    #[test]
    fn template_splits_without_a_shell() {
        let v = expand_template(
            "tool --in {model} --list='{image_list}' -n {num_samples} \"a b\" x\\ y",
            &job(),
        )
        .unwrap();
        assert_eq!(
            v,
            vec![
                "tool",
                "--in",
                "/m/my model.onnx",
                "--list=/c/image_list.txt",
                "-n",
                "300",
                "a b",
                "x y"
            ]
        );
        assert!(expand_template("tool {modle}", &job())
            .unwrap_err()
            .to_string()
            .contains("unknown placeholder"));
        assert!(expand_template("tool 'open", &job()).is_err());
        assert!(expand_template("   ", &job()).is_err());
        // Braces that are not placeholders (e.g. JSON) pass through.
        assert_eq!(
            expand_template("tool {\"a\":1}", &job()).unwrap()[1],
            "{a:1}"
        );
    }

    #[test]
    fn runs_streams_records_and_cancels() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out.txt");
        let j = ToolchainJob {
            output: out.clone(),
            num_samples: 3,
            ..job()
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let r = run_toolchain(
            "sh -c 'echo calibrating {num_samples}; echo warn >&2; echo done > \"$0\"' {output}",
            &j,
            tx,
            &Progress::new(),
        )
        .unwrap();
        let lines: Vec<LogLine> = rx.try_iter().collect();
        assert!(lines.contains(&LogLine::Stdout("calibrating 3".into())));
        assert!(lines.contains(&LogLine::Stderr("warn".into())));
        assert!(r.succeeded(), "{r:?}");
        assert_eq!(r.output_bytes, Some(5));

        let p = Progress::new();
        let p2 = p.clone();
        let (tx, _rx) = std::sync::mpsc::channel();
        let h = std::thread::spawn(move || run_toolchain("sleep 30", &j, tx, &p2).unwrap());
        std::thread::sleep(Duration::from_millis(200));
        p.cancel();
        let r = h.join().unwrap();
        assert!(r.cancelled && r.exit_code.is_none());

        let (tx, _rx) = std::sync::mpsc::channel();
        let e = run_toolchain("no-such-tool-xyz", &job(), tx, &Progress::new()).unwrap_err();
        assert!(e.to_string().contains("no-such-tool-xyz"));
    }
}
