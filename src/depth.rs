//! Depth maps: decoding and exact per-sample statistics.
//!
//! - [`DepthEncoding`]: how stored integers become metres (the seed's `auto`
//!   rule, KITTI's /256, millimetres, plain 8-bit metres).
//! - [`load_depth`] decodes a PNG (8- or 16-bit greyscale) to a [`DepthMap`]
//!   in metres, 0 = no measurement (for display and evaluation).
//! - [`analyse_file`] / [`stats_from_raw`] / [`DepthCounts`] compute the statistics the seed
//!   script computes — mean, median, min, max, std, p50/p90/p95 of valid
//!   depth — without a sort: a depth PNG holds at most 65,536 distinct
//!   values, so a count per value gives exact order statistics. Percentiles
//!   follow numpy's default (linear interpolation between closest ranks),
//!   std is the population std (`np.std`, ddof 0).

use std::cell::RefCell;
use std::io::Cursor;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::metadata::{DEPTH_HIST_BINS, DEPTH_HIST_EDGES};

/// How a depth PNG's integers map to metres. 0 always means "no measurement".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DepthEncoding {
    /// The seed's rule: divide by 256 only when the map's maximum exceeds 255.
    #[default]
    Auto,
    /// Always metres × 256 (KITTI).
    Kitti,
    /// Millimetres (/1000).
    Millimetres,
    /// The stored value is metres (8-bit maps).
    #[serde(rename = "metres-8bit")]
    Metres8bit,
}

impl DepthEncoding {
    pub const ALL: [DepthEncoding; 4] = [
        DepthEncoding::Auto,
        DepthEncoding::Kitti,
        DepthEncoding::Millimetres,
        DepthEncoding::Metres8bit,
    ];

    /// What stored values are divided by to get metres, given the map's maximum.
    pub fn divisor(self, max_raw: u16) -> f64 {
        match self {
            DepthEncoding::Auto if max_raw > 255 => 256.0,
            DepthEncoding::Auto => 1.0,
            DepthEncoding::Kitti => 256.0,
            DepthEncoding::Millimetres => 1000.0,
            DepthEncoding::Metres8bit => 1.0,
        }
    }

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            DepthEncoding::Auto => "auto",
            DepthEncoding::Kitti => "kitti",
            DepthEncoding::Millimetres => "millimetres",
            DepthEncoding::Metres8bit => "metres-8bit",
        }
    }

    /// A one-line explanation for settings panels and help.
    pub fn describe(self) -> &'static str {
        match self {
            DepthEncoding::Auto => "metres × 256 when the map's max > 255, else metres (seed rule)",
            DepthEncoding::Kitti => "metres × 256 (KITTI)",
            DepthEncoding::Millimetres => "millimetres",
            DepthEncoding::Metres8bit => "metres as stored (8-bit maps)",
        }
    }
}

impl std::fmt::Display for DepthEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DepthEncoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown depth encoding {s:?}; use auto, kitti, millimetres or metres-8bit")
            })
    }
}

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

/// A decoded PNG's raw samples: big-endian u16 pairs or single bytes.
struct Raw<'a> {
    width: u32,
    height: u32,
    sixteen: bool,
    bytes: &'a [u8],
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

fn decode<'a>(path: &Path, file: &[u8], pixels: &'a mut Vec<u8>) -> Result<Raw<'a>, DepthError> {
    let p = || path.display().to_string();
    let map_err = |e: png::DecodingError| match e {
        png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            DepthError::Truncated { path: p() }
        }
        other => DepthError::Corrupt {
            path: p(),
            reason: other.to_string(),
        },
    };
    let mut reader = png::Decoder::new(Cursor::new(file))
        .read_info()
        .map_err(map_err)?;
    let (colour, bits) = reader.output_color_type();
    let sixteen = match (colour, bits) {
        (png::ColorType::Grayscale, png::BitDepth::Sixteen) => true,
        (png::ColorType::Grayscale, png::BitDepth::Eight) => false,
        (c, b) => {
            return Err(DepthError::Unsupported {
                path: p(),
                what: format!("{c:?} with {} bits per sample", b as u8),
            })
        }
    };
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| DepthError::Unsupported {
            path: p(),
            what: "too large to decode".into(),
        })?;
    // Resizing without clearing: next_frame overwrites every byte.
    pixels.resize(size, 0);
    let info = reader.next_frame(pixels).map_err(map_err)?;
    Ok(Raw {
        width: info.width,
        height: info.height,
        sixteen,
        bytes: &pixels[..info.buffer_size()],
    })
}

