/* sign.c — webhook signatures (sign.h). */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "notify/sign.h"

void notify_sign(const char *secret, int64_t timestamp, const char *body, size_t body_len,
                 char out[SIGN_HEADER_MAX])
{
    /* The key is the secret's bytes as they are: receivers in any language
     * compute HMAC(secret, "<ts>.<body>") without decoding anything. */
    crypto_auth_hmacsha256_state h;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char ts[24];
    int n = snprintf(ts, sizeof ts, "%lld.", (long long)timestamp);
    crypto_auth_hmacsha256_init(&h, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)ts, (unsigned long long)n);
    crypto_auth_hmacsha256_update(&h, (const unsigned char *)body, (unsigned long long)body_len);
    crypto_auth_hmacsha256_final(&h, mac);
    memcpy(out, "v1=", 3);
    sodium_bin2hex(out + 3, SIGN_HEADER_MAX - 3, mac, sizeof mac);
}
