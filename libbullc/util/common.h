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

#endif
