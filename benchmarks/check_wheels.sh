#!/usr/bin/env bash
# Every pin in requirements.txt has a binary wheel for Python 3.11 and 3.12 on Linux x86-64 (what Community
# Cloud runs): pip downloads wheels only, for each version, into a temporary folder; exit 1 if one is missing.
#     bash benchmarks/check_wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for v in 3.11 3.12; do
  if pip download -q --only-binary=:all: --python-version "$v" --platform manylinux_2_28_x86_64 \
      --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --platform any -d "$work/$v" -r requirements.txt 2>"$work/err$v"; then
    echo "Python $v: wheels for every requirement ($(ls "$work/$v" | wc -l) files, $(du -sm "$work/$v" | cut -f1) MB)"
  else
    echo "Python $v: missing wheels:"; grep -v "^WARNING" "$work/err$v" | tail -3; exit 1
  fi
done
