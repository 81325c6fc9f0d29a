//! File-system helpers: atomic writes and the app's own folders.
//!
//! Every file calibscope writes goes to a temporary name in the same folder
//! and is renamed into place, so a crash never leaves a half-written file
//! under a final name.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Suffix of the temporary files that atomic writes use; anything ending in it
/// is ours and safe to delete when found stale.
pub const TMP_SUFFIX: &str = ".calibscope-tmp";

/// Temporary sibling path for `dest` (same folder, so the rename is atomic).
pub fn tmp_path_for(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    dest.with_file_name(format!(".{name}.{}{TMP_SUFFIX}", std::process::id()))
}

/// Writes `bytes` to `dest` atomically.
pub fn write_atomic(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(dest, |w| w.write_all(bytes))
}

/// Writes `dest` atomically through a buffered writer handed to `fill`.
/// On any error the temporary file is removed and `dest` is untouched.
pub fn write_atomic_with<F>(dest: &Path, fill: F) -> io::Result<()>
where
    F: FnOnce(&mut io::BufWriter<fs::File>) -> io::Result<()>,
{
    if let Some(parent) = dest.parent() {
        if !parent.as_os_str().is_empty() {
            fs::create_dir_all(parent)?;
        }
    }
    let tmp = tmp_path_for(dest);
    let result = (|| {
        let file = fs::File::create(&tmp)?;
        let mut w = io::BufWriter::new(file);
        fill(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, dest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Per-user folders of the app (cache, data, config), never inside a dataset.
#[derive(Debug, Clone)]
pub struct AppDirs {
    pub cache: PathBuf,
    pub data: PathBuf,
    pub config: PathBuf,
}

impl AppDirs {
    /// The platform's standard folders, or `CALIBSCOPE_HOME/{cache,data,config}`
    /// when that variable is set (tests and portable installs use it).
    pub fn discover() -> io::Result<Self> {
        if let Some(home) = std::env::var_os("CALIBSCOPE_HOME") {
            let home = PathBuf::from(home);
            return Ok(Self {
                cache: home.join("cache"),
                data: home.join("data"),
                config: home.join("config"),
            });
        }
        let dirs = directories::ProjectDirs::from("", "", "calibscope").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no home folder found for calibscope's cache; set CALIBSCOPE_HOME to a writable folder",
            )
        })?;
        Ok(Self {
            cache: dirs.cache_dir().to_path_buf(),
            data: dirs.data_dir().to_path_buf(),
            config: dirs.config_dir().to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/out.txt");
        write_atomic(&dest, b"one").unwrap();
        write_atomic(&dest, b"two").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"two");
        let err = write_atomic_with(&dest, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&dest).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(dest.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }
}
