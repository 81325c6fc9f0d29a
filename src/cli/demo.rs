//! `calibscope demo <dir>`: writes the demo dataset.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::demo::{self, DemoOptions};
use crate::progress::Progress;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder to create (must be empty, new, or a previous demo).
    pub dir: PathBuf,
    /// Random seed; the same seed gives the same files.
    #[arg(long, default_value_t = DemoOptions::default().seed)]
    pub seed: u64,
    /// Number of samples over all six sequences.
    #[arg(long, default_value_t = DemoOptions::default().samples)]
    pub samples: usize,
    /// Image width in pixels.
    #[arg(long, default_value_t = DemoOptions::default().width)]
    pub width: u32,
    /// Image height in pixels.
    #[arg(long, default_value_t = DemoOptions::default().height)]
    pub height: u32,
}

pub fn run(args: DemoArgs) -> ExitCode {
    let opts = DemoOptions {
        seed: args.seed,
        samples: args.samples,
        width: args.width,
        height: args.height,
    };
    let progress = Progress::new();
    let start = std::time::Instant::now();
    match demo::generate(&args.dir, &opts, &progress) {
        Ok(s) => {
            println!(
                "Demo dataset written to {} in {:.1}s: {} samples in {} sequences ({} JPEG), {}x{}",
                s.root.display(),
                start.elapsed().as_secs_f64(),
                s.samples,
                s.sequences.len(),
                s.jpeg_samples,
                opts.width,
                opts.height
            );
            println!(
                "Splits: {} (train {}, val {}, test {})",
                s.splits.join(", "),
                s.train,
                s.val,
                s.test
            );
            println!(
                "Mean depth per sample: {} in [0,3) m, {} in [3,8) m, {} in [8,15) m, {} in [15,100) m; {:.1}% of depth pixels valid",
                s.mean_depth_bins[0],
                s.mean_depth_bins[1],
                s.mean_depth_bins[2],
                s.mean_depth_bins[3],
                s.valid_fraction * 100.0
            );
            println!(
                "Demo model: {}",
                s.root.join(demo::DEMO_MODEL_PATH).display()
            );
            println!(
                "Next: calibscope scan --root {} --split splits/combined_train.json",
                s.root.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
