/* json.c - the read-only JSON view handed to handlers (a thin layer over cJSON). */
#include "internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#define CJ(v) ((const cJSON *)(const void *)(v))
#define BJ(v) ((const bullc_json_t *)(const void *)(v))

int bullc__json_valid(const char *s)
{
    if (!s)
        return 0;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(s, &end, 1);
    if (!j)
        return 0;
    cJSON_Delete(j);
    return 1;
}

bullc_json_type_t bullc_json_type(const bullc_json_t *v)
{
    const cJSON *j = CJ(v);
    if (!j)
        return BULLC_JSON_NONE;
    switch (j->type & 0xff) {
    case cJSON_NULL:
        return BULLC_JSON_NULL;
    case cJSON_False:
        return BULLC_JSON_FALSE;
    case cJSON_True:
        return BULLC_JSON_TRUE;
    case cJSON_Number:
        return BULLC_JSON_NUMBER;
    case cJSON_String:
        return BULLC_JSON_STRING;
    case cJSON_Array:
        return BULLC_JSON_ARRAY;
    case cJSON_Object:
        return BULLC_JSON_OBJECT;
    default:
        return BULLC_JSON_NONE;
    }
}

const bullc_json_t *bullc_json_get(const bullc_json_t *obj, const char *key)
{
    if (!obj || !key || !cJSON_IsObject(CJ(obj)))
        return NULL;
    /* JSON keys are case-sensitive */
    return BJ(cJSON_GetObjectItemCaseSensitive(CJ(obj), key));
}

size_t bullc_json_size(const bullc_json_t *v)
{
    const cJSON *j = CJ(v);
    if (!j || !(cJSON_IsArray(j) || cJSON_IsObject(j)))
        return 0;
    return (size_t)cJSON_GetArraySize(j);
}

const bullc_json_t *bullc_json_at(const bullc_json_t *v, size_t i)
{
    const cJSON *j = CJ(v);
    if (!j || !(cJSON_IsArray(j) || cJSON_IsObject(j)))
        return NULL;
    const cJSON *c = j->child;
    while (c && i--)
        c = c->next;
    return BJ(c);
}

const char *bullc_json_key(const bullc_json_t *v) { return v ? CJ(v)->string : NULL; }

const char *bullc_json_string(const bullc_json_t *v)
{
    return (v && cJSON_IsString(CJ(v))) ? CJ(v)->valuestring : NULL;
}

int bullc_json_number(const bullc_json_t *v, double *out)
{
    if (!v || !out || !cJSON_IsNumber(CJ(v)))
        return BULLC_EINVAL;
    *out = CJ(v)->valuedouble;
    return BULLC_OK;
}

int bullc_json_int(const bullc_json_t *v, long long *out)
{
    double d;
    if (bullc_json_number(v, &d) != 0 || !isfinite(d) || d != floor(d) || d < -9.2e18 ||
        d > 9.2e18)
        return BULLC_EINVAL;
    *out = (long long)d;
    return BULLC_OK;
}

char *bullc_json_print(const bullc_json_t *v)
{
    return v ? cJSON_PrintUnformatted(CJ(v)) : NULL;
}
