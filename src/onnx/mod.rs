//! ONNX model I/O: load (with external data files), summarise, edit, save.
//!
//! The protobuf types are generated at build time from the vendored
//! `proto/onnx.proto` (see `build.rs`); this module adds what calibscope needs
//! on top: clear errors for files that are not models, tensor data in and out
//! as plain vectors, and atomic saving.

mod summary;
mod tensor;

use std::path::{Path, PathBuf};

use prost::Message;

pub use summary::{dims_text, summarize, Dim, IoInfo, ModelSummary};
pub use tensor::{
    attr_float, attr_int, attr_ints, attr_str, make_attr_int, make_attr_ints, tensor_from_f32,
    tensor_from_i32, tensor_from_i8, tensor_from_u8, tensor_to_f32, tensor_to_i64, DataType,
};

/// The generated ONNX protobuf types (`onnx.proto`, Apache-2.0, vendored in `proto/`).
#[allow(clippy::all, missing_docs)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/onnx.rs"));
}

pub use proto::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    ValueInfoProto,
};

#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("cannot read model {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not an ONNX model ({reason}); pick the exported .onnx file")]
    NotOnnx { path: PathBuf, reason: String },
    #[error("{path}: external data file {file} for tensor {tensor} cannot be used ({reason}); keep the data file beside the model")]
    ExternalData {
        path: PathBuf,
        tensor: String,
        file: String,
        reason: String,
    },
    #[error("cannot write model {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Reads an ONNX model. Tensors stored in external data files (relative to the
/// model's folder) are read in, so the returned model is self-contained.
/// External data outside the model's folder is refused (see [`load_with`]).
pub fn load(path: &Path) -> Result<ModelProto, OnnxError> {
    load_with(path, false)
}

/// [`load`]; with `allow_outside`, external data files may lie outside the
/// model's folder (the user opted in, e.g. weights kept on another disk).
/// Reads stay bounded by the file's and the tensor's size either way.
pub fn load_with(path: &Path, allow_outside: bool) -> Result<ModelProto, OnnxError> {
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut model = decode(&bytes).map_err(|reason| OnnxError::NotOnnx {
        path: path.to_path_buf(),
        reason,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    if let Some(g) = model.graph.as_mut() {
        for t in &mut g.initializer {
            load_external(t, base, allow_outside).map_err(|(file, reason)| {
                OnnxError::ExternalData {
                    path: path.to_path_buf(),
                    tensor: t.name().to_string(),
                    file,
                    reason,
                }
            })?;
        }
    }
    Ok(model)
}

/// Decodes model bytes, rejecting data that parses but is no model (protobuf
/// is permissive: many random files decode to an empty message).
pub fn decode(bytes: &[u8]) -> Result<ModelProto, String> {
    let model = ModelProto::decode(bytes).map_err(|e| {
        format!("protobuf decoding failed: {e}; the file may be truncated or of another kind")
    })?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| "no graph in the file".to_string())?;
    if model.ir_version.is_none() || graph.node.is_empty() {
        return Err("no IR version or no nodes".into());
    }
    if model.opset_import.is_empty() {
        return Err("no opset import".into());
    }
    Ok(model)
}

const EXTERNAL: i32 = proto::tensor_proto::DataLocation::External as i32;

/// Bytes per element of an ONNX tensor data type, for the types whose
/// elements are whole bytes (strings and packed 4-bit types are not).
fn element_size(data_type: i32) -> Option<u64> {
    Some(match data_type {
        2 | 3 | 9 | 17..=20 => 1,
        4 | 5 | 10 | 16 => 2,
        1 | 6 | 12 => 4,
        7 | 11 | 13 | 14 => 8,
        15 => 16,
        _ => return None,
    })
}

/// The size in bytes a tensor's dims and type call for (None when it
/// overflows or the type has no fixed element size).
fn tensor_bytes(t: &TensorProto) -> Option<u64> {
    let mut n: u64 = element_size(t.data_type())?;
    for &d in &t.dims {
        n = n.checked_mul(u64::try_from(d).ok()?)?;
    }
    Some(n)
}

/// Where an external data file really is: inside the model's folder after
/// links are resolved, as the onnx library requires, or an error saying why not.
fn external_file(base: &Path, location: &str, allow_outside: bool) -> Result<PathBuf, String> {
    let rel = Path::new(location);
    if allow_outside && !location.is_empty() {
        return Ok(base.join(rel));
    }
    if location.is_empty()
        || rel.is_absolute()
        || rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "the location {location:?} leaves the model's folder; external data must be a file name or a path below the model's folder (or pass --allow-external-data-outside)"
        ));
    }
    let full = base.join(rel);
    let (real, real_base) = match (full.canonicalize(), base.canonicalize()) {
        (Ok(r), Ok(b)) => (r, b),
        (Err(e), _) | (_, Err(e)) => return Err(e.to_string()),
    };
    if !real.starts_with(&real_base) {
        return Err(format!(
            "{location} is a link to {}, outside the model's folder; copy the data file into the model's folder (or pass --allow-external-data-outside)",
            real.display()
        ));
    }
    Ok(real)
}

