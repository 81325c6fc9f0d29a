//! `calibscope toolchain`: run the vendor's quantizer on a calibration set
//! (command template, no shell), record the run, and when its output is an
//! ONNX model, check its fidelity against FP32 as `ptq` does.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::progress::Progress;
use crate::quantize::CalibrationSource;
use crate::toolchain::{self, LogLine, OutputCheck, ToolchainJob};

#[derive(Debug, Args)]
pub struct ToolchainArgs {
    /// The command template: {model}, {output}, {image_list}, {image_dir}, {num_samples}.
    #[arg(long)]
    pub command: String,
    /// The FP32 ONNX model given to the tool.
    #[arg(long)]
    pub model: PathBuf,
    /// The file the tool writes ({output}); an .onnx output gets the fidelity check.
    #[arg(long, short)]
    pub output: PathBuf,
    /// The calibration images, one path per line ({image_list}; as `calibscope copy` writes it).
    #[arg(long)]
    pub image_list: PathBuf,
    /// {image_dir} [default: the image list's folder].
    #[arg(long)]
    pub image_dir: Option<PathBuf>,
    /// Held-out inputs for the fidelity check: an image list [default: the
    /// calibration folders' other files].
    #[arg(long, group = "held")]
    pub held_out_list: Option<PathBuf>,
    /// Held-out inputs for the fidelity check: a folder of images.
    #[arg(long, group = "held")]
    pub held_out_folder: Option<PathBuf>,
    /// Held-out inputs compared (0: no check).
    #[arg(long, default_value_t = 16)]
    pub fidelity_samples: usize,
    #[command(flatten)]
    pub fidelity_decoder: super::ptq::FidelityDecoderArgs,
    /// Input size WxH for a model with a dynamic input size.
    #[arg(long, value_parser = super::ptq::parse_size)]
    pub input_size: Option<(u32, u32)>,
}

pub fn run(a: ToolchainArgs) -> ExitCode {
    let calibration = match CalibrationSource::ImageList(a.image_list.clone()).resolve() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let held_out = match (&a.held_out_list, &a.held_out_folder) {
        (Some(l), _) => Some(CalibrationSource::ImageList(l.clone())),
        (_, Some(f)) => Some(CalibrationSource::Folder(f.clone())),
        _ => None,
    }
    .map(|s| s.resolve())
    .transpose();
    let held_out = match held_out {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let record_path = a.output.with_file_name("toolchain_run.json");
    let checked = crate::paths::RunPaths::new()
        .input("FP32 model (--model)", &a.model)
        .input("image list", &a.image_list)
        .output("tool's output (--output)", &a.output)
        .output("run record", &record_path)
        .output(
            "fidelity file",
            &crate::quantize::fidelity_path_for(&a.output),
        )
        .check();
    if let Err(e) = checked {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let job = ToolchainJob {
        model: a.model.clone(),
        output: a.output.clone(),
        image_list: a.image_list.clone(),
        image_dir: a.image_dir.clone().unwrap_or_else(|| {
            a.image_list
                .parent()
                .map(|p| p.to_path_buf())
                .unwrap_or_default()
        }),
        num_samples: calibration.len(),
    };
    if let Some(dir) = a.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: cannot create {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    let progress = Progress::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let printer = std::thread::spawn(move || {
        for line in rx {
            match line {
                LogLine::Stdout(l) => println!("| {l}"),
                LogLine::Stderr(l) => eprintln!("| {l}"),
            }
        }
    });
    let run = toolchain::run_toolchain(&a.command, &job, tx, &progress);
    let _ = printer.join();
    let run = match run {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let check = OutputCheck {
        fp32: a.model.clone(),
        calibration,
        held_out,
        samples: a.fidelity_samples,
        preprocess: None,
        input_size: a.input_size,
        decoder: a.fidelity_decoder.decoder(),
    };
    let fidelity = toolchain::output_fidelity(&run, &check, &progress);
    let record = serde_json::json!({
        "run": run,
        "image_list": job.image_list,
        "fidelity": fidelity,
    });
    let text = serde_json::to_string_pretty(&record).expect("serialisable");
    if let Err(e) = crate::fsutil::write_atomic(&record_path, text.as_bytes()) {
        eprintln!("error: cannot write {}: {e}", record_path.display());
        return ExitCode::FAILURE;
    }
    println!(
        "{} exited with {} after {:.1}s; output {} ({})",
        run.argv[0],
        run.exit_code
            .map_or("no status".to_string(), |c| format!("status {c}")),
        run.seconds,
        run.output.display(),
        run.output_bytes
            .map_or("missing".to_string(), |b| format!("{b} bytes"))
    );
    match &fidelity {
        Some(o) => {
            if let Some(f) = &o.fidelity {
                println!("{} (held out from calibration)", f.line());
                if let Some(w) = &f.warning {
                    println!("warning: {w}");
                }
            }
            if let Some(n) = &o.note {
                println!("{n}");
            }
            if let Some(p) = &o.path {
                println!("Fidelity: {}", p.display());
            }
        }
        None if run.succeeded() => {
            println!("The output is not an ONNX model: no fidelity check (evaluate the NPU's outputs with `calibscope eval --predictions`).")
        }
        None => {}
    }
    println!("Run record: {}", record_path.display());
    if run.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
