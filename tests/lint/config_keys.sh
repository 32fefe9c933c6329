#!/usr/bin/env bash
# lint.config_keys: the config keys the parser accepts (node/config.c, its
# keys[] table and the gpu.<MODEL>.<FIELD> suffixes), the README's
# configuration table and docs/node.example.ini name the same keys, section
# by section; and the parser's sections are the ones its unknown-section
# message lists, the example's header lists, and the example sets out.
#
#   config_keys.sh ROOT             checks ROOT, then proves that the check
#                                   fails when one key or section is missing
#                                   from any of the sources (negative cases)
#   config_keys.sh --check ROOT     checks ROOT only (exit 1 on a mismatch)
#
# Keys are "section key" words; "[data_class NAME]" is section data_class,
# and a GPU key gpu.H100-80GB.total is gpu.<MODEL>.total.
set -u

# parser_keys CONFIG_C
parser_keys() {
  sed -n '/^static const key_spec keys\[\] = {/,/^};/p' "$1" |
    sed -nE 's/^ *\{"([a-z_]+)", "([a-z0-9_.]+)", KEY_.*/\1 \2/p; s/^ *\{CLASS_SECTION, "([a-z0-9_.]+)", KEY_.*/data_class \1/p'
  sed -n '/field_suffix\[FIELD_COUNT\] = {/,/};/p' "$1" | grep -oE '"[a-z_]+"' | tr -d '"' |
    sed 's/^/capacity gpu.<MODEL>./'
}
# parser_sections CONFIG_C
parser_sections() {
  sed -n '/const sections\[\] = {/,/};/p' "$1" | grep -oE '"[a-z_]+"' | tr -d '"'
  echo data_class
}
# message_sections CONFIG_C: the sections named in SECTION_LIST.
message_sections() {
  sed -n '/^#define SECTION_LIST/,/^[^ #]/p' "$1" | grep -oE '\[[a-z_]+( NAME)?\]' |
    sed -E 's/\[([a-z_]+).*\]/\1/'
}
# readme_keys README: the rows of the table under "| section | key |" in
# the "## Configuration" section.
readme_keys() {
  awk -F'|' '
    /^## / { configuration = ($0 == "## Configuration") }
    configuration && /^\| section \| key \|/ { table = 1; next }
    table && !/^\|/ { table = 0 }
    table && !/^\| ---/ {
      section = $2; gsub(/^ +| +$/, "", section); sub(/ NAME$/, "", section)
      cell = $3
      while (match(cell, /`[^`]+`/)) {
        print section, substr(cell, RSTART + 1, RLENGTH - 2)
        cell = substr(cell, RSTART + RLENGTH)
      }
    }' "$1"
}
# example_keys EXAMPLE: key lines, set or commented out (#key = value).
example_keys() {
  awk '
    /^\[/ { section = $0; gsub(/^\[|\].*$/, "", section); sub(/ .*/, "", section); next }
    match($0, /^#?[a-z][A-Za-z0-9_.<>-]* *=/) {
      key = substr($0, 1, RLENGTH); sub(/^#/, "", key); sub(/ *=$/, "", key)
      if (key ~ /^gpu\./) { n = split(key, part, "."); key = "gpu.<MODEL>." part[n] }
      print section, key
    }' "$1"
}
# example_sections EXAMPLE: the [section] lines; example_header EXAMPLE:
# the sections its header's "Sections" item lists.
example_sections() { sed -nE 's/^\[([a-z_]+).*\]$/\1/p' "$1"; }
example_header() {
  sed -n '/^#   - Sections/,/^#   - [^S]/p' "$1" | sed '$d' | grep -oE '\[[a-z_]+( NAME)?\]' |
    sed -E 's/\[([a-z_]+).*\]/\1/'
}

# compare WHAT PARSER_LIST OTHER_LIST OTHER_NAME: reports words in one
# list and not the other; returns 1 when there is any.
compare() {
  local what=$1 parser=$2 other=$3 name=$4 result=0 line
  while read -r line; do
    [ -n "$line" ] || continue
    echo "lint.config_keys: $what '$line' is accepted by the parser but missing from $name"
    result=1
  done < <(comm -23 <(sort -u <<<"$parser") <(sort -u <<<"$other"))
  while read -r line; do
    [ -n "$line" ] || continue
    echo "lint.config_keys: $what '$line' is in $name but the parser does not accept it"
    result=1
  done < <(comm -13 <(sort -u <<<"$parser") <(sort -u <<<"$other"))
  return $result
}

# check ROOT: 0 when the three sources agree.
check() {
  local root=$1 config=$1/node/config.c readme=$1/README.md example=$1/docs/node.example.ini
  local keys sections result=0
  keys=$(parser_keys "$config")
  sections=$(parser_sections "$config")
  if [ "$(wc -l <<<"$keys")" -lt 80 ] || [ "$(wc -l <<<"$sections")" -lt 10 ]; then
    echo "lint.config_keys: read only $(wc -l <<<"$keys") keys and $(wc -l <<<"$sections") sections from $config: has the keys[] table changed shape?"
    return 1
  fi
  compare key "$keys" "$(readme_keys "$readme")" "the README's configuration table" || result=1
  compare key "$keys" "$(example_keys "$example")" "docs/node.example.ini" || result=1
  compare section "$sections" "$(message_sections "$config")" "the unknown-section message (SECTION_LIST)" || result=1
  compare section "$sections" "$(example_sections "$example")" "docs/node.example.ini's sections" || result=1
  compare section "$sections" "$(example_header "$example")" "docs/node.example.ini's header" || result=1
  return $result
}

if [ "${1:-}" = --check ]; then
  check "${2:?usage: config_keys.sh --check ROOT}"
  exit $?
fi
root=${1:?usage: config_keys.sh ROOT}
check "$root" || { echo "lint.config_keys: FAILED (fix the sources above)"; exit 1; }

# Negative cases: each source loses one key (or a section), and the check
# must fail naming it.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/config_keys.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT
failed=0
# negative NAME FILE SED_SCRIPT EXPECTED_WORD
negative() {
  local name=$1 file=$2 script=$3 word=$4 out
  rm -rf "$scratch/tree" && mkdir -p "$scratch/tree/node" "$scratch/tree/docs"
  cp "$root/node/config.c" "$scratch/tree/node/" && cp "$root/README.md" "$scratch/tree/" &&
    cp "$root/docs/node.example.ini" "$scratch/tree/docs/" || exit 1
  sed -i "$script" "$scratch/tree/$file"
  if cmp -s "$root/$file" "$scratch/tree/$file"; then
    echo "lint.config_keys: negative case '$name' changed nothing in $file (update the case)"
    failed=1
    return
  fi
  if out=$(check "$scratch/tree"); then
    echo "lint.config_keys: negative case '$name' passed; the check cannot see it"
    failed=1
  elif ! grep -qF -- "$word" <<<"$out"; then
    echo "lint.config_keys: negative case '$name' failed without naming '$word': $out"
    failed=1
  fi
}
negative "key missing from the README" README.md '/^| ledger | `half_life_s`/d' "ledger half_life_s"
negative "key missing from the example" docs/node.example.ini '/^half_life_s = /d' "ledger half_life_s"
negative "key only in the docs" node/config.c '/{"ledger", "half_life_s"/d' "ledger half_life_s"
negative "GPU field missing from the example" docs/node.example.ini '/^gpu\.H100-80GB\.keep = /d' "capacity gpu.<MODEL>.keep"
negative "section missing from the message" node/config.c 's/\[ledger\], \[tls\], /[ledger], /' "section 'tls'"
negative "section missing from the example" docs/node.example.ini 's/^\[tls\]$/# tls/' "section 'tls'"
negative "section missing from the header" docs/node.example.ini 's/^#     \[ledger\], \[tls\], /#     [ledger], /' "section 'tls'"
[ $failed -eq 0 ] || exit 1
echo "lint.config_keys: ok ($(parser_keys "$root/node/config.c" | wc -l) keys, $(parser_sections "$root/node/config.c" | wc -l) sections; 7 negative cases caught)"
