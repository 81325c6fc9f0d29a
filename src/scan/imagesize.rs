//! An RGB image's width and height from its header bytes alone.
//!
//! A scan needs only the size of each image. PNG keeps it at a fixed place
//! in the first 24 bytes; JPEG in its frame header (SOFn), after a few
//! marker segments that are skipped by their lengths. Anything unusual goes
//! through the `image` crate's header reader, which also gives the error
//! message when the file is unreadable.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// The image's size from its header only (PNG or JPEG, by content).
pub(crate) fn image_size(path: &Path) -> Result<(u32, u32), String> {
    if let Ok(Some(size)) = fast_size(path) {
        return Ok(size);
    }
    image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .into_dimensions()
        .map_err(|e| e.to_string())
}

/// `Ok(None)` when the header is not one this reader is sure about.
fn fast_size(path: &Path) -> std::io::Result<Option<(u32, u32)>> {
    let mut f = File::open(path)?;
    let mut head = [0u8; 24];
    let n = read_head(&mut f, &mut head)?;
    if n == 24 && head[..8] == *b"\x89PNG\r\n\x1a\n" && head[12..16] == *b"IHDR" {
        let w = u32::from_be_bytes([head[16], head[17], head[18], head[19]]);
        let h = u32::from_be_bytes([head[20], head[21], head[22], head[23]]);
        return Ok((w > 0 && h > 0).then_some((w, h)));
    }
    if n >= 2 && head[..2] == [0xff, 0xd8] {
        f.seek(SeekFrom::Start(2))?;
        return Ok(jpeg_frame_size(&mut BufReader::with_capacity(4096, f)));
    }
    Ok(None)
}

fn read_head(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Walks a JPEG's marker segments (just after SOI) to the first frame
/// header and returns its width and height. `None` on anything unexpected:
/// a missing marker, scan data before a frame header, a height left to a
/// DNL marker, too many segments, or the file ending early.
fn jpeg_frame_size<R: BufRead + Seek>(r: &mut R) -> Option<(u32, u32)> {
    let byte = |r: &mut R| -> Option<u8> {
        let mut b = [0u8; 1];
        r.read_exact(&mut b).ok().map(|_| b[0])
    };
    // EXIF, ICC and comment segments come first; real files have a handful.
    for _ in 0..256 {
        if byte(r)? != 0xff {
            return None;
        }
        let mut marker = byte(r)?;
        while marker == 0xff {
            marker = byte(r)?; // fill bytes
        }
        match marker {
            // Stand-alone markers carry no length.
            0x01 | 0xd0..=0xd7 => continue,
            // Image end, scan start or a second image start before any frame header.
            0xd8..=0xda => return None,
            _ => {}
        }
        let len = u16::from_be_bytes([byte(r)?, byte(r)?]);
        if len < 2 {
            return None;
        }
        // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
        if matches!(marker, 0xc0..=0xcf) && !matches!(marker, 0xc4 | 0xc8 | 0xcc) {
            let mut sof = [0u8; 5];
            r.read_exact(&mut sof).ok()?;
            let h = u16::from_be_bytes([sof[1], sof[2]]) as u32;
            let w = u16::from_be_bytes([sof[3], sof[4]]) as u32;
            return (w > 0 && h > 0).then_some((w, h));
        }
        r.seek_relative(i64::from(len) - 2).ok()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the `image` crate reads: the reference for every case here.
    fn reference(path: &Path) -> (u32, u32) {
        image::ImageReader::open(path)
            .unwrap()
            .with_guessed_format()
            .unwrap()
            .into_dimensions()
            .unwrap()
    }

    fn write_jpeg(path: &Path, w: u32, h: u32) {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        img.save_with_format(path, image::ImageFormat::Jpeg)
            .unwrap();
    }

    /// A 3×2 progressive (SOF2) JPEG written by Pillow
    /// (`Image.new('L', (3, 2), 128).save(..., progressive=True, quality=10, optimize=True)`).
    const PROGRESSIVE_3X2: [&str; 6] = [
        "ffd8ffe000104a46494600010100000100010000ffdb00430050373c463c32504641465a55505f78c882786e6e78f5af",
        "b991c8ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffc2000b080002",
        "000301011100ffc40014000100000000000000000000000000000000ffda00080101000000017fffc400141001000000",
        "00000000000000000000000000ffda00080101000105027fffc40014100100000000000000000000000000000000ffda",
        "0008010100063f027fffc40014100100000000000000000000000000000000ffda0008010100013f217fffda00080101",
        "000000107fffc40014100100000000000000000000000000000000ffda0008010100013f107fffd9",
    ];

    fn unhex(parts: &[&str]) -> Vec<u8> {
        let s: String = parts.concat();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn png_and_baseline_jpeg_sizes_from_headers() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("a.png");
        image::RgbImage::new(37, 11).save(&png).unwrap();
        assert_eq!(fast_size(&png).unwrap(), Some((37, 11)));
        assert_eq!(image_size(&png).unwrap(), reference(&png));

        let jpg = dir.path().join("b.jpg");
        write_jpeg(&jpg, 641, 383);
        assert_eq!(fast_size(&jpg).unwrap(), Some((641, 383)));
        assert_eq!(image_size(&jpg).unwrap(), reference(&jpg));
    }

    #[test]
    fn progressive_jpeg_with_segments_before_the_frame_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.jpg");
        let bytes = unhex(&PROGRESSIVE_3X2);
        // JFIF, DQT, then SOF2.
        assert!(bytes.windows(2).any(|w| w == [0xff, 0xc2]));
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(fast_size(&p).unwrap(), Some((3, 2)));
        assert_eq!(image_size(&p).unwrap(), reference(&p));

        // A big APP1 segment (EXIF-sized) in front is skipped by its length.
        let mut padded = bytes[..2].to_vec();
        padded.extend_from_slice(&[0xff, 0xe1, 0xff, 0xf0]);
        padded.extend(std::iter::repeat_n(0xab, 0xfff0 - 2));
        padded.extend_from_slice(&bytes[2..]);
        std::fs::write(&p, &padded).unwrap();
        assert_eq!(fast_size(&p).unwrap(), Some((3, 2)));
        assert_eq!(image_size(&p).unwrap(), reference(&p));
    }

    #[test]
    fn truncated_or_odd_files_fall_back_and_give_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let jpg = dir.path().join("t.jpg");
        write_jpeg(&jpg, 64, 48);
        let bytes = std::fs::read(&jpg).unwrap();
        let sof = bytes.windows(2).position(|w| w == [0xff, 0xc0]).unwrap();
        // Every cut before the frame header is complete: no size, a clear error.
        for cut in [1, 2, 3, 10, sof, sof + 4, sof + 8] {
            std::fs::write(&jpg, &bytes[..cut]).unwrap();
            assert_eq!(fast_size(&jpg).unwrap(), None, "cut at {cut}");
            let e = image_size(&jpg).unwrap_err();
            assert!(!e.is_empty(), "cut at {cut}");
        }
        let png = dir.path().join("t.png");
        std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0").unwrap();
        assert_eq!(fast_size(&png).unwrap(), None);
        assert!(image_size(&png).is_err());
        let junk = dir.path().join("junk.jpg");
        std::fs::write(&junk, b"hello").unwrap();
        assert!(image_size(&junk).is_err());
        assert!(image_size(&dir.path().join("missing.png")).is_err());
    }
}
