//! Preprocessing: how an image becomes the model's input tensor.
//!
//! The same settings and code feed calibration (PTQ) and evaluation, so an
//! INT8 model is calibrated on exactly what it will see. Settings are prefilled
//! from the model's input shape; the users' network normalises inside, so
//! mean/std are off by default.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::onnx::{Dim, ModelSummary};

mod resize;

/// The `image` crate's 8-bit → [0, 1] float conversion, as a table.
fn u8_to_unit() -> &'static [f32; 256] {
    static LUT: std::sync::OnceLock<[f32; 256]> = std::sync::OnceLock::new();
    LUT.get_or_init(|| {
        let all = image::RgbImage::from_fn(256, 1, |x, _| image::Rgb([x as u8; 3]));
        let f = image::DynamicImage::ImageRgb8(all).to_rgb32f();
        let mut lut = [0f32; 256];
        for (l, px) in lut.iter_mut().zip(f.pixels()) {
            *l = px.0[0];
        }
        lut
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ResizeFilter {
    #[default]
    Bilinear,
    Lanczos,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    #[default]
    Rgb,
    Bgr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    #[default]
    Nchw,
    Nhwc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreprocessSettings {
    /// The model input the image feeds (e.g. `rgb`).
    pub input_name: String,
    pub width: u32,
    pub height: u32,
    pub filter: ResizeFilter,
    pub channel_order: ChannelOrder,
    /// Multiplies the 0–255 pixel values (1/255 gives [0, 1]).
    pub scale: f32,
    /// Subtracted after scaling, per channel in model channel order; none by default.
    pub mean: Option<[f32; 3]>,
    /// Divides after the mean, per channel; none by default.
    pub std: Option<[f32; 3]>,
    pub layout: Layout,
}

impl Default for PreprocessSettings {
    fn default() -> Self {
        Self {
            input_name: "rgb".into(),
            width: 640,
            height: 384,
            filter: ResizeFilter::Bilinear,
            channel_order: ChannelOrder::Rgb,
            scale: 1.0 / 255.0,
            mean: None,
            std: None,
            layout: Layout::Nchw,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("the model has no float image input (4-D [1,3,H,W] or [1,H,W,3])")]
    NoImageInput,
    #[error("the model has {0} image inputs ({1}); calibscope feeds one image input: pick the model with a single `rgb` input")]
    TwoImageInputs(usize, String),
    #[error(
        "model input {name} has a dynamic size {dims}; give the size explicitly (--input-size WxH)"
    )]
    DynamicSize { name: String, dims: String },
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("image {path} does not decode: {reason}; remove it from the calibration set or re-export it")]
    Decode { path: String, reason: String },
    #[error("{path}: {reason}")]
    Npy { path: String, reason: String },
    #[error("{0}")]
    Size(String),
}

/// Largest tensor side accepted: 8192 px (a [1,3,8192,8192] float32 tensor
/// is already 805 MB).
pub const MAX_SIDE: u32 = 8192;

impl PreprocessSettings {
    /// Settings for the model's single image input. `size` (W, H) is needed when
    /// the input's spatial size is dynamic, and overrides nothing otherwise.
    pub fn from_model(
        summary: &ModelSummary,
        size: Option<(u32, u32)>,
    ) -> Result<Self, PreprocessError> {
        let image_inputs: Vec<_> = summary
            .inputs
            .iter()
            .filter(|i| i.elem_type == 1 && i.dims.len() == 4)
            .collect();
        let inp = match image_inputs.as_slice() {
            [] => return Err(PreprocessError::NoImageInput),
            [one] => *one,
            many => {
                return Err(PreprocessError::TwoImageInputs(
                    many.len(),
                    many.iter()
                        .map(|i| i.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                ))
            }
        };
        let fixed = |d: &Dim| match d {
            Dim::Fixed(v) => Some(*v as u32),
            _ => None,
        };
        let nhwc = matches!(inp.dims[3], Dim::Fixed(3)) && !matches!(inp.dims[1], Dim::Fixed(3));
        let (hd, wd) = if nhwc {
            (&inp.dims[1], &inp.dims[2])
        } else {
            (&inp.dims[2], &inp.dims[3])
        };
        let (width, height) = match (fixed(wd), fixed(hd), size) {
            (Some(w), Some(h), _) => (w, h),
            (_, _, Some((w, h))) => (w, h),
            _ => {
                return Err(PreprocessError::DynamicSize {
                    name: inp.name.clone(),
                    dims: format!("{:?}", inp.dims),
                })
            }
        };
        Ok(Self {
            input_name: inp.name.clone(),
            width,
            height,
            layout: if nhwc { Layout::Nhwc } else { Layout::Nchw },
            ..Default::default()
        })
    }

    /// The input tensor shape for one image.
    pub fn input_shape(&self) -> [i64; 4] {
        let (w, h) = (self.width as i64, self.height as i64);
        match self.layout {
            Layout::Nchw => [1, 3, h, w],
            Layout::Nhwc => [1, h, w, 3],
        }
    }

    /// Values per tensor (3·W·H), or an error naming the limits when a side
    /// is 0 or above [`MAX_SIDE`].
    pub fn validate(&self) -> Result<usize, PreprocessError> {
        let (w, h) = (self.width, self.height);
        if w == 0 || h == 0 {
            return Err(PreprocessError::Size(format!(
                "tensor size {w}x{h} is empty; give a width and height above 0"
            )));
        }
        if w > MAX_SIDE || h > MAX_SIDE {
            return Err(PreprocessError::Size(format!(
                "tensor size {w}x{h} is too large; each side must be at most {MAX_SIDE} (the network input is e.g. 640x384)"
            )));
        }
        (w as usize)
            .checked_mul(h as usize)
            .and_then(|p| p.checked_mul(3))
            .ok_or_else(|| PreprocessError::Size(format!("tensor size {w}x{h} is too large")))
    }

    /// Turns decoded RGB8 pixels into the input tensor (see [`Self::tensor_from_image`]).
    pub fn tensor_from_rgb(&self, img: &image::RgbImage) -> Vec<f32> {
        self.tensor_from_image(&image::DynamicImage::ImageRgb8(img.clone()))
    }

    /// Turns a decoded image into the input tensor. This is the one
    /// preprocessing path: calibration, evaluation and the exported `.npy`
    /// tensors all come through here, so they are byte-identical.
    ///
    /// Pixels become RGB in [0, 1] (8-bit /255, 16-bit /65535 — the `image`
    /// crate's conversion), are resized in float (no rounding back to 8 bits;
    /// skipped when the size already matches), clamped to [0, 1] (Lanczos
    /// overshoots), then multiplied by `scale × 255` (exactly 1 for the default
    /// 1/255), with the optional mean/std applied after.
    /// The resize is `imageops::resize` (Triangle or Lanczos3) done by
    /// [`resize::resize_rgb`], which gives the same bits faster.
    pub fn tensor_from_image(&self, img: &image::DynamicImage) -> Vec<f32> {
        let (sw, sh) = (img.width() as usize, img.height() as usize);
        let (w, h) = (self.width as usize, self.height as usize);
        let resize = |rgb: &[f32]| resize::resize_rgb(rgb, |v| v, (sw, sh), (w, h), self.filter);
        let rgb = match img {
            // The common 8-bit case converts while resizing, through a table
            // of the crate's own conversion (no full-size float copy).
            image::DynamicImage::ImageRgb8(b) => {
                let lut = u8_to_unit();
                let unit = |v: u8| lut[v as usize];
                if (sw, sh) != (w, h) {
                    resize::resize_rgb(b.as_raw(), unit, (sw, sh), (w, h), self.filter)
                } else {
                    b.as_raw().iter().map(|&v| unit(v)).collect()
                }
            }
            _ if (sw, sh) != (w, h) => resize(img.to_rgb32f().as_raw()),
            _ => img.to_rgb32f().into_raw(),
        };
        let mut out = vec![0f32; 3 * w * h];
        let gain = self.scale * 255.0;
        // One channel at a time, so the settings' branches stay out of the
        // pixel loop; the arithmetic per value is unchanged.
        for c in 0..3 {
            let src = match self.channel_order {
                ChannelOrder::Rgb => c,
                ChannelOrder::Bgr => 2 - c,
            };
            let value = |px: &[f32]| {
                let mut v = px[src].clamp(0.0, 1.0) * gain;
                if let Some(mean) = self.mean {
                    v -= mean[c];
                }
                if let Some(std) = self.std {
                    v /= std[c];
                }
                v
            };
            let pixels = rgb.chunks_exact(3);
            match self.layout {
                Layout::Nchw => {
                    for (o, px) in out[c * w * h..][..w * h].iter_mut().zip(pixels) {
                        *o = value(px);
                    }
                }
                Layout::Nhwc => {
                    for (o, px) in out.chunks_exact_mut(3).zip(pixels) {
                        o[c] = value(px);
                    }
                }
            }
        }
        out
    }

    /// Decodes image bytes (PNG/JPEG) and preprocesses them. `path` names the file in errors.
    pub fn tensor_from_image_bytes(
        &self,
        bytes: &[u8],
        path: &Path,
    ) -> Result<Vec<f32>, PreprocessError> {
        self.validate()?;
        let img = image::load_from_memory(bytes).map_err(|e| PreprocessError::Decode {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Ok(self.tensor_from_image(&img))
    }

    /// Reads a calibration input: an image, or a `.npy` tensor already in the
    /// model's input shape. Returns the tensor and the file's bytes (for hashing).
    pub fn load_input(&self, path: &Path) -> Result<(Vec<f32>, Vec<u8>), PreprocessError> {
        let bytes = std::fs::read(path).map_err(|e| PreprocessError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let is_npy = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
        let t = if is_npy {
            let (shape, data) = parse_npy(&bytes).map_err(|reason| PreprocessError::Npy {
                path: path.display().to_string(),
                reason,
            })?;
            let want = self.input_shape();
            let n: i64 = want.iter().product();
            if data.len() as i64 != n {
                return Err(PreprocessError::Npy {
                    path: path.display().to_string(),
                    reason: format!("shape {shape:?} does not match the model input {want:?}"),
                });
            }
            data
        } else {
            self.tensor_from_image_bytes(&bytes, path)?
        };
        Ok((t, bytes))
    }
}

/// Parses a NumPy `.npy` file holding a model input (float32, float64 or
/// float16, either byte order; C order) into shape and f32 values. 8-bit data
/// and NaN/infinite values are refused with the fix: calibrating on them would
/// give wrong ranges silently. [`parse_npy_typed`] reads 8-bit data too.
pub fn parse_npy(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>), String> {
    let (shape, vals, descr) = parse_npy_typed(bytes)?;
    if descr.ends_with("u1") {
        return Err(format!(
            "dtype {descr} holds raw 8-bit values, not the model's preprocessed input; \
             give calibscope the images instead (it preprocesses them), or save the \
             preprocessed float32 tensor (np.save(path, x.astype(np.float32)))"
        ));
    }
    if let Some(i) = vals.iter().position(|v| !v.is_finite()) {
        let bad = vals.iter().filter(|v| !v.is_finite()).count();
        return Err(format!(
            "{bad} of {} values are NaN or infinite (first at index {i}, {}); \
             calibration ranges would be meaningless. Fix the tensor (e.g. np.nan_to_num) or leave the file out",
            vals.len(),
            vals[i]
        ));
    }
    Ok((shape, vals))
}

/// [`parse_npy`] plus the array's dtype as numpy spells it (`<f4`, `|u1`, …),
/// for readers that scale integer data.
pub fn parse_npy_typed(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>, String), String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (bad magic)".into());
    }
    let major = bytes[6];
    let (hlen, start) = if major == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        if bytes.len() < 12 {
            return Err("truncated .npy header".into());
        }
        (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        )
    };
    let header = bytes
        .get(start..start + hlen)
        .ok_or("truncated .npy header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let field = |key: &str| -> Option<&str> {
        let i = header.find(&format!("'{key}'"))?;
        let rest = &header[i + key.len() + 2..];
        Some(rest.trim_start().trim_start_matches(':').trim_start())
    };
    let descr = field("descr").ok_or("no descr in header")?;
    let descr = descr
        .trim_start_matches('\'')
        .split('\'')
        .next()
        .unwrap_or("");
    if field("fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err(
            "Fortran-ordered arrays are not supported; save with np.ascontiguousarray".into(),
        );
    }
    let shape_s = field("shape").ok_or("no shape in header")?;
    let shape_s = shape_s.trim_start_matches('(');
    let shape_s = &shape_s[..shape_s.find(')').ok_or("bad shape")?];
    let shape: Vec<usize> = shape_s
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| format!("bad shape entry {s}")))
        .collect::<Result<_, _>>()?;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("the shape's element count overflows")?;
    let data = &bytes[start + hlen..];
    let need = |size: usize| match n.checked_mul(size) {
        Some(b) if b <= data.len() => Ok(b),
        _ => Err(format!(
            "data is truncated: {} bytes for {n} values",
            data.len()
        )),
    };
    // Both byte orders of float32/float64 are read; anything else is refused
    // with the fix, never reinterpreted (uint8 pixels are not model inputs).
    let vals: Vec<f32> = match descr {
        "<f4" | ">f4" | "=f4" => {
            let b = need(4)?;
            let big = descr.starts_with('>');
            data[..b]
                .chunks_exact(4)
                .map(|c| {
                    let c: [u8; 4] = [c[0], c[1], c[2], c[3]];
                    if big {
                        f32::from_be_bytes(c)
                    } else {
                        f32::from_le_bytes(c)
                    }
                })
                .collect()
        }
        "<f8" | ">f8" | "=f8" => {
            let b = need(8)?;
            let big = descr.starts_with('>');
            data[..b]
                .chunks_exact(8)
                .map(|c| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(c);
                    if big {
                        f64::from_be_bytes(a) as f32
                    } else {
                        f64::from_le_bytes(a) as f32
                    }
                })
                .collect()
        }
        "<f2" | ">f2" | "=f2" => {
            let b = need(2)?;
            let big = descr.starts_with('>');
            data[..b]
                .chunks_exact(2)
                .map(|c| {
                    let h = if big {
                        u16::from_be_bytes([c[0], c[1]])
                    } else {
                        u16::from_le_bytes([c[0], c[1]])
                    };
                    f16_to_f32(h)
                })
                .collect()
        }
        "|u1" | "<u1" | ">u1" => {
            let b = need(1)?;
            data[..b].iter().map(|&v| v as f32).collect()
        }
        other => {
            return Err(format!(
                "dtype {other} is not supported; save the tensor as float32 (x.astype(np.float32))"
            ))
        }
    };
    Ok((shape, vals, descr.to_string()))
}

