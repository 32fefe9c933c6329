#!/usr/bin/env bash
# lint.format: every C file is as clang-format 14 and .clang-format want it.
# Fix with: clang-format-14 -i FILE
set -u
root=${1:?usage: format.sh REPO_ROOT}
cd "$root" || exit 2
tool=$(command -v clang-format-14 || command -v clang-format) || {
  echo "lint.format: clang-format-14 is not installed (scripts/test installs it)"; exit 1; }
files=$(find mesh wire crypto gossip ledger lease member node sim tests -name '*.[ch]' 2>/dev/null | sort)
if ! "$tool" --dry-run --Werror $files; then
  echo "lint.format: run '$tool -i' on the files above"
  exit 1
fi
echo "lint.format: ok ($(echo "$files" | wc -w) files)"
