/* mask.h — what may be written down about a request. The audit log keeps
 * paths, never bodies or headers; a path can still hold a whole coupon
 * code (/v1/codes/{code}/disable), and a code in a log is a code anyone
 * reading the log can spend. Pure: no I/O. */
#ifndef PROMO_CORE_MASK_H
#define PROMO_CORE_MASK_H

#include <stddef.h>

#define MASK_ELLIPSIS "\xe2\x80\xa6" /* "…" in UTF-8 */

/* The masked form of a code of `len` bytes: its first 2 and last 2
 * characters around "…" ("FALL-AB12-CD34" → "FA…34") when it has at least
 * 6, else "…" alone (4 shown of 5 would be most of it). out needs 16 bytes. */
void core_mask_code(const char *code, size_t len, char out[16]);

/* Copies `path` into out (outlen ≥ 16), masking the code segment of
 * /v1/codes/{code}[/...] as core_mask_code does, and replacing any byte
 * that is not printable ASCII by '?' (a path is URL-decoded: it may hold
 * anything, and the copy must stay valid UTF-8 for JSON and CSV). Longer
 * paths are cut to outlen - 1 bytes, never inside the mask. */
void core_mask_path(const char *path, char *out, size_t outlen);

#endif