/// IEEE half → single precision (exact; subnormals, infinities and NaN kept).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: value = f * 2^-24.
            let v = f as f32 * (1.0 / 16_777_216.0);
            return if sign != 0 { -v } else { v };
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// The header of a version-1 `.npy` file holding `descr` values (numpy's
/// spelling: `<f4`, `|u1`, …) of `shape` in C order, padded with spaces so the
/// data starts at a multiple of 64 bytes, as numpy pads it. The one `.npy`
/// writer: everything that writes `.npy` files starts with it.
pub fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_txt = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_txt}, }}");
    let pad = (64 - (10 + dict.len() + 1) % 64) % 64;
    dict.push_str(&" ".repeat(pad));
    dict.push('\n');
    let mut h = Vec::with_capacity(10 + dict.len());
    h.extend_from_slice(b"\x93NUMPY\x01\x00");
    h.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h
}

/// Writes a float32 `.npy` (C order): for tests and exports.
pub fn write_npy_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let mut out = npy_header("<f4", shape);
    out.reserve(data.len() * 4);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::IoInfo;

    fn summary(inputs: Vec<IoInfo>) -> ModelSummary {
        ModelSummary {
            ir_version: 7,
            opset: Some(13),
            producer: String::new(),
            inputs,
            outputs: vec![],
            op_counts: Default::default(),
            node_count: 0,
            parameter_count: 0,
        }
    }

    fn io(name: &str, dims: Vec<Dim>) -> IoInfo {
        IoInfo {
            name: name.into(),
            elem_type: 1,
            dims,
        }
    }

    #[test]
    fn settings_prefill_from_model_and_reject_ambiguous_inputs() {
        let f = Dim::Fixed;
        let s = summary(vec![io("rgb", vec![f(1), f(3), f(192), f(320)])]);
        let p = PreprocessSettings::from_model(&s, None).unwrap();
        assert_eq!(
            (p.input_name.as_str(), p.width, p.height),
            ("rgb", 320, 192)
        );
        assert_eq!(p.input_shape(), [1, 3, 192, 320]);

        let dynamic = summary(vec![io(
            "rgb",
            vec![f(1), f(3), Dim::Symbolic("h".into()), Dim::Unknown],
        )]);
        let e = PreprocessSettings::from_model(&dynamic, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("dynamic size") && e.contains("--input-size"),
            "{e}"
        );
        assert_eq!(
            PreprocessSettings::from_model(&dynamic, Some((64, 32)))
                .unwrap()
                .width,
            64
        );

        let two = summary(vec![
            io("a", vec![f(1), f(3), f(8), f(8)]),
            io("b", vec![f(1), f(3), f(8), f(8)]),
        ]);
        let e = PreprocessSettings::from_model(&two, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("2 image inputs"), "{e}");
    }

    #[test]
    fn pixels_become_scaled_nchw_with_channel_order() {
        let mut img = image::RgbImage::new(2, 1);
        img.put_pixel(0, 0, image::Rgb([255, 0, 51]));
        img.put_pixel(1, 0, image::Rgb([0, 102, 0]));
        let mut s = PreprocessSettings {
            width: 2,
            height: 1,
            ..Default::default()
        };
        let t = s.tensor_from_rgb(&img);
        let want = [1.0, 0.0, 0.0, 0.4, 0.2, 0.0];
        assert!(
            t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{t:?}"
        );
        s.channel_order = ChannelOrder::Bgr;
        s.mean = Some([0.5, 0.5, 0.5]);
        s.std = Some([0.5, 0.5, 0.5]);
        let t = s.tensor_from_rgb(&img);
        assert!((t[0] - (0.2 - 0.5) / 0.5).abs() < 1e-6);
    }

    /// What `tensor_from_image` computed before its resize was rewritten:
    /// the crate's conversion and `imageops::resize`, then the layout.
    fn tensor_the_crate_way(s: &PreprocessSettings, img: &image::DynamicImage) -> Vec<f32> {
        let mut rgb = img.to_rgb32f();
        if rgb.dimensions() != (s.width, s.height) {
            let f = match s.filter {
                ResizeFilter::Bilinear => image::imageops::FilterType::Triangle,
                ResizeFilter::Lanczos => image::imageops::FilterType::Lanczos3,
            };
            rgb = image::imageops::resize(&rgb, s.width, s.height, f);
        }
        let (w, h) = (s.width as usize, s.height as usize);
        let mut out = vec![0f32; 3 * w * h];
        for (i, px) in rgb.pixels().enumerate() {
            for c in 0..3 {
                let src = match s.channel_order {
                    ChannelOrder::Rgb => c,
                    ChannelOrder::Bgr => 2 - c,
                };
                let mut v = px.0[src].clamp(0.0, 1.0) * (s.scale * 255.0);
                if let Some(m) = s.mean {
                    v -= m[c];
                }
                if let Some(d) = s.std {
                    v /= d[c];
                }
                out[match s.layout {
                    Layout::Nchw => c * w * h + i,
                    Layout::Nhwc => i * 3 + c,
                }] = v;
            }
        }
        out
    }

    #[test]
    fn tensors_are_unchanged_by_the_faster_resize() {
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            seed >> 16
        };
        let rgb8 = image::RgbImage::from_fn(66, 38, |_, _| {
            image::Rgb([next() as u8, next() as u8, next() as u8])
        });
        let rgb16 = image::ImageBuffer::<image::Rgb<u16>, Vec<u16>>::from_fn(33, 20, |_, _| {
            image::Rgb([next() as u16, next() as u16, next() as u16])
        });
        let grey = image::GrayImage::from_fn(40, 24, |_, _| image::Luma([next() as u8]));
        let images = [
            image::DynamicImage::ImageRgb8(rgb8),
            image::DynamicImage::ImageRgb16(rgb16),
            image::DynamicImage::ImageLuma8(grey),
        ];
        let settings = [
            PreprocessSettings {
                width: 32,
                height: 19,
                ..Default::default()
            },
            PreprocessSettings {
                width: 66,
                height: 38,
                filter: ResizeFilter::Lanczos,
                channel_order: ChannelOrder::Bgr,
                mean: Some([0.485, 0.456, 0.406]),
                std: Some([0.229, 0.224, 0.225]),
                ..Default::default()
            },
            PreprocessSettings {
                width: 50,
                height: 31,
                filter: ResizeFilter::Lanczos,
                layout: Layout::Nhwc,
                ..Default::default()
            },
        ];
        for img in &images {
            for s in &settings {
                let got = s.tensor_from_image(img);
                let want = tensor_the_crate_way(s, img);
                assert!(
                    got.len() == want.len()
                        && got
                            .iter()
                            .zip(&want)
                            .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "{:?} {}x{} {:?}",
                    img.color(),
                    s.width,
                    s.height,
                    s.filter
                );
            }
        }
    }

    #[test]
    fn npy_round_trip_and_errors() {
        let data: Vec<f32> = (0..6).map(|v| v as f32 * 0.5).collect();
        let bytes = write_npy_f32(&[1, 2, 3], &data);
        let (shape, back) = parse_npy(&bytes).unwrap();
        assert_eq!(shape, vec![1, 2, 3]);
        assert_eq!(back, data);
        assert!(parse_npy(&bytes[..bytes.len() - 4])
            .unwrap_err()
            .contains("truncated"));
        assert!(parse_npy(b"PNG....").unwrap_err().contains("magic"));
    }

    /// A version-1 `.npy` with the given descr, shape and data bytes.
    fn npy(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
        let mut out = npy_header(descr, shape);
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn npy_eight_bit_and_non_finite_inputs_are_refused_big_endian_is_read() {
        // uint8 pixel values would calibrate ranges of 0..255 (issue 18 item 8).
        let e = parse_npy(&npy("|u1", &[1, 3], &[0, 128, 255])).unwrap_err();
        assert!(
            e.contains("raw 8-bit values") && e.contains("float32"),
            "{e}"
        );
        let be: Vec<u8> = [0.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        assert_eq!(
            parse_npy(&npy(">f4", &[2], &be)).unwrap().1,
            vec![0.5, -2.0]
        );
        let be8: Vec<u8> = [0.25f64].iter().flat_map(|v| v.to_be_bytes()).collect();
        assert_eq!(parse_npy(&npy(">f8", &[1], &be8)).unwrap().1, vec![0.25]);
        let nan: Vec<u8> = [1.0f32, f32::NAN, f32::INFINITY]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let e = parse_npy(&npy("<f4", &[3], &nan)).unwrap_err();
        assert!(e.contains("2 of 3 values are NaN or infinite"), "{e}");
        let e = parse_npy(&npy("<f4", &[4294967296; 3], &[])).unwrap_err();
        assert!(e.contains("overflows"), "{e}");
        let e = parse_npy(&npy("<i8", &[1], &[0; 8])).unwrap_err();
        assert!(e.contains("not supported"), "{e}");
    }

    #[test]
    fn undecodable_image_names_the_file() {
        let s = PreprocessSettings::default();
        let e = s
            .tensor_from_image_bytes(b"garbage", Path::new("x/bad.png"))
            .unwrap_err();
        assert!(e.to_string().contains("x/bad.png"));
    }
}
