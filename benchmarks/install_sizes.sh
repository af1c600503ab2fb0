#!/usr/bin/env bash
# Download and install size of each requirements file, each in a fresh virtual environment.
#     bash benchmarks/install_sizes.sh [PYTHON]      (default python3; prints one line per file)
# Download = the wheels pip fetches (pip download); install = the new venv's site-packages, minus pip itself.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${1:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for req in requirements.txt requirements-train.txt requirements-dev.txt; do
  name=${req%.txt}
  "$py" -m venv "$work/$name"
  "$work/$name/bin/pip" install -q --upgrade pip 2>/dev/null
  "$work/$name/bin/pip" download -q -d "$work/$name-wheels" -r "$req" 2>/dev/null
  "$work/$name/bin/pip" install -q --no-index --find-links "$work/$name-wheels" -r "$req" 2>/dev/null
  site=$("$work/$name/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  pip_mb=$(du -sm "$site"/pip "$site"/pip-*.dist-info 2>/dev/null | awk '{s += $1} END {print s + 0}')
  echo "$req ($("$py" --version)): download $(du -sm "$work/$name-wheels" | cut -f1) MB," \
       "installed $(( $(du -sm "$site" | cut -f1) - pip_mb )) MB"
  rm -rf "$work/$name-wheels"
done
