/* proto.c - the wire protocols libbullc speaks, by name. */
#include "proto/proto.h"

#include <string.h>

extern const bullc__proto_ops bullc__bullmq_ops;
extern const bullc__proto_ops bullc__bull_ops;

const bullc__proto_ops *bullc__proto_find(const char *name)
{
    static const bullc__proto_ops *const all[] = {&bullc__bullmq_ops, &bullc__bull_ops};
    for (size_t i = 0; i < BULLC__COUNT(all); i++)
        if (!name || strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}
