/* fuzz_jobhash - the job-hash decoder (bullc__bmq_job_decode, over bullc__job_from_hash) on
 * replies described by the input (see fuzz_reply_spec_parse in fuzz.h for the layout).
 *
 * Checks: the decoder returns 0, BULLC_EBADJOB or BULLC_ENOMEM, and 0 for every flat array of
 * an even number of bulk strings with a non-empty id; on success the getters return what the
 * hash holds (id, name, data, opts with their defaults, every field by name), the parsed views
 * exist exactly for valid JSON (bullc.h: NULL when invalid) and are safe to take and print, and
 * bullc__job_free frees everything (LeakSanitizer). */
#define FUZZ_WANT_JOB
#include "fuzz.h"

/* s[0..n) as a C string sees it (up to its first NUL). */
static int cstr_equal(const char *got, const uint8_t *p, size_t n)
{
    size_t k = strnlen((const char *)p, n);
    return strlen(got) == k && memcmp(got, p, k) == 0;
}

/* The value of the first field named `name` (as C strings compare), or NULL. */
static const fuzz_field *first_field(const fuzz_reply_spec *s, const char *name)
{
    for (size_t i = 0; i + 1 < s->nfields; i += 2)
        if (cstr_equal(name, s->fields[i].p, s->fields[i].n))
            return &s->fields[i + 1];
    return NULL;
}

static void check_default(const char *got, const fuzz_reply_spec *s, const char *name,
                          const char *dflt)
{
    const fuzz_field *f = first_field(s, name);
    FUZZ_CHECK(got != NULL);
    if (f)
        FUZZ_CHECK(cstr_equal(got, f->p, f->n));
    else
        FUZZ_CHECK(strcmp(got, dflt) == 0);
}

static void check_view(const bullc_json_t *v, const char *text)
{
    /* what the scanner accepts, the view reads; what it refuses (as JSON.parse does) has none */
    FUZZ_CHECK((v != NULL) == (bullc__json_valid(text) == 1));
    if (v) {
        char *p = bullc_json_print(v);
        FUZZ_CHECK(p != NULL);
        bullc_free(p);
        (void)bullc_json_type(v);
        (void)bullc_json_size(v);
        (void)bullc_json_get(v, "attempts");
        (void)bullc_json_at(v, 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_reply_spec s;
    fuzz_reply_spec_parse(data, size, &s);
    bullc_job_t *job = NULL;
    int rc = fuzz_decode_job(&s, &job);
    FUZZ_CHECK(rc == 0 || rc == BULLC_EBADJOB || rc == BULLC_ENOMEM);
    FUZZ_CHECK((rc == 0) == (job != NULL));

    int well_formed = s.top_array && s.nfields % 2 == 0 && s.idlen > 0;
    for (size_t i = 0; i < s.nfields; i++)
        if (s.fields[i].kind != FUZZ_STRING)
            well_formed = 0;
    if (well_formed)
        FUZZ_CHECK(rc == 0 || rc == BULLC_ENOMEM);
    if (!s.top_array || s.nfields % 2 != 0 || s.idlen == 0)
        FUZZ_CHECK(rc == BULLC_EBADJOB);

    if (job) {
        FUZZ_CHECK(bullc_job_id(job) != NULL && cstr_equal(bullc_job_id(job), s.id, s.idlen));
        check_default(bullc_job_name(job), &s, "name", "");
        check_default(bullc_job_data(job), &s, "data", "{}");
        check_default(bullc_job_opts(job), &s, "opts", "{}");
        for (size_t i = 0; i + 1 < s.nfields; i += 2) {
            char *name = fuzz_cstr(s.fields[i].p, s.fields[i].n);
            const char *v = bullc_job_field(job, name);
            const fuzz_field *f = first_field(&s, name);
            FUZZ_CHECK(v != NULL && f != NULL && cstr_equal(v, f->p, f->n));
            free(name);
        }
        FUZZ_CHECK(bullc_job_field(job, NULL) == NULL);
        FUZZ_CHECK(bullc_job_attempts_made(job) >= 0);
        FUZZ_CHECK(bullc_job_attempts_started(job) >= 0);
        (void)bullc_job_timestamp(job);
        check_view(bullc_job_data_json(job), bullc_job_data(job));
        check_view(bullc_job_data_json(job), bullc_job_data(job)); /* the cached view */
        check_view(bullc_job_opts_json(job), bullc_job_opts(job));
        bullc__job_free(job);
    }
    fuzz_reply_spec_free(&s);
    return 0;
}