/// Reads one external tensor: only its `offset`/`length` bytes, checked
/// against the file's size and the size the tensor's dims call for, so a
/// bad location or offset cannot make us read gigabytes (or `/dev/zero`).
fn load_external(
    t: &mut TensorProto,
    base: &Path,
    allow_outside: bool,
) -> Result<(), (String, String)> {
    use std::io::{Read, Seek, SeekFrom};
    if t.data_location != Some(EXTERNAL) {
        return Ok(());
    }
    let get = |k: &str| {
        t.external_data
            .iter()
            .find(|e| e.key() == k)
            .map(|e| e.value().to_string())
    };
    let file = get("location").ok_or_else(|| (String::new(), "no location".to_string()))?;
    let err = |reason: String| (file.clone(), reason);
    let number = |k: &str| -> Result<Option<u64>, (String, String)> {
        match get(k) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| err(format!("{k} {v:?} is not a byte count"))),
        }
    };
    let offset = number("offset")?.unwrap_or(0);
    let length = number("length")?;
    let want = tensor_bytes(t).ok_or_else(|| {
        err("the tensor's type or dims give no byte size; only numeric tensors can be stored externally".into())
    })?;
    if let Some(l) = length {
        if l != want {
            return Err(err(format!(
                "length {l} does not match the {want} bytes of the tensor's dims and type"
            )));
        }
    }
    let path = external_file(base, &file, allow_outside).map_err(err)?;
    // Checked before opening: opening a pipe would block, a device never ends.
    let meta = std::fs::metadata(&path).map_err(|e| err(e.to_string()))?;
    if !meta.is_file() {
        return Err(err("it is not a regular file".into()));
    }
    let mut f = std::fs::File::open(&path).map_err(|e| err(e.to_string()))?;
    let end = offset
        .checked_add(want)
        .filter(|&e| e <= meta.len())
        .ok_or_else(|| {
            err(format!(
                "needs bytes {offset}..{} but the file has {}",
                offset.saturating_add(want),
                meta.len()
            ))
        })?;
    let len = usize::try_from(end - offset).map_err(|e| err(e.to_string()))?;
    let mut data = vec![0u8; len];
    f.seek(SeekFrom::Start(offset))
        .and_then(|_| f.read_exact(&mut data))
        .map_err(|e| err(e.to_string()))?;
    t.raw_data = Some(data);
    t.external_data.clear();
    t.data_location = None;
    Ok(())
}

/// Serialises a model to bytes.
pub fn encode(model: &ModelProto) -> Vec<u8> {
    model.encode_to_vec()
}