/// Reads a whole file into `buf` and returns its length: the file is
/// `buf[..len]` (bytes past it are left from earlier files, so a reused
/// buffer is never cleared or zero-filled again). With the size already
/// known (the scan stat-ed the file) one `read` of size + 1 bytes does it:
/// a single read returning exactly the size means the file is whole, and
/// the extra byte shows a file that has grown since, which is then read on
/// to its end. After short reads, one more read makes sure of the end.
fn read_into(path: &Path, buf: &mut Vec<u8>, size_hint: Option<u64>) -> Result<usize, DepthError> {
    use std::io::Read;
    let read = |buf: &mut Vec<u8>| -> std::io::Result<usize> {
        let mut f = std::fs::File::open(path)?;
        let Some(n) = size_hint.and_then(|n| usize::try_from(n).ok()) else {
            buf.clear();
            return f.read_to_end(buf);
        };
        if buf.len() <= n {
            buf.resize(n + 1, 0);
        }
        let (mut got, mut reads) = (0, 0);
        loop {
            match f.read(&mut buf[got..=n]) {
                Ok(0) => return Ok(got),
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            reads += 1;
            // Exactly the size from one read: whole. Reached through short
            // reads (network file systems): read once more, to the end.
            if got > n || (got == n && reads == 1) {
                break;
            }
        }
        if got > n {
            buf.truncate(got);
            f.read_to_end(buf)?;
            return Ok(buf.len());
        }
        Ok(got)
    };
    read(buf).map_err(|source| DepthError::Io {
        path: path.display().to_string(),
        source,
    })
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

/// Decodes row by row straight into the counts, so the decoded map never
/// leaves the CPU cache; interlaced files go through a whole frame.
fn count_png(
    path: &Path,
    file: &[u8],
    buf: &mut Vec<u8>,
    counts: &mut DepthCounts,
) -> Result<(u32, u32), DepthError> {
    let p = || path.display().to_string();
    let map_err = |e: png::DecodingError| match e {
        png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            DepthError::Truncated { path: p() }
        }
        other => DepthError::Corrupt {
            path: p(),
            reason: other.to_string(),
        },
    };
    let mut reader = png::Decoder::new(Cursor::new(file))
        .read_info()
        .map_err(map_err)?;
    let info = reader.info();
    let (w, h, interlaced) = (info.width, info.height, info.interlaced);
    if interlaced {
        let raw = decode(path, file, buf)?;
        if raw.sixteen {
            counts.add_be16(raw.bytes);
        } else {
            counts.add_u8(raw.bytes);
        }
        return Ok((raw.width, raw.height));
    }
    let sixteen = match reader.output_color_type() {
        (png::ColorType::Grayscale, png::BitDepth::Sixteen) => true,
        (png::ColorType::Grayscale, png::BitDepth::Eight) => false,
        (c, b) => {
            return Err(DepthError::Unsupported {
                path: p(),
                what: format!("{c:?} with {} bits per sample", b as u8),
            })
        }
    };
    let line = reader
        .output_line_size(w)
        .ok_or_else(|| DepthError::Unsupported {
            path: p(),
            what: "too large to decode".into(),
        })?;
    if buf.len() < line {
        buf.resize(line, 0);
    }
    let row = &mut buf[..line];
    while reader.read_row(row).map_err(map_err)?.is_some() {
        if sixteen {
            counts.add_be16(row);
        } else {
            counts.add_u8(row);
        }
    }
    Ok((w, h))
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

/// A count of each stored depth value over one map (zeros, no measurement,
/// are never counted: the valid values added are first packed together,
/// then counted a few thousand at a time).
pub struct DepthCounts {
    /// Counts since the last spill. Fixed size, so indexing by a u16 needs
    /// no bounds check; u16 bins halve the table's cache footprint, which
    /// the decoder running alongside shares.
    counts: Box<[u16; 65536]>,
    /// Counts moved out of `counts` before a bin could pass `u16::MAX`
    /// (only maps of more than 65,535 valid pixels spill).
    spilled: Box<[u32; 65536]>,
    /// Whether `spilled` holds counts of this map.
    spills: bool,
    /// Values counted into `counts` since the last spill: no bin holds more.
    since_spill: u32,
    /// Runs of [`CHUNK`] stored values that may hold a count: every run
    /// below this (each piece marks the runs up to its highest value), so
    /// `finish` and `discard` visit only those and a map of near depths
    /// does not sweep (and evict from cache) the whole table.
    runs: usize,
    /// Valid values packed together, waiting to be counted: those of
    /// `packed[..pending]`. Vector stores and loads may pass `PIECE` by up
    /// to [`MARGIN`] values.
    packed: Box<[u16; PIECE + MARGIN]>,
    pending: usize,
    /// Every pixel seen, valid or not.
    total: u64,
    /// Valid pixels counted.
    counted: u64,
    /// Sum and sum of squares of the values counted, formed as they are
    /// counted: there the values are at hand, while `finish` would
    /// multiply every bin of every run.
    sum: u64,
    sumsq: u64,
}

impl Default for DepthCounts {
    fn default() -> Self {
        Self::new()
    }
}

fn boxed<T: Copy + Default, const N: usize>() -> Box<[T; N]> {
    vec![T::default(); N]
        .into_boxed_slice()
        .try_into()
        .unwrap_or_else(|_| unreachable!("a vector of N elements"))
}

/// Values packed per piece of what is added (a decoded row of a few
/// thousand pixels is one piece), and the most waiting to be counted.
const PIECE: usize = 2048;
/// Values a vector store of packed values may write past `PIECE`: one
/// AVX-512 register of 32.
const MARGIN: usize = 32;
/// Sparse maps are mostly zeros: blocks of this many bytes holding only
/// zeros are skipped with one test (plain path).
const BLOCK: usize = 16;
/// Stored values per run (see [`DepthCounts::runs`]).
const CHUNK: usize = 64;

/// `pshufb` controls that move the non-zero u16 lanes of eight (bit i of
/// the index set = lane i non-zero) to the front, in order.
#[cfg(target_arch = "x86_64")]
static PACK: [[u8; 16]; 256] = {
    let mut t = [[0x80u8; 16]; 256];
    let mut m = 0;
    while m < 256 {
        let (mut i, mut j) = (0, 0);
        while i < 8 {
            if m >> i & 1 == 1 {
                t[m][2 * j] = 2 * i as u8;
                t[m][2 * j + 1] = 2 * i as u8 + 1;
                j += 1;
            }
            i += 1;
        }
        m += 1;
    }
    t
};

/// True when any byte is non-zero; `bytes.len()` a multiple of 16.
#[inline(always)]
fn any_nonzero(bytes: &[u8]) -> bool {
    bytes.chunks_exact(16).fold(0u128, |a, w| {
        a | u128::from_ne_bytes(w.try_into().expect("16-byte word"))
    }) != 0
}

/// Σv, Σv² and the maximum of `packed[..len]` (`len <= PIECE`), exact.
fn packed_sums(packed: &[u16; PIECE + MARGIN], len: usize) -> (u64, u64, u16) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { packed_sums_avx2(packed, len) };
    }
    packed_sums_plain(&packed[..len])
}

