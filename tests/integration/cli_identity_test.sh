#!/usr/bin/env bash
# integration.cli_identity: the identity commands end to end, through the
# real binary, as an operator would run them. Checks exit codes and the
# one-line reasons that cert verify gives.
set -u
fedmesh=${1:?usage: cli_identity_test.sh PATH_TO_FEDMESH}
fedmesh=$(realpath "$fedmesh")
. "$(dirname "$0")/lib.sh"
test_begin cli_identity
expect 0 "version" -- "$fedmesh" --version
contains out "fedmesh " "version text"
expect 0 "help" -- "$fedmesh" --help
contains out "federation admit" "help lists commands"
for c in keygen "federation" "cert"; do
  expect 0 "$c --help" -- "$fedmesh" $c --help
  contains out "usage:" "$c --help prints usage"
done
expect 2 "unknown command" -- "$fedmesh" frobnicate
contains err "unknown command" "unknown command says so"

# Keys: mode 0600, never overwritten.
expect 0 "federation init" -- "$fedmesh" federation init --out root.key
expect 0 "keygen fr" -- "$fedmesh" keygen --out fr.key
expect 0 "keygen de" -- "$fedmesh" keygen --out de.key
[ "$(stat -c %a fr.key)" = 600 ] && ok || bad "secret key mode is $(stat -c %a fr.key)"
[ "$(stat -c %a fr.key.pub)" = 644 ] && ok || bad "public key mode is $(stat -c %a fr.key.pub)"
before=$(sha256sum fr.key)
expect 4 "keygen refuses to overwrite" -- "$fedmesh" keygen --out fr.key
contains err "refusing to overwrite" "overwrite refusal says why"
[ "$(sha256sum fr.key)" = "$before" ] && ok || bad "keygen changed an existing key"
expect 2 "keygen without --out" -- "$fedmesh" keygen

# Admission.
expect 0 "admit fr" -- "$fedmesh" federation admit --root root.key --pubkey fr.key.pub \
  --name fr-par-1 --country FR --operator "Exemple Cloud SAS" --cert SecNumCloud --cert HDS \
  --days 30 --out fr.cert
expect 0 "admit de" -- "$fedmesh" federation admit --root root.key --pubkey de.key.pub \
  --name de-fra-1 --country DE --cert C5 --out de.cert
expect 0 "cert show" -- "$fedmesh" cert show fr.cert
contains out "fr-par-1" "show prints the name"
contains out "SecNumCloud, HDS" "show prints certifications"
contains out "EU, FR" "show prints default jurisdictions"
expect 0 "cert show --json" -- "$fedmesh" cert show fr.cert --json
contains out '"country":"FR"' "json has the country"
contains out '"operator":"Exemple Cloud SAS"' "json has the operator"
expect 0 "verify fr" -- "$fedmesh" cert verify --root root.key.pub fr.cert
contains out "valid: fr-par-1" "verify says valid"
expect 0 "verify --json" -- "$fedmesh" cert verify --root root.key.pub fr.cert --json
contains out '"valid":true' "verify json"

# Admission refusals: bad country, bad name, bad certification, unsafe key.
expect 2 "bad country" -- "$fedmesh" federation admit --root root.key --pubkey fr.key.pub \
  --name x-1 --country XX --out x.cert
contains err "ISO 3166-1" "bad country says why"
expect 2 "bad name" -- "$fedmesh" federation admit --root root.key --pubkey fr.key.pub \
  --name "Bad Name" --country FR --out x.cert
expect 2 "bad cert name" -- "$fedmesh" federation admit --root root.key --pubkey fr.key.pub \
  --name x-1 --country FR --cert Gold --out x.cert
[ ! -e x.cert ] && ok || bad "a refused admission left a file"
chmod 644 root.key
expect 4 "world-readable root key" -- "$fedmesh" federation admit --root root.key \
  --pubkey fr.key.pub --name x-1 --country FR --out x.cert
