#!/bin/sh
# luagen.sh - generates the C side of a folder of Lua scripts: each script's text (includes
# resolved) and SHA1, the queue-key table, and one typed builder per script, from the KEYS and
# ARGV each script declares in its header. Nothing about a script call is written by hand.
#
# Usage: luagen.sh DIR PREFIX OUT.h OUT.c
#   DIR     the scripts (DIR/*.lua) and their shared pieces (DIR/include/*.lua)
#   PREFIX  C name prefix, e.g. "bmq" (functions bullc__bmq_<script>, keys BULLC__BMQ_Q_<KEY>)
#
# Includes: a line that is exactly "--@include NAME" is replaced by DIR/include/NAME.lua,
# recursively, each include at most once per script (a later line naming it becomes empty, so
# line numbers in Redis errors stay close to the sources).
#
# Header declarations (comment lines before the first line of code), in KEYS/ARGV order:
#   -- @key NAME queue          a key of the queue: <prefix>:<queue>:NAME
#   -- @key NAME queue:SUFFIX   a key of the queue: <prefix>:<queue>:SUFFIX
#   -- @key NAME key            any key, given by the caller
#   -- @arg NAME base           the queue's key prefix "<prefix>:<queue>:"
#   -- @arg NAME str            a NUL-terminated string
#   -- @arg NAME bin            bytes (pointer and length)
#   -- @arg NAME int            an integer (long long), sent in decimal
#   -- @each NAME               the @key/@arg lines after it repeat, once per item: the builder
#                               bullc__PREFIX_<script>_each() appends one item
#   -- @qkeys SUFFIX...         queue keys the caller passes as `key` arguments (they join the
#                               queue-key table)
# Text after the kind is a description, for the reader.
set -eu
dir=$1; prefix=$2; out_h=$3; out_c=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

resolve() {
    awk -v dir="$dir" '
    function emit(file,    line, name) {
        while ((getline line < file) > 0) {
            if (line ~ /^--@include [A-Za-z0-9_]+[ \t]*$/) {
                name = line; sub(/^--@include /, "", name); sub(/[ \t]+$/, "", name)
                if (!(name in seen)) { seen[name] = 1; emit(dir "/include/" name ".lua") }
                else print ""
            } else print line
        }
        close(file)
    }
    BEGIN { emit(ARGV[1]); exit }' "$1"
}

