/* js.h - JavaScript behaviours Node applies to the values it stores, reproduced so that what
 * libbullc writes is byte-identical: number printing, the order of an object's keys after
 * JSON.parse, truthiness, and Node's integer-string test. */
#ifndef BULLC_UTIL_JS_H
#define BULLC_UTIL_JS_H

#include "util/buf.h"

struct cJSON;

/* Appends `d` as Number.prototype.toString writes it (shortest round-trip digits, exponent form
 * outside 1e-7..1e21); NaN and infinities as JSON.stringify does ("null"). */
void bullc__js_number(bullc__buf *b, double d);

/* 1 when `k` is an array-index key (canonical decimal below 2^32 - 1), with its value. */
int bullc__js_index_key(const char *k, unsigned long long *out);

/* Length of the valid UTF-8 sequence at p (1 to 4 bytes, `left` bytes readable), or 0 when the
 * bytes there are not one: a UTF-8 decoder (Node's, bullc__json_append_string) reads U+FFFD for
 * such a byte. */
size_t bullc__js_utf8_len(const unsigned char *p, size_t left);

/* Compares two keys as the JavaScript strings Node reads from their bytes: every byte that is not
 * part of valid UTF-8 reads as U+FFFD, so "\xff" and "\xfe" are the same key. 0 when equal; a
 * consistent order otherwise (strcmp's for valid UTF-8). */
int bullc__js_key_compare(const char *a, const char *b);

/* One property of an object as JavaScript sees it: the key, where it first appeared, and the
 * value of its last occurrence (JSON.parse keeps the last duplicate). */
typedef struct bullc__js_prop {
    const char *key;
    const struct cJSON *value;
} bullc__js_prop;

/* The properties of a parsed object in JavaScript's enumeration order: array-index keys
 * ascending, then the others in order of first appearance, keys told apart as
 * bullc__js_key_compare does. *props is malloc'd (free it); BULLC_ENOMEM, or BULLC_EINVAL when
 * `obj` is not an object. O(n log n). */
int bullc__js_props(const struct cJSON *obj, bullc__js_prop **props, size_t *n);

/* Appends String(v) as JavaScript writes a parsed JSON value (what a template literal `${v}`
 * prints): strings as they are, numbers as bullc__js_number, true/false, null, arrays joined with
 * ',' (null elements empty), objects "[object Object]", NULL (undefined) "undefined". */
void bullc__js_string(bullc__buf *b, const struct cJSON *v);

/* JavaScript truthiness of a JSON value; NULL (undefined) is falsy. */
int bullc__js_truthy(const struct cJSON *v);

/* 1 when `${parseInt(s, 10)}` === s in JavaScript (a canonical decimal integer that prints back
 * the same). */
int bullc__js_integer_string(const char *s);

#endif