/// [`packed_sums`] value by value: the code without AVX2, and the
/// reference the AVX2 code is tested against.
fn packed_sums_plain(values: &[u16]) -> (u64, u64, u16) {
    values.iter().fold((0, 0, 0), |(s, q, m), &v| {
        let w = v as u64;
        (s + w, q + w * w, m.max(v))
    })
}

/// [`packed_sums`] 16 values at a time.
///
/// With v = 256·h + l: Σv = 256·Σh + Σl and Σv² = 65536·Σh² + 512·Σh·l + Σl².
/// Bytes fit signed 16-bit lanes, so the multiply-add (`vpmaddwd`) forms
/// the products sixteen at a time and sums pairs into i32 lanes. Each lane
/// grows by at most 2·255² per 16 values, so PIECE values cannot carry it
/// past 2^31.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn packed_sums_avx2(packed: &[u16; PIECE + MARGIN], len: usize) -> (u64, u64, u16) {
    use std::arch::x86_64::*;
    const { assert!(PIECE / 16 * 2 * 255 * 255 < i32::MAX as usize) };
    let zero = _mm256_setzero_si256();
    let (ones, low_bytes) = (_mm256_set1_epi16(1), _mm256_set1_epi16(0xff));
    let lanes = _mm256_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    let (mut sh, mut sl, mut hh, mut hl, mut ll, mut top) = (zero, zero, zero, zero, zero, zero);
    for at in (0..len.min(PIECE)).step_by(16) {
        let sixteen: &[u16; 16] = packed[at..at + 16].try_into().expect("16 values");
        // SAFETY: reads exactly the 32 bytes of `sixteen`.
        let v = unsafe { _mm256_loadu_si256(sixteen.as_ptr().cast()) };
        // Lanes at `len` and past hold leftovers of earlier pieces: zeroed.
        let keep = _mm256_cmpgt_epi16(_mm256_set1_epi16((len - at).min(16) as i16), lanes);
        let v = _mm256_and_si256(v, keep);
        top = _mm256_max_epu16(top, v);
        let h = _mm256_srli_epi16::<8>(v);
        let l = _mm256_and_si256(v, low_bytes);
        sh = _mm256_add_epi32(sh, _mm256_madd_epi16(h, ones));
        sl = _mm256_add_epi32(sl, _mm256_madd_epi16(l, ones));
        hh = _mm256_add_epi32(hh, _mm256_madd_epi16(h, h));
        hl = _mm256_add_epi32(hl, _mm256_madd_epi16(h, l));
        ll = _mm256_add_epi32(ll, _mm256_madd_epi16(l, l));
    }
    let total = |w: __m256i| {
        let mut a = [0u32; 8];
        // SAFETY: `a` is exactly 32 bytes.
        unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), w) };
        a.iter().map(|&x| x as u64).sum::<u64>()
    };
    let [sh, sl, hh, hl, ll] = [sh, sl, hh, hl, ll].map(total);
    let top = _mm_max_epu16(
        _mm256_castsi256_si128(top),
        _mm256_extracti128_si256::<1>(top),
    );
    let flipped = _mm_xor_si128(top, _mm_set1_epi16(-1));
    let high = 0xffff - _mm_extract_epi16::<0>(_mm_minpos_epu16(flipped)) as u16;
    (256 * sh + sl, 65536 * hh + 512 * hl + ll, high)
}

/// The ways of adding big-endian samples, fastest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(test), allow(dead_code))]
enum Be16Path {
    Avx512,
    Avx2,
    Plain,
}

impl Be16Path {
    #[cfg_attr(not(test), allow(dead_code))]
    const ALL: [Self; 3] = [Self::Avx512, Self::Avx2, Self::Plain];

    /// Whether this CPU can take the path.
    #[inline]
    fn supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => {
                std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512bw")
                    && std::is_x86_feature_detected!("avx512vbmi2")
                    && std::is_x86_feature_detected!("popcnt")
            }
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => {
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("popcnt")
            }
            Self::Plain => true,
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// Packs one value: it is written either way and kept only when valid, so
/// packing needs no branch per pixel.
#[inline(always)]
fn pack(packed: &mut [u16; PIECE + MARGIN], len: &mut usize, v: u16) {
    packed[*len] = v;
    *len += (v != 0) as usize;
}

impl DepthCounts {
    pub fn new() -> Self {
        Self {
            counts: boxed(),
            spilled: boxed(),
            spills: false,
            since_spill: 0,
            runs: 0,
            packed: boxed(),
            pending: 0,
            total: 0,
            counted: 0,
            sum: 0,
            sumsq: 0,
        }
    }

    /// Adds stored values (0 = invalid, counted only in the total).
    pub fn add(&mut self, values: &[u16]) {
        self.add_plain(values)
    }

    fn add_u8(&mut self, bytes: &[u8]) {
        self.add_plain(bytes)
    }

    fn add_plain<T: Copy + Into<u16>>(&mut self, values: &[T]) {
        self.total += values.len() as u64;
        for piece in values.chunks(PIECE) {
            self.make_room(piece.len());
            let mut len = self.pending;
            for &v in piece {
                pack(&mut self.packed, &mut len, v.into());
            }
            self.pending = len;
        }
    }

    /// Adds big-endian 16-bit samples as a PNG stores them, by the fastest
    /// path this CPU has.
    fn add_be16(&mut self, bytes: &[u8]) {
        #[cfg(target_arch = "x86_64")]
        {
            if Be16Path::Avx512.supported() {
                // SAFETY: the CPU has the features, checked just above.
                return unsafe { self.add_be16_avx512(bytes) };
            }
            if Be16Path::Avx2.supported() {
                // SAFETY: the CPU has the features, checked just above.
                return unsafe { self.add_be16_avx2(bytes) };
            }
        }
        self.add_be16_plain(bytes)
    }

