/* bull_group.c - the job ids a Node Bull Queue forms when its limiter has a `groupKey`
 * (docs/bull.md §3, §4.11): "<jobId, or a new uuid when it is falsy>:<the data's value at
 * groupKey>", the value printed as a JavaScript template literal prints it. */
#include "bull.h"
#include "util/js.h"
#include "util/json.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* The member `name` of an object, or element `name` (a decimal index) of an array; NULL. */
static const cJSON *member(const cJSON *v, const char *name, size_t len)
{
    char key[256];
    if (len >= sizeof key)
        return NULL;
    memcpy(key, name, len);
    key[len] = '\0';
    if (cJSON_IsObject(v))
        return bullc__json_member(v, key);
    unsigned long long i;
    if (cJSON_IsArray(v) && bullc__js_index_key(key, &i) && i < (unsigned long long)INT32_MAX)
        return cJSON_GetArrayItem(v, (int)i);
    return NULL;
}

/* lodash's get(data, path) for the paths a group key is written with: a member named exactly
 * `path` first, else the path's parts split at '.' and '[...]' (quotes around a bracketed part
 * are dropped). NULL when any part is missing (undefined). */
static const cJSON *value_at(const cJSON *data, const char *path)
{
    const cJSON *direct = member(data, path, strlen(path));
    if (direct || (!strchr(path, '.') && !strchr(path, '[')))
        return direct;
    const cJSON *v = data;
    const char *p = path;
    while (v && *p) {
        size_t n;
        if (*p == '[') {
            p++;
            const char *end = strchr(p, ']');
            if (!end)
                return NULL;
            n = (size_t)(end - p);
            if (n >= 2 && (p[0] == '"' || p[0] == '\'') && p[n - 1] == p[0])
                v = member(v, p + 1, n - 2);
            else
                v = member(v, p, n);
            p = end + 1;
        } else {
            n = strcspn(p, ".[");
            v = member(v, p, n);
            p += n;
        }
        if (*p == '.')
            p++;
    }
    return v;
}

/* The id part: the given jobId when truthy (a number as JavaScript prints it), else a uuid. */
static void id_text(bullc__buf *b, const cJSON *id)
{
    if (bullc__js_truthy(id)) {
        bullc__js_string(b, id);
        return;
    }
    char uuid[37];
    bullc__proto_uuid(uuid);
    bullc__buf_puts(b, uuid);
}

int bullc__bull_group_id(cJSON *opts, const char *data_json, const char *group_key)
{
    cJSON *data = bullc__json_parse(data_json ? data_json : "{}");
    if (!data)
        return BULLC_EJSON;
    bullc__buf id;
    bullc__buf_init(&id);
    /* the jobId member JSON.parse keeps (opts is ours: replaced in place below) */
    cJSON *old = (cJSON *)bullc__json_member(opts, "jobId");
    id_text(&id, old);
    bullc__buf_puts(&id, ":");
    bullc__js_string(&id, value_at(data, group_key));
    cJSON_Delete(data);
    bullc__buf_append(&id, "", 1);
    cJSON *text = id.oom ? NULL : cJSON_CreateString(id.data);
    bullc__buf_free(&id);
    if (!text)
        return BULLC_ENOMEM;
    /* an existing member keeps its place (JavaScript assigns in place); else it comes last */
    if (!old) {
        cJSON_AddItemToObject(opts, "jobId", text);
        return 0;
    }
    if (!(text->string = malloc(sizeof "jobId"))) { /* cJSON_Delete frees it with free() */
        cJSON_Delete(text);
        return BULLC_ENOMEM;
    }
    memcpy(text->string, "jobId", sizeof "jobId");
    cJSON_ReplaceItemViaPointer(opts, old, text);
    return 0;
}
