#!/usr/bin/env bash
# Set up chainrule's project-local environment: .venv with the package and its extras, and
# (for dev) Debian's chromium for the browser tests when it is missing. Safe to run again: it only
# reinstalls when pyproject.toml changed. Usage: scripts/setup.sh [extras, default "dev"]
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
PYTHON="${PYTHON:-python3}"

say() { printf 'setup: %s\n' "$*"; }

as_root() {  # run a command as root: directly, or through sudo; fail if neither is possible
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1
  fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  say "chainrule needs Python 3.10 or newer as '$PYTHON' (set PYTHON=/path/to/python3.x)"; exit 1
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    say "Python's venv module is missing; installing python3-venv"
    apt_install python3-venv || { say "could not install python3-venv: run 'sudo apt-get install python3-venv' and try again"; exit 1; }
    "$PYTHON" -m venv .venv
  fi
fi

stamp=".venv/.installed-$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  say "installing chainrule[$extras] into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[$extras]"
  touch "$stamp"
fi

# drawings need no system Graphviz (graphviz-pure comes with the draw extra); the browser
# tests of the explorer need a Chromium: Debian's, when it can be installed
if [ "$extras" = dev ] && ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  say "chromium is missing (for the explorer's browser tests); installing it with apt-get"
  if ! apt_install chromium; then
    say "could not install chromium: the browser tests will skip; to run them: sudo apt-get install chromium"
  fi
fi
say "ready (.venv/bin/python)"
