//! Predictions: raw network outputs ("heads") from an ONNX model (with an
//! on-disk cache) or from a folder of NPU dumps / PNG depth maps.
//!
//! Folder layouts:
//! - single output: `<dir>/<name>.npy`;
//! - dual head: `<dir>/integer_sigmoid/<name>.npy` + `<dir>/fractional_sigmoid/<name>.npy`
//!   (the decoder's dual-head output names);
//! - `<dir>/<name>.npz` with keys `integer_sigmoid`, `fractional_sigmoid` or `depth`;
//! - `<dir>/<name>.png`: 16-bit depth maps, metres × 256 (decode with `depth`).
//!
//! Arrays may be `[H,W]`, `[1,H,W]` or `[1,1,H,W]`, float32, float16 or
//! uint8 (uint8 is multiplied by the folder's `uint8_scale`, 1/255 by default).
//!
//! Cache: one file per sample under
//! `<cache>/eval-predictions/<sha256(model SHA-256, preprocessing)>/<sha256(image path, size, mtime)>.bin`
//! holding every float output of the model, so changing the decoder or the
//! metric settings never runs the network again.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Decoder, DecoderKind};
use crate::dataset::FileStamp;
use crate::preprocess::{parse_npy_typed, PreprocessSettings};
use crate::runtime::infer::Model;

/// One raw output map.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub name: String,
    pub width: usize,
    pub height: usize,
    pub values: Vec<f32>,
}

/// `(height, width)` of an array shaped `[H,W]`, `[1,H,W]` or `[1,1,H,W]`
/// (any leading dimensions of size 1).
pub fn shape_hw(shape: &[usize]) -> Result<(usize, usize), String> {
    match shape {
        [lead @ .., h, w] if lead.iter().all(|&d| d == 1) && *h > 0 && *w > 0 => Ok((*h, *w)),
        _ => {
            let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            Err(format!(
                "shape [{}] is not a depth map; expected [H,W], [1,H,W] or [1,1,H,W]",
                dims.join(",")
            ))
        }
    }
}

/// Reads a `.npy` array as a head.
pub fn read_npy_head(bytes: &[u8], name: &str, uint8_scale: f64) -> Result<Head, String> {
    let (shape, mut values, dtype) = parse_npy_typed(bytes)?;
    let (height, width) = shape_hw(&shape)?;
    if dtype == "|u1" {
        values
            .iter_mut()
            .for_each(|v| *v = (*v as f64 * uint8_scale) as f32);
    }
    Ok(Head {
        name: name.to_string(),
        width,
        height,
        values,
    })
}

/// The arrays of a `.npz` (zip of `<key>.npy`), by key.
pub fn read_npz(path: &Path, uint8_scale: f64) -> Result<BTreeMap<String, Head>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| format!("{} is not a readable .npz (zip): {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| format!("{}: entry {i}: {e}", path.display()))?;
        let name = entry
            .name()
            .map_err(|e| format!("{}: entry {i}: {e}", path.display()))?
            .into_owned();
        let Some(key) = name.strip_suffix(".npy").map(str::to_string) else {
            continue;
        };
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{}: entry {key}: {e}", path.display()))?;
        let head = read_npy_head(&bytes, &key, uint8_scale)
            .map_err(|e| format!("{}: array {key}: {e}", path.display()))?;
        out.insert(key, head);
    }
    Ok(out)
}

/// The files holding one sample's prediction.
#[derive(Debug, Clone, PartialEq)]
pub enum PredictionFiles {
    Npy(PathBuf),
    Npz(PathBuf),
    Png(PathBuf),
    /// Integer and fractional head files.
    Dual(PathBuf, PathBuf),
}

/// A listed prediction folder.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionFolder {
    /// `single`, `dual-head`, `npz`, `png` or `mixed`.
    pub layout: String,
    /// `(name, files)` in name order.
    pub files: Vec<(String, PredictionFiles)>,
    /// Files that cannot be used (a head missing its twin, a name in two formats).
    pub problems: Vec<String>,
}

