#!/usr/bin/env bash
# Install everything napari-factvae needs on a fresh Debian machine, then run one job:
#   bash scripts/setup.sh demo   the main job on the built-in simulated tissue
#   bash scripts/setup.sh test   the whole test suite (extra arguments go to pytest)
# Safe to run again: each step only does what is still missing.
set -euo pipefail
job="${1:-demo}"
shift || true
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${FACTVAE_VENV:-$root/.venv}"
python="${PYTHON:-python3}"

# 1. System packages: Xvfb and the xcb/GL libraries Qt 6 needs to draw napari's canvas.
pkgs=(xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-xinerama0 libxcb-cursor0 libxkbcommon-x11-0
      libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libegl1 libgl1
      libfontconfig1 libdbus-1-3)
if command -v dpkg-query >/dev/null; then
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    echo "setup: installing system packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "setup: not a Debian system; install Xvfb and Qt's xcb libraries yourself for the GUI tests"
fi

# 2. A virtual environment, torch from the local CPU wheel FIRST (an open range would pull a
#    multi-GB CUDA build), then the package with its test extras.
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip -q --disable-pip-version-check)
"$venv/bin/python" -c "import torch" 2>/dev/null || "${pip[@]}" install "torch==2.13.0" 2> >(grep -v "^WARNING: Location" >&2)
"${pip[@]}" install -e ".[testing]" 2> >(grep -v "^WARNING: Location" >&2)

# 3. The job.
case "$job" in
  demo) exec "$venv/bin/factvae" demo --out-dir "$root/factvae-demo" --overwrite "$@" ;;
  test) exec "$venv/bin/python" -m pytest "$@" ;;
  *) echo "usage: bash scripts/setup.sh demo|test" >&2; exit 2 ;;
esac
