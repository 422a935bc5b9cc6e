/* strpack.h — several strings copied into one block, so a record that
 * outlives its request (a cached token, a logged validation) is one
 * allocation and one free. */
#ifndef PROMO_UTIL_STRPACK_H
#define PROMO_UTIL_STRPACK_H

#include <stddef.h>

/* Bytes that strpack needs for the n strings of src (a NULL takes none). */
size_t strpack_size(const char *const *src, size_t n);
/* Copies the n strings of src one after the other from p on (strpack_size
 * bytes), pointing *dst[i] at each copy, or at NULL for a NULL string.
 * Returns the byte after the last copy. */
char *strpack(char *p, const char *const *src, const char **const *dst, size_t n);

#endif
