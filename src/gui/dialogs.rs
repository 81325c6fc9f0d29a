//! The desktop's file dialog and folder opener, which may be missing (no
//! portal, no zenity, no xdg-open, e.g. under a bare X server or in a
//! container). Every caller gets a sentence to show instead of silence, and
//! the typed fields stay the way in.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the desktop offers, detected once at start (tests set it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DesktopSupport {
    /// A file dialog can be shown (a portal on the session bus, or zenity).
    pub file_dialog: bool,
    /// A program opens folders in the file manager (xdg-open).
    pub opener: bool,
}

impl DesktopSupport {
    pub fn detect() -> Self {
        let bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty());
        Self {
            file_dialog: bus || on_path("zenity"),
            opener: on_path("xdg-open"),
        }
    }
}

/// Whether an executable of that name is in a `PATH` folder.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| {
            let p = d.join(name);
            p.is_file()
                && std::fs::metadata(&p)
                    .map(|m| {
                        use std::os::unix::fs::PermissionsExt;
                        m.permissions().mode() & 0o111 != 0
                    })
                    .unwrap_or(false)
        })
    })
}

/// A dialog that returns nothing faster than a person can press Cancel was
/// never shown (rfd reports a failed portal and zenity as a cancel).
const TOO_FAST: Duration = Duration::from_millis(250);

/// [`pick`], saying why not through `cmds` when there is no dialog.
pub fn pick_or_say(
    support: DesktopSupport,
    cmds: &super::command::Commands,
    field: &str,
    dialog: impl FnOnce() -> Option<PathBuf>,
) -> Option<PathBuf> {
    pick(support, field, dialog).unwrap_or_else(|e| {
        cmds.error(e);
        None
    })
}

/// Asks the desktop for a folder or file. `Ok(None)` is a cancel; `Err` says
/// no dialog could be shown and names the field to type into instead.
pub fn pick(
    support: DesktopSupport,
    field: &str,
    dialog: impl FnOnce() -> Option<PathBuf>,
) -> Result<Option<PathBuf>, String> {
    let unavailable = || {
        format!(
            "No file dialog is available on this desktop (no file-dialog portal, no zenity): type the path into the “{field}” field instead."
        )
    };
    if !support.file_dialog {
        return Err(unavailable());
    }
    let t = Instant::now();
    match dialog() {
        Some(p) => Ok(Some(p)),
        None if t.elapsed() < TOO_FAST => Err(unavailable()),
        None => Ok(None),
    }
}

/// Opens a folder in the file manager; when nothing can, says so and gives
/// the path (also put on the clipboard by the caller).
pub fn open_folder(support: DesktopSupport, dir: &Path) -> Result<(), String> {
    let cannot = |why: &str| {
        format!(
            "Cannot open the folder here ({why}); its path is {} (copied to the clipboard).",
            dir.display()
        )
    };
    if !support.opener {
        return Err(cannot("no xdg-open on this desktop"));
    }
    std::process::Command::new("xdg-open")
        .arg(dir)
        .spawn()
        .map(|_| ())
        .map_err(|e| cannot(&format!("xdg-open did not start: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: DesktopSupport = DesktopSupport {
        file_dialog: false,
        opener: false,
    };

    #[test]
    fn missing_dialog_names_the_field_and_is_never_called() {
        let e = pick(NONE, "Dataset folder", || panic!("not called")).unwrap_err();
        assert!(e.contains("“Dataset folder”"), "{e}");
        let e = open_folder(NONE, Path::new("/x/y")).unwrap_err();
        assert!(e.contains("/x/y") && e.contains("xdg-open"), "{e}");
    }

    #[test]
    fn an_instant_empty_answer_is_no_dialog_a_slow_one_a_cancel() {
        let yes = DesktopSupport {
            file_dialog: true,
            opener: true,
        };
        assert!(pick(yes, "f", || None).is_err());
        let slow = pick(yes, "f", || {
            std::thread::sleep(TOO_FAST + Duration::from_millis(20));
            None
        });
        assert_eq!(slow, Ok(None));
        assert_eq!(
            pick(yes, "f", || Some("/a".into())),
            Ok(Some(PathBuf::from("/a")))
        );
    }
}
