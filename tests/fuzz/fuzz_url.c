/* fuzz_url - bullc__url_parse on arbitrary text: never crashes, returns BULLC_OK, BULLC_EURL
 * (with a reason) or BULLC_ENOMEM; a parsed URL has at least one node (several only for a
 * sentinel URL, which names its master), each with a non-empty host without '/', '@' or ',' and
 * a port in 1..65535, and a database >= 0; a failed parse leaves nothing to free. */
#define FUZZ_WANT_URL
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    bullc__url u;
    char err[128];
    memset(err, 0x55, sizeof err);
    int rc = bullc__url_parse(s, &u, err, sizeof err);
    FUZZ_CHECK(rc == BULLC_OK || rc == BULLC_EURL || rc == BULLC_ENOMEM);
    if (rc == BULLC_OK) {
        FUZZ_CHECK(u.nnodes >= 1 && (u.sentinel || u.nnodes == 1));
        FUZZ_CHECK(!u.sentinel || (u.master && u.master[0]));
        for (size_t i = 0; i < u.nnodes; i++) {
            const char *h = u.nodes[i].host;
            FUZZ_CHECK(h != NULL && h[0] != '\0');
            FUZZ_CHECK(!strchr(h, '/') && !strchr(h, '@') && !strchr(h, ','));
            FUZZ_CHECK(u.nodes[i].port >= 1 && u.nodes[i].port <= 65535);
        }
        FUZZ_CHECK(u.db >= 0);
        FUZZ_CHECK(strncmp(s, "redis", 5) == 0);
        /* user and password are NULL or strings */
        FUZZ_CHECK(!u.user || strlen(u.user) <= strlen(s));
        FUZZ_CHECK(!u.password || strlen(u.password) <= strlen(s));
    } else {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL); /* a reason was written */
        FUZZ_CHECK(err[0] != '\0' || rc == BULLC_ENOMEM);
        FUZZ_CHECK(!u.nodes && !u.user && !u.password && !u.master);
    }
    bullc__url_free(&u);
    free(s);
    return 0;
}
