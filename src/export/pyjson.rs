//! JSON written byte-for-byte as Python's `json.dump(obj, f, indent=2)`
//! writes it (the seed scripts' files): two-space indent, `", "`-free
//! item separators, `": "` after keys, non-ASCII escaped as `\uXXXX`,
//! floats as Python's `repr`, no trailing newline.

/// A JSON value with insertion-ordered objects.
#[derive(Debug, Clone, PartialEq)]
pub enum PyJson {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<PyJson>),
    Dict(Vec<(String, PyJson)>),
}

impl PyJson {
    pub fn dict<K: Into<String>>(items: impl IntoIterator<Item = (K, PyJson)>) -> PyJson {
        PyJson::Dict(items.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn str(s: impl Into<String>) -> PyJson {
        PyJson::Str(s.into())
    }

    /// Serialises as `json.dump(value, f, indent=2)` does.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out
    }

    fn write(&self, out: &mut String, level: usize) {
        match self {
            PyJson::Null => out.push_str("null"),
            PyJson::Int(i) => out.push_str(&i.to_string()),
            PyJson::Float(f) => out.push_str(&py_float(*f)),
            PyJson::Str(s) => py_str(out, s),
            PyJson::List(items) => {
                if items.is_empty() {
                    out.push_str("[]");
                    return;
                }
                out.push('[');
                for (k, v) in items.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    v.write(out, level + 1);
                }
                newline(out, level);
                out.push(']');
            }
            PyJson::Dict(items) => {
                if items.is_empty() {
                    out.push_str("{}");
                    return;
                }
                out.push('{');
                for (k, (key, v)) in items.iter().enumerate() {
                    if k > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    py_str(out, key);
                    out.push_str(": ");
                    v.write(out, level + 1);
                }
                newline(out, level);
                out.push('}');
            }
        }
    }
}

fn newline(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn py_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Python's `repr(float)`: shortest round-trip digits, scientific below
/// 1e-4 and from 1e16 on (`1e-05`, `1.5e+16`), `NaN`/`Infinity` as `json` writes them.
pub fn py_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let s = format!("{v:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let (sign, digits) = match exp.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exp),
        };
        return format!("{mant}e{sign}{digits:0>2}");
    }
    let s = format!("{v}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_json_dump_indent_2() {
        let v = PyJson::List(vec![
            PyJson::dict([
                ("dataset_root", PyJson::str("synced_data/seq_ä")),
                ("new_filename", PyJson::str("0000000001")),
            ]),
            PyJson::dict([("n", PyJson::Int(3)), ("e", PyJson::Dict(vec![]))]),
        ]);
        assert_eq!(
            v.dump(),
            "[\n  {\n    \"dataset_root\": \"synced_data/seq_\\u00e4\",\n    \"new_filename\": \"0000000001\"\n  },\n  {\n    \"n\": 3,\n    \"e\": {}\n  }\n]"
        );
        assert_eq!(PyJson::List(vec![]).dump(), "[]");
    }

    #[test]
    fn floats_like_python_repr() {
        assert_eq!(py_float(3.0), "3.0");
        assert_eq!(py_float(0.1), "0.1");
        assert_eq!(py_float(4.123456954956055), "4.123456954956055");
        assert_eq!(py_float(1e-5), "1e-05");
        assert_eq!(py_float(1.5e-7), "1.5e-07");
        assert_eq!(py_float(1e16), "1e+16");
        assert_eq!(py_float(123456789012345.0), "123456789012345.0");
        assert_eq!(py_float(0.0001), "0.0001");
        assert_eq!(py_float(-0.0), "-0.0");
    }
}
