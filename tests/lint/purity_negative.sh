#!/usr/bin/env bash
# lint.purity_negative: proves that lint.purity can fail. For each rule it
# builds a fake repository tree in a temporary directory, holding one clean
# core file plus one file with exactly one violation, runs purity.sh on it
# and expects exit 1 with the violating file and line named. The clean
# tree alone must pass: comments (block comments across lines, // comments,
# lines starting with '*' inside a comment) and string literals that
# mention time(, fopen( or "nng/nng.h" are not code.
set -u
lint_dir=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/purity-negative.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT
failures=0

clean_tree() { # clean_tree DIR: a core file that must pass
  mkdir -p "$1/gossip" "$1/node"
  cat >"$1/gossip/clean.c" <<'C'
/*
 * A design comment that says time(NULL) is never called, nor clock(),
 * fopen("x", "r") or getrandom(buf, 1, 0);
 * #include "nng/nng.h" would be wrong here.
 */
#include <stdint.h>

#include "gossip/gossip.h"

// time(NULL) in a line comment is not code either.
static const char *why = "the shell calls time( and fopen(, not us";
uint64_t gossip_clean(const uint64_t *now_ns)
{
    uint64_t *out = 0; /* clock() in a trailing comment */
    (void) why;
    (void) out;
    return *now_ns + sizeof("getrandom(");
}
C
  # node/ is the shell: it may read clocks and open files.
  printf '#include <time.h>\nlong node_now(void) { return (long) time(NULL); }\n' >"$1/node/clock.c"
}

expect_pass() {
  local tree=$work/clean
  clean_tree "$tree"
  local out
  if ! out=$(bash "$lint_dir/purity.sh" "$tree" 2>&1); then
    printf 'FAIL: the clean tree is refused:\n%s\n' "$out"
    failures=$((failures + 1))
  else
    printf 'ok: the clean tree passes\n'
  fi
}

expect_fail() { # expect_fail NAME DIR/FILE LINE CODE...: one violation at FILE:LINE
  local name=$1 file=$2 line=$3; shift 3
  local tree=$work/$name
  clean_tree "$tree"
  mkdir -p "$tree/$(dirname "$file")"
  printf '%s\n' "$@" >"$tree/$file"
  local out rc
  out=$(bash "$lint_dir/purity.sh" "$tree" 2>&1)
  rc=$?
  if [ $rc -ne 1 ]; then
    printf 'FAIL: %s: purity.sh exited %d, want 1:\n%s\n' "$name" "$rc" "$out"
    failures=$((failures + 1))
  elif ! grep -q "^$file:$line:" <<<"$out"; then
    printf 'FAIL: %s: purity.sh failed without naming %s:%s:\n%s\n' "$name" "$file" "$line" "$out"
    failures=$((failures + 1))
  else
    printf 'ok: %s refused (%s)\n' "$name" "$(head -n 1 <<<"$out")"
  fi
}

expect_pass
expect_fail time_after_star gossip/star.c 4 \
  '#include <stdint.h>' 'void gossip_stamp(long *out);' 'void gossip_stamp(long *out) {' \
  '*out = time(NULL);' '}'
expect_fail time_in_block_tail gossip/tail.c 2 \
  '/* a comment that ends' ' here */ long gossip_t(void) { return time(0); }'
expect_fail include_quoted_nng member/quoted.c 1 '#include "nng/nng.h"'
expect_fail include_quoted_rocksdb ledger/quoted.c 1 '#include "rocksdb/c.h"'
expect_fail include_quoted_pthread lease/thread.c 1 '# include "pthread.h"'
expect_fail fopen crypto/file.c 3 '#include <stdio.h>' 'void crypto_f(void);' \
  'void crypto_f(void) { FILE *f = fopen("key", "r"); (void) f; }'
expect_fail open_call crypto/open.c 2 '#include <fcntl.h>' \
  'int crypto_o(const char *p) { return open(p, O_RDONLY); }'
expect_fail getrandom sim/random.c 2 '#include <sys/random.h>' \
  'void sim_r(void *b) { (void) getrandom(b, 8, 0); }'
expect_fail clock wire/clock.c 2 '#include <time.h>' \
  'long wire_c(void) { return (long) clock(); }'
expect_fail assert_quoted node/assert.c 1 '#include "assert.h"'

if [ $failures -ne 0 ]; then
  printf 'lint.purity_negative: %d case(s) failed\n' "$failures"
  exit 1
fi
printf 'lint.purity_negative: ok\n'
