/* json.h - JSON text as Node reads and writes it: a syntax check with JSON.parse's rules, raw
 * member lookup, JSON.stringify's string escaping, and the parsed view handed to handlers (the
 * public bullc_json_* calls, over cJSON). */
#ifndef BULLC_UTIL_JSON_H
#define BULLC_UTIL_JSON_H

#include "util/buf.h"

/* 1 if `s` is one complete JSON value (what JSON.parse accepts), else 0. */
int bullc__json_valid(const char *s);
/* A copy of `s` with lone-surrogate \u escapes replaced by \ufffd (so cJSON can parse it, as
 * Node would read it). NULL on OOM. */
char *bullc__json_fix_surrogates(const char *s);
/* Parses text as JSON.parse would (lone surrogates read as U+FFFD); a cJSON * or NULL. */
void *bullc__json_parse(const char *s);
/* Appends s[0..n) as a JSON string literal escaped as JSON.stringify does; bytes that are not
 * valid UTF-8 become U+FFFD. */
void bullc__json_append_string(bullc__buf *b, const char *s, size_t n);
/* The member of a parsed object that JSON.parse keeps for `key`: the last one with that key, as
 * JavaScript reads keys (bytes that are not UTF-8 read as U+FFFD); NULL when none or `obj` is
 * not an object. */
const struct cJSON *bullc__json_member(const struct cJSON *obj, const char *key);

#endif
