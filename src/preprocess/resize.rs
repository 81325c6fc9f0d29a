//! The `image` crate's separable resize (`imageops::resize`, Triangle and
//! Lanczos3) for a packed RGB float buffer, giving the same bits.
//!
//! Why not call `imageops::resize`: it samples pixel by pixel through
//! generic accessors on a 4-channel intermediate, which made preprocessing
//! cost more than the network on the demo model. Calibration, export and
//! evaluation tensors must not change, so this keeps the crate's algorithm
//! exactly — weights computed by the same f32 expressions, each output summed
//! in the same order from 0.0, vertical pass first, clamp to [0, 1] last —
//! and only changes the loops (whole rows at a time, 3 channels, no
//! bounds-checked accessors). The tests compare against the crate bit for bit.

use super::ResizeFilter;

/// One output coordinate's source window: first source index and the
/// normalised weights of the sources from there on.
struct Taps {
    left: usize,
    weights: Vec<f32>,
}

fn triangle(x: f32) -> f32 {
    if x.abs() < 1.0 {
        1.0 - x.abs()
    } else {
        0.0
    }
}

fn sinc(t: f32) -> f32 {
    let a = t * std::f32::consts::PI;
    if t == 0.0 {
        1.0
    } else {
        a.sin() / a
    }
}

fn lanczos3(x: f32) -> f32 {
    if x.abs() < 3.0 {
        sinc(x) * sinc(x / 3.0)
    } else {
        0.0
    }
}

/// The crate's window and weights for each of `dst` outputs over `src` inputs.
fn taps(src: usize, dst: usize, filter: ResizeFilter) -> Vec<Taps> {
    let (kernel, support): (fn(f32) -> f32, f32) = match filter {
        ResizeFilter::Bilinear => (triangle, 1.0),
        ResizeFilter::Lanczos => (lanczos3, 3.0),
    };
    let ratio = src as f32 / dst as f32;
    let sratio = if ratio < 1.0 { 1.0 } else { ratio };
    let src_support = support * sratio;
    (0..dst)
        .map(|out| {
            let input = (out as f32 + 0.5) * ratio;
            let left = ((input - src_support).floor() as i64).clamp(0, src as i64 - 1);
            let right = ((input + src_support).ceil() as i64).clamp(left + 1, src as i64);
            let input = input - 0.5;
            let mut weights: Vec<f32> = (left..right)
                .map(|i| kernel((i as f32 - input) / sratio))
                .collect();
            let mut sum = 0.0;
            for w in &weights {
                sum += w;
            }
            for w in &mut weights {
                *w /= sum;
            }
            Taps {
                left: left as usize,
                weights,
            }
        })
        .collect()
}

/// Resizes packed RGB samples (`sw`×`sh`, row-major; `unit` gives each
/// sample's float, as the crate converts it) to `dw`×`dh`, equal bit for bit
/// to `imageops::resize` on the same image as `Rgb32FImage`.
pub(super) fn resize_rgb<S: Copy>(
    src: &[S],
    unit: impl Fn(S) -> f32,
    (sw, sh): (usize, usize),
    (dw, dh): (usize, usize),
    filter: ResizeFilter,
) -> Vec<f32> {
    debug_assert_eq!(src.len(), sw * sh * 3);
    if sw == 0 || sh == 0 {
        return vec![0.0; dw * dh * 3];
    }
    // Vertical pass: each output row is a weighted sum of whole source rows
    // (the same per-pixel order as the crate, so the same rounding).
    let row = sw * 3;
    let mut tmp = vec![0f32; row * dh];
    for (out, t) in tmp.chunks_exact_mut(row).zip(taps(sh, dh, filter)) {
        for (k, &w) in t.weights.iter().enumerate() {
            let s = &src[(t.left + k) * row..][..row];
            for (o, &v) in out.iter_mut().zip(s) {
                *o += unit(v) * w;
            }
        }
    }
    // Horizontal pass, then the crate's clamp to the float range [0, 1].
    let cols = taps(sw, dw, filter);
    let mut dst = vec![0f32; dw * dh * 3];
    for (out, line) in dst.chunks_exact_mut(dw * 3).zip(tmp.chunks_exact(row)) {
        for (px, t) in out.chunks_exact_mut(3).zip(&cols) {
            let s = &line[t.left * 3..];
            let mut acc = [0f32; 3];
            for (k, &w) in t.weights.iter().enumerate() {
                for c in 0..3 {
                    acc[c] += s[k * 3 + c] * w;
                }
            }
            for c in 0..3 {
                // f32::clamp is the crate's clamp (NaN passes through in both).
                px[c] = acc[c].clamp(0.0, 1.0);
            }
        }
    }
    dst
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: u32, h: u32, seed: u32) -> image::Rgb32FImage {
        let mut s = seed;
        image::Rgb32FImage::from_fn(w, h, |_, _| {
            let mut px = [0f32; 3];
            for v in &mut px {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *v = (s >> 24) as f32 / 255.0;
            }
            image::Rgb(px)
        })
    }

    #[test]
    fn equals_the_image_crate_bit_for_bit() {
        // Down by 2 (the users' 640x384 → 320x192), odd ratios, up, one side only, tiny.
        let cases = [
            ((64, 40), (32, 20)),
            ((97, 51), (40, 33)),
            ((30, 20), (71, 45)),
            ((50, 30), (50, 17)),
            ((50, 30), (13, 30)),
            ((1, 1), (5, 3)),
            ((7, 5), (1, 1)),
        ];
        for (i, ((sw, sh), (dw, dh))) in cases.into_iter().enumerate() {
            let img = image(sw, sh, i as u32);
            for (filter, ft) in [
                (
                    ResizeFilter::Bilinear,
                    image::imageops::FilterType::Triangle,
                ),
                (ResizeFilter::Lanczos, image::imageops::FilterType::Lanczos3),
            ] {
                let want = image::imageops::resize(&img, dw, dh, ft).into_raw();
                let got = resize_rgb(
                    img.as_raw(),
                    |v| v,
                    (sw as usize, sh as usize),
                    (dw as usize, dh as usize),
                    filter,
                );
                let same = want
                    .iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(
                    same && want.len() == got.len(),
                    "{sw}x{sh} → {dw}x{dh} {filter:?} differs from imageops::resize"
                );
            }
        }
    }
}