: > "$tmp/manifest"
for f in "$dir"/*.lua; do
    name=$(basename "$f" .lua)
    resolve "$f" > "$tmp/$name.lua"
    sha=$(sha1sum "$tmp/$name.lua" | cut -c1-40)
    len=$(wc -c < "$tmp/$name.lua" | tr -d ' ')
    printf '%s %s %s %s %s\n' "$name" "$sha" "$len" "$f" "$tmp/$name.lua" >> "$tmp/manifest"
done

awk -v P="$prefix" -v out_h="$out_h.tmp" -v out_c="$out_c.tmp" -v hname="$(basename "$out_h")" '
function die(msg) { printf "luagen: %s\n", msg > "/dev/stderr"; failed = 1; exit 1 }
function upper_id(s,    r) { r = toupper(s); gsub(/[^A-Z0-9]/, "_", r); return r }
function snake(s,    r, i, c) {
    r = ""
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c ~ /[A-Z]/) r = r "_" tolower(c); else r = r c
    }
    return r
}
function cstr(s) { gsub(/\\/, "\\\\\\\\", s); gsub(/"/, "\\\"", s); gsub(/\?/, "\\?", s); return s }
function qkey(suffix,    id) {
    id = upper_id(suffix)
    if (!(id in qk_seen)) { qk_seen[id] = 1; qk_id[nq] = id; qk_suffix[nq] = suffix; nq++ }
    return "BULLC__" UP "_Q_" id
}
# parameter list text and body for items [from, to) of script s
function params(s, from_k, to_k, from_a, to_a,    i, t) {
    t = ""
    for (i = from_k; i < to_k; i++)
        if (kkind[s, i] == "key") t = t ", const char *" snake(kname[s, i])
    for (i = from_a; i < to_a; i++) {
        if (akind[s, i] == "str") t = t ", const char *" snake(aname[s, i])
        else if (akind[s, i] == "bin") t = t ", const void *" snake(aname[s, i]) ", size_t " snake(aname[s, i]) "_len"
        else if (akind[s, i] == "int") t = t ", long long " snake(aname[s, i])
    }
    return t
}
function body(s, from_k, to_k, from_a, to_a,    i, t, n) {
    t = ""
    for (i = from_k; i < to_k; i++) {
        if (kkind[s, i] == "key") t = t "    bullc__cmd_keystr(c, " snake(kname[s, i]) ");\n"
        else t = t "    bullc__cmd_key(c, q->k[" kenum[s, i] "], q->len[" kenum[s, i] "]);\n"
    }
    for (i = from_a; i < to_a; i++) {
        n = snake(aname[s, i])
        if (akind[s, i] == "base") t = t "    bullc__cmd_arg(c, q->base, q->base_len);\n"
        else if (akind[s, i] == "str") t = t "    bullc__cmd_str(c, " n ");\n"
        else if (akind[s, i] == "bin") t = t "    bullc__cmd_arg(c, " n ", " n "_len);\n"
        else t = t "    bullc__cmd_ll(c, " n ");\n"
    }
    return t
}
function needs_q(s, from_k, to_k, from_a, to_a,    i) {
    for (i = from_k; i < to_k; i++) if (kkind[s, i] != "key") return 1
    for (i = from_a; i < to_a; i++) if (akind[s, i] == "base") return 1
    return 0
}
BEGIN {
    nq = 0; ns = 0
    UP = toupper(P)
    while ((getline line < ARGV[1]) > 0) {
        split(line, m, " ")
        s = ns++
        sname[s] = m[1]; ssha[s] = m[2]; slen[s] = m[3]; ssrc[s] = m[4]; sres[s] = m[5]
        nk[s] = 0; na[s] = 0; each_k[s] = -1; each_a[s] = -1; purpose[s] = ""
        while ((getline h < ssrc[s]) > 0) {
            if (h !~ /^--/) break
            if (purpose[s] == "" && h ~ /^-- [A-Za-z]+: /) { purpose[s] = h; sub(/^-- /, "", purpose[s]) }
            if (h !~ /^-- @/) continue
            n = split(h, w, /[ \t]+/)
            if (w[2] == "@each") { each_k[s] = nk[s]; each_a[s] = na[s]; continue }
            if (w[2] == "@qkeys") { for (i = 3; i <= n; i++) qkey(w[i]); continue }
            if (n < 4) die(sname[s] ": incomplete declaration: " h)
            if (w[2] == "@key") {
                i = nk[s]++
                kname[s, i] = w[3]
                if (w[4] == "key") kkind[s, i] = "key"
                else if (w[4] == "queue") { kkind[s, i] = "queue"; kenum[s, i] = qkey(w[3]) }
                else if (w[4] ~ /^queue:/) { kkind[s, i] = "queue"; kenum[s, i] = qkey(substr(w[4], 7)) }
                else die(sname[s] ": unknown key kind " w[4])
            } else if (w[2] == "@arg") {
                if (w[4] !~ /^(base|str|bin|int)$/) die(sname[s] ": unknown arg kind " w[4])
                i = na[s]++
                aname[s, i] = w[3]; akind[s, i] = w[4]
            } else die(sname[s] ": unknown declaration " w[2])
        }
        close(ssrc[s])
        if (nk[s] + na[s] == 0) die(sname[s] ": declares no KEYS or ARGV")
    }
    guard = "BULLC_GEN_" upper_id(hname)
    print "/* Generated by lua/luagen.sh from the script headers: do not edit. */" > out_h
    print "#ifndef " guard > out_h
    print "#define " guard "\n\n#include \"net/cmd.h\"\n" > out_h
    print "/* The queue keys the scripts use (<prefix>:<queue>:<suffix>). */" > out_h
    print "typedef enum bullc__" P "_qkey {" > out_h
    for (i = 0; i < nq; i++) print "    BULLC__" UP "_Q_" qk_id[i] "," > out_h
    print "    BULLC__" UP "_Q_COUNT\n} bullc__" P "_qkey;\n" > out_h
    print "extern const char *const bullc__" P "_qkey_suffix[BULLC__" UP "_Q_COUNT];\n" > out_h
    print "/* The keys of one queue, precomputed (see bullc__" P "_keys_init). */" > out_h
    print "typedef struct bullc__" P "_keys {" > out_h
    print "    char *base; /* \"<prefix>:<queue>:\" */\n    size_t base_len;" > out_h
    print "    char *k[BULLC__" UP "_Q_COUNT];\n    size_t len[BULLC__" UP "_Q_COUNT];" > out_h
    print "} bullc__" P "_keys;\n" > out_h
    print "/* Every script, in file-name order (tests and tools list them). */" > out_h
    print "extern const bullc__script bullc__" P "_scripts[" ns "];\nenum { BULLC__" UP "_NSCRIPTS = " ns " };\n" > out_h

    print "/* Generated by lua/luagen.sh from the scripts and their headers: do not edit. */" > out_c
    print "#include \"" hname "\"\n" > out_c
    print "const char *const bullc__" P "_qkey_suffix[BULLC__" UP "_Q_COUNT] = {" > out_c
    for (i = 0; i < nq; i++) print "    \"" qk_suffix[i] "\"," > out_c
    print "};\n" > out_c
    print "const bullc__script bullc__" P "_scripts[" ns "] = {" > out_c
    for (s = 0; s < ns; s++) {
        print "    {\"" sname[s] "\", \"" ssha[s] "\"," > out_c
        while ((getline t < sres[s]) > 0) print "        \"" cstr(t) "\\n\"" > out_c
        close(sres[s])
        print "        , " slen[s] "}," > out_c
    }
    print "};\n" > out_c
    for (s = 0; s < ns; s++) {
        ek = each_k[s] < 0 ? nk[s] : each_k[s]; ea = each_a[s] < 0 ? na[s] : each_a[s]
        fn = "bullc__" P "_" sname[s]
        qp = needs_q(s, 0, ek, 0, ea) ? ", const bullc__" P "_keys *q" : ""
        proto = "void " fn "(bullc__cmd *c" qp params(s, 0, ek, 0, ea) ")"
        print "/* " purpose[s] " */\n" proto ";" > out_h
        print proto "\n{" > out_c
        print "    bullc__cmd_reset(c, &bullc__" P "_scripts[" s "]);" > out_c
        printf "%s", body(s, 0, ek, 0, ea) > out_c
        print "}\n" > out_c
        if (each_k[s] >= 0) {
            qp = needs_q(s, ek, nk[s], ea, na[s]) ? ", const bullc__" P "_keys *q" : ""
            proto = "void " fn "_each(bullc__cmd *c" qp params(s, ek, nk[s], ea, na[s]) ")"
            print "/* Appends one item to a " sname[s] " call. */\n" proto ";" > out_h
            print proto "\n{" > out_c
            printf "%s", body(s, ek, nk[s], ea, na[s]) > out_c
            print "}\n" > out_c
        }
        print "" > out_h
    }
    print "#endif" > out_h
    exit
}
END { if (failed) exit 1 }
' "$tmp/manifest"
mv "$out_h.tmp" "$out_h"
mv "$out_c.tmp" "$out_c"
