//! Reading depth files and decoding their PNG samples: whole frames (for
//! display) or row by row straight into the counts (for a scan).

use std::io::Cursor;
use std::path::Path;

use super::count::DepthCounts;
use super::DepthError;

/// A decoded PNG's raw samples: big-endian u16 pairs or single bytes.
pub(super) struct Raw<'a> {
    pub width: u32,
    pub height: u32,
    pub sixteen: bool,
    pub bytes: &'a [u8],
}

type Reader<'f> = png::Reader<Cursor<&'f [u8]>>;

/// The png crate's errors in our words: a file ending early is truncated,
/// anything else is corrupt.
fn png_error(path: &Path) -> impl Fn(png::DecodingError) -> DepthError + '_ {
    move |e| match e {
        png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            DepthError::Truncated {
                path: path.display().to_string(),
            }
        }
        other => DepthError::Corrupt {
            path: path.display().to_string(),
            reason: other.to_string(),
        },
    }
}

fn too_large(path: &Path) -> DepthError {
    DepthError::Unsupported {
        path: path.display().to_string(),
        what: "too large to decode".into(),
    }
}

/// The one place a depth PNG's decoder is set up: reads the header and
/// accepts 8- or 16-bit greyscale only. Returns the reader and whether
/// samples are 16-bit.
fn open<'f>(path: &Path, file: &'f [u8]) -> Result<(Reader<'f>, bool), DepthError> {
    let reader = png::Decoder::new(Cursor::new(file))
        .read_info()
        .map_err(png_error(path))?;
    let sixteen = match reader.output_color_type() {
        (png::ColorType::Grayscale, png::BitDepth::Sixteen) => true,
        (png::ColorType::Grayscale, png::BitDepth::Eight) => false,
        (c, b) => {
            return Err(DepthError::Unsupported {
                path: path.display().to_string(),
                what: format!("{c:?} with {} bits per sample", b as u8),
            })
        }
    };
    Ok((reader, sixteen))
}

/// Decodes a whole frame into `pixels` (resized, never cleared: the
/// decoder overwrites every byte).
fn whole_frame<'a>(
    path: &Path,
    mut reader: Reader<'_>,
    sixteen: bool,
    pixels: &'a mut Vec<u8>,
) -> Result<Raw<'a>, DepthError> {
    let size = reader.output_buffer_size().ok_or_else(|| too_large(path))?;
    pixels.resize(size, 0);
    let info = reader.next_frame(pixels).map_err(png_error(path))?;
    Ok(Raw {
        width: info.width,
        height: info.height,
        sixteen,
        bytes: &pixels[..info.buffer_size()],
    })
}

/// Decodes a whole depth PNG held in `file`.
pub(super) fn decode<'a>(
    path: &Path,
    file: &[u8],
    pixels: &'a mut Vec<u8>,
) -> Result<Raw<'a>, DepthError> {
    let (reader, sixteen) = open(path, file)?;
    whole_frame(path, reader, sixteen, pixels)
}

/// Decodes row by row straight into the counts, so the decoded map never
/// leaves the CPU cache; interlaced files go through a whole frame.
pub(super) fn count_png(
    path: &Path,
    file: &[u8],
    buf: &mut Vec<u8>,
    counts: &mut DepthCounts,
) -> Result<(u32, u32), DepthError> {
    let (mut reader, sixteen) = open(path, file)?;
    let info = reader.info();
    let (w, h, interlaced) = (info.width, info.height, info.interlaced);
    if interlaced {
        let raw = whole_frame(path, reader, sixteen, buf)?;
        if raw.sixteen {
            counts.add_be16(raw.bytes);
        } else {
            counts.add_u8(raw.bytes);
        }
        return Ok((raw.width, raw.height));
    }
    let line = reader.output_line_size(w).ok_or_else(|| too_large(path))?;
    if buf.len() < line {
        buf.resize(line, 0);
    }
    let row = &mut buf[..line];
    while reader.read_row(row).map_err(png_error(path))?.is_some() {
        if sixteen {
            counts.add_be16(row);
        } else {
            counts.add_u8(row);
        }
    }
    Ok((w, h))
}

/// Reads a whole file into `buf` and returns its length: the file is
/// `buf[..len]` (bytes past it are left from earlier files, so a reused
/// buffer is never cleared or zero-filled again). With the size already
/// known (the scan stat-ed the file) one `read` of size + 1 bytes does it:
/// a single read returning exactly the size means the file is whole, and
/// the extra byte shows a file that has grown since, which is then read on
/// to its end. After short reads, one more read makes sure of the end.
pub(super) fn read_into(
    path: &Path,
    buf: &mut Vec<u8>,
    size_hint: Option<u64>,
) -> Result<usize, DepthError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