    /// [`Self::add_be16`] by the given path, which the CPU must have.
    #[cfg(test)]
    fn add_be16_by(&mut self, path: Be16Path, bytes: &[u8]) {
        assert!(path.supported(), "{path:?} on this CPU");
        match path {
            // SAFETY: the CPU has the features, asserted just above.
            #[cfg(target_arch = "x86_64")]
            Be16Path::Avx512 => unsafe { self.add_be16_avx512(bytes) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Be16Path::Avx2 => unsafe { self.add_be16_avx2(bytes) },
            _ => self.add_be16_plain(bytes),
        }
    }

    /// [`Self::add_be16`] 32 values at a time with AVX-512: zero runs are
    /// tested 128 bytes per branch, and each 64-byte half of a non-zero
    /// group is byte-swapped with one shuffle and its non-zero values
    /// packed with one compress (`vpcompressw`).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi2,popcnt")]
    fn add_be16_avx512(&mut self, bytes: &[u8]) {
        use std::arch::x86_64::*;
        self.total += (bytes.len() / 2) as u64;
        // Swaps the two bytes of every u16 lane.
        let pairs = 0x0e0f_0c0d_0a0b_0809_i64;
        let (hi, lo) = (pairs, 0x0607_0405_0203_0001_i64);
        let swap = _mm512_set_epi64(hi, lo, hi, lo, hi, lo, hi, lo);
        let load = |c: &[u8; 64]| {
            // SAFETY: reads exactly the 64 bytes of `c`.
            unsafe { _mm512_loadu_si512(c.as_ptr().cast()) }
        };
        for piece in bytes.chunks(PIECE * 2) {
            self.make_room(piece.len() / 2);
            let mut len = self.pending;
            let packed = self.packed.as_mut_ptr();
            let mut pack_half = |x: __m512i| {
                let v = _mm512_shuffle_epi8(x, swap);
                let valid = _mm512_test_epi16_mask(v, v);
                let kept = _mm512_maskz_compress_epi16(valid, v);
                // SAFETY: `len` is at most the pending values plus this
                // piece's values before these 32, and those with the
                // piece's rest come to at most PIECE (`make_room`); so the
                // 32-value store ends by PIECE, or for a padded tail of
                // fewer values by PIECE + MARGIN, inside `packed`.
                unsafe { _mm512_storeu_si512(packed.add(len).cast(), kept) };
                len += valid.count_ones() as usize;
            };
            let (groups, tail) = piece.as_chunks::<128>();
            for group in groups {
                let (halves, _) = group.as_chunks::<64>();
                let (a, b) = (load(&halves[0]), load(&halves[1]));
                let any = _mm512_or_si512(a, b);
                // Most of a sparse map is long zero runs: one test per group.
                if _mm512_test_epi64_mask(any, any) == 0 {
                    continue;
                }
                pack_half(a);
                pack_half(b);
            }
            // The last values, padded with zeros (never counted); an odd
            // last byte is no value and is dropped.
            for part in tail[..tail.len() & !1].chunks(64) {
                let mut padded = [0u8; 64];
                padded[..part.len()].copy_from_slice(part);
                pack_half(load(&padded));
            }
            self.pending = len;
        }
    }

    /// [`Self::add_be16`] without AVX2: zero blocks skipped, values packed
    /// one by one.
    fn add_be16_plain(&mut self, bytes: &[u8]) {
        self.total += (bytes.len() / 2) as u64;
        for piece in bytes.chunks(PIECE * 2) {
            self.make_room(piece.len() / 2);
            let mut len = self.pending;
            let mut blocks = piece.chunks_exact(BLOCK);
            for block in &mut blocks {
                if !any_nonzero(block) {
                    continue;
                }
                for b in block.chunks_exact(2) {
                    pack(&mut self.packed, &mut len, u16::from_be_bytes([b[0], b[1]]));
                }
            }
            // An odd last byte is no value and is dropped.
            for b in blocks.remainder().chunks_exact(2) {
                pack(&mut self.packed, &mut len, u16::from_be_bytes([b[0], b[1]]));
            }
            self.pending = len;
        }
    }

    /// [`Self::add_be16`] 16 values at a time. Zero runs are tested 128
    /// bytes per branch; a non-zero 32-byte chunk is byte-swapped into its
    /// values with one shuffle and its non-zero values are packed with one
    /// shuffle per half (a mask of eight lanes picks the shuffle), so zeros
    /// are never counted and no branch is taken per pixel.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt")]
    fn add_be16_avx2(&mut self, bytes: &[u8]) {
        use std::arch::x86_64::*;
        self.total += (bytes.len() / 2) as u64;
        let swap = _mm256_setr_epi8(
            1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11,
            10, 13, 12, 15, 14,
        );
        let zero = _mm256_setzero_si256();
        let load = |c: &[u8; 32]| {
            // SAFETY: reads exactly the 32 bytes of `c`.
            unsafe { _mm256_loadu_si256(c.as_ptr().cast()) }
        };
        let nonzero = |x: __m256i| _mm256_testz_si256(x, x) == 0;
        for piece in bytes.chunks(PIECE * 2) {
            self.make_room(piece.len() / 2);
            let mut len = self.pending;
            let packed = self.packed.as_mut_ptr();
            let mut pack_chunk = |x: __m256i| {
                let v = _mm256_shuffle_epi8(x, swap);
                // One bit per lane: packs turns each u16 mask into a byte,
                // the low half's eight in bits 0-7, the high half's in 16-23.
                let z = _mm256_cmpeq_epi16(v, zero);
                let valid = !(_mm256_movemask_epi8(_mm256_packs_epi16(z, z)) as u32);
                let (lo, hi) = ((valid & 0xff) as usize, (valid >> 16 & 0xff) as usize);
                let pick = |m: usize| {
                    // SAFETY: reads exactly the 16 bytes of one control.
                    unsafe { _mm_loadu_si128(PACK[m].as_ptr().cast()) }
                };
                let a = _mm_shuffle_epi8(_mm256_castsi256_si128(v), pick(lo));
                let b = _mm_shuffle_epi8(_mm256_extracti128_si256::<1>(v), pick(hi));
                // SAFETY: `len` is at most the pending values plus this
                // piece's values before the chunk, and those with the
                // piece's rest come to at most PIECE (`make_room`); so the
                // two 8-value stores end by PIECE, or for a padded last
                // chunk of fewer values by PIECE + 16, inside `packed`.
                unsafe {
                    _mm_storeu_si128(packed.add(len).cast(), a);
                    len += lo.count_ones() as usize;
                    _mm_storeu_si128(packed.add(len).cast(), b);
                }
                len += hi.count_ones() as usize;
            };
            let mut groups = piece.chunks_exact(4 * 32);
            for group in &mut groups {
                let (group, _) = group.as_chunks::<32>();
                let [a, b, c, d] = [0, 1, 2, 3].map(|i| load(&group[i]));
                // Most of a sparse map is long zero runs: one test per group.
                let any = _mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d));
                if !nonzero(any) {
                    continue;
                }
                for x in [a, b, c, d] {
                    pack_chunk(x);
                }
            }
            let (whole, rest) = groups.remainder().as_chunks::<32>();
            for c in whole {
                let x = load(c);
                if nonzero(x) {
                    pack_chunk(x);
                }
            }
            if !rest.is_empty() {
                // The last values, padded with zeros (never counted); an
                // odd last byte is no value and is dropped.
                let mut padded = [0u8; 32];
                let even = rest.len() & !1;
                padded[..even].copy_from_slice(&rest[..even]);
                let x = load(&padded);
                if nonzero(x) {
                    pack_chunk(x);
                }
            }
            self.pending = len;
        }
    }

