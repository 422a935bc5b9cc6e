#include "util/strpack.h"

#include <string.h>

size_t strpack_size(const char *const *src, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += src[i] ? strlen(src[i]) + 1 : 0;
    return len;
}

char *strpack(char *p, const char *const *src, const char **const *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        *dst[i] = NULL;
        if (src[i]) {
            size_t len = strlen(src[i]) + 1;
            *dst[i] = memcpy(p, src[i], len);
            p += len;
        }
    }
    return p;
}
