/* curl_api.c - libcurl, loaded at run time by a tracer that exports (libbullc/trace/README.md):
 * the library is not linked, so a worker that does not trace never maps libcurl and the
 * dozen libraries it pulls in (README "Observability": nothing set, no cost). <curl/curl.h>
 * still gives the types and constants; the functions come from dlsym into the tracer's table. */
#include "trace/tracer_int.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* The soname of libcurl's ABI 4 (every libcurl since 7.16). */
#define BULLC__LIBCURL "libcurl.so.4"

/* dlsym hands functions over as void *: POSIX makes the two pointer kinds the same size. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "function pointers fit a void *");

static const struct {
    const char *name;
    size_t at; /* where the function goes in bullc__curl_api */
} CURL_SYMBOLS[] = {
    {"curl_global_init", offsetof(bullc__curl_api, global_init)},
    {"curl_global_cleanup", offsetof(bullc__curl_api, global_cleanup)},
    {"curl_easy_init", offsetof(bullc__curl_api, easy_init)},
    {"curl_easy_setopt", offsetof(bullc__curl_api, easy_setopt)},
    {"curl_easy_perform", offsetof(bullc__curl_api, easy_perform)},
    {"curl_easy_getinfo", offsetof(bullc__curl_api, easy_getinfo)},
    {"curl_easy_strerror", offsetof(bullc__curl_api, easy_strerror)},
    {"curl_easy_cleanup", offsetof(bullc__curl_api, easy_cleanup)},
    {"curl_slist_append", offsetof(bullc__curl_api, slist_append)},
    {"curl_slist_free_all", offsetof(bullc__curl_api, slist_free_all)},
};

/* Failure: `why` gets dlerror's text (or a stand-in) and api is left empty. */
int bullc__curl_load(bullc__curl_api *api, char *why, size_t why_size)
{
    memset(api, 0, sizeof *api);
    /* RTLD_LOCAL: libcurl's symbols stay out of the program's namespace (a program that links
     * libcurl itself gets the same, already loaded copy, reference counted) */
    void *dl = dlopen(BULLC__LIBCURL, RTLD_NOW | RTLD_LOCAL);
    const char *err = NULL;
    for (size_t i = 0; dl && !err && i < BULLC__COUNT(CURL_SYMBOLS); i++) {
        dlerror(); /* dlsym's NULL is told apart by dlerror */
        void *fn = dlsym(dl, CURL_SYMBOLS[i].name);
        if (!fn)
            err = dlerror();
        else
            memcpy((char *)api + CURL_SYMBOLS[i].at, &fn, sizeof fn);
    }
    if (dl && !err) {
        api->dl = dl;
        return 0;
    }
    if (!dl)
        err = dlerror();
    snprintf(why, why_size, "%s", err ? err : "unknown error");
    if (dl)
        dlclose(dl);
    memset(api, 0, sizeof *api);
    return -1;
}

void bullc__curl_unload(bullc__curl_api *api)
{
    if (api->dl)
        dlclose(api->dl);
    memset(api, 0, sizeof *api);
}
