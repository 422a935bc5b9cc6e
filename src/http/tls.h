/* tls.h — loading the listener's certificate and key. Private to http/.
 *
 * libmicrohttpd takes the PEM text in memory and, when the files are wrong,
 * only says that the daemon did not start. So the files are read and
 * checked here first with GnuTLS (the library libmicrohttpd itself uses),
 * and every failure names the file at fault. */
#ifndef PROMO_HTTP_TLS_H
#define PROMO_HTTP_TLS_H

#include <stddef.h>

/* The PEM text of both files, NUL-terminated, as MHD_OPTION_HTTPS_MEM_CERT
 * and MHD_OPTION_HTTPS_MEM_KEY want it. Owned by the struct: free with
 * http_tls_free, which also wipes the key. */
struct http_tls_pem {
    char *cert;
    char *key;
    size_t key_len;
};

/* TLS 1.2 and 1.3 only, GnuTLS's NORMAL cipher choice otherwise. */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Checks that this libmicrohttpd can do TLS, reads both files and checks
 * that the certificate parses, the key parses and the two belong together.
 * 0, or -1 with a sentence naming the file in err (nothing left to free). */
int http_tls_load(const char *cert_path, const char *key_path, struct http_tls_pem *out, char *err,
                  size_t errlen);
void http_tls_free(struct http_tls_pem *p);

#endif
