/* tz.c - UTC offsets of a time zone: our own reader of TZif files (/usr/share/zoneinfo) and of
 * the POSIX TZ rule in their footer, plus the fixed zones luxon knows ("utc", "UTC+5:30").
 * Nothing global: each bullc__tz is an immutable value, safe to share between threads. */
#include "util/tz.h"
#include "util/buf.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ZONEINFO "/usr/share/zoneinfo"

/* One DST rule date of a POSIX TZ string: Mm.w.d, Jn or n, plus the local time (seconds). */
typedef struct rule_date {
    char kind; /* 'M', 'J' or 'D' */
    int m, w, d, n;
    long secs;
} rule_date;

typedef struct posix_rule {
    int valid;
    long std_off, dst_off; /* seconds east of UTC */
    int has_dst;
    rule_date start, end;
} posix_rule;

struct bullc__tz {
    int fixed; /* 1: fixed offset `fixed_off` */
    long fixed_off;
    size_t ntrans;
    long long *trans; /* transition times (s) */
    unsigned char *idx;
    size_t ntypes;
    long *utoff;
    posix_rule footer;
};

void bullc__tz_free(bullc__tz *z)
{
    if (!z)
        return;
    free(z->trans);
    free(z->idx);
    free(z->utoff);
    free(z);
}

/* ---- POSIX TZ strings ----------------------------------------------------------------- */

static const char *tz_name(const char *p)
{
    if (*p == '<') {
        const char *e = strchr(p, '>');
        return e ? e + 1 : NULL;
    }
    const char *s = p;
    while (isalpha((unsigned char)*p))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* The hours an offset in a POSIX TZ string may have (hh:mm:ss up to 24:59:59), and those of a
 * rule's transition time, which RFC 8536 (3.3.1) extends to -167..167. */
#define POSIX_OFFSET_MAX_HOURS 24
#define RULE_TIME_MAX_HOURS 167

/* [+-]hh[:mm[:ss]] -> seconds, with hh at most max_hours and mm, ss at most 59. */
static const char *tz_hms(const char *p, long max_hours, long *out)
{
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*p))
        return NULL;
    long parts[3] = {0, 0, 0}; /* hours, minutes, seconds */
    const long most[3] = {max_hours, 59, 59};
    for (int part = 0; part < 3; part++) {
        if (part > 0) {
            if (*p != ':')
                break;
            p++;
        }
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p) && parts[part] <= most[part])
            parts[part] = parts[part] * 10 + (*p++ - '0');
        if (parts[part] > most[part])
            return NULL;
    }
    *out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return p;
}

static const char *tz_num(const char *p, int *out)
{
    if (!isdigit((unsigned char)*p))
        return NULL;
    int v = 0;
    while (isdigit((unsigned char)*p) && v < 10000)
        v = v * 10 + (*p++ - '0');
    *out = v;
    return p;
}

static const char *tz_rule_date(const char *p, rule_date *r)
{
    r->secs = 7200;
    if (*p == 'M') {
        r->kind = 'M';
        if (!(p = tz_num(p + 1, &r->m)) || *p++ != '.' || !(p = tz_num(p, &r->w)) || *p++ != '.' ||
            !(p = tz_num(p, &r->d)))
            return NULL;
        if (r->m < 1 || r->m > 12 || r->w < 1 || r->w > 5 || r->d > 6)
            return NULL;
    } else if (*p == 'J') {
        r->kind = 'J';
        if (!(p = tz_num(p + 1, &r->n)) || r->n < 1 || r->n > 365)
            return NULL;
    } else {
        r->kind = 'D';
        if (!(p = tz_num(p, &r->n)) || r->n > 365)
            return NULL;
    }
    if (*p == '/' && !(p = tz_hms(p + 1, RULE_TIME_MAX_HOURS, &r->secs)))
        return NULL;
    return p;
}

