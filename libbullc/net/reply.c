/* reply.c - the reply objects hiredis's reader builds for us: all of one reply in one arena of
 * a few chunks, freed at once. */
#include "net/reply.h"
#include "util/buf.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk {
    struct chunk *next;
    size_t size, used;
    max_align_t data[]; /* aligned storage */
} chunk;

typedef struct bullc__arena {
    chunk *chunks; /* newest first; the first chunk also holds this arena and the root */
} bullc__arena;

enum { FIRST_CHUNK = 512, MAX_CHUNK = 64 * 1024 };

static size_t align_up(size_t n)
{
    size_t a = sizeof(max_align_t);
    return (n + a - 1) / a * a;
}

static chunk *chunk_new(size_t size)
{
    chunk *c = malloc(sizeof *c + size);
    if (!c)
        return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

static void *arena_alloc(bullc__arena *a, size_t n)
{
    n = align_up(n);
    chunk *c = a->chunks;
    if (c->size - c->used < n) {
        size_t size = c->size * 2 > MAX_CHUNK ? MAX_CHUNK : c->size * 2;
        if (size < n)
            size = n;
        chunk *nc = chunk_new(size);
        if (!nc)
            return NULL;
        nc->next = c;
        a->chunks = nc;
        c = nc;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

/* A new object: the root of a new arena (task without parent) or one in the root's arena,
 * linked into its parent array. `extra` bytes follow the object (string or element array). */
static bullc__reply *new_object(const redisReadTask *task, bullc__rtype type, size_t extra)
{
    bullc__reply *r;
    if (!task->parent) {
        chunk *c = chunk_new(FIRST_CHUNK + extra);
        if (!c)
            return NULL;
        bullc__arena *a = (bullc__arena *)(void *)c->data;
        c->used = align_up(sizeof *a);
        a->chunks = c;
        r = arena_alloc(a, sizeof *r + extra);
        memset(r, 0, sizeof *r);
        r->arena = a;
    } else {
        const redisReadTask *t = task->parent;
        while (t->parent)
            t = t->parent;
        bullc__arena *a = ((bullc__reply *)t->obj)->arena;
        if (!(r = arena_alloc(a, sizeof *r + extra)))
            return NULL;
        memset(r, 0, sizeof *r);
        bullc__reply *parent = task->parent->obj;
        parent->element[task->idx] = r;
    }
    r->type = type;
    return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len)
{
    bullc__rtype type = task->type == REDIS_REPLY_ERROR    ? BULLC__R_ERROR
                        : task->type == REDIS_REPLY_STATUS ? BULLC__R_STATUS
                                                           : BULLC__R_STRING;
    bullc__reply *r = new_object(task, type, len + 1);
    if (!r)
        return NULL;
    r->str = (char *)(r + 1);
    memcpy(r->str, str, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static void *create_array(const redisReadTask *task, size_t n)
{
    bullc__reply *r = new_object(task, BULLC__R_ARRAY, n * sizeof(bullc__reply *));
    if (!r)
        return NULL;
    r->elements = n;
    r->element = (bullc__reply **)(void *)(r + 1);
    memset(r->element, 0, n * sizeof(bullc__reply *));
    return r;
}

#if HIREDIS_MAJOR >= 1
static void *create_array_fn(const redisReadTask *task, size_t n) { return create_array(task, n); }
#else
static void *create_array_fn(const redisReadTask *task, int n)
{
    return create_array(task, n > 0 ? (size_t)n : 0);
}
#endif

static void *create_integer(const redisReadTask *task, long long v)
{
    bullc__reply *r = new_object(task, BULLC__R_INTEGER, 0);
    if (r)
        r->integer = v;
    return r;
}

static void *create_nil(const redisReadTask *task) { return new_object(task, BULLC__R_NIL, 0); }

#if HIREDIS_MAJOR >= 1
/* RESP3 types never arrive (we do not send HELLO 3); read them as strings and integers. */
static void *create_double(const redisReadTask *task, double v, char *str, size_t len)
{
    (void)v;
    return create_string(task, str, len);
}

static void *create_bool(const redisReadTask *task, int v) { return create_integer(task, v != 0); }
#endif

static void free_object(void *obj) { bullc__reply_free(obj); }

static redisReplyObjectFunctions functions = {
    .createString = create_string,
    .createArray = create_array_fn,
    .createInteger = create_integer,
#if HIREDIS_MAJOR >= 1
    .createDouble = create_double,
    .createBool = create_bool,
#endif
    .createNil = create_nil,
    .freeObject = free_object,
};

void *bullc__reply_functions(void) { return &functions; }

void bullc__reply_free(bullc__reply *r)
{
    if (!r || !r->arena)
        return;
    chunk *c = r->arena->chunks;
    while (c) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
}

int bullc__reply_error_is(const bullc__reply *r, const char *code)
{
    size_t n = strlen(code);
    return r && r->type == BULLC__R_ERROR && r->len >= n && memcmp(r->str, code, n) == 0 &&
           (r->len == n || r->str[n] == ' '); /* the whole first word: BUSY is not BUSYKEY */
}

int bullc__reply_ll(const bullc__reply *r, long long *out)
{
    if (!r)
        return -1;
    if (r->type == BULLC__R_INTEGER) {
        *out = r->integer;
        return 0;
    }
    if (r->type == BULLC__R_STRING)
        return bullc__parse_ll(r->str, r->len, out);
    return -1;
}

int bullc__reply_parse(const char *bytes, size_t len, bullc__reply **out)
{
    *out = NULL;
    redisReader *r = redisReaderCreateWithFunctions(&functions);
    if (!r)
        return BULLC_ENOMEM;
    void *obj = NULL;
    int rc = redisReaderFeed(r, bytes, len) == REDIS_OK && redisReaderGetReply(r, &obj) == REDIS_OK
                 ? 0
                 : r->err == REDIS_ERR_OOM ? BULLC_ENOMEM : BULLC_EPROTO;
    void *extra = NULL;
    /* exactly one reply: nothing may follow it */
    if (rc == 0 && (!obj || r->pos != r->len || redisReaderGetReply(r, &extra) != REDIS_OK || extra))
        rc = BULLC_EPROTO;
    bullc__reply_free(extra);
    if (rc != 0)
        bullc__reply_free(obj);
    else
        *out = obj;
    redisReaderFree(r);
    return rc;
}
