/* buf.h - a growable byte buffer and small string helpers. */
#ifndef BULLC_UTIL_BUF_H
#define BULLC_UTIL_BUF_H

#include "util/common.h"

/* A byte buffer that records allocation failure instead of reporting it at every append:
 * check `oom` once at the end. `data` is NUL-terminated whenever it is not NULL. */
typedef struct bullc__buf {
    char *data;
    size_t len;
    size_t cap;
    int oom;
} bullc__buf;

void bullc__buf_init(bullc__buf *b);
void bullc__buf_free(bullc__buf *b);
/* Empties the buffer and clears `oom`, keeping its memory. */
void bullc__buf_reset(bullc__buf *b);
void bullc__buf_append(bullc__buf *b, const void *p, size_t n);
void bullc__buf_puts(bullc__buf *b, const char *s);
void bullc__buf_printf(bullc__buf *b, const char *fmt, ...) BULLC__PRINTF(2, 3);
/* Moves the contents out as a malloc'd NUL-terminated string (NULL on OOM) and resets b. */
char *bullc__buf_take(bullc__buf *b);

/* NULL-safe copies; NULL on allocation failure. */
char *bullc__strdup(const char *s);
char *bullc__strndup(const char *s, size_t n);
/* Parses a decimal integer that must span the whole of s[0..n); 0 on success, -1 otherwise. */
int bullc__parse_ll(const char *s, size_t n, long long *out);
/* Standard base64 (with '=' padding) of s[0..n) in a new string, NULL on OOM. */
char *bullc__base64(const char *s, size_t n);

#endif
