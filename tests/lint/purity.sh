#!/usr/bin/env bash
# lint.purity: the sans-I/O rule and the banned-call list, checked on the
# source (curl's checksrc idea). Debian puts every dependency's header in
# /usr/include, so the compiler alone would let a core module include NNG
# or RocksDB; this test does not.
#
# Core directories never use a clock, sleep, rand(), sockets, threads,
# getenv, NNG or RocksDB: time and randomness come in as arguments.
# Everywhere, curl's unsafe calls are banned, and <assert.h> too (NDEBUG
# would delete the checks; use MESH_ASSERT).
set -u
root=${1:?usage: purity.sh REPO_ROOT}
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
  # Comments are not code: drop // comments and lines inside /* */ blocks
  # that start with '*', which is how every block comment here is written.
  local hits
  hits=$(grep -nE "$pattern" "$@" /dev/null | grep -vE '^[^:]+:[0-9]+:\s*(//|/?\*)' || true)
  if [ -n "$hits" ]; then
    printf 'lint.purity: %s\n%s\n' "$why" "$hits"
    fail=1
  fi
}

check '#include\s*<(nng|rocksdb)/' "core modules must not include NNG or RocksDB (only node/ may)" $core_files
check '#include\s*<(pthread|threads|ini|jansson)\.h>' "core modules must not use threads, inih or jansson" $core_files
check '\b(clock_gettime|gettimeofday|timespec_get)\b|\btime\s*\(' "core modules never read a clock: take mesh_now" $core_files
check '\b(sleep|usleep|nanosleep)\s*\(' "core modules never sleep" $core_files
check '\b(rand|srand|random|srandom|drand48|randombytes_[a-z_]+)\s*\(' "core modules take randomness from mesh_rng or a caller's seed" $core_files
check '\bgetenv\s*\(' "core modules never read the environment" $core_files
check '\b(socket|connect|bind|listen|accept)\s*\(' "core modules never open sockets" $core_files
check '\b(sprintf|vsprintf|strcat|strncpy|strtok|sscanf|atoi|atol|gets)\s*\(' "banned unsafe call (curl's list)" $all_files
check '#include\s*<assert\.h>' "use MESH_ASSERT: NDEBUG deletes assert()" $all_files

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
