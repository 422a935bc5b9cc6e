/* curl_int.h — what smtp.c and webhook.c share. Private to notify/. */
#ifndef PROMO_NOTIFY_CURL_INT_H
#define PROMO_NOTIFY_CURL_INT_H

#include <curl/curl.h>

/* Makes the transfer on h stop as soon as *cancel becomes non-zero (a
 * stopping server abandons an attempt instead of waiting out its
 * timeout). cancel NULL: nothing. */
void notify_set_cancel(CURL *h, const volatile int *cancel);

#endif
