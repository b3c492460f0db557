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

/* 1 when cJSON's verdict on `s` is comparable with JSON.parse's (see above). */
static int cjson_comparable(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
        return 0; /* cJSON skips a byte-order mark */
    int in_str = 0, depth = 0;
    unsigned prev_esc_hi = 0; /* 1 right after a \u escape of a high surrogate */
    for (size_t i = 0; p[i]; i++) {
        unsigned c = p[i];
        if (in_str) {
            if (c < 0x20)
                return 0; /* raw control byte inside a string: cJSON takes it */
            if (c == '"') {
                if (prev_esc_hi)
                    return 0;
                in_str = 0;
                continue;
            }
            if (c != '\\') {
                if (prev_esc_hi)
                    return 0; /* a high surrogate not followed by an escape */
                continue;
            }
            unsigned e = p[i + 1];
            if (e == '\0')
                return 1;
            if (e != 'u') {
                if (prev_esc_hi)
                    return 0;
                i++;
                continue;
            }
            unsigned v = 0;
            int k;
            for (k = 0; k < 4; k++) {
                unsigned h = p[i + 2 + k];
                int d = h >= '0' && h <= '9'   ? (int)(h - '0')
                        : h >= 'a' && h <= 'f' ? (int)(h - 'a' + 10)
                        : h >= 'A' && h <= 'F' ? (int)(h - 'A' + 10)
                                               : -1;
                if (d < 0)
                    break;
                v = v * 16 + (unsigned)d;
            }
            if (k < 4)
                return 0; /* malformed: cJSON reads a bad \u escape as \u0000 */
            if (v == 0)
                return 0; /* NUL escape */
            if (prev_esc_hi) {
                if (v < 0xdc00 || v > 0xdfff)
                    return 0; /* lone high surrogate */
                prev_esc_hi = 0;
            } else if (v >= 0xd800 && v <= 0xdbff) {
                prev_esc_hi = 1;
            } else if (v >= 0xdc00 && v <= 0xdfff) {
                return 0; /* lone low surrogate */
            }
            i += 5;
            continue;
        }
        if (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return 0; /* cJSON skips every byte up to 0x20 as white space */
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > 500)
                return 0; /* the scanner stops at 512 levels, cJSON at 1000 */
        } else if (c == ']' || c == '}') {
            depth--;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            /* number spellings strtod takes and JSON does not */
            size_t j = i;
            if (p[j] == '-')
                j++;
            if (p[j] == '.')
                return 0; /* -.5 */
            if (p[j] == '0' && p[j + 1] >= '0' && p[j + 1] <= '9')
                return 0; /* 01 */
            while ((p[j] >= '0' && p[j] <= '9') || p[j] == '.' || p[j] == 'e' || p[j] == 'E' ||
                   p[j] == '+' || p[j] == '-') {
                if (p[j] == '.' && !(p[j + 1] >= '0' && p[j + 1] <= '9'))
                    return 0; /* 1. and 1.e5 */
                j++;
            }
            i = j - 1;
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
