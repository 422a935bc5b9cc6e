/* sign.h — the signature of a webhook delivery. Pure (libsodium's
 * HMAC-SHA256, no I/O): the receiver recomputes it to know the body came
 * from promo and was not replayed (docs/webhooks.md). */
#ifndef PROMO_NOTIFY_SIGN_H
#define PROMO_NOTIFY_SIGN_H

#include <stddef.h>
#include <stdint.h>

/* "v1=" + 64 hex digits + NUL */
#define SIGN_HEADER_MAX 68

/* X-Promo-Signature for a body sent at `timestamp` (Unix seconds):
 * "v1=" + hex HMAC-SHA256, keyed by the webhook's secret, over
 * "<timestamp>.<body>". */
void notify_sign(const char *secret, int64_t timestamp, const char *body, size_t body_len,
                 char out[SIGN_HEADER_MAX]);

#endif
