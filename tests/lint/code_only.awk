# tests/lint/code_only.awk: used by purity.sh.
#
# Prints FILE:LINE:CODE for every line of the C files given, with comments
# blanked and string and character literals emptied, so that the patterns
# of purity.sh see code only. A block comment may span lines; a line that
# starts with '*' outside a comment is code. #include lines are kept whole
# (their quoted path is what the include rules look at).
FNR == 1 { in_block = 0 }
{
    line = $0
    out = ""
    if (!in_block && line ~ /^[ \t]*#[ \t]*include/) {
        sub(/\/\/.*$/, "", line)
        sub(/\/\*.*$/, "", line)
        print FILENAME ":" FNR ":" line
        next
    }
    while (length(line) > 0) {
        if (in_block) {
            p = index(line, "*/")
            if (p == 0) { line = ""; break }
            line = substr(line, p + 2)
            in_block = 0
            out = out " "
            continue
        }
        if (!match(line, /\/\*|\/\/|"|'/)) { out = out line; break }
        out = out substr(line, 1, RSTART - 1)
        token = substr(line, RSTART, RLENGTH)
        line = substr(line, RSTART + RLENGTH)
        if (token == "//") { line = ""; break }
        if (token == "/*") { in_block = 1; continue }
        if (token == "\"") { closing = "^([^\"\\\\]|\\\\.)*\"" } else { closing = "^([^'\\\\]|\\\\.)*'" }
        if (match(line, closing)) { line = substr(line, RSTART + RLENGTH) } else { line = "" }
        out = out token token
    }
    print FILENAME ":" FNR ":" out
}
