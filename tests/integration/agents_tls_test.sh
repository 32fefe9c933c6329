#!/usr/bin/env bash
# integration.agents_tls: agents gossip over tls+tcp:// (mutual TLS).
#
# Makes a TLS CA and a certificate per member with openssl, starts three
# agents on tls+tcp://127.0.0.1, and checks that they converge; that a
# fourth member, admitted by the federation root but holding a TLS
# certificate from another CA, is refused by TLS and never joins; that a
# tcp:// (cleartext) agent cannot join a tls+tcp:// seed; and that a
# tls+tcp:// endpoint without [tls] keys is refused at start. Probes use
# NNG here too: UDP probes are for tcp:// endpoints only. Bounded waits;
# about 10 s.
set -u
fedmesh=${1:?usage: agents_tls_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"
test_begin agents_tls
command -v openssl >/dev/null || { echo "SKIP: openssl is not installed (scripts/test installs it)"; exit 77; }
free_ports 10 $((21000 + ($$ * 10) % 30000)) || { bad "no free ports"; finish; }

# ca NAME: a CA key and self-signed certificate. cert CA NAME: a key and a
# certificate for 127.0.0.1 signed by CA, both in NAME.pem (mode 0600),
# the form [tls] cert_key_file takes.
ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=$1" -keyout "$1.key" -out "$1.crt" 2>/dev/null
}
cert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$2.tlskey" -out "$2.csr" 2>/dev/null &&
    printf 'subjectAltName=DNS:127.0.0.1,IP:127.0.0.1\n' >"$2.ext" &&
    openssl x509 -req -in "$2.csr" -CA "$1.crt" -CAkey "$1.key" -CAcreateserial -days 2 \
      -extfile "$2.ext" -out "$2.crt" 2>/dev/null &&
    (umask 077; cat "$2.crt" "$2.tlskey" >"$2.pem")
}
ca fedmesh-ca && ca rogue-ca || { bad "openssl could not make the CAs"; finish; }

# conf NAME LISTEN SEED [TLS_CA TLS_PEM]
conf() {
  cat >"$1.ini" <<INI
[node]
name = $1
key_file = $1.key
certificate_file = $1.cert
root_public_key_file = root.key.pub
listen = $2
control = tcp://127.0.0.1:$6
seeds = $3
[gossip]
probe_interval_ms = 200
probe_timeout_ms = 80
suspicion_min_ms = 400
suspicion_max_ms = 1200
INI
  if [ -n "$4" ]; then
    printf '[tls]\nca_file = %s\ncert_key_file = %s\n' "$4" "$5" >>"$1.ini"
  fi
}
seed="tls+tcp://127.0.0.1:${ports[0]}"
for i in 1 2 3 4 5; do
  admit_member "n$i" FR || { bad "admit n$i"; finish; }
done
for i in 1 2 3; do
  cert fedmesh-ca "n$i" || { bad "TLS certificate for n$i"; finish; }
  conf "n$i" "tls+tcp://127.0.0.1:${ports[$((i - 1))]}" "$seed" fedmesh-ca.crt "n$i.pem" "${ports[$((i + 4))]}"
done
cert rogue-ca n4 || { bad "TLS certificate for n4"; finish; }
conf n4 "tls+tcp://127.0.0.1:${ports[3]}" "$seed" rogue-ca.crt n4.pem "${ports[8]}"
conf n5 "tcp://127.0.0.1:${ports[4]}" "tcp://127.0.0.1:${ports[0]}" "" "" "${ports[9]}"

# No [tls] keys for a tls+tcp:// endpoint: refused before anything starts.
conf bare "tls+tcp://127.0.0.1:${ports[4]}" "$seed" "" "" "${ports[9]}"
"$fedmesh" agent --config bare.ini >out 2>err
rc=$?
[ $rc -eq 3 ] && grep -qF 'needs [tls] cert_key_file' err && ok || bad "tls without keys: exit $rc: $(cat err)"

# A TLS private key readable by others: refused at start, with the fix.
cp n1.pem unsafe.pem && chmod 644 unsafe.pem
sed 's/^cert_key_file = n1.pem$/cert_key_file = unsafe.pem/' n1.ini >unsafe.ini
timeout 10 "$fedmesh" agent --config unsafe.ini >out 2>err
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF 'chmod 600' err && ok ||
  bad "unsafe TLS key: exit $rc: $(tail -c 300 err)"

for i in 1 2 3 4 5; do
  "$fedmesh" agent --config "n$i.ini" 2>"n$i.log" &
  pids+=($!)
done
alive_in() { "$fedmesh" peers --config "$1.ini" 2>/dev/null | awk '$4 == "alive" { print $1 }' | sort | tr '\n' ' '; }
deadline=$((SECONDS + 20))
while [ $SECONDS -lt $deadline ]; do
  [ "$(alive_in n1)" = "n1 n2 n3 " ] && [ "$(alive_in n2)" = "n1 n2 n3 " ] &&
    [ "$(alive_in n3)" = "n1 n2 n3 " ] && break
  sleep 0.2
done
for i in 1 2 3; do
  [ "$(alive_in "n$i")" = "n1 n2 n3 " ] && ok || bad "n$i sees '$(alive_in "n$i")', wanted n1 n2 n3"
done
# Give the outsiders time to try (several rejoin attempts), then check
# that they are still outside.
sleep 2
for i in 1 2 3; do
  view=$(alive_in "n$i")
  case "$view" in *n4*|*n5*) bad "n$i let in an outsider: $view" ;; *) ok ;; esac
done
[ "$(alive_in n4)" = "n4 " ] && ok || bad "n4 (rogue TLS CA) sees '$(alive_in n4)'"
[ "$(alive_in n5)" = "n5 " ] && ok || bad "n5 (cleartext) sees '$(alive_in n5)'"
for i in 1 2 3; do
  kill -TERM "${pids[$((i - 1))]}" 2>/dev/null
done
for i in 1 2 3; do
  wait "${pids[$((i - 1))]}" && ok || bad "n$i did not exit 0 on SIGTERM"
done
finish
