/* fuzz_url - bullc__url_parse on arbitrary text: never crashes, returns BULLC_OK, BULLC_EURL
 * (with a reason) or BULLC_ENOMEM; a parsed URL has a non-empty host without '/' or '@', a port
 * in 1..65535 and a database >= 0; a failed parse leaves nothing to free. */
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
        FUZZ_CHECK(u.host != NULL && u.host[0] != '\0');
        FUZZ_CHECK(strchr(u.host, '/') == NULL && strchr(u.host, '@') == NULL);
        FUZZ_CHECK(u.port >= 1 && u.port <= 65535);
        FUZZ_CHECK(u.db >= 0);
        FUZZ_CHECK(strncmp(s, "redis://", 8) == 0);
        /* user and password are NULL or strings */
        FUZZ_CHECK(!u.user || strlen(u.user) <= strlen(s));
        FUZZ_CHECK(!u.password || strlen(u.password) <= strlen(s));
    } else {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL); /* a reason was written */
        FUZZ_CHECK(err[0] != '\0' || rc == BULLC_ENOMEM);
        FUZZ_CHECK(!u.host && !u.user && !u.password);
    }
    bullc__url_free(&u);
    free(s);
    return 0;
}
