#!/usr/bin/env bash
# lint.purity: the sans-I/O rule and the banned-call list, checked on the
# source (curl's checksrc idea). Debian puts every dependency's header in
# /usr/include, so the compiler alone would let a core module include NNG
# or RocksDB; this test does not.
#
# Core directories never use a clock (time, clock, clock_gettime), sleep,
# rand() or getrandom, sockets, files (fopen, open), threads, getenv, NNG
# or RocksDB (<...> or "..." includes): time and randomness come in as
# arguments. tests/lint/purity_negative.sh proves each rule can fail.
# Everywhere, curl's unsafe calls are banned, and <assert.h> too (NDEBUG
# would delete the checks; use MESH_ASSERT).
set -u
root=${1:?usage: purity.sh REPO_ROOT}
lint_dir=$(cd "$(dirname "$0")" && pwd)
cd "$root" || exit 2
fail=0
core_dirs="mesh wire crypto gossip sim lease member"
# ledger/ is core except its RocksDB adapter, which only node/ links.
core_files=$(for d in $core_dirs; do [ -d "$d" ] && find "$d" -name '*.[ch]'; done;
             [ -d ledger ] && find ledger -name '*.[ch]' ! -name 'store_rocks*')
all_files=$(find mesh wire crypto gossip ledger lease member node sim tests -name '*.[ch]' 2>/dev/null)

check() { # check PATTERN WHY FILES...
  local pattern=$1 why=$2; shift 2
  [ $# -eq 0 ] && return
  # Comments and string literals are not code: code_only.awk blanks them
  # (block comments across lines too) and keeps the line numbers, so that
  # a line of code that starts with '*' (`*out = time(NULL);`) is checked
  # like any other, and a word in a comment or a log message is not.
  local hits
  hits=$(awk -f "$lint_dir/code_only.awk" "$@" | grep -E "^[^:]+:[0-9]+:.*($pattern)" || true)
  if [ -n "$hits" ]; then
    printf 'lint.purity: %s\n%s\n' "$why" "$hits"
    fail=1
  fi
}

check '#\s*include\s*[<"](nng|rocksdb)/' "core modules must not include NNG or RocksDB (only node/ may)" $core_files
check '#\s*include\s*[<"](pthread|threads|ini|jansson)\.h[>"]' "core modules must not use threads, inih or jansson" $core_files
check '\b(clock_gettime|gettimeofday|timespec_get)\b|\b(time|clock)\s*\(' "core modules never read a clock: take mesh_now" $core_files
check '\b(sleep|usleep|nanosleep)\s*\(' "core modules never sleep" $core_files
check '\b(rand|srand|random|srandom|drand48|getrandom|getentropy|arc4random|randombytes_[a-z_]+)\s*\(' "core modules take randomness from mesh_rng or a caller's seed" $core_files
check '\bgetenv\s*\(' "core modules never read the environment" $core_files
check '\b(socket|connect|bind|listen|accept)\s*\(' "core modules never open sockets" $core_files
# Files: the shell reads and writes them (key files live in node/). A
# member call like store->open( or a prefixed mcrypto_envelope_open( is
# not the libc call.
check '(^|[^._>a-zA-Z0-9])(fopen|fdopen|freopen|open|openat|creat|opendir|unlink|rename|fsync|mkdir)\s*\(' \
  "core modules never touch files: the shell reads and writes them" $core_files
check '\b(sprintf|vsprintf|strcat|strncpy|strtok|sscanf|atoi|atol|gets)\s*\(' "banned unsafe call (curl's list)" $all_files
check '#\s*include\s*[<"]assert\.h[>"]' "use MESH_ASSERT: NDEBUG deletes assert()" $all_files

# The link graph: only node/ may link NNG, RocksDB, inih or jansson.
for d in $core_dirs ledger; do
  f="$d/CMakeLists.txt"
  [ -f "$f" ] || continue
  if grep -nE 'nng::|ROCKSDB|INIH|JANSSON' "$f" | grep -v 'mesh_ledger_rocks' >/dev/null; then
    printf 'lint.purity: %s links a library only node/ may link\n' "$f"
    fail=1
  fi
done

[ $fail -eq 0 ] && echo "lint.purity: ok ($(echo "$all_files" | wc -w) files)"
exit $fail
