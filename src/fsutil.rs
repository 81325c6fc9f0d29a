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
        rename_durable(&tmp, dest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Renames `from` to `to` and flushes the folder holding `to`, so the new
/// name survives a power cut (the file's own data is the caller's to sync).
pub fn rename_durable(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    sync_parent(to)
}

/// Flushes the folder entry of `path` (a no-op where folders cannot be opened).
pub fn sync_parent(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fs::File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Name of the lock file a command holds in a folder it rewrites.
pub const LOCK_FILE: &str = ".calibscope.lock";

/// An exclusive lock on a folder, held while a command rewrites it (e.g.
/// `copy`), so two runs into one folder cannot interleave. The operating
/// system releases it when the process ends, even when killed; the lock
/// file is removed on drop.
#[derive(Debug)]
pub struct FolderLock {
    path: PathBuf,
    _file: fs::File,
}

impl FolderLock {
    /// Takes the lock on `dir` (which must exist) for `what` (e.g. "copy"),
    /// or says who holds it.
    pub fn acquire(dir: &Path, what: &str) -> io::Result<FolderLock> {
        let path = dir.join(LOCK_FILE);
        // A holder may remove the file between our open and our lock;
        // retry until the locked file is the one under the name.
        for _ in 0..16 {
            let file = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = io::Read::read_to_string(&mut &file, &mut holder);
                    let holder = holder.trim();
                    let holder = if holder.is_empty() {
                        "another calibscope run".to_owned()
                    } else {
                        holder.to_owned()
                    };
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!(
                            "{} is in use by {holder}; wait for it to finish, or choose another folder",
                            dir.display()
                        ),
                    ));
                }
                Err(fs::TryLockError::Error(e)) => return Err(e),
            }
            if !same_open_file(&file, &path) {
                continue;
            }
            let mut f = &file;
            f.set_len(0)?;
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            writeln!(
                f,
                "calibscope {what} (process {}, started at unix time {stamp})",
                std::process::id()
            )?;
            return Ok(FolderLock { path, _file: file });
        }
        Err(io::Error::other(format!(
            "could not lock {}: its lock file keeps changing",
            dir.display()
        )))
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        // Removed while still locked: a waiting run re-opens by name and
        // checks it locked the file that is there.
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(unix)]
fn same_open_file(file: &fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_open_file(_: &fs::File, path: &Path) -> bool {
    path.exists()
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

    #[test]
    fn a_locked_folder_says_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let lock = FolderLock::acquire(dir.path(), "copy").unwrap();
        let e = FolderLock::acquire(dir.path(), "copy").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("process {}", std::process::id())) && msg.contains("in use"),
            "{msg}"
        );
        drop(lock);
        assert!(!dir.path().join(LOCK_FILE).exists());
        let again = FolderLock::acquire(dir.path(), "copy").unwrap();
        drop(again);
    }
}