    /// Counts the packed values first if `values` more might not fit.
    #[inline]
    fn make_room(&mut self, values: usize) {
        if self.pending + values > PIECE {
            self.flush();
        }
    }

    /// Counts the values waiting in `packed`, and adds their sums. Rows of
    /// a sparse map pack a few dozen values each, so many rows are counted
    /// at once: fewer, longer loops.
    fn flush(&mut self) {
        let len = std::mem::take(&mut self.pending);
        if len == 0 {
            return;
        }
        let (sum, sumsq, high) = packed_sums(&self.packed, len);
        self.sum += sum;
        self.sumsq += sumsq;
        self.runs = self.runs.max(high as usize / CHUNK + 1);
        if self.since_spill as usize + len > u16::MAX as usize {
            self.spill();
        }
        let counts = &mut *self.counts;
        for &v in &self.packed[..len] {
            counts[v as usize] += 1;
        }
        self.since_spill += len as u32;
        self.counted += len as u64;
    }

    /// Moves every count into `spilled`, so `counts` takes 65,535 more.
    fn spill(&mut self) {
        let end = self.runs * CHUNK;
        for (wide, narrow) in self.spilled[..end].iter_mut().zip(&mut self.counts[..end]) {
            *wide += *narrow as u32;
            *narrow = 0;
        }
        self.spills = true;
        self.since_spill = 0;
    }

    /// Forgets what was added (after a decode error part-way).
    pub fn discard(&mut self) {
        let end = self.runs * CHUNK;
        self.counts[..end].fill(0);
        if self.spills {
            self.spilled[..end].fill(0);
        }
        self.runs = 0;
        self.spills = false;
        self.since_spill = 0;
        self.pending = 0;
        self.total = 0;
        self.counted = 0;
        self.sum = 0;
        self.sumsq = 0;
    }

    /// Computes the statistics and clears the counts for the next map.
    /// `None` when no value was valid.
    pub fn finish(
        &mut self,
        encoding: DepthEncoding,
        width: u32,
        height: u32,
    ) -> Option<DepthStats> {
        self.flush();
        let (total, n, end) = (self.total, self.counted, self.runs * CHUNK);
        let (sum, sumsq) = (self.sum, self.sumsq);
        self.total = 0;
        self.counted = 0;
        self.sum = 0;
        self.sumsq = 0;
        if n == 0 {
            // Nothing was counted, so no run was marked either.
            return None;
        }
        let ranked = if self.spills {
            self.spill();
            self.spills = false;
            read_counts(&mut self.spilled[..end], n, encoding)
        } else {
            read_counts(&mut self.counts[..end], n, encoding)
        };
        self.runs = 0;
        self.since_spill = 0;
        let div = ranked.div;
        let lerp = |i: usize| {
            let (a, b) = (ranked.ranks[2 * i] as f64, ranked.ranks[2 * i + 1] as f64);
            (a + (b - a) * ranked.gammas[i]) / div
        };
        let nf = n as f64;
        // n·Σv² - (Σv)² in u128: exact, then one rounding to f64. n < 2^32
        // values below 2^16 keep Σv² below 2^64.
        let (sum, sumsq) = (sum as u128, sumsq as u128);
        let var_num = (n as u128 * sumsq - sum * sum) as f64;
        Some(DepthStats {
            mean: sum as f64 / nf / div,
            median: lerp(0),
            min: ranked.min as f64 / div,
            max: ranked.max as f64 / div,
            std: var_num.sqrt() / nf / div,
            p50: lerp(0),
            p90: lerp(1),
            p95: lerp(2),
            valid_pixels: n,
            total_pixels: total,
            width,
            height,
            hist: ranked
                .hist
                .iter()
                .map(|&h| (h as f64 / nf) as f32)
                .collect(),
        })
    }
}

/// What [`read_counts`] finds: stored values, before the divisor.
struct Ranked {
    min: usize,
    max: usize,
    div: f64,
    /// The stored values at ranks floor(h) and floor(h)+1 of each wanted
    /// percentile (50, 90, 95), and each one's interpolation weight.
    ranks: [usize; 6],
    gammas: [f64; 3],
    hist: [u64; DEPTH_HIST_BINS],
}

