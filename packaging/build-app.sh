#!/usr/bin/env bash
# One-folder PyInstaller build of ColorStudio with CPU torch: dist/ColorStudio/ColorStudio (the
# `colorstudio` command; no arguments opens the window). CPU-heavy (minutes): run it niced on a shared machine.
#   packaging/build-app.sh
# PYTHON       interpreter for the build venv (default python3, 3.10+)
# BUILD_VENV   the build venv (default build/app-venv; reused when it exists)
# TORCH_INDEX_URL  where the default index serves a CUDA torch, a CPU-only one, e.g.
#              https://download.pytorch.org/whl/cpu
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV="${BUILD_VENV:-build/app-venv}"

if [ ! -x "$VENV/bin/python" ]; then "${PYTHON:-python3}" -m venv "$VENV"; fi
# torch first, so the project's requirement does not pull a CUDA build
"$VENV/bin/pip" install -q "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
# a real install (not editable): the wheel's build step bundles the models, icon and samples; forced,
# so a reused venv gets the current sources
"$VENV/bin/pip" install -q . "pyinstaller>=6.10"
"$VENV/bin/pip" install -q --force-reinstall --no-deps .
if "$VENV/bin/python" -c "import torch, sys; sys.exit(0 if torch.version.cuda else 1)"; then
  echo "build-app.sh: $VENV has a CUDA torch; set TORCH_INDEX_URL to a CPU-only index and remove $VENV" >&2
  exit 1
fi

# --collect-submodules: model families and trainers are imported by name (importlib), which
# PyInstaller cannot see. Excluded: what the app never imports (CUDA/Triton, test runners, GUI kits
# and notebooks that optional code paths of the dependencies mention).
"$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --onedir --name ColorStudio \
  --distpath dist --workpath build/pyinstaller --specpath build/pyinstaller \
  --collect-submodules colorstudio --collect-data colorstudio \
  --exclude-module triton --exclude-module nvidia \
  --exclude-module torch.utils.tensorboard --exclude-module tensorboard \
  --exclude-module pytest --exclude-module _pytest --exclude-module pytestqt \
  --exclude-module tkinter --exclude-module matplotlib --exclude-module IPython --exclude-module jupyter \
  packaging/colorstudio_app.py

# torch's hook collects its C++ test programs and test libraries (about 140 MB); nothing loads them
TORCH=dist/ColorStudio/_internal/torch
rm -rf "$TORCH/test"
find "$TORCH/bin" -type f ! -name torch_shm_manager -delete
rm -f "$TORCH"/lib/{libaoti_custom_ops,libbackend_with_compiler,libjitbackend_test,libtorchbind_test}.so

du -sh dist/ColorStudio
echo "built dist/ColorStudio/ColorStudio"
