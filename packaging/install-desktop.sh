#!/usr/bin/env bash
# Put ColorStudio's menu entry, icon, session MIME type and AppStream metadata in place for the current
# user (XDG data folders), then refresh the desktop's caches where their tools exist.
#   packaging/install-desktop.sh [PATH/TO/colorstudio]     (default: the colorstudio on PATH)
#   packaging/install-desktop.sh --uninstall
set -euo pipefail

APP_ID=io.github.colorstudio.ColorStudio
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
TARGETS=(
  "$DATA/applications/$APP_ID.desktop"
  "$DATA/icons/hicolor/scalable/apps/$APP_ID.svg"
  "$DATA/mime/packages/$APP_ID-session.xml"
  "$DATA/metainfo/$APP_ID.metainfo.xml"
)

refresh() {
  if command -v update-desktop-database >/dev/null; then update-desktop-database -q "$DATA/applications"; fi
  if command -v update-mime-database >/dev/null; then update-mime-database "$DATA/mime"; fi
  if command -v gtk-update-icon-cache >/dev/null && [ -f "$DATA/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
  fi
}

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "${TARGETS[@]}"
  mkdir -p "$DATA/applications" "$DATA/mime/packages"
  refresh
  echo "removed ColorStudio's desktop integration from $DATA"
  exit 0
fi

# A venv's colorstudio is not on the PATH a desktop session starts programs with: name it absolutely.
BIN="${1:-$(command -v colorstudio || true)}"
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
  echo "install-desktop.sh: no colorstudio program found; install ColorStudio first or pass its path" >&2
  exit 1
fi
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
case "$BIN" in
  *[[:space:]\"\'\\\`\$]*) echo "install-desktop.sh: $BIN: a path with spaces or quotes cannot go in Exec=" >&2; exit 1 ;;
esac

mkdir -p "$(dirname "${TARGETS[0]}")" "$(dirname "${TARGETS[1]}")" "$(dirname "${TARGETS[2]}")" "$(dirname "${TARGETS[3]}")"
sed -e "s|^Exec=colorstudio |Exec=$BIN |" -e "s|^TryExec=colorstudio$|TryExec=$BIN|" \
  "$HERE/$APP_ID.desktop" > "${TARGETS[0]}"
install -m644 "$ROOT/resources/icons/colorstudio.svg" "${TARGETS[1]}"
install -m644 "$HERE/colorstudio-session.mime.xml" "${TARGETS[2]}"
install -m644 "$HERE/$APP_ID.metainfo.xml" "${TARGETS[3]}"
refresh
echo "installed ColorStudio's menu entry, icon and session file type into $DATA (runs $BIN)"