/// Writes a model atomically (temporary name, then rename): a failed or
/// cancelled save never leaves a partial `.onnx` behind.
pub fn save(model: &ModelProto, path: &Path) -> Result<(), OnnxError> {
    crate::fsutil::write_atomic(path, &encode(model)).map_err(|source| OnnxError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The default-domain opset version of a model (`ai.onnx`).
pub fn opset_version(model: &ModelProto) -> Option<i64> {
    model
        .opset_import
        .iter()
        .find(|o| o.domain().is_empty() || o.domain() == "ai.onnx")
        .map(|o| o.version())
}

/// A model of `graph` in the default operator domain at `opset`, IR
/// version 7 (what ONNX Runtime reads for every opset used here).
pub fn make_model(graph: GraphProto, opset: i64) -> ModelProto {
    ModelProto {
        ir_version: Some(7),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        graph: Some(graph),
        ..Default::default()
    }
}

/// Makes a node.
pub fn make_node(
    op_type: &str,
    inputs: &[&str],
    outputs: &[&str],
    name: &str,
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        op_type: Some(op_type.to_string()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        name: Some(name.to_string()),
        attribute: attrs,
        ..Default::default()
    }
}

/// A float32 graph output / value info with unknown shape.
pub fn make_value_info(name: &str, elem_type: DataType) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(proto::TypeProto {
            value: Some(proto::type_proto::Value::TensorType(
                proto::type_proto::Tensor {
                    elem_type: Some(elem_type as i32),
                    shape: None,
                },
            )),
            denotation: None,
        }),
        ..Default::default()
    }
}