/// Order statistics and histogram of the `n > 0` values counted in
/// `table` (a count per stored value, whole runs of [`CHUNK`]), clearing
/// the table on the way.
///
/// One pass over the runs: a run that holds no wanted rank, no histogram
/// edge and not the minimum adds its count (a vectorised sum) to one
/// histogram bin, and only the few others are read bin by bin.
fn read_counts<T: Copy + Default + Into<u32>>(
    table: &mut [T],
    n: u64,
    encoding: DepthEncoding,
) -> Ranked {
    // u32 lanes cannot overflow: a run's count is at most n < 2^32.
    let run_count = |run: &[T]| run.iter().map(|&c| c.into()).sum::<u32>() as u64;
    // The last marked run holds the highest value added, so this search
    // stops inside it.
    let max = table
        .iter()
        .rposition(|&c| c.into() != 0)
        .expect("n > 0 values are counted in the marked runs");
    let top = max / CHUNK;
    let div = encoding.divisor(max as u16);

    // numpy's linear method reads ranks floor(h) and floor(h)+1 with
    // h = (n-1)·q; the median is the 50th percentile.
    let qs = [0.5f64, 0.9, 0.95];
    let mut ranks = [0u64; 6];
    let mut gammas = [0f64; 3];
    for (i, q) in qs.iter().enumerate() {
        let h = (n - 1) as f64 * q;
        let lo = h.floor();
        gammas[i] = h - lo;
        ranks[2 * i] = (lo as u64).min(n - 1);
        ranks[2 * i + 1] = (lo as u64 + 1).min(n - 1);
    }
    let mut order: [usize; 6] = [0, 1, 2, 3, 4, 5];
    order.sort_by_key(|&i| ranks[i]);
    let mut values = [0usize; 6];
    // Histogram bins as ranges of stored values: v/div >= m <=> v >= ceil(m·div).
    // `bounds[b]` is the first stored value past bin b; the last bin is open.
    let mut bounds = [usize::MAX; DEPTH_HIST_BINS];
    for (b, m) in bounds.iter_mut().zip(DEPTH_HIST_EDGES) {
        *b = ((m * div).ceil() as usize).clamp(1, max + 1);
    }
    let mut hist = [0u64; DEPTH_HIST_BINS];
    let mut bin = 0usize;
    let (mut seen, mut next) = (0u64, 0usize);
    let mut next_rank = ranks[order[0]];
    let mut min = 0usize;
    for (c, run) in table[..(top + 1) * CHUNK]
        .chunks_exact_mut(CHUNK)
        .enumerate()
    {
        let count = run_count(run);
        if count == 0 {
            // Below a piece's highest value but holding no value.
            continue;
        }
        let base = c * CHUNK;
        while base >= bounds[bin] {
            bin += 1;
        }
        let edge_inside = bounds[bin] < base + CHUNK;
        if min != 0 && !edge_inside && seen + count <= next_rank {
            hist[bin] += count;
            seen += count;
        } else {
            for (j, &cnt) in run.iter().enumerate() {
                let cnt = cnt.into() as u64;
                if cnt == 0 {
                    continue;
                }
                let v = base + j;
                if min == 0 {
                    min = v;
                }
                while v >= bounds[bin] {
                    bin += 1;
                }
                hist[bin] += cnt;
                seen += cnt;
                if seen > next_rank {
                    while next < order.len() && ranks[order[next]] < seen {
                        values[order[next]] = v;
                        next += 1;
                    }
                    next_rank = order.get(next).map_or(u64::MAX, |&i| ranks[i]);
                }
            }
        }
        run.fill(T::default());
    }
    Ranked {
        min,
        max,
        div,
        ranks: values,
        gammas,
        hist,
    }
}