contains err "chmod 600 root.key" "unsafe key says how to fix it"
chmod 600 root.key
expect 4 "admit refuses to overwrite a cert" -- "$fedmesh" federation admit --root root.key \
  --pubkey fr.key.pub --name fr-par-1 --country FR --out fr.cert

# Every way a certificate can be invalid, each with its one-line reason.
expect 0 "admit expired" -- "$fedmesh" federation admit --root root.key --pubkey fr.key.pub \
  --name fr-old-1 --country FR --valid-from 2020-01-01 --days 10 --out old.cert
expect 1 "expired" -- "$fedmesh" cert verify --root root.key.pub old.cert
contains err "invalid: expired" "expired reason"
expect 0 "admit future" -- "$fedmesh" federation admit --root root.key --pubkey fr.key.pub \
  --name fr-new-1 --country FR --valid-from 2099-01-01 --out new.cert
expect 1 "not yet valid" -- "$fedmesh" cert verify --root root.key.pub new.cert
contains err "invalid: not yet valid" "not yet valid reason"
expect 0 "other federation" -- "$fedmesh" federation init --out other.key
expect 0 "admit by other root" -- "$fedmesh" federation admit --root other.key \
  --pubkey fr.key.pub --name fr-par-1 --country FR --out other.cert
expect 1 "other root" -- "$fedmesh" cert verify --root root.key.pub other.cert
contains err "invalid: other root" "other root reason"
# Tamper with the certificate: decode the armor, change one byte, re-armor.
# tamper OFFSET_FROM_END OUT: flips the byte OFFSET_FROM_END bytes before the end.
tamper() {
  sed '1d;$d' fr.cert | base64 -d > frame.bin
  local size pos byte
  size=$(stat -c %s frame.bin)
  pos=$((size - $1))
  byte=$(od -An -tu1 -j "$pos" -N1 frame.bin | tr -d ' ')
  printf "\\$(printf %o $(( (byte + 1) % 256 )))" | dd of=frame.bin bs=1 seek="$pos" conv=notrunc status=none
  { echo "-----BEGIN FEDMESH CERTIFICATE-----"; base64 -w 64 frame.bin; echo "-----END FEDMESH CERTIFICATE-----"; } > "$2"
}
tamper 10 badsig.cert     # inside the signature
expect 1 "tampered signature" -- "$fedmesh" cert verify --root root.key.pub badsig.cert
contains err "invalid: bad signature" "tampered signature reason"
tamper 90 badbody.cert    # inside the body: the validity window or the serial
expect 1 "tampered body" -- "$fedmesh" cert verify --root root.key.pub badbody.cert
contains err "invalid: bad signature" "tampered body reason"
printf 'not a certificate\n' > junk.cert
expect 3 "malformed" -- "$fedmesh" cert verify --root root.key.pub junk.cert
contains err "malformed" "malformed reason"
expect 3 "missing file" -- "$fedmesh" cert verify --root root.key.pub nothere.cert
contains err "cannot read" "missing file reason"

# Revocation.
expect 0 "revoke de" -- "$fedmesh" federation revoke --root root.key --pubkey de.key.pub \
  --reason "key compromise" --out de.revocation
expect 1 "revoked" -- "$fedmesh" cert verify --root root.key.pub de.cert --revocations de.revocation
contains err "invalid: revoked" "revoked reason"
expect 0 "other member unaffected" -- "$fedmesh" cert verify --root root.key.pub fr.cert \
  --revocations de.revocation
expect 0 "revocation by other root" -- "$fedmesh" federation revoke --root other.key \
  --pubkey fr.key.pub --out forged.revocation
expect 3 "forged revocation refused" -- "$fedmesh" cert verify --root root.key.pub fr.cert \
  --revocations forged.revocation
contains err "not signed by this federation's root" "forged revocation reason"
expect 3 "cert given as revocation" -- "$fedmesh" cert verify --root root.key.pub fr.cert \
  --revocations de.cert

finish
