/* errors.c - error codes, their names and texts, generated from BULLC_ERRNO_MAP. */
#include "util/common.h"

#include <stdlib.h>

const char *bullc_version(void) { return BULLC_VERSION_STRING; }

const char *bullc_strerror(int code)
{
    switch (code) {
    case BULLC_OK:
        return "success";
#define XX(name, val, text) \
    case (val):             \
        return text;
        BULLC_ERRNO_MAP(XX)
#undef XX
    default:
        return "unknown error";
    }
}

const char *bullc_errname(int code)
{
    switch (code) {
    case BULLC_OK:
        return "BULLC_OK";
#define XX(name, val, text) \
    case (val):             \
        return "BULLC_E" #name;
        BULLC_ERRNO_MAP(XX)
#undef XX
    default:
        return "BULLC_EUNKNOWN";
    }
}

void bullc_free(void *ptr) { free(ptr); }