/// numpy's default percentile (linear interpolation) of already sorted
/// values; the reference the count-based statistics are tested against.
pub fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * (q / 100.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let g = h - lo as f64;
    sorted[lo] + (sorted[hi] - sorted[lo]) * g
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn reference(values: &[u16], enc: DepthEncoding) -> Option<[f64; 8]> {
        let max = values.iter().copied().max()?;
        let div = enc.divisor(max);
        let mut v: Vec<f64> = values
            .iter()
            .filter(|&&x| x > 0)
            .map(|&x| x as f64 / div)
            .collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let median = if v.len() % 2 == 1 {
            v[v.len() / 2]
        } else {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        };
        Some([
            mean,
            median,
            v[0],
            v[v.len() - 1],
            std,
            percentile_sorted(&v, 50.0),
            percentile_sorted(&v, 90.0),
            percentile_sorted(&v, 95.0),
        ])
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn counts_match_sorted_reference() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mut c = DepthCounts::new();
        for case in 0..200 {
            let len = rng.random_range(1..400usize);
            let hi = if case % 3 == 0 { 255 } else { 65535 };
            let values: Vec<u16> = (0..len)
                .map(|_| {
                    if rng.random_bool(0.6) {
                        0
                    } else {
                        rng.random_range(1..=hi)
                    }
                })
                .collect();
            let enc = DepthEncoding::ALL[case % 4];
            c.add(&values);
            let got = c.finish(enc, len as u32, 1);
            match (reference(&values, enc), got) {
                (None, None) => {}
                (Some(r), Some(g)) => {
                    let g8 = [g.mean, g.median, g.min, g.max, g.std, g.p50, g.p90, g.p95];
                    for (k, (a, b)) in g8.iter().zip(r).enumerate() {
                        assert!(
                            close(*a, b),
                            "case {case} stat {k}: {a} vs {b} ({values:?})"
                        );
                    }
                    assert_eq!(g.total_pixels, len as u64);
                    // The histogram, bin by bin, against binning each value in metres.
                    let valid: Vec<u16> = values.iter().copied().filter(|&v| v != 0).collect();
                    let div = enc.divisor(*valid.iter().max().unwrap());
                    let mut want = [0u64; DEPTH_HIST_BINS];
                    for &v in &valid {
                        want[crate::metadata::depth_hist_bin(v as f64 / div)] += 1;
                    }
                    let want: Vec<f32> = want
                        .iter()
                        .map(|&c| (c as f64 / valid.len() as f64) as f32)
                        .collect();
                    assert_eq!(g.hist, want, "case {case}");
                }
                (r, g) => panic!("case {case}: {r:?} vs {g:?}"),
            }
        }
    }

    #[test]
    fn png_byte_path_counts_like_the_plain_one() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut a = DepthCounts::new();
        let mut b: Vec<_> = supported_paths().map(|p| (p, DepthCounts::new())).collect();
        for len in [1usize, 31, 32, 33, 63, 64, 65, 127, 128, 129, 500, 4099] {
            // Runs of zeros with scattered values, as in a LiDAR map.
            let values: Vec<u16> = (0..len)
                .map(|i| {
                    if (i / 40) % 3 == 0 && rng.random_bool(0.9) {
                        rng.random_range(1..=40000)
                    } else {
                        0
                    }
                })
                .collect();
            let be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
            a.add(&values);
            let want = a.finish(DepthEncoding::Auto, 1, 1);
            for (path, b) in &mut b {
                // Whole, and with an odd byte left over (no value).
                b.add_be16_by(*path, &be);
                assert_eq!(
                    b.finish(DepthEncoding::Auto, 1, 1),
                    want,
                    "{path:?} len {len}"
                );
                let mut odd = be.clone();
                odd.push(0xff);
                b.add_be16_by(*path, &odd);
                assert_eq!(
                    b.finish(DepthEncoding::Auto, 1, 1),
                    want,
                    "{path:?} len {len} + 1 byte"
                );
            }
        }
    }

    /// The ways of adding PNG bytes that this CPU can take.
    fn supported_paths() -> impl Iterator<Item = Be16Path> {
        Be16Path::ALL.into_iter().filter(|p| p.supported())
    }

    #[test]
    fn long_rows_of_large_values_count_exactly() {
        // Rows far longer than the packed buffer holds, of values whose
        // squares fill the sums' i32 lanes fastest (a full buffer of them
        // is the most one lane takes), repeated so counting batches cross
        // row ends; some rows end part-way into a chunk.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut a = DepthCounts::new();
        let mut b: Vec<_> = supported_paths().map(|p| (p, DepthCounts::new())).collect();
        for (i, len) in [600_000usize, 65_536, 65_537, 131_075, 9]
            .iter()
            .enumerate()
        {
            let values: Vec<u16> = (0..*len)
                .map(|_| match i % 2 {
                    0 => 0xffff,
                    _ => rng.random_range(0xff00..=0xffff),
                })
                .collect();
            let be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
            for _ in 0..3 {
                a.add(&values);
                for (path, b) in &mut b {
                    b.add_be16_by(*path, &be);
                }
            }
        }
        let want = a.finish(DepthEncoding::Kitti, 1, 1);
        assert!(want.is_some());
        for (path, b) in &mut b {
            assert_eq!(b.finish(DepthEncoding::Kitti, 1, 1), want, "{path:?}");
        }
    }

    #[test]
    fn packed_sums_match_value_by_value() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut packed: Box<[u16; PIECE + MARGIN]> = boxed();
        // Leftovers past `len` must not count: fill the margin too.
        for len in [0, 1, 15, 16, 17, 700, PIECE - 1, PIECE] {
            for fill in [0xffffu16, 0x8080, 1] {
                packed.fill(fill);
                if fill == 1 {
                    for v in packed.iter_mut() {
                        *v = rng.random_range(1..=u16::MAX);
                    }
                }
                let want = packed_sums_plain(&packed[..len]);
                assert_eq!(packed_sums(&packed, len), want, "len {len}, fill {fill:#x}");
            }
        }
    }

    #[test]
    fn clustered_and_dense_maps_match_the_reference() {
        // Values packed into a few runs of stored values, so ranks and
        // histogram edges fall inside runs holding many counts, and maps
        // big enough to fill the packed buffer many times and to spill.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let mut a = DepthCounts::new();
        let mut b: Vec<_> = supported_paths().map(|p| (p, DepthCounts::new())).collect();
        for case in 0..24 {
            let len = [1000usize, 70_000, 245_760][case % 3];
            let centre: u16 = rng.random_range(200..60_000);
            let spread: u16 = [0, 3, 70, 900][case % 4];
            let valid = [1.0, 0.5, 0.08][case % 3];
            let values: Vec<u16> = (0..len)
                .map(|_| {
                    if rng.random_bool(valid) {
                        centre.saturating_add(rng.random_range(0..=spread)).max(1)
                    } else {
                        0
                    }
                })
                .collect();
            let enc = DepthEncoding::ALL[case % 4];
            a.add(&values);
            let be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
            // In rows, as a decoder hands them over, by every path.
            let ga = a.finish(enc, 1, 1);
            for (path, b) in &mut b {
                for row in be.chunks(1280) {
                    b.add_be16_by(*path, row);
                }
                assert_eq!(b.finish(enc, 1, 1), ga, "{path:?} case {case}");
            }
            let (Some(r), Some(g)) = (reference(&values, enc), ga) else {
                assert!(reference(&values, enc).is_none(), "case {case}");
                continue;
            };
            let g8 = [g.mean, g.median, g.min, g.max, g.std, g.p50, g.p90, g.p95];
            for (k, (x, y)) in g8.iter().zip(r).enumerate() {
                assert!(close(*x, y), "case {case} stat {k}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn discard_and_finish_leave_no_count_behind() {
        let mut c = DepthCounts::new();
        // Values in many 64-value runs, through the PNG byte path, then dropped.
        // Every third value 0: zeros inside counted chunks are packed away.
        let spread: Vec<u16> = (0..6000u32)
            .map(|i| if i % 3 == 2 { 0 } else { (i * 11 + 1) as u16 })
            .collect();
        let be: Vec<u8> = spread.iter().flat_map(|v| v.to_be_bytes()).collect();
        c.add_be16(&be);
        c.discard();
        c.add(&[300, 600]);
        let s = c.finish(DepthEncoding::Auto, 2, 1).unwrap();
        assert_eq!(
            (s.valid_pixels, s.min, s.max),
            (2, 300.0 / 256.0, 600.0 / 256.0)
        );
        // After a finish the tables are clean too.
        c.add_be16(&be);
        let all = c.finish(DepthEncoding::Kitti, 1, 1).unwrap();
        assert_eq!(all.valid_pixels, 4000);
        c.add(&[7]);
        let s = c.finish(DepthEncoding::Metres8bit, 1, 1).unwrap();
        assert_eq!((s.valid_pixels, s.mean, s.max), (1, 7.0, 7.0));
    }

    #[test]
    fn counts_past_u16_spill_exactly_and_leave_nothing_behind() {
        // More than 65,535 of one value: the narrow bins spill, mid-row too.
        let mut c = DepthCounts::new();
        let many = |v: u16, n: usize| -> Vec<u8> { (0..n).flat_map(|_| v.to_be_bytes()).collect() };
        c.add_be16(&many(500, 70_000));
        c.discard();
        c.add(&[300]);
        let s = c.finish(DepthEncoding::Kitti, 1, 1).unwrap();
        assert_eq!(
            (s.valid_pixels, s.min, s.max),
            (1, 300.0 / 256.0, 300.0 / 256.0)
        );
        for row in many(9, 200_001).chunks(1282) {
            c.add_be16(row);
        }
        c.add_u8(&[9; 70_000]);
        // Above the discarded 500s: their runs are read again.
        c.add(&[600]);
        let s = c.finish(DepthEncoding::Metres8bit, 1, 1).unwrap();
        assert_eq!(s.valid_pixels, 270_002);
        assert_eq!((s.min, s.p95, s.max), (9.0, 9.0, 600.0));
        assert_eq!(s.mean, (9.0 * 270_001.0 + 600.0) / 270_002.0);
        assert_eq!(s.hist[DEPTH_HIST_BINS - 1], (1.0 / 270_002.0f64) as f32);
        // And after a finish that spilled, both tables are clean.
        c.add_be16(&many(7, 3));
        c.add(&[900]);
        let s = c.finish(DepthEncoding::Metres8bit, 1, 1).unwrap();
        assert_eq!((s.valid_pixels, s.min, s.p50, s.max), (4, 7.0, 7.0, 900.0));
    }

    #[test]
    fn size_hint_wrong_either_way_still_reads_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"0123456789").unwrap();
        // A reused buffer holding a longer file's bytes, as in a scan.
        let mut buf = b"stale bytes from a longer file".to_vec();
        for hint in [None, Some(10), Some(3), Some(50), Some(0), Some(9)] {
            let len = read_into(&p, &mut buf, hint).unwrap();
            assert_eq!(&buf[..len], b"0123456789", "{hint:?}");
            buf.extend_from_slice(b"more stale bytes");
        }
    }

    /// A pipe hands data over in short reads, like a network file system;
    /// the file grows past the size it was stat-ed with.
    #[cfg(unix)]
    #[test]
    fn short_reads_then_growth_past_the_size_hint() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&p).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        let wp = p.clone();
        let writer = std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(&wp).unwrap();
            for part in [&b"01234"[..], b"56789", b"X"] {
                f.write_all(part).unwrap();
                f.flush().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        let mut buf = Vec::new();
        let len = read_into(&p, &mut buf, Some(10)).unwrap();
        writer.join().unwrap();
        assert_eq!(&buf[..len], b"0123456789X");
    }

    #[test]
    fn known_values_and_encodings() {
        let mut c = DepthCounts::new();
        // 1,2,3,4 m stored ×256; numpy: percentile([1,2,3,4], 90) = 3.7.
        c.add(&[0, 256, 512, 768, 1024, 0]);
        let s = c.finish(DepthEncoding::Auto, 6, 1).unwrap();
        assert_eq!((s.mean, s.median, s.min, s.max), (2.5, 2.5, 1.0, 4.0));
        assert!(close(s.p90, 3.7) && close(s.p95, 3.85));
        assert!(close(s.std, 1.25f64.sqrt()));
        assert_eq!((s.valid_pixels, s.total_pixels), (4, 6));
        // Bins [1,2), [2,3), [3,5), [5,8).
        assert_eq!(s.hist[1..5], [0.25, 0.25, 0.5, 0.0]);
        // Max ≤ 255: the seed's rule leaves values as metres.
        c.add(&[10, 20]);
        assert_eq!(c.finish(DepthEncoding::Auto, 2, 1).unwrap().mean, 15.0);
        c.add(&[10, 20]);
        assert_eq!(
            c.finish(DepthEncoding::Kitti, 2, 1).unwrap().mean,
            15.0 / 256.0
        );
        c.add(&[1000, 3000]);
        assert_eq!(
            c.finish(DepthEncoding::Millimetres, 2, 1).unwrap().mean,
            2.0
        );
        c.add(&[0, 0]);
        assert!(c.finish(DepthEncoding::Auto, 2, 1).is_none());
        assert_eq!(
            "metres-8bit".parse::<DepthEncoding>().unwrap(),
            DepthEncoding::Metres8bit
        );
        assert_eq!(
            serde_json::to_string(&DepthEncoding::Metres8bit).unwrap(),
            "\"metres-8bit\""
        );
    }

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
