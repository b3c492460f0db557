/* sized.h - structs that cross the public API with the size the program was compiled with
 * (README "ABI policy"): copying in and out so that older and newer programs both work. */
#ifndef BULLC_UTIL_SIZED_H
#define BULLC_UTIL_SIZED_H

#include "util/common.h"

/* Reads a program's struct `in` of `in_size` bytes into ours (`out`, out_size bytes, already
 * holding the defaults): the fields the program's struct has replace the defaults. 0, or
 * BULLC_EINVAL when the program set bytes past the fields we know (it needs a newer library). */
int bullc__sized_read(void *out, size_t out_size, const void *in, size_t in_size);
/* Writes our struct `in` (in_size bytes) to the program's `out` of out_size bytes: as much as
 * fits, and zeros past our fields. */
void bullc__sized_write(void *out, size_t out_size, const void *in, size_t in_size);

#endif
