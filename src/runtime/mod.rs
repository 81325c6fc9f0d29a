//! ONNX Runtime, found without help.
//!
//! calibscope loads `libonnxruntime` at run time (ort's `load-dynamic`), so the
//! binary builds and everything that needs no inference works without it. The
//! library is looked for in this order:
//!
//! 1. `ORT_DYLIB_PATH` (a file),
//! 2. beside the calibscope executable,
//! 3. the app's cache folder (`<cache>/onnxruntime/<version>/`),
//! 4. an installed Python `onnxruntime` package (`capi/libonnxruntime.so*`),
//! 5. provisioned: the pinned `onnxruntime` wheel fetched with
//!    `pip download --no-deps --only-binary=:all:` into the cache, and the
//!    library taken out of it (a wheel is a zip).
//!
//! When all five fail the error names the fixes.

pub mod infer;
mod provision;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

pub use provision::{extract_lib_from_wheel, provision_into_cache};

use crate::fsutil::AppDirs;

/// The ONNX Runtime version provisioned when none is found.
pub const PINNED_ORT_VERSION: &str = "1.32.0";

/// Oldest ONNX Runtime minor version the `ort` crate (built against API 22) accepts.
pub const MIN_ORT_MINOR: u32 = 22;

/// Where the shared library was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum OrtSource {
    EnvVar,
    BesideExecutable,
    Cache,
    PythonPackage,
    Provisioned,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrtLocation {
    pub path: PathBuf,
    pub source: OrtSource,
}

/// The places to look, gathered up front so the order can be tested without
/// touching the process environment.
#[derive(Debug, Clone, Default)]
pub struct SearchPaths {
    pub env_var: Option<PathBuf>,
    pub exe_dir: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    /// The `onnxruntime` package folder reported by Python, if any.
    pub python_pkg_dir: Option<PathBuf>,
}

impl SearchPaths {
    /// The real places on this machine (asks `python3` for its onnxruntime
    /// only when the other places have no library).
    pub fn from_environment() -> Self {
        let env_var = std::env::var_os("ORT_DYLIB_PATH")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf));
        let cache_dir = AppDirs::discover()
            .ok()
            .map(|d| d.cache.join("onnxruntime"));
        let mut paths = Self {
            env_var,
            exe_dir,
            cache_dir,
            python_pkg_dir: None,
        };
        // Python is the last place and asked only when the others have
        // nothing: starting it takes a tenth of a second.
        if matches!(locate(&paths), Ok(None)) {
            paths.python_pkg_dir = python_onnxruntime_dir();
        }
        paths
    }
}

/// Failure to find or load ONNX Runtime; the message names the fixes.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("ORT_DYLIB_PATH points to {0}, which does not exist; fix the variable or unset it")]
    EnvVarMissing(PathBuf),
    #[error(
        "ONNX Runtime was not found and could not be provisioned ({reason}).\n\
         Fix one of: set ORT_DYLIB_PATH to a libonnxruntime.so (version 1.{min}+); \
         put libonnxruntime.so beside the calibscope executable; \
         run `python3 -m pip install onnxruntime`; \
         or connect to the package registry so calibscope can fetch onnxruntime=={pinned} itself.",
        min = MIN_ORT_MINOR,
        pinned = PINNED_ORT_VERSION
    )]
    NotFound { reason: String },
    #[error("ONNX Runtime at {path} could not be loaded: {message}")]
    Load { path: PathBuf, message: String },
}

/// The library file in `dir` with the highest usable version, if any.
fn lib_in_dir(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut best: Option<(Vec<u32>, PathBuf)> = None;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(ver) = lib_file_version(&name) else {
            continue;
        };
        // An unversioned name is taken as acceptable (a symlink to the real one).
        if ver.len() >= 2 && ver[0] == 1 && ver[1] < MIN_ORT_MINOR {
            continue;
        }
        if best.as_ref().is_none_or(|(v, _)| ver > *v) {
            best = Some((ver, e.path()));
        }
    }
    best.map(|(_, p)| p)
}

/// `libonnxruntime.so` → Some([]), `libonnxruntime.so.1.32.0` → Some([1,32,0]).
fn lib_file_version(name: &str) -> Option<Vec<u32>> {
    let rest = name.strip_prefix("libonnxruntime.so")?;
    if rest.is_empty() {
        return Some(Vec::new());
    }
    let rest = rest.strip_prefix('.')?;
    rest.split('.').map(|p| p.parse().ok()).collect()
}

/// Steps 1–4 of the search (no provisioning). `Ok(None)` when nothing is found.
pub fn locate(paths: &SearchPaths) -> Result<Option<OrtLocation>, RuntimeError> {
    if let Some(p) = &paths.env_var {
        if !p.is_file() {
            return Err(RuntimeError::EnvVarMissing(p.clone()));
        }
        return Ok(Some(OrtLocation {
            path: p.clone(),
            source: OrtSource::EnvVar,
        }));
    }
    let candidates = [
        (paths.exe_dir.clone(), OrtSource::BesideExecutable),
        (paths.cache_dir.clone(), OrtSource::Cache),
        (
            paths.python_pkg_dir.as_ref().map(|d| d.join("capi")),
            OrtSource::PythonPackage,
        ),
    ];
    for (dir, source) in candidates {
        let Some(dir) = dir else { continue };
        let found = if source == OrtSource::Cache {
            // One sub-folder per provisioned version.
            cache_versions(&dir)
                .into_iter()
                .find_map(|d| lib_in_dir(&d))
        } else {
            lib_in_dir(&dir)
        };
        if let Some(path) = found {
            return Ok(Some(OrtLocation { path, source }));
        }
    }
    Ok(None)
}

