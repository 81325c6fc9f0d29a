#!/usr/bin/env sh
# Installs calibscope for the current user: release build, binary into
# ~/.local/bin, desktop entry and icon where desktop menus look for them.
# Run from the repository folder:  sh dist/install.sh
# Remove again with:               sh dist/install.sh --uninstall
set -eu
cd "$(dirname "$0")/.."

BIN_DIR="${XDG_BIN_HOME:-$HOME/.local/bin}"
DATA_DIR="${XDG_DATA_HOME:-$HOME/.local/share}"
APP_DIR="$DATA_DIR/applications"
ICON_DIR="$DATA_DIR/icons/hicolor"

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$BIN_DIR/calibscope" "$APP_DIR/calibscope.desktop" \
          "$ICON_DIR/256x256/apps/calibscope.png" "$ICON_DIR/scalable/apps/calibscope.svg"
    echo "calibscope removed (your projects and cache stay in ~/.local/share/calibscope and ~/.cache/calibscope)."
    exit 0
fi

cargo build --release
mkdir -p "$BIN_DIR" "$APP_DIR" "$ICON_DIR/256x256/apps" "$ICON_DIR/scalable/apps"
install -m 755 target/release/calibscope "$BIN_DIR/calibscope"
install -m 644 assets/calibscope.png "$ICON_DIR/256x256/apps/calibscope.png"
install -m 644 assets/calibscope.svg "$ICON_DIR/scalable/apps/calibscope.svg"
# The entry runs the binary by absolute path, so it works even when ~/.local/bin is not on PATH.
sed "s|^Exec=calibscope|Exec=$BIN_DIR/calibscope|" dist/calibscope.desktop > "$APP_DIR/calibscope.desktop"
chmod 644 "$APP_DIR/calibscope.desktop"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$APP_DIR" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q "$ICON_DIR" || true
echo "Installed $BIN_DIR/calibscope and the 'calibscope' menu entry."
case ":$PATH:" in
    *":$BIN_DIR:"*) ;;
    *) echo "Note: $BIN_DIR is not on your PATH; add it to run 'calibscope' from a terminal." ;;
esac
