//! `calibscope export --report DIR` on a generated demo dataset: every
//! figure is a PNG drawn for the file (fixed size and DPI, white page, a
//! title of dark text, a legend, the data's colours in the plot), not a
//! crop of a window; and the grouped bar chart of several runs.

mod export_support;

use std::path::Path;

use calibscope::demo::{self, DemoOptions};
use calibscope::progress::Progress;
use calibscope::report::{self, FULL, HEIGHT, LEGEND_H, PALETTE, SET, TITLE_H, WIDTH};
use export_support::calibscope;
use plotters::style::RGBColor;

struct Png {
    w: u32,
    h: u32,
    ppm: Option<(u32, u32)>,
    rgb: Vec<u8>,
}

fn read_png(p: &Path) -> Png {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut r = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let ppm = r.info().pixel_dims.map(|d| (d.xppu, d.yppu));
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb, "{}", p.display());
    buf.truncate(info.buffer_size());
    Png {
        w: info.width,
        h: info.height,
        ppm,
        rgb: buf,
    }
}

impl Png {
    /// Pixels in rows `y0..y1` for which `keep` holds.
    fn count(&self, y0: u32, y1: u32, keep: impl Fn([u8; 3]) -> bool) -> usize {
        let row = self.w as usize * 3;
        self.rgb[y0 as usize * row..y1 as usize * row]
            .chunks_exact(3)
            .filter(|p| keep([p[0], p[1], p[2]]))
            .count()
    }
    fn colour(&self, y0: u32, y1: u32, c: RGBColor) -> usize {
        self.count(y0, y1, |p| p == [c.0, c.1, c.2])
    }
}

const BODY: u32 = TITLE_H + LEGEND_H;

/// What every figure shares: size, DPI, white corners, dark title text.
fn check_page(name: &str, png: &Png) {
    assert_eq!((png.w, png.h), (WIDTH, HEIGHT), "{name}: size");
    // 150 DPI = 5906 pixels per metre.
    assert_eq!(png.ppm, Some((5906, 5906)), "{name}: DPI");
    let white = [255u8; 3];
    let corner = |x: u32, y: u32| {
        let at = ((y * png.w + x) * 3) as usize;
        png.rgb[at..at + 3].to_vec()
    };
    for (x, y) in [
        (0, 0),
        (WIDTH - 1, 0),
        (0, HEIGHT - 1),
        (WIDTH - 1, HEIGHT - 1),
    ] {
        assert_eq!(
            corner(x, y),
            white,
            "{name}: corner ({x},{y}) not page white"
        );
    }
    // A title: dark glyph pixels in the title band, well more than a line.
    let dark = png.count(0, TITLE_H, |p| p.iter().all(|&c| c < 90));
    assert!(
        dark > 400,
        "{name}: only {dark} dark pixels in the title band"
    );
}

fn legend_and_data(name: &str, png: &Png, colours: &[RGBColor]) {
    for &c in colours {
        // A 22×22 swatch in the legend strip, and the data drawn below it.
        let swatch = png.colour(TITLE_H, BODY, c);
        assert!(
            swatch >= 400,
            "{name}: legend swatch {c:?} has {swatch} pixels"
        );
        let data = png.colour(BODY, HEIGHT, c);
        assert!(
            data > 100,
            "{name}: colour {c:?} has {data} pixels in the plot"
        );
    }
}

#[test]
fn export_report_writes_drawn_figures() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("demo");
    let opts = DemoOptions {
        samples: 72,
        width: 160,
        height: 96,
        ..DemoOptions::default()
    };
    demo::generate(&root, &opts, &Progress::new()).unwrap();
    let meta = tmp.path().join("meta.csv");
    let split = tmp.path().join("calibration_split.json");
    let (r, m, s) = (
        root.to_str().unwrap(),
        meta.to_str().unwrap(),
        split.to_str().unwrap(),
    );
    let run = |args: &[&str]| {
        let o = calibscope(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run(&[
        "scan",
        "--root",
        r,
        "--split",
        "splits/combined_train.json",
        "--out",
        m,
        "--no-cache",
    ]);
    run(&["select", "--metadata", m, "--target", "24", "--out", s]);
    let dir = tmp.path().join("report");
    let out = run(&[
        "export",
        "--split",
        s,
        "--metadata",
        m,
        "--root",
        r,
        "--report",
        dir.to_str().unwrap(),
    ]);
    assert!(out.contains("11 figure(s)"), "{out}");
    let stats: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("calibration_statistics.json")).unwrap())
            .unwrap();
    assert_eq!(stats["total_samples"], 24);

    let both = [FULL, SET];
    for name in [
        "mean_depth_histogram.png",
        "mean_depth_boxplot.png",
        "depth_folders.png",
        "depth_ranges.png",
        "mean_depth_cdf.png",
        "mean_vs_median.png",
        "depth_std_histogram.png",
        "valid_pixel_ratio.png",
        "mean_depth_by_scene.png",
    ] {
        let png = read_png(&dir.join(name));
        check_page(name, &png);
        legend_and_data(name, &png, &both);
    }
    // Scene types: one pie per side, a colour per scene type.
    let png = read_png(&dir.join("scene_types.png"));
    check_page("scene_types.png", &png);
    let scenes = PALETTE[1..4].to_vec();
    legend_and_data("scene_types.png", &png, &scenes);
    // Sample images: the title, and photographs in the cells (many
    // distinct colours, which no drawn chart has).
    let png = read_png(&dir.join("sample_images.png"));
    check_page("sample_images.png", &png);
    let mut distinct: Vec<[u8; 3]> = png.rgb[(BODY * WIDTH * 3) as usize..]
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(
        distinct.len() > 2000,
        "{} colours in the grid",
        distinct.len()
    );
}

#[test]
fn runs_by_range_draws_one_colour_per_run() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("abs_rel.png");
    let ranges: Vec<String> = ["near", "mid", "far", "very_far"].map(String::from).into();
    let runs = vec![
        ("fp32".to_owned(), vec![0.08, 0.11, 0.15, 0.21]),
        ("int8 minmax".to_owned(), vec![0.09, 0.13, 0.19, f64::NAN]),
        ("int8 entropy".to_owned(), vec![0.085, 0.12, 0.16, 0.25]),
    ];
    report::runs_by_range_png(&ranges, &runs, "abs_rel", &p).unwrap();
    let png = read_png(&p);
    check_page("abs_rel.png", &png);
    legend_and_data("abs_rel.png", &png, &PALETTE[..3]);
    // A folder that cannot exist (a file is in the way): an error naming
    // the file, no panic.
    std::fs::write(tmp.path().join("file"), b"").unwrap();
    let bad = tmp.path().join("file").join("x.png");
    let e = report::runs_by_range_png(&ranges, &runs, "abs_rel", &bad).unwrap_err();
    assert!(e.to_string().contains("x.png"), "{e}");
}