fn list_dir(dir: &Path) -> Result<Vec<(String, String, PathBuf)>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "cannot list prediction folder {}: {e}; give the folder holding the .npy/.npz/.png files",
            dir.display()
        )
    })?;
    let mut out = Vec::new();
    for e in rd.flatten() {
        let p = e.path();
        if !p.is_file() {
            continue;
        }
        let (Some(stem), Some(ext)) = (p.file_stem(), p.extension()) else {
            continue;
        };
        let ext = ext.to_string_lossy().to_ascii_lowercase();
        if matches!(ext.as_str(), "npy" | "npz" | "png") {
            out.push((stem.to_string_lossy().into_owned(), ext, p.clone()));
        }
    }
    out.sort();
    Ok(out)
}

/// Lists a prediction folder. Dual-head sub-folders (named after the
/// decoder's `integer_output` / `fractional_output`) win when both exist.
pub fn list_folder(dir: &Path, decoder: &Decoder) -> Result<PredictionFolder, String> {
    let (int_dir, frac_dir) = (
        dir.join(&decoder.integer_output),
        dir.join(&decoder.fractional_output),
    );
    let mut problems = Vec::new();
    if int_dir.is_dir() && frac_dir.is_dir() {
        let ints: BTreeMap<String, PathBuf> = list_dir(&int_dir)?
            .into_iter()
            .filter(|f| f.1 == "npy")
            .map(|f| (f.0, f.2))
            .collect();
        let fracs: BTreeMap<String, PathBuf> = list_dir(&frac_dir)?
            .into_iter()
            .filter(|f| f.1 == "npy")
            .map(|f| (f.0, f.2))
            .collect();
        let mut files = Vec::new();
        for (name, ip) in &ints {
            match fracs.get(name) {
                Some(fp) => {
                    files.push((name.clone(), PredictionFiles::Dual(ip.clone(), fp.clone())))
                }
                None => problems.push(format!(
                    "{}: no matching {}/{name}.npy",
                    ip.display(),
                    decoder.fractional_output
                )),
            }
        }
        for (name, fp) in &fracs {
            if !ints.contains_key(name) {
                problems.push(format!(
                    "{}: no matching {}/{name}.npy",
                    fp.display(),
                    decoder.integer_output
                ));
            }
        }
        return Ok(PredictionFolder {
            layout: "dual-head".into(),
            files,
            problems,
        });
    }
    let listed = list_dir(dir)?;
    let mut by_name: BTreeMap<String, Vec<(String, PathBuf)>> = BTreeMap::new();
    for (name, ext, p) in listed {
        by_name.entry(name).or_default().push((ext, p));
    }
    let mut kinds = BTreeSet::new();
    let mut files = Vec::new();
    for (name, mut found) in by_name {
        if found.len() > 1 {
            let list: Vec<String> = found.iter().map(|f| f.1.display().to_string()).collect();
            problems.push(format!(
                "{name}: several prediction files ({}); keep one format per sample",
                list.join(", ")
            ));
            continue;
        }
        let (ext, p) = found.remove(0);
        kinds.insert(ext.clone());
        let f = match ext.as_str() {
            "npy" => PredictionFiles::Npy(p),
            "npz" => PredictionFiles::Npz(p),
            _ => PredictionFiles::Png(p),
        };
        files.push((name, f));
    }
    let layout = match kinds.len() {
        0 => {
            return Err(format!(
            "prediction folder {} holds no .npy, .npz or .png files (nor {}/ and {}/ sub-folders)",
            dir.display(),
            decoder.integer_output,
            decoder.fractional_output
        ))
        }
        1 => match kinds.into_iter().next().unwrap_or_default().as_str() {
            "npy" => "single",
            "npz" => "npz",
            _ => "png",
        }
        .to_string(),
        _ => "mixed".to_string(),
    };
    Ok(PredictionFolder {
        layout,
        files,
        problems,
    })
}