/// Version folders in the cache, newest first.
fn cache_versions(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let ver: Option<Vec<u32>> = e
                .file_name()
                .to_string_lossy()
                .split('.')
                .map(|p| p.parse().ok())
                .collect();
            ver.map(|v| (v, e.path()))
        })
        .collect();
    v.sort();
    v.into_iter().rev().map(|(_, p)| p).collect()
}

/// The folder of Python's `onnxruntime` package, if `python3` has one.
/// Found without importing it (importing takes twice as long, and only the
/// library file in it is used).
pub fn python_onnxruntime_dir() -> Option<PathBuf> {
    let out = Command::new(python_exe())
        .args([
            "-c",
            "import importlib.util as u; s = u.find_spec('onnxruntime'); \
             print(s.submodule_search_locations[0] if s and s.submodule_search_locations else '')",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    let p = PathBuf::from(s.trim());
    p.is_dir().then_some(p)
}

/// `PYTHON` if set, else `python3`.
pub fn python_exe() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Steps 1–5: find the library, provisioning the pinned version when needed.
pub fn locate_or_provision(paths: &SearchPaths) -> Result<OrtLocation, RuntimeError> {
    if let Some(loc) = locate(paths)? {
        return Ok(loc);
    }
    let cache = paths
        .cache_dir
        .as_ref()
        .ok_or_else(|| RuntimeError::NotFound {
            reason: "no cache folder to provision into (set CALIBSCOPE_HOME)".into(),
        })?;
    let path = provision_into_cache(cache, PINNED_ORT_VERSION)
        .map_err(|reason| RuntimeError::NotFound { reason })?;
    Ok(OrtLocation {
        path,
        source: OrtSource::Provisioned,
    })
}

static ENV: OnceLock<(ort::environment::Environment, OrtLocation)> = OnceLock::new();
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// The process-wide ONNX Runtime environment, loading the library on first use.
/// ort allows one library and one environment per process, so this is the only
/// door to inference in calibscope.
pub fn environment() -> Result<&'static ort::environment::Environment, RuntimeError> {
    Ok(&environment_with_location()?.0)
}

/// Where the loaded library came from (loads it if not yet loaded).
pub fn loaded_location() -> Result<OrtLocation, RuntimeError> {
    Ok(environment_with_location()?.1.clone())
}

fn environment_with_location(
) -> Result<&'static (ort::environment::Environment, OrtLocation), RuntimeError> {
    if let Some(e) = ENV.get() {
        return Ok(e);
    }
    let _guard = INIT_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = ENV.get() {
        return Ok(e);
    }
    let loc = locate_or_provision(&SearchPaths::from_environment())?;
    let load_err = |message: String| RuntimeError::Load {
        path: loc.path.clone(),
        message,
    };
    let env = ort::init_from(&loc.path)
        .map_err(|e| load_err(e.to_string()))?
        .with_name("calibscope")
        .build()
        .map_err(|e| load_err(e.to_string()))?;
    Ok(ENV.get_or_init(|| (env, loc)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }

    #[test]
    fn version_from_file_name() {
        assert_eq!(lib_file_version("libonnxruntime.so"), Some(vec![]));
        assert_eq!(
            lib_file_version("libonnxruntime.so.1.32.0"),
            Some(vec![1, 32, 0])
        );
        assert_eq!(lib_file_version("libonnxruntime_providers_shared.so"), None);
    }

    #[test]
    fn search_order_is_env_exe_cache_python() {
        let t = tempfile::tempdir().unwrap();
        let exe = t.path().join("exe");
        let cache = t.path().join("cache");
        let py = t.path().join("py");
        touch(&exe.join("libonnxruntime.so.1.30.0"));
        touch(&cache.join("1.32.0/libonnxruntime.so.1.32.0"));
        touch(&py.join("capi/libonnxruntime.so.1.31.0"));
        let env_file = t.path().join("custom.so");
        touch(&env_file);
        let mut paths = SearchPaths {
            env_var: Some(env_file.clone()),
            exe_dir: Some(exe.clone()),
            cache_dir: Some(cache.clone()),
            python_pkg_dir: Some(py.clone()),
        };
        let src = |p: &SearchPaths| locate(p).unwrap().map(|l| l.source);
        assert_eq!(src(&paths), Some(OrtSource::EnvVar));
        paths.env_var = None;
        assert_eq!(src(&paths), Some(OrtSource::BesideExecutable));
        std::fs::remove_dir_all(&exe).unwrap();
        assert_eq!(src(&paths), Some(OrtSource::Cache));
        std::fs::remove_dir_all(&cache).unwrap();
        assert_eq!(src(&paths), Some(OrtSource::PythonPackage));
        std::fs::remove_dir_all(&py).unwrap();
        assert_eq!(src(&paths), None);
    }

    #[test]
    fn too_old_library_is_passed_over_and_missing_env_file_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        touch(&t.path().join("exe/libonnxruntime.so.1.16.3"));
        touch(&t.path().join("py/capi/libonnxruntime.so.1.32.0"));
        let paths = SearchPaths {
            exe_dir: Some(t.path().join("exe")),
            python_pkg_dir: Some(t.path().join("py")),
            ..Default::default()
        };
        let loc = locate(&paths).unwrap().unwrap();
        assert_eq!(loc.source, OrtSource::PythonPackage);
        let bad = SearchPaths {
            env_var: Some(t.path().join("nope.so")),
            ..Default::default()
        };
        let msg = locate(&bad).unwrap_err().to_string();
        assert!(msg.contains("ORT_DYLIB_PATH"), "{msg}");
    }
}