static int parse_posix(const char *p, posix_rule *r)
{
    memset(r, 0, sizeof *r);
    long off;
    if (!(p = tz_name(p)) || !(p = tz_hms(p, POSIX_OFFSET_MAX_HOURS, &off)))
        return -1;
    r->std_off = -off;
    if (*p == '\0') {
        r->valid = 1;
        return 0;
    }
    if (!(p = tz_name(p)))
        return -1;
    r->has_dst = 1;
    r->dst_off = r->std_off + 3600;
    if (*p && *p != ',') {
        if (!(p = tz_hms(p, POSIX_OFFSET_MAX_HOURS, &off)))
            return -1;
        r->dst_off = -off;
    }
    if (*p != ',') {
        /* no rule: the POSIX default (US rules) */
        r->start = (rule_date){'M', 3, 2, 0, 0, 7200};
        r->end = (rule_date){'M', 11, 1, 0, 0, 7200};
    } else if (!(p = tz_rule_date(p + 1, &r->start)) || *p++ != ',' ||
               !(p = tz_rule_date(p, &r->end)) || *p != '\0') {
        return -1;
    }
    r->valid = 1;
    return 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
long long bullc__days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void bullc__civil_from_days(long long z, long long *y, int *m, int *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int is_leap(long long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int bullc__days_in_month(long long y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 ? 28 + is_leap(y) : dm[m - 1];
}

/* UTC seconds of a rule date in year y, given the offset in force before it. */
static long long rule_utc(const rule_date *r, long long y, long off)
{
    long long day;
    if (r->kind == 'J') {
        day = bullc__days_from_civil(y, 1, 1) + r->n - 1;
        if (is_leap(y) && r->n >= 60)
            day++;
    } else if (r->kind == 'D') {
        day = bullc__days_from_civil(y, 1, 1) + r->n;
    } else {
        long long first = bullc__days_from_civil(y, r->m, 1);
        int wd = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
        long long d = first + ((r->d - wd) + 7) % 7 + (r->w - 1) * 7;
        int dim = bullc__days_in_month(y, r->m);
        while (d >= first + dim)
            d -= 7;
        day = d;
    }
    return day * 86400 + r->secs - off;
}

static long posix_offset(const posix_rule *r, long long t)
{
    if (!r->has_dst)
        return r->std_off;
    long long y;
    int m, d;
    long long lt = t + r->std_off;
    bullc__civil_from_days(lt >= 0 ? lt / 86400 : -((-lt + 86399) / 86400), &y, &m, &d);
    long long s = rule_utc(&r->start, y, r->std_off);
    long long e = rule_utc(&r->end, y, r->dst_off);
    if (s < e)
        return (t >= s && t < e) ? r->dst_off : r->std_off;
    return (t >= e && t < s) ? r->std_off : r->dst_off;
}

/* ---- TZif ------------------------------------------------------------------------------ */

static long be32(const unsigned char *p)
{
    return (long)(int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static long long be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (long long)v;
}

/* RFC 8536 (3.2): the UT offset of a local time type, in seconds. */
#define TZIF_MIN_UTOFF (-89999L)
#define TZIF_MAX_UTOFF 93599L

/* A TZif header's counts, and where its data block starts. */
typedef struct tzif_block {
    size_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
    size_t time_bytes; /* 4 in version 1 data, 8 in version 2+ data */
    const unsigned char *data;
} tzif_block;

/* Reads the 44-byte header at `header` (the caller checked that it is there). */
static void read_block_header(const unsigned char *header, size_t time_bytes, tzif_block *block)
{
    size_t counts[6];
    for (int index = 0; index < 6; index++)
        counts[index] = (size_t)(uint32_t)be32(header + 20 + 4 * index);
    block->isutcnt = counts[0];
    block->isstdcnt = counts[1];
    block->leapcnt = counts[2];
    block->timecnt = counts[3];
    block->typecnt = counts[4];
    block->charcnt = counts[5];
    block->time_bytes = time_bytes;
    block->data = header + 44;
}

/* Bytes of the data block after its header (counts are below 2^32: no overflow in 64 bits). */
static uint64_t block_data_size(const tzif_block *block)
{
    uint64_t time_bytes = block->time_bytes;
    return block->timecnt * (time_bytes + 1) + block->typecnt * 6ull + block->charcnt +
           block->leapcnt * (time_bytes + 4) + block->isstdcnt + (uint64_t)block->isutcnt;
}

/* The block to read: the version 1 one, or the 64-bit one after it in version 2+ files. 0, or -1
 * when the file is too short or its headers are wrong. */
static int find_block(const unsigned char *file, size_t size, tzif_block *block)
{
    if (size < 44 || memcmp(file, "TZif", 4) != 0)
        return -1;
    read_block_header(file, 4, block);
    if (file[4] < '2')
        return 0;
    uint64_t second = 44 + block_data_size(block);
    if (second > size || size - second < 44 || memcmp(file + (size_t)second, "TZif", 4) != 0)
        return -1;
    read_block_header(file + (size_t)second, 8, block);
    return 0;
}

/* Checks the block's types and transitions: at least one type (and at most 256), every
 * transition naming one, every UT offset within RFC 8536's range. */
static int check_block(const tzif_block *block, const unsigned char *file_end)
{
    if (block->typecnt == 0 || block->typecnt > 256 ||
        block_data_size(block) > (uint64_t)(file_end - block->data))
        return -1;
    const unsigned char *type_of_transition = block->data + block->timecnt * block->time_bytes;
    for (size_t index = 0; index < block->timecnt; index++)
        if (type_of_transition[index] >= block->typecnt)
            return -1;
    const unsigned char *types = type_of_transition + block->timecnt;
    for (size_t index = 0; index < block->typecnt; index++) {
        long utoff = be32(types + index * 6);
        if (utoff < TZIF_MIN_UTOFF || utoff > TZIF_MAX_UTOFF)
            return -1;
    }
    return 0;
}

/* The footer of a version 2+ file: a POSIX TZ rule between two newlines, which rules after the
 * last transition. No footer, or an empty one, leaves `rule` invalid (the table goes on); one
 * that is there must be a rule. 0, -1 when malformed, -2 out of memory. */
static int read_footer(const unsigned char *at, const unsigned char *file_end, posix_rule *rule)
{
    memset(rule, 0, sizeof *rule);
    if (at >= file_end || *at != '\n')
        return 0;
    const unsigned char *text = at + 1;
    const unsigned char *close = memchr(text, '\n', (size_t)(file_end - text));
    if (!close || memchr(text, '\0', (size_t)(close - text)))
        return -1;
    if (close == text)
        return 0;
    char *copy = bullc__strndup((const char *)text, (size_t)(close - text));
    if (!copy)
        return -2;
    int rc = parse_posix(copy, rule) == 0 ? 0 : -1;
    free(copy);
    return rc;
}

/* Reads a TZif file into z, which is changed only on success. 0, -1 when malformed, -2 out of
 * memory. */
static int parse_tzif(const unsigned char *file, size_t size, bullc__tz *z)
{
    tzif_block block;
    if (find_block(file, size, &block) != 0 || check_block(&block, file + size) != 0)
        return -1;
    posix_rule footer;
    memset(&footer, 0, sizeof footer);
    if (file[4] >= '2') {
        int rc = read_footer(block.data + (size_t)block_data_size(&block), file + size, &footer);
        if (rc != 0)
            return rc;
    }
    size_t count = block.timecnt;
    long long *trans = malloc((count ? count : 1) * sizeof *trans);
    unsigned char *idx = malloc(count ? count : 1);
    long *utoff = malloc(block.typecnt * sizeof *utoff);
    if (!trans || !idx || !utoff) {
        free(trans);
        free(idx);
        free(utoff);
        return -2;
    }
    const unsigned char *times = block.data;
    for (size_t index = 0; index < count; index++)
        trans[index] = block.time_bytes == 8 ? be64(times + index * 8) : be32(times + index * 4);
    memcpy(idx, times + count * block.time_bytes, count);
    const unsigned char *types = times + count * (block.time_bytes + 1);
    for (size_t index = 0; index < block.typecnt; index++)
        utoff[index] = be32(types + index * 6);
    z->ntrans = count;
    z->trans = trans;
    z->idx = idx;
    z->ntypes = block.typecnt;
    z->utoff = utoff;
    z->footer = footer;
    return 0;
}

int bullc__tz_from_tzif(const unsigned char *b, size_t n, bullc__tz **out)
{
    *out = NULL;
    bullc__tz *z = calloc(1, sizeof *z);
    if (!z)
        return BULLC_ENOMEM;
    int rc = parse_tzif(b, n, z);
    if (rc != 0) {
        bullc__tz_free(z);
        return rc == -2 ? BULLC_ENOMEM : BULLC_EINVAL;
    }
    *out = z;
    return BULLC_OK;
}

long bullc__tz_offset(const bullc__tz *z, long long ms)
{
    if (z->fixed)
        return z->fixed_off;
    long long t = ms / 1000 - (ms % 1000 < 0); /* floor, for any ms */
    if (z->ntrans == 0 || t < z->trans[0]) {
        if (z->ntrans == 0 && z->footer.valid)
            return posix_offset(&z->footer, t);
        return z->utoff[0];
    }
    if (t >= z->trans[z->ntrans - 1] && z->footer.valid)
        return posix_offset(&z->footer, t);
    size_t lo = 0, hi = z->ntrans; /* last transition <= t */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (z->trans[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return z->utoff[z->idx[lo]];
}

static int read_file(const char *path, unsigned char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    unsigned char *b = malloc(cap);
    while (b) {
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (n < cap)
            break;
        if (cap >= (1u << 22)) {
            free(b);
            b = NULL;
            break;
        }
        unsigned char *nb = realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    fclose(f);
    if (!b)
        return -2;
    *buf = b;
    *len = n;
    return 0;
}

/* A zone name must look like an IANA name: no "..", no leading '/', plain characters. The
 * zoneinfo folder also holds files that are not zones Intl knows (the posix/ and right/ copies,
 * posixrules, localtime, Factory): Node rejects those names, so do we. */
static int name_ok(const char *s)
{
    if (!*s || *s == '/' || strlen(s) > 200 || strstr(s, ".."))
        return 0;
    if (!strncasecmp(s, "posix/", 6) || !strncasecmp(s, "right/", 6) ||
        !strcasecmp(s, "posixrules") || !strcasecmp(s, "localtime") || !strcasecmp(s, "Factory"))
        return 0;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("/_+-.", *p))
            return 0;
    return 1;
}

/* The entry of `dir` equal to `comp` ignoring case. */
static int dir_find_icase(const char *dir, const char *comp, char *out, size_t n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int rc = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcasecmp(e->d_name, comp) == 0 && strlen(e->d_name) < n) {
            snprintf(out, n, "%s", e->d_name);
            rc = 0;
            break;
        }
    }
    closedir(d);
    return rc;
}

/* Finds `name` under ZONEINFO ignoring case (Intl accepts "america/new_york"). */
static int find_icase(const char *name, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", ZONEINFO, name);
    FILE *f = fopen(out, "rb");
    if (f) {
        fclose(f);
        return 0;
    }
    /* walk the components with a case-insensitive match */
    char path[512];
    snprintf(path, sizeof path, "%s", ZONEINFO);
    const char *p = name;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char comp[256];
        if (len >= sizeof comp)
            return -1;
        memcpy(comp, p, len);
        comp[len] = '\0';
        char match[256];
        if (dir_find_icase(path, comp, match, sizeof match) != 0)
            return -1;
        size_t l = strlen(path);
        if (l + 1 + strlen(match) >= sizeof path)
            return -1;
        snprintf(path + l, sizeof path - l, "/%s", match);
        p = e ? e + 1 : p + len;
    }
    snprintf(out, outlen, "%s", path);
    return 0;
}

static int load_file(const char *path, bullc__tz *z)
{
    unsigned char *b;
    size_t n;
    int rc = read_file(path, &b, &n);
    if (rc != 0)
        return rc;
    rc = parse_tzif(b, n, z);
    free(b);
    return rc;
}

/* luxon's "utc", "gmt", "utc+5", "UTC-03:30". Returns 1 and the offset when it is one. */
static int fixed_spec(const char *s, long *off)
{
    if (strncasecmp(s, "utc", 3) != 0 && strcasecmp(s, "gmt") != 0)
        return 0;
    if (strcasecmp(s, "gmt") == 0 || s[3] == '\0') {
        *off = 0;
        return 1;
    }
    if (strcasecmp(s, "utc") != 0 && strncasecmp(s, "utc", 3) != 0)
        return 0;
    const char *p = s + 3;
    if (*p != '+' && *p != '-')
        return 0;
    int neg = *p++ == '-';
    if (!isdigit((unsigned char)p[0]))
        return 0;
    int h = *p++ - '0';
    if (isdigit((unsigned char)*p))
        h = h * 10 + (*p++ - '0');
    int m = 0;
    if (*p == ':') {
        if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
            return 0;
        m = (p[1] - '0') * 10 + (p[2] - '0');
        p += 3;
    }
    if (*p)
        return 0;
    *off = (neg ? -1 : 1) * (h * 3600L + m * 60L);
    return 1;
}

/* The process's local zone as Node sees it: $TZ, else /etc/localtime, else UTC. */
static int load_system(bullc__tz *z)
{
    const char *tz = getenv("TZ");
    if (tz && *tz) {
        if (*tz == ':')
            tz++;
        char path[600];
        if (*tz == '/') {
            if (load_file(tz, z) == 0)
                return 0;
        } else if (name_ok(tz) && find_icase(tz, path, sizeof path) == 0 && load_file(path, z) == 0) {
            return 0;
        }
        long off;
        if (fixed_spec(tz, &off)) {
            z->fixed = 1;
            z->fixed_off = off;
            return 0;
        }
        if (parse_posix(tz, &z->footer) == 0)
            return 0;
    }
    if (load_file("/etc/localtime", z) == 0)
        return 0;
    free(z->trans);
    free(z->idx);
    free(z->utoff);
    memset(z, 0, sizeof *z);
    z->fixed = 1;
    return 0;
}

int bullc__tz_load(const char *name, bullc__tz **out, char *err, size_t errlen)
{
    *out = NULL;
    bullc__tz *z = calloc(1, sizeof *z);
    if (!z)
        return BULLC_ENOMEM;
    long off;
    int rc = 0;
    if (!name || !*name || strcasecmp(name, "local") == 0 || strcasecmp(name, "system") == 0 ||
        strcasecmp(name, "default") == 0) {
        rc = load_system(z);
    } else if (fixed_spec(name, &off)) {
        z->fixed = 1;
        z->fixed_off = off;
    } else {
        char path[600];
        if (!name_ok(name) || find_icase(name, path, sizeof path) != 0)
            rc = -1;
        else
            rc = load_file(path, z);
    }
    if (rc != 0) {
        bullc__tz_free(z);
        if (rc == -2)
            return BULLC_ENOMEM;
        if (err)
            snprintf(err, errlen, "invalid time zone \"%.100s\"", name ? name : "");
        return BULLC_EINVAL;
    }
    *out = z;
    return 0;
}
