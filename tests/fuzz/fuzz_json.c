/* fuzz_json - the JSON scanner (bullc__json_valid), parser, printer (bullc_json_print) and raw
 * member lookup (bullc_json_member_raw) on arbitrary text.
 *
 * Checks:
 *  - the scanner agrees with cJSON (strict, nothing may follow the value) on every text where
 *    cJSON means the same thing as JSON.parse: cJSON is more lenient about raw control bytes,
 *    a leading byte-order mark, some number spellings ("01", "1.", "-.5") and nests deeper,
 *    and reads lone surrogate and NUL escapes differently, so those texts only get the
 *    one-way checks (cJSON also reads a malformed \u escape as \u0000);
 *  - valid text parses, prints, and the printed text is valid and prints back to itself;
 *    invalid text does not parse (bullc__json_parse refuses what JSON.parse refuses);
 *  - bullc_json_member_raw returns its documented codes, agrees with the scanner, finds only
 *    whole values, and (for text without escapes) finds what the parsed object holds. */
#include "fuzz.h"

#include <cjson/cJSON.h>

/* What a scan of part of the text found about cJSON's verdict. */
enum { NOT_COMPARABLE, COMPARABLE, GO_ON };

/* The value of the 4 hex digits at p, or -1 when there are not 4 of them. */
static long hex4_value(const unsigned char *p)
{
    long value = 0;
    for (int digit = 0; digit < 4; digit++) {
        unsigned hex = p[digit];
        int nibble = hex >= '0' && hex <= '9'   ? (int)(hex - '0')
                     : hex >= 'a' && hex <= 'f' ? (int)(hex - 'a' + 10)
                     : hex >= 'A' && hex <= 'F' ? (int)(hex - 'A' + 10)
                                                : -1;
        if (nibble < 0)
            return -1;
        value = value * 16 + nibble;
    }
    return value;
}

/* A string from its opening quote at p[*at]: GO_ON with *at at its closing quote, COMPARABLE
 * when the text ends inside it, NOT_COMPARABLE where cJSON reads it otherwise than JSON.parse
 * (raw control bytes, malformed or NUL \u escapes, lone surrogate escapes). */
static int string_comparable(const unsigned char *p, size_t *at)
{
    int high_pending = 0; /* right after a \u escape of a high surrogate */
    for (size_t index = *at + 1; p[index]; index++) {
        unsigned byte = p[index];
        if (byte < 0x20)
            return NOT_COMPARABLE; /* raw control byte inside a string: cJSON takes it */
        if (byte == '"') {
            if (high_pending)
                return NOT_COMPARABLE;
            *at = index;
            return GO_ON;
        }
        if (byte != '\\') {
            if (high_pending)
                return NOT_COMPARABLE; /* a high surrogate not followed by an escape */
            continue;
        }
        unsigned escaped = p[index + 1];
        if (escaped == '\0')
            return COMPARABLE;
        if (escaped != 'u') {
            if (high_pending)
                return NOT_COMPARABLE;
            index++;
            continue;
        }
        long unit = hex4_value(p + index + 2);
        if (unit <= 0)
            return NOT_COMPARABLE; /* malformed (cJSON reads it as \u0000), or a NUL escape */
        int is_high = unit >= 0xd800 && unit <= 0xdbff, is_low = unit >= 0xdc00 && unit <= 0xdfff;
        if (high_pending ? !is_low : is_low)
            return NOT_COMPARABLE; /* a lone surrogate */
        high_pending = !high_pending && is_high;
        index += 5;
    }
    return COMPARABLE;
}

/* A number from its first byte at p[*at]: 0 for spellings strtod takes and JSON does not ("-.5",
 * "01", "1.", "1.e5"), else 1 with *at at its last byte. */
static int number_comparable(const unsigned char *p, size_t *at)
{
    size_t end = *at;
    if (p[end] == '-')
        end++;
    if (p[end] == '.')
        return 0; /* -.5 */
    if (p[end] == '0' && p[end + 1] >= '0' && p[end + 1] <= '9')
        return 0; /* 01 */
    while ((p[end] >= '0' && p[end] <= '9') || p[end] == '.' || p[end] == 'e' || p[end] == 'E' ||
           p[end] == '+' || p[end] == '-') {
        if (p[end] == '.' && !(p[end + 1] >= '0' && p[end + 1] <= '9'))
            return 0; /* 1. and 1.e5 */
        end++;
    }
    *at = end - 1;
    return 1;
}

