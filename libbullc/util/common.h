/* common.h - what every libbullc source file includes: the public header and a few macros. */
#ifndef BULLC_UTIL_COMMON_H
#define BULLC_UTIL_COMMON_H

#include "bullc.h"

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define BULLC__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define BULLC__PRINTF(a, b)
#endif

#define BULLC__COUNT(a) (sizeof(a) / sizeof *(a))

/* The value of hexadecimal digit c (either case), or -1. */
static inline int bullc__hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
