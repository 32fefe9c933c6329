#!/usr/bin/env bash
# lint.tidy: clang-tidy on fedmesh's own sources with the build's compile
# commands: braces around every statement body (clang-format 14 cannot add
# them), the bugprone-* family, and cert-err33-c (unchecked results of
# standard functions). A few checks are off, each for a stated reason:
#   bugprone-easily-swappable-parameters: flags every (buf, size) pair,
#     which is the libsodium-style signature this code base chose;
#   bugprone-reserved-identifier: flags the _POSIX_C_SOURCE feature macros.
set -u
root=${1:?usage: tidy.sh REPO_ROOT BUILD_DIR}
build=${2:?usage: tidy.sh REPO_ROOT BUILD_DIR}
cd "$root" || exit 2
tool=$(command -v clang-tidy-14 || command -v clang-tidy) || {
  echo "lint.tidy: clang-tidy-14 is not installed (scripts/test installs it)"; exit 1; }
[ -f "$build/compile_commands.json" ] || { echo "lint.tidy: no $build/compile_commands.json"; exit 1; }
checks='-*,readability-braces-around-statements,bugprone-*,cert-err33-c,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier'
files=$(find mesh wire crypto gossip ledger lease member node sim tests/bench tests/tools -name '*.c' 2>/dev/null | sort)
out=$("$tool" -p "$build" --quiet --checks="$checks" --warnings-as-errors='*' $files 2>&1)
rc=$?
if [ $rc -ne 0 ]; then
  printf '%s\n' "$out" | grep -vE '^[0-9]+ warnings? (generated|and)' 
  echo "lint.tidy: failed"
  exit 1
fi
echo "lint.tidy: ok ($(echo "$files" | wc -w) files)"
