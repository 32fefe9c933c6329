#!/usr/bin/env bash
# sim.report_files and sim.report_browser: report.html of a `sim run --out
# DIR` (node/sim_report.c), drawn by `fedmesh sim report DIR` from files
# written here in the formats of the `sim run` contract (summary.json,
# timeseries.csv, baseline/), and from a real `fedmesh sim run --compare
# --out` of tests/sim/scenarios/small.ini (until it exists, of
# scenarios/europe-6.ini for 12 virtual hours).
#
# usage: report_html_test.sh FEDMESH SOURCE_DIR files|browser
#   files    five SVG plots per site, the gnuplot script, the tables
#            (mesh beside baseline, HTML-escaped site names), nothing
#            remote in the page; without gnuplot (FEDMESH_GNUPLOT pointing
#            nowhere) report.html is still written, names gnuplot-nox, and
#            the command fails; a malformed time series is refused with its
#            line number.
#   browser  headless Chromium loads report.html from file:// and the
#            page's own script marks every <img> rendered (naturalWidth >
#            0): every plot must be, and there must be 5 per site. A
#            required check: without chromium it fails, unless
#            FEDMESH_NO_BROWSER=1 (then it says so and is skipped, 77).
set -u
fedmesh=$(realpath "$1")
source_dir=$(realpath "$2")
mode=$3
# ok, bad, finish and test_begin (a scratch directory $dir, removed at exit).
. "$(cd "$(dirname "$0")" && pwd)/../integration/lib.sh"
test_begin sim_report
work=$dir

command -v gnuplot >/dev/null || {
  printf '\n*** FAIL: gnuplot is not installed (Debian: apt-get install gnuplot-nox; scripts/lib.sh lists it) ***\n\n'
  exit 1
}

# fixture DIR SITES...: a run directory by hand, 48 hourly samples per site
# (and DIR/baseline the same with less lending and longer queues).
fixture() {
  local dir=$1
  shift
  mkdir -p "$dir/baseline"
  local header=time_s,site,vcpu_total,vcpu_busy,vcpu_busy_remote,vcpu_lent,vcpu_borrowed,queue_jobs,queue_vcpu,wait_s_mean,carbon_gco2_per_kwh
  for which in mesh baseline; do
    local out=$dir/timeseries.csv
    [ $which = baseline ] && out=$dir/baseline/timeseries.csv
    printf '%s\n' "$header" >"$out"
    printf '%s\n' "$@" | awk -v which=$which 'BEGIN { FS = "\n" } { site[NR] = $1; n = NR }
      END {
        for (h = 0; h <= 47; h++) for (i = 1; i <= n; i++) {
          total = 128 * i
          busy = int(total * (0.5 + 0.4 * sin((h + i) / 5)))
          lent = which == "mesh" ? int((total - busy) / 3) : 0
          borrowed = which == "mesh" ? (h % 7) * i : 0
          queue = which == "mesh" ? h % 5 : h % 9
          wait = queue * 600 + i
          printf "%d,%s,%d,%d,%d,%d,%d,%d,%d,%.1f,%.1f\n", h * 3600, site[i], total, busy,
            borrowed, lent, borrowed, queue, queue * 4, wait, 50 + 30 * i + 10 * sin(h / 3)
        }
      }' >>"$out"
  done
  local sites_json
  sites_json=$(printf '%s\n' "$@" | jq -R . | jq -sc 'to_entries | map({name: .value, country: "FR",
    jobs: (100 + .key), wait_s_p95: (300.5 + .key), utilisation: 0.61, lent_vcpu_hours: 12.5,
    borrowed_vcpu_hours: 3})')
  for which in mesh baseline; do
    local out=$dir/summary.json mesh=true wait=812.5
    [ $which = baseline ] && out=$dir/baseline/summary.json mesh=false wait=1930.25
    jq -n --argjson sites "$sites_json" --argjson mesh $mesh --argjson wait $wait '{
      scenario: "hand-made", seed: 7, mesh: $mesh, digest: "00ff11ee", sim_s: 172800, wall_s: 0.5,
      events: 123456, events_per_s: 246912, jobs_total: 300, jobs_local: 280, jobs_burst: 20,
      jobs_preempted: 0, jobs_skipped: 1, wait_s_p50: 10, wait_s_p95: $wait, wait_s_p99: 4000,
      slowdown_p95: 3.25, burst_gco2_kg: 1.5, gossip_bytes: 99999, lease_p50_s: 0.12,
      leases_granted: 17, invariant_violations: 0, policy_violations: 0,
      utilisation: ($sites | map({(.name): .utilisation}) | add),
      lent_vcpu_hours: {"fr-par->de-fra": 12.5},
      burst_vcpu_hours_by_country: {FR: 3.5},
      sites: $sites,
      command: "fedmesh sim run hand-made.ini --seed 7 --compare --out DIR"}' >"$out"
  done
}

sites=(fr-par de-fra 'nl-ams "<b>"')
run=$work/run
fixture "$run" "${sites[@]}"

