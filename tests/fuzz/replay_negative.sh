#!/usr/bin/env bash
# fuzz.replay_negative: the corpus replay (replay_main.c) fails on an
# input it cannot replay instead of skipping it.
#
#   replay_negative.sh REPLAY_BINARY CORPUS_DIR
#
# Copies three inputs of CORPUS_DIR into a temporary corpus, checks that
# the replay passes on it, then adds one bad entry at a time and expects
# exit 1 with the entry named on stderr: a dangling symbolic link (cannot
# open), a directory (cannot read), a file one byte over the 1 MiB bound,
# and, when not run as root (root reads anything), a file of mode 000.
set -u
replay=${1:?usage: replay_negative.sh REPLAY_BINARY CORPUS_DIR}
corpus=${2:?usage: replay_negative.sh REPLAY_BINARY CORPUS_DIR}
work=$(mktemp -d "${TMPDIR:-/tmp}/replay-negative.XXXXXX") || exit 2
trap 'chmod -R u+rwx "$work" 2>/dev/null; rm -rf "$work"' EXIT
failures=0

fresh() { # a good corpus of three inputs in $work/corpus
  rm -rf "$work/corpus" && mkdir "$work/corpus" || exit 2
  local n=0 f
  for f in "$corpus"/*; do
    [ -f "$f" ] || continue
    cp "$f" "$work/corpus/" || exit 2
    n=$((n + 1))
    [ $n -eq 3 ] && break
  done
  [ $n -gt 0 ] || { echo "replay_negative: no input in $corpus" >&2; exit 2; }
}

expect() { # expect NAME WANT_RC WANT_TEXT
  local name=$1 want_rc=$2 want_text=$3 out rc
  out=$("$replay" "$work/corpus" 2>&1)
  rc=$?
  if [ $rc -ne "$want_rc" ] || ! grep -qF -- "$want_text" <<<"$out"; then
    printf 'FAIL: %s: exit %d (want %d), output:\n%s\n(want it to contain "%s")\n' \
      "$name" "$rc" "$want_rc" "$out" "$want_text"
    failures=$((failures + 1))
  else
    printf 'ok: %s: exit %d, "%s"\n' "$name" "$rc" "$(grep -F -- "$want_text" <<<"$out" | head -n 1)"
  fi
}

fresh
expect "good corpus" 0 "replayed"
fresh
ln -s "$work/nowhere" "$work/corpus/zz-dangling"
expect "dangling link" 1 "cannot open $work/corpus/zz-dangling"
fresh
mkdir "$work/corpus/zz-directory"
expect "directory in the corpus" 1 "cannot read $work/corpus/zz-directory"
fresh
head -c $((1024 * 1024 + 1)) /dev/zero >"$work/corpus/zz-oversize"
expect "oversized input" 1 "$work/corpus/zz-oversize is larger than"
if [ "$(id -u)" -ne 0 ]; then
  fresh
  printf 'x' >"$work/corpus/zz-unreadable" && chmod 000 "$work/corpus/zz-unreadable"
  expect "mode 000" 1 "cannot open $work/corpus/zz-unreadable"
else
  echo "note: running as root, which reads a mode-000 file: that case is not tried" >&2
fi

if [ $failures -ne 0 ]; then
  printf 'fuzz.replay_negative: %d case(s) failed\n' "$failures"
  exit 1
fi
echo "fuzz.replay_negative: ok"
