//! One preprocessing path: the `.npy` tensors the export writes and the
//! calibration inputs `calibscope ptq` computes for the same images and
//! settings are byte-identical (demo PNGs and JPEGs, a 16-bit PNG, resized
//! and not, several filter / channel-order / layout / normalisation settings).

use std::fs;
use std::path::Path;

use calibscope::demo::{self, DemoOptions};
use calibscope::export::{self, ExportSample, TensorOptions};
use calibscope::metadata::SampleKey;
use calibscope::preprocess::{ChannelOrder, Layout, PreprocessSettings, ResizeFilter};
use calibscope::progress::Progress;

fn demo_samples(root: &Path) -> Vec<ExportSample> {
    let opts = DemoOptions {
        seed: 5,
        samples: 12,
        width: 96,
        height: 64,
    };
    let summary = demo::generate(root, &opts, &Progress::new()).unwrap();
    assert!(
        summary.jpeg_samples > 0,
        "the demo should include a JPEG sequence"
    );
    let mut samples = Vec::new();
    for split in [
        "splits/combined_train.json",
        "splits/combined_val.json",
        "splits/combined_test.json",
    ] {
        for key in export::read_split(&root.join(split)).unwrap() {
            samples.push(ExportSample::probe(root, &key));
        }
    }
    // A 16-bit PNG: the export used to read it at 16 bits and calibration at 8.
    let dir = root.join("seq16/image_a6");
    fs::create_dir_all(&dir).unwrap();
    let img = image::ImageBuffer::<image::Rgb<u16>, _>::from_fn(50, 30, |x, y| {
        image::Rgb([
            (x * 1300) as u16,
            (y * 2100 + 7) as u16,
            ((x * y * 37) % 65536) as u16,
        ])
    });
    let p = dir.join("0000000000.png");
    img.save(&p).unwrap();
    samples.push(ExportSample {
        key: SampleKey {
            dataset_root: "seq16".into(),
            stem: "0000000000".into(),
        },
        image: p,
    });
    samples
}

/// The data part of an exported `.npy`, as bytes.
fn npy_data(path: &Path, shape: &[i64; 4]) -> Vec<u8> {
    let bytes = fs::read(path).unwrap();
    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let header = export::tensors::npy_header(&dims);
    assert_eq!(&bytes[..header.len()], &header[..], "{}", path.display());
    bytes[header.len()..].to_vec()
}

fn le_bytes(t: &[f32]) -> Vec<u8> {
    t.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn assert_export_equals_calibration(
    samples: &[ExportSample],
    out: &Path,
    pre: &PreprocessSettings,
    report: &export::TensorReport,
) {
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.written.len(), samples.len());
    for (s, written) in samples.iter().zip(&report.written) {
        assert!(written.starts_with(std::path::absolute(out).unwrap()));
        let exported = npy_data(written, &pre.input_shape());
        let (calib, _) = pre.load_input(&s.image).unwrap();
        assert_eq!(exported.len(), calib.len() * 4, "{}", s.image.display());
        assert!(
            exported == le_bytes(&calib),
            "export and calibration differ for {} with {pre:?}",
            s.image.display()
        );
        // And the exported file fed back as a calibration input is the same tensor.
        let (from_npy, _) = pre.load_input(written).unwrap();
        assert_eq!(le_bytes(&from_npy), exported);
    }
}

#[test]
fn exported_tensors_equal_calibration_inputs_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("demo");
    let samples = demo_samples(&root);

    // The export's own options (what the app and `export --tensors --size` use),
    // resized (96x64 → 40x24) and at the images' own size.
    for (w, h) in [(40, 24), (96, 64)] {
        let out = tmp.path().join(format!("t{w}x{h}"));
        let opts = TensorOptions {
            width: w,
            height: h,
            ..TensorOptions::default()
        };
        let report = export::write_tensors(&root, &samples, &out, opts, &Progress::new()).unwrap();
        let pre = PreprocessSettings {
            width: w,
            height: h,
            ..PreprocessSettings::default()
        };
        assert_eq!(opts.preprocess(), pre);
        assert_export_equals_calibration(&samples, &out, &pre, &report);
    }

    // Every other setting goes through the same code.
    let variants = [
        PreprocessSettings {
            width: 40,
            height: 24,
            filter: ResizeFilter::Lanczos,
            channel_order: ChannelOrder::Bgr,
            layout: Layout::Nhwc,
            ..PreprocessSettings::default()
        },
        PreprocessSettings {
            width: 33,
            height: 17,
            scale: 1.0,
            mean: Some([123.675, 116.28, 103.53]),
            std: Some([58.395, 57.12, 57.375]),
            ..PreprocessSettings::default()
        },
    ];
    for (i, pre) in variants.iter().enumerate() {
        let out = tmp.path().join(format!("v{i}"));
        let report =
            export::write_tensors_with(&root, &samples, &out, pre, false, &Progress::new())
                .unwrap();
        assert_export_equals_calibration(&samples, &out, pre, &report);
    }
}

#[test]
fn default_tensors_are_pixels_over_255_and_16_bit_over_65535() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("x.png");
    let mut img = image::RgbImage::new(3, 2);
    img.put_pixel(2, 1, image::Rgb([45, 60, 255]));
    img.save(&p).unwrap();
    let pre = PreprocessSettings {
        width: 3,
        height: 2,
        ..PreprocessSettings::default()
    };
    let (t, _) = pre.load_input(&p).unwrap();
    // NCHW: pixel (x=2, y=1) is index 5 of each 6-value plane.
    assert_eq!([t[5], t[11], t[17]], [45.0 / 255.0, 60.0 / 255.0, 1.0]);

    let p16 = tmp.path().join("x16.png");
    let mut img = image::ImageBuffer::<image::Rgb<u16>, Vec<u16>>::new(3, 2);
    img.put_pixel(2, 1, image::Rgb([257 * 45 + 100, 65535, 0]));
    img.save(&p16).unwrap();
    let (t, _) = pre.load_input(&p16).unwrap();
    assert_eq!(
        [t[5], t[11], t[17]],
        [(257.0 * 45.0 + 100.0) / 65535.0, 1.0, 0.0]
    );
}