if [ "$mode" = files ]; then
  # --- Drawn, with the baseline ----------------------------------------------
  "$fedmesh" sim report "$run" >"$work/out" 2>"$work/err" && ok || bad "sim report: $(cat "$work/err")"
  svgs=$(find "$run/plots" -maxdepth 1 -name '*.svg' | wc -l)
  [ "$svgs" -eq $((5 * ${#sites[@]})) ] && ok || bad "$svgs SVG files, wanted $((5 * ${#sites[@]}))"
  for f in "$run"/plots/*.svg; do
    head -c 200 "$f" | grep -q '<svg' || bad "$f is not an SVG"
  done
  [ -s "$run/plots/report.gp" ] && ok || bad "no plots/report.gp"
  html=$run/report.html
  imgs=$(grep -o '<img class="plot"' "$html" | wc -l)
  [ "$imgs" -eq $((5 * ${#sites[@]})) ] && ok || bad "$imgs plots in report.html"
  # Every <img> has its SVG and alt text.
  grep -o '<img class="plot" src="[^"]*"[^>]*>' "$html" | while read -r tag; do
    src=$(sed 's/.*src="\([^"]*\)".*/\1/' <<<"$tag")
    [ -f "$run/$src" ] || echo "missing $src"
    grep -q 'alt="[^"]' <<<"$tag" || echo "no alt: $tag"
  done >"$work/img_problems"
  [ -s "$work/img_problems" ] && bad "$(cat "$work/img_problems")" || ok
  # Nothing remote: no http(s) URL outside the SVG namespace declarations,
  # no external stylesheet or script, no web font.
  grep -Eo '(https?:)?//[A-Za-z0-9.-]+' "$html" "$run"/plots/*.svg | grep -v 'www.w3.org' >"$work/remote"
  [ -s "$work/remote" ] && bad "remote references: $(head -3 "$work/remote")" || ok
  grep -Eqi '<link|@import|@font-face|<script src' "$html" && bad "report.html loads something" || ok
  # Tables: the baseline column, figures, the command, escaped site names.
  grep -q '<th>no mesh (baseline)</th>' "$html" && ok || bad "no baseline column"
  grep -q '<tr><th>wait_s_p95</th><td>812.5</td><td>1930.25</td></tr>' "$html" && ok ||
    bad "wait_s_p95 row: $(grep -o '<tr><th>wait_s_p95</th>[^\n]*</tr>' "$html" | head -1)"
  grep -q 'fedmesh sim run hand-made.ini --seed 7 --compare --out DIR' "$html" && ok || bad "no command"
  grep -q 'nl-ams &quot;&lt;b&gt;&quot;' "$html" && ok || bad "site name not escaped"
  grep -q 'nl-ams "<b>"' "$html" && bad "raw site name in the HTML" || ok
  grep -q 'fr-par-&gt;de-fra' "$html" && ok || bad "lent_vcpu_hours table"
  # The baseline is drawn as a second line (dashed) where it applies.
  grep -q "baseline.dat' using (\$1/x_scale):2 with lines lw 1.5 dt 2" "$run/plots/report.gp" && ok ||
    bad "no baseline line for utilisation"
  # A second report replaces the first: still 5 per site.
  "$fedmesh" sim report "$run" >/dev/null 2>&1 && ok || bad "second report"
  [ "$(find "$run/plots" -maxdepth 1 -name '*.svg' | wc -l)" -eq $((5 * ${#sites[@]})) ] && ok ||
    bad "a second report left other plots"

  # --- Without a baseline ----------------------------------------------------
  single=$work/single
  fixture "$single" solo-site
  rm -rf "$single/baseline"
  "$fedmesh" sim report "$single" >/dev/null 2>"$work/err" && ok || bad "no baseline: $(cat "$work/err")"
  grep -q 'no mesh (baseline)' "$single/report.html" && bad "a baseline column without baseline" || ok
  [ "$(find "$single/plots" -maxdepth 1 -name '*.svg' | wc -l)" -eq 5 ] && ok || bad "one site: 5 plots"

  # --- Without gnuplot -------------------------------------------------------
  nognu=$work/nognu
  fixture "$nognu" fr-par
  FEDMESH_GNUPLOT=$work/no-such-gnuplot "$fedmesh" sim report "$nognu" >/dev/null 2>"$work/err"
  rc=$?
  [ $rc -ne 0 ] && ok || bad "without gnuplot: exit 0"
  grep -q 'gnuplot-nox' "$work/err" && ok || bad "without gnuplot: the error does not name gnuplot-nox: $(cat "$work/err")"
  [ -s "$nognu/report.html" ] && ok || bad "without gnuplot: no report.html"
  grep -q 'apt-get install gnuplot-nox' "$nognu/report.html" && ok || bad "without gnuplot: the page does not say what to install"
  grep -q '<img' "$nognu/report.html" && bad "without gnuplot: the page shows plots" || ok
  grep -q '<td>812.5</td>' "$nognu/report.html" && ok || bad "without gnuplot: no tables"

  # --- Malformed input -------------------------------------------------------
  broken=$work/broken
  fixture "$broken" fr-par
  sed -i '5s/.*/0,fr-par,128,not-a-number,0,0,0,0,0,0,0/' "$broken/timeseries.csv"
  "$fedmesh" sim report "$broken" >/dev/null 2>"$work/err"
  rc=$?
  [ $rc -eq 3 ] && ok || bad "a bad number: exit $rc, wanted 3"
  grep -q 'timeseries.csv:5:' "$work/err" && ok || bad "a bad number: no line number: $(cat "$work/err")"
  sed -i '1s/.*/time_s,site/' "$broken/timeseries.csv"
  "$fedmesh" sim report "$broken" >/dev/null 2>"$work/err"
  [ $? -eq 3 ] && grep -q 'timeseries.csv:1: not the header' "$work/err" && ok || bad "a wrong header: $(cat "$work/err")"
  echo '{"scenario": ' >"$broken/summary.json"
  "$fedmesh" sim report "$broken" >/dev/null 2>"$work/err"
  [ $? -eq 3 ] && grep -q 'summary.json' "$work/err" && ok || bad "bad JSON: $(cat "$work/err")"
  "$fedmesh" sim report "$work/nowhere" >/dev/null 2>&1
  [ $? -ne 0 ] && ok || bad "a missing directory: exit 0"
  finish
fi

[ "$mode" = browser ] || { echo "usage: $0 FEDMESH SOURCE_DIR files|browser" >&2; exit 2; }

# --- In a real browser ---------------------------------------------------------
browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
  if [ "${FEDMESH_NO_BROWSER:-0}" = 1 ]; then
    printf '\n*** SKIPPED sim.report_browser: no chromium, and FEDMESH_NO_BROWSER=1 ***\n\n'
    exit 77
  fi
  printf '\n*** FAIL sim.report_browser: chromium is not installed (Debian: apt-get install chromium;\n'
  printf '*** scripts/lib.sh lists it). This is a required check; FEDMESH_NO_BROWSER=1 skips it. ***\n\n'
  exit 1
fi

# check_in_browser DIR SITE_COUNT WHAT
check_in_browser() {
  local dir=$1 want=$(($2 * 5)) what=$3
  local dom=$work/dom.html
  # Its own profile (no state from elsewhere); bounded in time.
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$work/profile" \
    --virtual-time-budget=5000 --dump-dom "file://$dir/report.html" >"$dom" 2>"$work/chromium.log"
  local rc=$?
  [ $rc -eq 0 ] && ok || { bad "$what: chromium exit $rc: $(tail -3 "$work/chromium.log")"; return; }
  local imgs yes no
  imgs=$(grep -o '<img [^>]*>' "$dom" | wc -l)
  yes=$(grep -o '<img [^>]*data-rendered="yes"[^>]*>' "$dom" | wc -l)
  no=$(grep -o '<img [^>]*>' "$dom" | grep -vc 'data-rendered="yes"')
  [ "$imgs" -eq "$want" ] && ok || bad "$what: $imgs <img> in the page, wanted $want (5 per site)"
  [ "$yes" -eq "$want" ] && [ "$no" -eq 0 ] && ok ||
    bad "$what: $yes of $imgs plots rendered: $(grep -o '<img [^>]*>' "$dom" | grep -v 'data-rendered="yes"' | head -3)"
  grep -q "<span id=\"plots-rendered\">$want of $want</span>" "$dom" && ok ||
    bad "$what: the page's count: $(grep -o '<span id="plots-rendered">[^<]*</span>' "$dom")"
  echo "$what: $yes of $imgs plots rendered in $("$browser" --version 2>/dev/null | head -1)"
}

"$fedmesh" sim report "$run" >/dev/null 2>"$work/err" || bad "sim report: $(cat "$work/err")"
check_in_browser "$run" ${#sites[@]} "hand-made run"

# The check can fail: a plot whose SVG is gone is not rendered.
rm -f "$run/plots/00-fr-par-queue.svg"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --user-data-dir="$work/profile" \
  --virtual-time-budget=5000 --dump-dom "file://$run/report.html" >"$work/dom2.html" 2>/dev/null
grep -o '<img [^>]*00-fr-par-queue.svg[^>]*>' "$work/dom2.html" | grep -q 'data-rendered="no"' && ok ||
  bad "a missing SVG was not marked data-rendered=no"

scenario=$source_dir/tests/sim/scenarios/small.ini
short=()
if [ ! -f "$scenario" ]; then
  scenario=$source_dir/scenarios/europe-6.ini
  short=(--set federation.duration=12h)
  printf '\n*** NOTE: no tests/sim/scenarios/small.ini: running %s for 12 h instead ***\n\n' "$scenario"
fi
real=$work/real
if "$fedmesh" sim run "$scenario" --seed 1 "${short[@]}" --compare --out "$real" >"$work/run.out" 2>"$work/run.err"; then
  ok
  site_count=$(jq '.sites | length' "$real/summary.json")
  check_in_browser "$real" "$site_count" "sim run $(basename "$scenario") --compare"
else
  bad "sim run $(basename "$scenario") --compare: $(tail -5 "$work/run.err")"
fi
finish
