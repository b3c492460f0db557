/* scripts_dump - prints the Lua scripts built into the library as the generated table holds
 * them (name, SHA1, length, then the text), so a test can check the generator against the
 * sources. */
#include "proto/bullmq/bullmq.h"

#include <stdio.h>

int main(void)
{
    for (int i = 0; i < BULLC__BMQ_NSCRIPTS; i++) {
        const bullc__script *s = &bullc__bmq_scripts[i];
        printf("%s %s %zu\n", s->name, s->sha1, s->len);
        fwrite(s->text, 1, s->len, stdout);
        putchar('\n');
    }
    return 0;
}
