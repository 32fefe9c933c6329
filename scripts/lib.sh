# scripts/lib.sh: shared by scripts/demo, scripts/test and scripts/fuzz.
# Installs missing Debian packages (as root, or through sudo), then
# configures and builds a build directory when anything changed.

# What building and running fedmesh needs.
FEDMESH_BUILD_PACKAGES="gcc make cmake pkg-config libnng-dev libmsgpack-dev libsodium-dev
  librocksdb-dev libinih-dev libjansson-dev iproute2 zlib1g-dev"
# What the test suite needs on top (clang for fuzzing, lint tools, valgrind).
FEDMESH_TEST_PACKAGES="libcmocka-dev clang clang-format-14 clang-tidy-14 valgrind
  libclang-rt-14-dev curl jq prometheus openssl gnuplot-nox chromium libsimgrid-dev g++"
# prometheus: for promtool (integration.metrics_promtool); openssl makes the
# TLS certificates of integration.agents_tls; curl and jq drive
# the HTTP API tests and the demo. gnuplot-nox draws the plots of the
# simulator's report.html; chromium loads it headless (sim.report_browser);
# libsimgrid-dev and g++ build SimGrid's side of bench.simgrid_compare.
# What scripts/demo needs on top of the build: curl and jq drive the HTTP
# API and read the JSON, procps has pgrep; scripts/trace-replay is bash and awk.
FEDMESH_DEMO_PACKAGES="curl jq procps"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_packages PKG...: installs the ones that are missing, once.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing packages (${missing[*]}); run as root or install sudo"
    sudo="sudo"
  fi
  say "installing Debian packages: ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || die "apt-get install failed for: ${missing[*]}"
}

# build_tree DIR [cmake options...]: configures DIR once (again when the
# options change) and builds it. Fast when nothing changed.
build_tree() {
  local dir=$1; shift
  local stamp="$dir/.fedmesh-configure-options"
  local want="$*"
  if [ ! -f "$dir/CMakeCache.txt" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "configuring $dir ${want:+($want)}"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null || die "cmake configure failed"
    printf '%s' "$want" > "$stamp"
  fi
  say "building $dir"
  cmake --build "$dir" -j "$(nproc)" -- --no-print-directory >/dev/null 2>"$dir/build.log" || {
    cat "$dir/build.log" >&2; die "build failed"; }
}
