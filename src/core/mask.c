/* mask.c — masking codes out of what the audit log records. See mask.h. */
#include <string.h>

#include "core/mask.h"

/* Path prefixes whose next segment is a code. */
static const char *const CODE_PREFIXES[] = {"/v1/codes/", NULL};

void core_mask_code(const char *code, size_t len, char out[16])
{
    if (len < 6) {
        memcpy(out, MASK_ELLIPSIS, sizeof MASK_ELLIPSIS);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < 2; i++)
        out[n++] = code[i] > 0x20 && code[i] < 0x7f ? code[i] : '?';
    memcpy(out + n, MASK_ELLIPSIS, sizeof MASK_ELLIPSIS - 1);
    n += sizeof MASK_ELLIPSIS - 1;
    for (size_t i = len - 2; i < len; i++)
        out[n++] = code[i] > 0x20 && code[i] < 0x7f ? code[i] : '?';
    out[n] = 0;
}

/* Length of the prefix of `path` that a code segment follows, or 0. */
static size_t code_prefix(const char *path)
{
    for (const char *const *p = CODE_PREFIXES; *p; p++)
        if (strncmp(path, *p, strlen(*p)) == 0)
            return strlen(*p);
    return 0;
}

void core_mask_path(const char *path, char *out, size_t outlen)
{
    size_t n = 0, i = 0;
    size_t pre = code_prefix(path);
    char masked[16] = "";
    size_t seg = 0;
    if (pre) {
        seg = strcspn(path + pre, "/");
        core_mask_code(path + pre, seg, masked);
    }
    while ((path[i] || (pre && i == pre)) && n + 1 < outlen) {
        if (pre && i == pre) {
            size_t m = strlen(masked);
            if (n + m + 1 > outlen)
                break;
            memcpy(out + n, masked, m);
            n += m;
            i += seg;
            pre = 0; /* once: an empty segment must not match again */
            continue;
        }
        unsigned char ch = (unsigned char)path[i++];
        out[n++] = ch > 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    out[n] = 0;
}
