//! Depth maps: decoding and exact per-sample statistics.
//!
//! - [`DepthEncoding`] (`encoding.rs`): how stored integers become metres
//!   (the `auto` rule of the reference metadata script, KITTI's /256,
//!   millimetres, plain 8-bit metres).
//! - [`load_depth`] decodes a PNG (8- or 16-bit greyscale) to a [`DepthMap`]
//!   in metres, 0 = no measurement (for display and evaluation); reading
//!   and decoding live in `decode.rs`.
//! - [`analyse_file`] / [`stats_from_raw`] / [`DepthCounts`] (`count.rs`,
//!   its vector code in `simd.rs`) compute the statistics the reference
//!   script computes — mean, median, min, max, std, p50/p90/p95 of valid
//!   depth — without a sort: a depth PNG holds at most 65,536 distinct
//!   values, so a count per value gives exact order statistics
//!   (`stats.rs`). Percentiles follow numpy's default (linear
//!   interpolation between closest ranks), std is the population std
//!   (`np.std`, ddof 0).

use std::cell::RefCell;
use std::path::Path;

use serde::{Deserialize, Serialize};

mod count;
mod decode;
mod encoding;
mod simd;
mod stats;

pub use count::DepthCounts;
pub use encoding::DepthEncoding;
pub use stats::percentile_sorted;

use decode::{count_png, decode, read_into};

/// Why a depth file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DepthError {
    #[error("cannot read depth map {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("depth map {path} is truncated (the file ends early); re-export or re-copy it")]
    Truncated { path: String },
    #[error("depth map {path} is not a readable PNG: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("depth map {path} is {what}; expected 8- or 16-bit greyscale PNG")]
    Unsupported { path: String, what: String },
}

/// A decoded depth map in metres; 0 = no measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct DepthMap {
    pub width: u32,
    pub height: u32,
    /// Row-major, `width * height` values.
    pub metres: Vec<f32>,
}

impl DepthMap {
    pub fn valid_pixels(&self) -> usize {
        self.metres.iter().filter(|&&d| d > 0.0).count()
    }
}

/// Per-sample statistics of valid depth, in metres.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepthStats {
    pub mean: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub std: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub valid_pixels: u64,
    pub total_pixels: u64,
    /// Width and height of the depth map.
    pub width: u32,
    pub height: u32,
    /// Fraction of valid pixels per [`DEPTH_HIST_EDGES`] bin.
    pub hist: Vec<f32>,
}

/// Reusable buffers, one set per thread, so a scan allocates nothing per sample.
struct Scratch {
    file: Vec<u8>,
    pixels: Vec<u8>,
    counts: DepthCounts,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        file: Vec::new(),
        pixels: Vec::new(),
        counts: DepthCounts::new(),
    });
}

/// Decodes a depth PNG to metres.
pub fn load_depth(path: &Path, encoding: DepthEncoding) -> Result<DepthMap, DepthError> {
    let mut file = Vec::new();
    read_into(path, &mut file, None)?;
    let mut pixels = Vec::new();
    let raw = decode(path, &file, &mut pixels)?;
    let values: Vec<u16> = if raw.sixteen {
        raw.bytes
            .chunks_exact(2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .collect()
    } else {
        raw.bytes.iter().map(|&b| b as u16).collect()
    };
    let max = values.iter().copied().max().unwrap_or(0);
    // f32 division, as the seed does in float32 (exact for /256).
    let div = encoding.divisor(max) as f32;
    let metres = values
        .iter()
        .map(|&v| if v == 0 { 0.0 } else { v as f32 / div })
        .collect();
    Ok(DepthMap {
        width: raw.width,
        height: raw.height,
        metres,
    })
}

/// Reads, decodes and summarises one depth PNG; `Ok(None)` when no pixel
/// holds a measurement. Uses per-thread buffers: no allocation per call.
pub fn analyse_file(
    path: &Path,
    encoding: DepthEncoding,
) -> Result<Option<DepthStats>, DepthError> {
    analyse_file_sized(path, None, encoding)
}

/// [`analyse_file`] for a file whose size is already known (a hint only:
/// a file that changed size since is still read whole).
pub fn analyse_file_sized(
    path: &Path,
    size: Option<u64>,
    encoding: DepthEncoding,
) -> Result<Option<DepthStats>, DepthError> {
    SCRATCH.with(|s| {
        let s = &mut *s.borrow_mut();
        let len = read_into(path, &mut s.file, size)?;
        let result = count_png(path, &s.file[..len], &mut s.pixels, &mut s.counts);
        match result {
            Ok((w, h)) => Ok(s.counts.finish(encoding, w, h)),
            Err(e) => {
                s.counts.discard();
                Err(e)
            }
        }
    })
}

/// Statistics of stored depth values (row-major, 0 = no measurement), e.g.
/// a map decoded elsewhere; `None` when nothing is valid.
pub fn stats_from_raw(
    values: &[u16],
    encoding: DepthEncoding,
    width: u32,
    height: u32,
) -> Option<DepthStats> {
    let mut c = DepthCounts::new();
    c.add(values);
    c.finish(encoding, width, height)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(
        path: &Path,
        w: u32,
        h: u32,
        colour: png::ColorType,
        bits: png::BitDepth,
        data: &[u8],
    ) {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(colour);
        enc.set_depth(bits);
        enc.write_header().unwrap().write_image_data(data).unwrap();
        std::fs::write(path, out).unwrap();
    }

    #[test]
    fn files_16_and_8_bit_and_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let p16 = dir.path().join("d16.png");
        let vals: [u16; 4] = [0, 512, 1024, 2560];
        let be: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
        write_png(
            &p16,
            2,
            2,
            png::ColorType::Grayscale,
            png::BitDepth::Sixteen,
            &be,
        );
        let m = load_depth(&p16, DepthEncoding::Auto).unwrap();
        assert_eq!(m.metres, [0.0, 2.0, 4.0, 10.0]);
        let s = analyse_file(&p16, DepthEncoding::Auto).unwrap().unwrap();
        assert_eq!((s.median, s.valid_pixels, s.width), (4.0, 3, 2));

        let p8 = dir.path().join("d8.png");
        write_png(
            &p8,
            3,
            1,
            png::ColorType::Grayscale,
            png::BitDepth::Eight,
            &[0, 3, 5],
        );
        let s = analyse_file(&p8, DepthEncoding::Auto).unwrap().unwrap();
        assert_eq!((s.mean, s.total_pixels), (4.0, 3));

        let rgb = dir.path().join("rgb.png");
        write_png(
            &rgb,
            1,
            1,
            png::ColorType::Rgb,
            png::BitDepth::Eight,
            &[1, 2, 3],
        );
        assert!(matches!(
            analyse_file(&rgb, DepthEncoding::Auto),
            Err(DepthError::Unsupported { .. })
        ));

        let trunc = dir.path().join("t.png");
        let bytes = std::fs::read(&p16).unwrap();
        std::fs::write(&trunc, &bytes[..bytes.len() - 20]).unwrap();
        assert!(matches!(
            analyse_file(&trunc, DepthEncoding::Auto),
            Err(DepthError::Truncated { .. })
        ));

        let junk = dir.path().join("j.png");
        std::fs::write(&junk, b"not a png at all").unwrap();
        assert!(matches!(
            analyse_file(&junk, DepthEncoding::Auto),
            Err(DepthError::Corrupt { .. })
        ));
        // A failure leaves the per-thread counts clean for the next file.
        let s = analyse_file(&p16, DepthEncoding::Auto).unwrap().unwrap();
        assert_eq!(s.valid_pixels, 3);
    }
}
