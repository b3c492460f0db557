/* util.c - the inventory worker's per-thread slots, logging and JSON writer. */
#include "inventory.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

inv_thread *inv_thread_get(const inv_app *app)
{
    inv_thread *t = pthread_getspecific(app->slot_key);
    if (t)
        return t;
    if (!(t = calloc(1, sizeof *t)))
        return NULL;
    if (pthread_setspecific(app->slot_key, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void inv_thread_free(void *slot)
{
    inv_thread *t = slot;
    if (!t)
        return;
    if (t->pg)
        PQfinish(t->pg);
    bullc_queue_free(t->dlq);
    free(t);
}

/* One line in the configured format (one fprintf: lines never interleave). */
static void emit(const inv_app *app, bullc_log_level_t level, const bullc_job_t *job,
                 const char *msg)
{
    ex_log_write(&app->log, level, job, msg);
}

static void vlog(const inv_app *app, const bullc_job_t *job, bullc_log_level_t level,
                 const char *fmt, va_list ap)
{
    if ((int)level > app->log_level)
        return;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    emit(app, level, job, line);
}

void inv_log(const inv_app *app, bullc_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(app, NULL, level, fmt, ap);
    va_end(ap);
}

void inv_log_job(const inv_app *app, const bullc_job_t *job, bullc_log_level_t level,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(app, job, level, fmt, ap);
    va_end(ap);
}

void inv_log_cb(bullc_log_level_t level, const char *message, void *user_data)
{
    inv_log_job_cb(level, message, NULL, user_data);
}

void inv_log_job_cb(bullc_log_level_t level, const char *message, const bullc_job_t *job,
                    void *user_data)
{
    const inv_app *app = user_data;
    if ((int)level <= app->log_level)
        emit(app, level, job, message);
}

/* ---- JSON writer ------------------------------------------------------------------------ */

void jw_raw(jw *w, const char *s, size_t n)
{
    if (w->oom)
        return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 128;
        while (cap < w->len + n + 1)
            cap *= 2;
        char *p = realloc(w->p, cap);
        if (!p) {
            w->oom = 1;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

void jw_lit(jw *w, const char *s) { jw_raw(w, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0 if it is not valid. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, min = 0x10000;
    else
        return 0;
    unsigned cp = c & (0x3f >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

void jw_str(jw *w, const char *s)
{
    jw_raw(w, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        jw_raw(w, (const char *)run, (size_t)(p - run));
        if (!*p)
            break;
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            jw_raw(w, esc, 2);
            p++;
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            jw_raw(w, esc, 6);
            p++;
        } else {
            size_t n = utf8_len(p);
            if (n) {
                jw_raw(w, (const char *)p, n);
                p += n;
            } else {
                jw_raw(w, "\xef\xbf\xbd", 3); /* U+FFFD for a byte that is not UTF-8 */
                p++;
            }
        }
    }
    jw_raw(w, "\"", 1);
}

void jw_int(jw *w, long long v)
{
    char b[24];
    int n = snprintf(b, sizeof b, "%lld", v);
    jw_raw(w, b, (size_t)n);
}

void jw_free(jw *w)
{
    free(w->p);
    memset(w, 0, sizeof *w);
}

int inv_valid_id(const char *s)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return 0;
        if (n >= 64)
            return 0;
    }
    return n >= 1;
}
