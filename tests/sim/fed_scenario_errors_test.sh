#!/usr/bin/env bash
# sim.run_scenario_errors: a scenario's mistakes get a clear message
# naming the section and key (or the file), exit 3, never a crash; --set
# overrides keys and refuses what the scenario does not have.
set -euo pipefail
fedmesh=${1:?usage: fed_scenario_errors_test.sh FEDMESH SOURCE_DIR}
source_dir=${2:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$source_dir/tests/sim/scenarios/small.ini" "$work/base.ini"
sed -i "s#\.\./\.\./\.\./data#$source_dir/data#" "$work/base.ini"

expect() { # EXPECTED_EXIT PATTERN -- ARGS...
  local want=$1 pattern=$2
  shift 3
  set +e
  out=$("$fedmesh" sim run "$@" 2>&1)
  rc=$?
  set -e
  if [ "$rc" != "$want" ] || ! grep -q -- "$pattern" <<<"$out"; then
    echo "sim.run_scenario_errors: '$*' gave exit $rc (want $want), output:"
    echo "$out"
    echo "(expected it to mention: $pattern)"
    exit 1
  fi
}
variant() { # NAME SED-EXPRESSION
  sed "$2" "$work/base.ini" > "$work/$1.ini"
}
variant typo 's/^burst_threshold = 2/burst_treshold = 2/'
expect 3 "\[federation\] burst_treshold: unknown key" -- "$work/typo.ini"
variant badvcpu 's/^vcpu = 64/vcpu = sixty-four/'
expect 3 "\[site paris\] vcpu" -- "$work/badvcpu.ini"
variant badduration 's/^duration = 2d/duration = 2 weeks/'
expect 3 "\[federation\] duration" -- "$work/badduration.ini"
variant notrace 's#excerpt.swf#missing.swf#'
expect 3 "missing.swf" -- "$work/notrace.ini"
variant nocountry '/^country = NL/d'
expect 3 "\[site amsterdam\] country: missing" -- "$work/nocountry.ini"
variant badcert 's/^certifications = C5, ISO27001/certifications = C5, ISO9001/'
expect 3 "ISO9001" -- "$work/badcert.ini"
variant onesite '/^\[site frankfurt\]/,$d'
expect 3 "at least two" -- "$work/onesite.ini"
printf '[federation]\nduration = 1d\n[site a\n' > "$work/notini.ini"
expect 3 "not INI" -- "$work/notini.ini"
expect 3 "no such file\|No such file" -- "$work/absent.ini"
expect 3 "the scenario has no \[site lyon\]" -- "$work/base.ini" --set site.lyon.vcpu=4
expect 3 "SECTION.KEY=VALUE" -- "$work/base.ini" --set duration=1d
expect 3 "\[faults\] crash: 'lyon' is not one site" -- "$work/base.ini" --set faults.crash=lyon@1h+1m
expect 3 "\[faults\] partition: 'ES' is not a site or a country" -- "$work/base.ini" --set faults.partition=ES@1h+1m
expect 3 "\[faults\] crash: 'paris' is not SITE@AT+DOWNTIME" -- "$work/base.ini" --set faults.crash=paris
expect 3 "\[faults\] loss" -- "$work/base.ini" --set faults.loss=2
expect 2 "one scenario file" -- 

# An override takes effect: one simulated day.
sim_s=$("$fedmesh" sim run "$work/base.ini" --no-mesh --set federation.duration=1d --json | jq .sim_s)
[ "$sim_s" = 86400 ] || { echo "sim.run_scenario_errors: --set duration gave sim_s $sim_s"; exit 1; }
echo "sim.run_scenario_errors: ok"