/* 1 when cJSON's verdict on `s` is comparable with JSON.parse's (see above). */
static int cjson_comparable(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
        return 0; /* cJSON skips a byte-order mark */
    int depth = 0;
    for (size_t at = 0; p[at]; at++) {
        unsigned byte = p[at];
        if (byte < 0x20 && byte != '\t' && byte != '\n' && byte != '\r')
            return 0; /* cJSON skips every byte up to 0x20 as white space */
        if (byte == '"') {
            int verdict = string_comparable(p, &at);
            if (verdict != GO_ON)
                return verdict == COMPARABLE;
        } else if (byte == '[' || byte == '{') {
            if (++depth > 500)
                return 0; /* the scanner stops at 512 levels, cJSON at 1000 */
        } else if (byte == ']' || byte == '}') {
            depth--;
        } else if (byte == '-' || (byte >= '0' && byte <= '9')) {
            if (!number_comparable(p, &at))
                return 0;
        }
    }
    return 1;
}

/* Parses with the library and prints; the text is valid JSON. */
static char *parse_print(const char *s)
{
    cJSON *j = bullc__json_parse(s);
    FUZZ_CHECK(j != NULL); /* valid text always parses */
    char *out = bullc_json_print((const bullc_json_t *)j);
    FUZZ_CHECK(out != NULL);
    cJSON_Delete(j);
    return out;
}

/* A top-level member as the parsed object sees it, printed; NULL when absent. */
static char *member_printed(const char *s, const char *key)
{
    cJSON *j = bullc__json_parse(s);
    FUZZ_CHECK(j != NULL);
    const bullc_json_t *m = bullc_json_get((const bullc_json_t *)j, key);
    char *out = m ? bullc_json_print(m) : NULL;
    FUZZ_CHECK(!m || out);
    cJSON_Delete(j);
    return out;
}

static void check_member_raw(const char *s, int valid)
{
    static const char *const keys[] = {"a",    "b",    "key", "",
                                       "name", "data", "1",   "a\\\"b", "\xc3\xa9"};
    size_t slen = strlen(s);
    const char *t = s + strspn(s, " \t\r\n");
    int is_obj = *t == '{';
    int no_escapes = strchr(s, '\\') == NULL;
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        const char *v = NULL;
        size_t len = 0;
        int rc = bullc_json_member_raw(s, keys[k], &v, &len);
        FUZZ_CHECK(rc == BULLC_OK || rc == BULLC_EINVAL || rc == BULLC_EJSON);
        if (!is_obj) {
            FUZZ_CHECK(rc == BULLC_EINVAL); /* not an object */
            continue;
        }
        /* an object is malformed exactly when the scanner says so */
        FUZZ_CHECK((rc == BULLC_EJSON) == !valid);
        if (rc == BULLC_OK) {
            FUZZ_CHECK(v >= s && len <= slen && v + len <= s + slen);
            char *copy = bullc__strndup(v, len);
            FUZZ_CHECK(copy != NULL);
            FUZZ_CHECK(bullc__json_valid(copy) == 1);
            if (no_escapes) {
                /* keys are compared as written; without escapes that is the parsed key */
                char *want = member_printed(s, keys[k]);
                char *got = parse_print(copy);
                FUZZ_CHECK(want != NULL && strcmp(want, got) == 0);
                bullc_free(want);
                bullc_free(got);
            }
            free(copy);
        } else if (rc == BULLC_EINVAL && no_escapes) {
            char *want = member_printed(s, keys[k]);
            FUZZ_CHECK(want == NULL);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    int valid = bullc__json_valid(s);
    FUZZ_CHECK(valid == 0 || valid == 1);

    if (cjson_comparable(s)) {
        cJSON *j = cJSON_ParseWithOpts(s, NULL, 1);
        FUZZ_CHECK(valid == (j != NULL));
        cJSON_Delete(j);
    }

    if (valid) {
        char *p1 = parse_print(s);
        FUZZ_CHECK(bullc__json_valid(p1) == 1);
        char *p2 = parse_print(p1);
        if (strcmp(p1, p2) != 0)
            fprintf(stderr, "fuzz_json: printed %s\nfuzz_json: printed again %s\n", p1, p2);
        FUZZ_CHECK(strcmp(p1, p2) == 0); /* printing is idempotent */
        bullc_free(p1);
        bullc_free(p2);
    } else {
        cJSON *parsed = bullc__json_parse(s);
        FUZZ_CHECK(parsed == NULL);
    }

    check_member_raw(s, valid);
    free(s);
    return 0;
}
