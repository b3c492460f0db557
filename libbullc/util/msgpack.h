/* msgpack.h - the msgpack encodings script arguments need (Lua's cmsgpack decodes them). */
#ifndef BULLC_UTIL_MSGPACK_H
#define BULLC_UTIL_MSGPACK_H

#include "util/buf.h"

struct cJSON;

void bullc__mp_nil(bullc__buf *b);
void bullc__mp_bool(bullc__buf *b, int v);
void bullc__mp_int(bullc__buf *b, long long v);
void bullc__mp_double(bullc__buf *b, double v);
void bullc__mp_str(bullc__buf *b, const char *s, size_t n);
void bullc__mp_cstr(bullc__buf *b, const char *s);
void bullc__mp_array(bullc__buf *b, uint32_t n);
void bullc__mp_map(bullc__buf *b, uint32_t n);
/* A JSON number as msgpackr (Node's packer) packs it: 32-bit integers as ints, else float64. */
void bullc__mp_number(bullc__buf *b, double v);
/* A parsed JSON value, objects in member order. BULLC_EINVAL past depth 64. */
int bullc__mp_cjson(bullc__buf *b, const struct cJSON *v, int depth);

#endif
