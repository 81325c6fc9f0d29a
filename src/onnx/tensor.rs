//! Tensor and attribute data in and out of the protobuf types as plain vectors.

use super::proto::{attribute_proto::AttributeType, AttributeProto, NodeProto, TensorProto};

/// ONNX element types calibscope reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum DataType {
    Float = 1,
    Uint8 = 2,
    Int8 = 3,
    Int32 = 6,
    Int64 = 7,
    Float16 = 10,
    Double = 11,
}

fn base(name: &str, dims: &[i64], dt: DataType, raw: Vec<u8>) -> TensorProto {
    TensorProto {
        name: Some(name.to_string()),
        dims: dims.to_vec(),
        data_type: Some(dt as i32),
        raw_data: Some(raw),
        ..Default::default()
    }
}

pub fn tensor_from_f32(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    base(
        name,
        dims,
        DataType::Float,
        data.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

pub fn tensor_from_i8(name: &str, dims: &[i64], data: &[i8]) -> TensorProto {
    base(
        name,
        dims,
        DataType::Int8,
        data.iter().map(|&v| v as u8).collect(),
    )
}

pub fn tensor_from_u8(name: &str, dims: &[i64], data: &[u8]) -> TensorProto {
    base(name, dims, DataType::Uint8, data.to_vec())
}

pub fn tensor_from_i32(name: &str, dims: &[i64], data: &[i32]) -> TensorProto {
    base(
        name,
        dims,
        DataType::Int32,
        data.iter().flat_map(|v| v.to_le_bytes()).collect(),
    )
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: normalise.
            let mut e = 127 - 15 + 1;
            let mut f = f;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | ((e as u32) << 23) | ((f & 0x3ff) << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// Element count of a tensor from its dims.
pub fn numel(t: &TensorProto) -> usize {
    t.dims.iter().map(|&d| d.max(0) as usize).product()
}

/// A numeric tensor's values as f32 (float, double, float16, int types).
pub fn tensor_to_f32(t: &TensorProto) -> Result<Vec<f32>, String> {
    let raw = t.raw_data.as_deref().filter(|r| !r.is_empty());
    let dt = t.data_type();
    let chunks = |n: usize| -> Result<std::slice::ChunksExact<'_, u8>, String> {
        let r = raw.unwrap_or(&[]);
        if !r.len().is_multiple_of(n) {
            return Err(format!(
                "tensor {}: raw data length {} is not a multiple of {n}",
                t.name(),
                r.len()
            ));
        }
        Ok(r.chunks_exact(n))
    };
    let v: Vec<f32> = match dt {
        1 => match raw {
            Some(_) => chunks(4)?
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            None => t.float_data.clone(),
        },
        11 => match raw {
            Some(_) => chunks(8)?
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
            None => t.double_data.iter().map(|&v| v as f32).collect(),
        },
        10 => match raw {
            Some(_) => chunks(2)?
                .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            None => t.int32_data.iter().map(|&v| f16_to_f32(v as u16)).collect(),
        },
        2 => match raw {
            Some(r) => r.iter().map(|&v| v as f32).collect(),
            None => t.int32_data.iter().map(|&v| v as f32).collect(),
        },
        3 => match raw {
            Some(r) => r.iter().map(|&v| v as i8 as f32).collect(),
            None => t.int32_data.iter().map(|&v| v as f32).collect(),
        },
        6 => match raw {
            Some(_) => chunks(4)?
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f32)
                .collect(),
            None => t.int32_data.iter().map(|&v| v as f32).collect(),
        },
        7 => tensor_to_i64(t)?.into_iter().map(|v| v as f32).collect(),
        other => {
            return Err(format!(
                "tensor {}: element type {other} is not numeric",
                t.name()
            ))
        }
    };
    if v.len() != numel(t) {
        return Err(format!(
            "tensor {}: {} values for dims {:?}",
            t.name(),
            v.len(),
            t.dims
        ));
    }
    Ok(v)
}

/// An int64 (or int32) tensor's values, e.g. a shape or axes constant.
pub fn tensor_to_i64(t: &TensorProto) -> Result<Vec<i64>, String> {
    let raw = t.raw_data.as_deref().filter(|r| !r.is_empty());
    match (t.data_type(), raw) {
        (7, Some(r)) => Ok(r
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect()),
        (7, None) => Ok(t.int64_data.clone()),
        (6, Some(r)) => Ok(r
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
            .collect()),
        (6, None) => Ok(t.int32_data.iter().map(|&v| v as i64).collect()),
        (dt, _) => Err(format!(
            "tensor {}: element type {dt} is not an integer list",
            t.name()
        )),
    }
}

fn find<'a>(node: &'a NodeProto, name: &str) -> Option<&'a AttributeProto> {
    node.attribute.iter().find(|a| a.name() == name)
}

pub fn attr_int(node: &NodeProto, name: &str) -> Option<i64> {
    find(node, name).and_then(|a| a.i)
}

pub fn attr_float(node: &NodeProto, name: &str) -> Option<f32> {
    find(node, name).and_then(|a| a.f)
}

pub fn attr_ints(node: &NodeProto, name: &str) -> Option<Vec<i64>> {
    find(node, name).map(|a| a.ints.clone())
}

pub fn attr_str(node: &NodeProto, name: &str) -> Option<String> {
    find(node, name).and_then(|a| {
        a.s.as_ref()
            .map(|s| String::from_utf8_lossy(s).into_owned())
    })
}

pub fn make_attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(v),
        ..Default::default()
    }
}

pub fn make_attr_ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.to_string()),
        r#type: Some(AttributeType::Ints as i32),
        ints: v.to_vec(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_half_floats() {
        let t = tensor_from_f32("a", &[3], &[1.0, -2.5, 3.25]);
        assert_eq!(tensor_to_f32(&t).unwrap(), vec![1.0, -2.5, 3.25]);
        let t = tensor_from_i8("b", &[2], &[-128, 127]);
        assert_eq!(tensor_to_f32(&t).unwrap(), vec![-128.0, 127.0]);
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        let bad = tensor_from_f32("c", &[4], &[1.0]);
        assert!(tensor_to_f32(&bad).is_err());
    }
}