/// A value info with a fixed shape, e.g. a graph input `[1, 3, H, W]`.
pub fn make_shaped_value_info(name: &str, elem_type: DataType, dims: &[i64]) -> ValueInfoProto {
    let mut v = make_value_info(name, elem_type);
    if let Some(proto::type_proto::Value::TensorType(t)) =
        v.r#type.as_mut().and_then(|t| t.value.as_mut())
    {
        t.shape = Some(proto::TensorShapeProto {
            dim: dims
                .iter()
                .map(|&d| proto::tensor_shape_proto::Dimension {
                    value: Some(proto::tensor_shape_proto::dimension::Value::DimValue(d)),
                    denotation: None,
                })
                .collect(),
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny_model() -> ModelProto {
        let w = tensor_from_f32("w", &[2, 1, 1, 1], &[0.5, -2.0]);
        let node = make_node("Conv", &["x", "w"], &["y"], "conv0", vec![]);
        let inp = make_shaped_value_info("x", DataType::Float, &[1, 1, 4, 4]);
        let graph = GraphProto {
            node: vec![node],
            name: Some("g".into()),
            initializer: vec![w],
            input: vec![inp],
            output: vec![make_value_info("y", DataType::Float)],
            ..Default::default()
        };
        make_model(graph, 13)
    }

    #[test]
    fn save_load_round_trip_and_summary() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("m.onnx");
        let m = tiny_model();
        save(&m, &p).unwrap();
        let back = load(&p).unwrap();
        assert_eq!(back, m);
        let s = summarize(&back);
        assert_eq!(s.opset, Some(13));
        assert_eq!(s.parameter_count, 2);
        assert_eq!(s.op_counts.get("Conv"), Some(&1));
        assert_eq!(
            s.inputs[0].dims,
            vec![Dim::Fixed(1), Dim::Fixed(1), Dim::Fixed(4), Dim::Fixed(4)]
        );
    }

    #[test]
    fn not_onnx_and_truncated_are_clear_errors() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.onnx");
        std::fs::write(&p, b"hello, I am a text file\n").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("is not an ONNX model"), "{e}");
        let bytes = encode(&tiny_model());
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("is not an ONNX model"), "{e}");
    }

    #[test]
    fn external_data_is_read_in() {
        let t = tempfile::tempdir().unwrap();
        let mut m = tiny_model();
        let w = &mut m.graph.as_mut().unwrap().initializer[0];
        let raw = w.raw_data.take().unwrap();
        let mut file = vec![0u8; 16];
        file.extend_from_slice(&raw);
        std::fs::write(t.path().join("m.data"), &file).unwrap();
        w.data_location = Some(EXTERNAL);
        let kv = |k: &str, v: &str| proto::StringStringEntryProto {
            key: Some(k.into()),
            value: Some(v.into()),
        };
        w.external_data = vec![
            kv("location", "m.data"),
            kv("offset", "16"),
            kv("length", &raw.len().to_string()),
        ];
        let p = t.path().join("m.onnx");
        save(&m, &p).unwrap();
        let back = load(&p).unwrap();
        let w = &back.graph.as_ref().unwrap().initializer[0];
        assert_eq!(tensor_to_f32(w).unwrap(), vec![0.5, -2.0]);
        std::fs::remove_file(t.path().join("m.data")).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("m.data"), "{e}");
    }

    /// A model in `dir` whose weight `w` (2 floats) is stored externally
    /// with the given entries; returns the model's path.
    fn external_model(dir: &Path, entries: &[(&str, &str)]) -> PathBuf {
        let mut m = tiny_model();
        let w = &mut m.graph.as_mut().unwrap().initializer[0];
        w.raw_data = None;
        w.data_location = Some(EXTERNAL);
        w.external_data = entries
            .iter()
            .map(|(k, v)| proto::StringStringEntryProto {
                key: Some((*k).into()),
                value: Some((*v).into()),
            })
            .collect();
        let p = dir.join("m.onnx");
        save(&m, &p).unwrap();
        p
    }

    fn weights(p: &Path) -> Result<Vec<f32>, String> {
        let m = load(p).map_err(|e| e.to_string())?;
        tensor_to_f32(&m.graph.unwrap().initializer[0])
    }

    #[test]
    fn external_data_outside_the_models_folder_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let models = t.path().join("models");
        std::fs::create_dir(&models).unwrap();
        let secret: Vec<u8> = [0.5f32, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let outside = t.path().join("secret.bin");
        std::fs::write(&outside, &secret).unwrap();
        for loc in [
            "../secret.bin",
            outside.to_str().unwrap(),
            "./../secret.bin",
        ] {
            let p = external_model(&models, &[("location", loc), ("length", "8")]);
            let e = weights(&p).unwrap_err();
            assert!(e.contains("leaves the model's folder"), "{loc}: {e}");
            // The user's opt-in reads it (still bounded).
            let m = load_with(&p, true).unwrap();
            let w = tensor_to_f32(&m.graph.unwrap().initializer[0]).unwrap();
            assert_eq!(w, vec![0.5, -2.0]);
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&outside, models.join("link.bin")).unwrap();
            let p = external_model(&models, &[("location", "link.bin")]);
            let e = weights(&p).unwrap_err();
            assert!(e.contains("outside the model's folder"), "{e}");
            // A link that stays inside the folder is fine.
            std::fs::write(models.join("w.bin"), &secret).unwrap();
            std::os::unix::fs::symlink(models.join("w.bin"), models.join("in.bin")).unwrap();
            let p = external_model(&models, &[("location", "in.bin")]);
            assert_eq!(weights(&p).unwrap(), vec![0.5, -2.0]);
        }
    }

    #[test]
    fn external_data_reads_only_the_tensors_bytes() {
        let t = tempfile::tempdir().unwrap();
        let mut file = vec![7u8; 16];
        file.extend([0.5f32, -2.0].iter().flat_map(|v| v.to_le_bytes()));
        file.extend(vec![9u8; 1000]);
        std::fs::write(t.path().join("w.bin"), &file).unwrap();
        // No length: the tensor's own size, not the rest of the file.
        let p = external_model(t.path(), &[("location", "w.bin"), ("offset", "16")]);
        assert_eq!(weights(&p).unwrap(), vec![0.5, -2.0]);
        // A length that disagrees with the dims, an offset past the end,
        // and an offset that overflows are refused before reading.
        for (off, len, want) in [
            ("16", "1008", "does not match"),
            ("1020", "8", "the file has 1024"),
            ("18446744073709551615", "8", "the file has 1024"),
            ("-1", "8", "not a byte count"),
        ] {
            let p = external_model(
                t.path(),
                &[("location", "w.bin"), ("offset", off), ("length", len)],
            );
            let e = weights(&p).unwrap_err();
            assert!(e.contains(want), "{off}/{len}: {e}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn external_data_that_is_no_regular_file_is_refused() {
        let t = tempfile::tempdir().unwrap();
        // /dev/zero through a link: outside the folder.
        std::os::unix::fs::symlink("/dev/zero", t.path().join("zero.bin")).unwrap();
        let p = external_model(t.path(), &[("location", "zero.bin")]);
        let e = weights(&p).unwrap_err();
        assert!(e.contains("outside the model's folder"), "{e}");
        // A pipe inside the folder: refused without opening it (which would block).
        let fifo = t.path().join("pipe.bin");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let p = external_model(t.path(), &[("location", "pipe.bin")]);
        let e = weights(&p).unwrap_err();
        assert!(e.contains("not a regular file"), "{e}");
    }
}