/// The decoder a folder's layout suggests: dual-head sub-folders or npz
/// heads → dual-head; PNG maps or an npz `depth` key → depth.
pub fn suggest_decoder(dir: &Path, decoder: &Decoder) -> Option<DecoderKind> {
    let f = list_folder(dir, decoder).ok()?;
    match f.layout.as_str() {
        "dual-head" => Some(DecoderKind::DualHead),
        "png" => Some(DecoderKind::Depth),
        "npz" => {
            let (_, PredictionFiles::Npz(p)) = f.files.first()? else {
                return None;
            };
            let keys = read_npz(p, 1.0 / 255.0).ok()?;
            if keys.contains_key(&decoder.integer_output)
                && keys.contains_key(&decoder.fractional_output)
            {
                Some(DecoderKind::DualHead)
            } else if keys.contains_key("depth") {
                Some(DecoderKind::Depth)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Loads one sample's heads, in the decoder's order.
pub fn load_files(
    files: &PredictionFiles,
    decoder: &Decoder,
    uint8_scale: f64,
) -> Result<Vec<Head>, String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
    let npy = |p: &Path, name: &str| {
        read_npy_head(&read(p)?, name, uint8_scale).map_err(|e| format!("{}: {e}", p.display()))
    };
    let dual = decoder.kind == DecoderKind::DualHead;
    let heads = match files {
        PredictionFiles::Dual(i, f) => {
            if !dual {
                return Err(format!(
                    "{} holds dual-head predictions; use the dual-head decoder",
                    i.parent()
                        .and_then(Path::parent)
                        .unwrap_or(Path::new("."))
                        .display()
                ));
            }
            vec![
                npy(i, &decoder.integer_output)?,
                npy(f, &decoder.fractional_output)?,
            ]
        }
        PredictionFiles::Npy(p) => {
            if dual {
                return Err(format!(
                    "{} is a single array; the dual-head decoder needs {}/ and {}/ sub-folders or .npz files with both keys",
                    p.display(),
                    decoder.integer_output,
                    decoder.fractional_output
                ));
            }
            vec![npy(p, "output")?]
        }
        PredictionFiles::Png(p) => {
            let d = crate::depth::load_depth(p, crate::depth::DepthEncoding::Kitti)
                .map_err(|e| e.to_string())?;
            vec![Head {
                name: "depth".into(),
                width: d.width as usize,
                height: d.height as usize,
                values: d.metres,
            }]
        }
        PredictionFiles::Npz(p) => {
            let mut keys = read_npz(p, uint8_scale)?;
            let mut take = |k: &str| {
                keys.remove(k)
                    .ok_or_else(|| format!("{} has no array {k}", p.display()))
            };
            if dual {
                vec![
                    take(&decoder.integer_output)?,
                    take(&decoder.fractional_output)?,
                ]
            } else if let Some(o) = &decoder.output {
                vec![take(o)?]
            } else if let Ok(d) = take("depth") {
                vec![d]
            } else if keys.len() == 1 {
                keys.into_values().collect()
            } else {
                let names: Vec<&str> = keys.keys().map(String::as_str).collect();
                return Err(format!(
                    "{} holds arrays {} and no `depth`; name the one to read with the decoder's output option",
                    p.display(),
                    names.join(", ")
                ));
            }
        }
    };
    if let [a, b] = heads.as_slice() {
        if (a.width, a.height) != (b.width, b.height) {
            return Err(format!(
                "heads {} ({}x{}) and {} ({}x{}) differ in size",
                a.name, a.width, a.height, b.name, b.width, b.height
            ));
        }
    }
    Ok(heads)
}

/// Picks the decoder's heads out of all model outputs.
pub fn select_heads<'a>(all: &'a [Head], decoder: &Decoder) -> Result<Vec<&'a Head>, String> {
    let take = |n: &str| {
        all.iter().find(|h| h.name == n).ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|h| h.name.as_str()).collect();
            format!(
                "the model has no output {n} (outputs: {})",
                names.join(", ")
            )
        })
    };
    if decoder.kind == DecoderKind::DualHead {
        return Ok(vec![
            take(&decoder.integer_output)?,
            take(&decoder.fractional_output)?,
        ]);
    }
    match &decoder.output {
        Some(o) => Ok(vec![take(o)?]),
        None => all
            .first()
            .map(|h| vec![h])
            .ok_or_else(|| "the model gave no float output".into()),
    }
}

