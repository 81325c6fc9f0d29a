//! Provisioning: fetch the pinned `onnxruntime` wheel with pip and take the
//! shared library out of it into the app's cache.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::fsutil::write_atomic;

/// Fetches `onnxruntime==version` with pip into a temporary folder inside
/// `cache_dir` and extracts the library to `cache_dir/<version>/`.
/// Returns the library's path, or a reason why that was impossible.
pub fn provision_into_cache(cache_dir: &Path, version: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(cache_dir)
        .map_err(|e| format!("cannot create cache folder {}: {e}", cache_dir.display()))?;
    let download = tempfile::Builder::new()
        .prefix("wheel-download")
        .tempdir_in(cache_dir)
        .map_err(|e| format!("cannot create a folder in {}: {e}", cache_dir.display()))?;
    let out = Command::new(super::python_exe())
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .arg(format!("onnxruntime=={version}"))
        .arg("-d")
        .arg(download.path())
        .output()
        .map_err(|e| format!("python3 could not be started for pip: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(format!(
            "pip download onnxruntime=={version} failed: {last}"
        ));
    }
    let wheel = std::fs::read_dir(download.path())
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| "pip reported success but left no .whl file".to_string())?;
    extract_lib_from_wheel(&wheel, &cache_dir.join(version))
}

/// Takes `onnxruntime/capi/libonnxruntime.so*` out of a wheel into `dest_dir`
/// (written atomically). Returns the extracted library's path.
pub fn extract_lib_from_wheel(wheel: &Path, dest_dir: &Path) -> Result<PathBuf, String> {
    let file = std::fs::File::open(wheel)
        .map_err(|e| format!("cannot open wheel {}: {e}", wheel.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .map_err(|e| format!("{} is not a wheel (zip): {e}", wheel.display()))?;
    let mut found = None;
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(|e| e.to_string())?;
        let name = entry.name().map_err(|e| e.to_string())?.to_string();
        let base = name.rsplit('/').next().unwrap_or("");
        if name.contains("capi/") && base.starts_with("libonnxruntime.so") {
            found = Some((i, base.to_string()));
            break;
        }
    }
    let (idx, base) =
        found.ok_or_else(|| format!("{} holds no capi/libonnxruntime.so*", wheel.display()))?;
    let mut entry = zip.by_index(idx).map_err(|e| e.to_string())?;
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {base} from the wheel: {e}"))?;
    let dest = dest_dir.join(&base);
    write_atomic(&dest, &bytes).map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn library_is_taken_out_of_a_wheel() {
        let t = tempfile::tempdir().unwrap();
        let whl = t
            .path()
            .join("onnxruntime-9.9.9-cp311-none-linux_x86_64.whl");
        {
            let mut w = zip::ZipWriter::new(std::fs::File::create(&whl).unwrap());
            let opts = zip::write::SimpleFileOptions::default();
            w.start_file("onnxruntime/__init__.py", opts).unwrap();
            w.write_all(b"").unwrap();
            w.start_file("onnxruntime/capi/libonnxruntime.so.9.9.9", opts)
                .unwrap();
            w.write_all(b"ELF-bytes").unwrap();
            w.finish().unwrap();
        }
        let got = extract_lib_from_wheel(&whl, &t.path().join("cache/9.9.9")).unwrap();
        assert!(got.ends_with("cache/9.9.9/libonnxruntime.so.9.9.9"));
        assert_eq!(std::fs::read(&got).unwrap(), b"ELF-bytes");

        let not_zip = t.path().join("bad.whl");
        std::fs::write(&not_zip, b"nope").unwrap();
        let err = extract_lib_from_wheel(&not_zip, t.path()).unwrap_err();
        assert!(err.contains("not a wheel"), "{err}");
    }
}
