/* form.h — application/x-www-form-urlencoded bodies (the HTML form
 * encoding that RFC 6749 prescribes for the token endpoint, its appendix
 * B): name=value pairs joined by '&', each part percent-encoded with '+'
 * for a space. A small decoder instead of a library: libmicrohttpd's
 * lives in http/ and decodes only what MHD itself reads. */
#ifndef PROMO_UTIL_FORM_H
#define PROMO_UTIL_FORM_H

#include <stddef.h>
#include <sys/types.h>

#include "util/arena.h"

#define UTIL_FORM_FIELDS_MAX 64

/* Decodes len bytes of one encoded part into out (room for len + 1
 * bytes; the result is never longer): '+' → ' ', "%XX" → the byte 0xXX.
 * Returns the decoded length (out is NUL-terminated), or -1 when a '%' is
 * not followed by two hex digits or the result would hold a NUL byte. */
ssize_t util_form_unescape(const char *in, size_t len, char *out);

struct util_form_field {
    const char *name, *value; /* decoded, NUL-terminated */
};

/* Splits and decodes a whole body. Empty pieces ("a=1&&b=2") are skipped;
 * a piece without '=' is a name with an empty value. On 0, *fields (arena
 * memory, like the strings) holds *n fields in body order; -1 when a piece
 * does not decode or there are more than UTIL_FORM_FIELDS_MAX. */
int util_form_parse(struct arena *a, const char *body, size_t len, struct util_form_field **fields, size_t *n);

#endif
