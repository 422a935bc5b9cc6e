/* buf.h — a growable byte buffer with a hard cap (curl's dynbuf): appending
 * past the cap fails, which the HTTP layer turns into 413. Always
 * NUL-terminated. The owner frees with buf_free(). */
#ifndef PROMO_UTIL_BUF_H
#define PROMO_UTIL_BUF_H

#include <stddef.h>

struct buf {
    char *data;
    size_t len, cap, max;
};

void buf_init(struct buf *b, size_t max);
/* 0 on success, -1 when the result would exceed max (b unchanged). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Hands the data to the caller (free() it) and resets b. */
char *buf_steal(struct buf *b, size_t *len);

#endif