/// Checks up front that the model has the outputs the decoder reads.
pub fn check_outputs(outputs: &[String], decoder: &Decoder) -> Result<(), String> {
    let want: Vec<&str> = match (decoder.kind, &decoder.output) {
        (DecoderKind::DualHead, _) => vec![&decoder.integer_output, &decoder.fractional_output],
        (_, Some(o)) => vec![o.as_str()],
        (_, None) if outputs.len() > 1 => {
            return Err(format!(
                "the model has {} outputs ({}); name the one to decode (--output), or use the dual-head decoder",
                outputs.len(),
                outputs.join(", ")
            ))
        }
        _ => vec![],
    };
    for w in want {
        if !outputs.iter().any(|o| o == w) {
            return Err(format!(
                "the model has no output {w} (outputs: {}); set the output names to match",
                outputs.join(", ")
            ));
        }
    }
    Ok(())
}

/// SHA-256 of a file, hex.
pub fn file_sha256(path: &Path) -> Result<String, String> {
    let mut f =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// An ONNX model with its preprocessing, producing heads from image files.
pub struct Network {
    model: Model,
    pub preprocess: PreprocessSettings,
    pub outputs: Vec<String>,
}

impl Network {
    pub fn load(path: &Path, preprocess: Option<PreprocessSettings>) -> Result<Self, String> {
        let preprocess = match preprocess {
            Some(p) => p,
            None => {
                let proto = crate::onnx::load(path).map_err(|e| e.to_string())?;
                PreprocessSettings::from_model(&crate::onnx::summarize(&proto), None)
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
        };
        preprocess.validate().map_err(|e| e.to_string())?;
        let bytes =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        // The loader and metrics threads share the cores with inference.
        let model = Model::from_bytes_without_spinning(&bytes)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let outputs = model.output_names();
        Ok(Self {
            model,
            preprocess,
            outputs,
        })
    }

    /// Reads and preprocesses one image (the loader stage).
    pub fn input(&self, image: &Path) -> Result<Vec<f32>, String> {
        let bytes = std::fs::read(image)
            .map_err(|e| format!("cannot read image {}: {e}", image.display()))?;
        self.preprocess
            .tensor_from_image_bytes(&bytes, image)
            .map_err(|e| e.to_string())
    }

    /// Runs the network on one input tensor; every float output becomes a head.
    pub fn run(&mut self, tensor: Vec<f32>) -> Result<Vec<Head>, String> {
        let shape = self.preprocess.input_shape();
        let mut heads = Vec::new();
        let mut bad = None;
        self.model
            .run_with(&self.preprocess.input_name, &shape, tensor, |outs| {
                for (name, shape, vals) in outs {
                    let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
                    match shape_hw(&dims) {
                        Ok((height, width)) => heads.push(Head {
                            name: name.to_string(),
                            width,
                            height,
                            values: vals.to_vec(),
                        }),
                        Err(e) => bad = Some(format!("output {name}: {e}")),
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        if heads.is_empty() {
            return Err(bad.unwrap_or_else(|| "the model gave no float output".into()));
        }
        Ok(heads)
    }
}

/// The on-disk prediction cache of one (model, preprocessing) pair.
#[derive(Debug, Clone)]
pub struct PredictionCache {
    pub dir: PathBuf,
}

const CACHE_MAGIC: &[u8; 8] = b"CSPRED1\n";

impl PredictionCache {
    /// The cache folder for a model (by SHA-256) and preprocessing under `root`.
    pub fn new(root: &Path, model_sha256: &str, preprocess: &PreprocessSettings) -> Self {
        let mut h = Sha256::new();
        h.update(model_sha256.as_bytes());
        h.update(b"\0");
        h.update(
            serde_json::to_string(preprocess)
                .unwrap_or_default()
                .as_bytes(),
        );
        let key = format!("{:x}", h.finalize());
        Self {
            dir: root.join("eval-predictions").join(&key[..32]),
        }
    }

    /// The cache file of a sample: its image's path, size and modification time.
    pub fn entry(&self, image: &Path, stamp: &FileStamp) -> PathBuf {
        let mut h = Sha256::new();
        h.update(image.as_os_str().as_encoded_bytes());
        h.update(stamp.size.to_le_bytes());
        h.update(stamp.mtime_ns.to_le_bytes());
        let key = format!("{:x}", h.finalize());
        self.dir.join(format!("{}.bin", &key[..40]))
    }

    /// Reads a cache entry; `None` when absent or unreadable (then the network runs).
    pub fn load(&self, entry: &Path) -> Option<Vec<Head>> {
        let bytes = std::fs::read(entry).ok()?;
        decode_cache(&bytes)
    }

    /// Writes a cache entry atomically.
    pub fn store(&self, entry: &Path, heads: &[Head]) -> std::io::Result<()> {
        let mut out =
            Vec::with_capacity(16 + heads.iter().map(|h| h.values.len() * 4 + 64).sum::<usize>());
        out.extend_from_slice(CACHE_MAGIC);
        out.extend_from_slice(&(heads.len() as u32).to_le_bytes());
        for h in heads {
            out.extend_from_slice(&(h.name.len() as u32).to_le_bytes());
            out.extend_from_slice(h.name.as_bytes());
            out.extend_from_slice(&(h.height as u32).to_le_bytes());
            out.extend_from_slice(&(h.width as u32).to_le_bytes());
            for v in &h.values {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        crate::fsutil::write_atomic(entry, &out)
    }
}

fn decode_cache(b: &[u8]) -> Option<Vec<Head>> {
    let mut pos = 8;
    if b.get(..8)? != CACHE_MAGIC {
        return None;
    }
    let u32_at = |pos: &mut usize| -> Option<usize> {
        let v = u32::from_le_bytes(b.get(*pos..*pos + 4)?.try_into().ok()?);
        *pos += 4;
        Some(v as usize)
    };
    let n = u32_at(&mut pos)?;
    let mut heads = Vec::with_capacity(n.min(16));
    for _ in 0..n {
        let len = u32_at(&mut pos)?;
        let name = std::str::from_utf8(b.get(pos..pos + len)?)
            .ok()?
            .to_string();
        pos += len;
        let height = u32_at(&mut pos)?;
        let width = u32_at(&mut pos)?;
        let count = height.checked_mul(width)?;
        let raw = b.get(pos..pos + count.checked_mul(4)?)?;
        pos += count * 4;
        let values = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        heads.push(Head {
            name,
            width,
            height,
            values,
        });
    }
    (pos == b.len()).then_some(heads)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_cache_round_trip() {
        assert_eq!(shape_hw(&[1, 1, 4, 6]), Ok((4, 6)));
        assert_eq!(shape_hw(&[4, 6]), Ok((4, 6)));
        assert!(shape_hw(&[2, 4, 6]).is_err());
        let dir = tempfile::tempdir().unwrap();
        let c = PredictionCache::new(dir.path(), "abc", &PreprocessSettings::default());
        let e = c.entry(
            Path::new("/x/a.png"),
            &FileStamp {
                size: 3,
                mtime_ns: 9,
            },
        );
        let heads = vec![Head {
            name: "depth_sigmoid".into(),
            width: 3,
            height: 2,
            values: vec![0.0, 0.5, 1.0, 0.25, 0.75, 0.125],
        }];
        assert!(c.load(&e).is_none());
        c.store(&e, &heads).unwrap();
        assert_eq!(c.load(&e), Some(heads));
        // A truncated entry is a miss, not a crash.
        let b = std::fs::read(&e).unwrap();
        std::fs::write(&e, &b[..b.len() - 3]).unwrap();
        assert!(c.load(&e).is_none());
    }
}
