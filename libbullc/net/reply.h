/* reply.h - Redis replies as libbullc holds them. hiredis's reader parses the protocol and
 * builds these objects through our own constructors, straight into one arena owned by the
 * top-level reply (a few allocations per reply rather than two per element). */
#ifndef BULLC_NET_REPLY_H
#define BULLC_NET_REPLY_H

#include "util/common.h"

typedef enum bullc__rtype {
    BULLC__R_STRING = 1,
    BULLC__R_ARRAY,
    BULLC__R_INTEGER,
    BULLC__R_NIL,
    BULLC__R_STATUS,
    BULLC__R_ERROR
} bullc__rtype;

struct bullc__arena;

typedef struct bullc__reply {
    bullc__rtype type;
    long long integer;              /* BULLC__R_INTEGER */
    size_t len;                     /* length of str */
    char *str;                      /* STRING, STATUS, ERROR: NUL-terminated (may hold NULs) */
    size_t elements;                /* ARRAY */
    struct bullc__reply **element;  /* ARRAY */
    struct bullc__arena *arena;     /* top-level replies only (NULL inside an array) */
} bullc__reply;

/* Frees a top-level reply and everything in it. NULL (and an element of an array) is a no-op. */
void bullc__reply_free(bullc__reply *r);

/* Reply helpers; both accept NULL. 1 when r is an error reply whose first word is `code`
 * ("NOSCRIPT", "LOADING", ...). */
int bullc__reply_error_is(const bullc__reply *r, const char *code);
/* An integer reply, or a string holding a decimal integer, as a long long: 0 on success. */
int bullc__reply_ll(const bullc__reply *r, long long *out);

/* Parses one reply from protocol bytes (tests and fuzzing): 0 with *out, BULLC_EPROTO when the
 * bytes are not exactly one complete reply, BULLC_ENOMEM. */
int bullc__reply_parse(const char *bytes, size_t len, bullc__reply **out);

/* The object functions for hiredis's reader (a redisReplyObjectFunctions *). */
void *bullc__reply_functions(void);

#endif
