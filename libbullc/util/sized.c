/* sized.c - copying structs that cross the API with their size (util/sized.h). */
#include "util/sized.h"

#include <string.h>

int bullc__sized_read(void *out, size_t out_size, const void *in, size_t in_size)
{
    memcpy(out, in, in_size < out_size ? in_size : out_size);
    for (size_t i = out_size; i < in_size; i++)
        if (((const unsigned char *)in)[i] != 0)
            return BULLC_EINVAL;
    return 0;
}

void bullc__sized_write(void *out, size_t out_size, const void *in, size_t in_size)
{
    memcpy(out, in, out_size < in_size ? out_size : in_size);
    if (out_size > in_size)
        memset((char *)out + in_size, 0, out_size - in_size);
}
