/* tls.c — reads and checks the listener's PEM certificate and key before
 * libmicrohttpd sees them, so a wrong file is refused at start with its
 * name instead of a daemon that silently fails to start. */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/tls.h"
#include "util/log.h"

#define PEM_MAX (1u << 20) /* a certificate chain is kilobytes; 1 MiB is a wrong file */

/* Reads a whole file into a NUL-terminated heap buffer. `what` names the
 * file in messages ("certificate", "key"). */
static char *read_pem(const char *path, const char *what, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read the TLS %s file %s: %s", what, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(PEM_MAX + 1);
    size_t n = buf ? fread(buf, 1, PEM_MAX + 1, f) : 0;
    int failed = !buf || ferror(f);
    fclose(f);
    if (failed || n == 0 || n > PEM_MAX) {
        snprintf(err, errlen, "cannot read the TLS %s file %s: %s", what, path,
                 failed ? "read error" : n == 0 ? "the file is empty" : "the file is larger than 1 MiB");
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    char *fit = realloc(buf, n + 1);
    return fit ? fit : buf;
}

/* Warns (does not refuse) when the first certificate is outside its
 * validity: clients will refuse it, but an operator renewing in place
 * should still be able to start. */
static void warn_validity(gnutls_x509_crt_t crt, const char *path)
{
    time_t now = time(NULL);
    time_t until = gnutls_x509_crt_get_expiration_time(crt);
    time_t from = gnutls_x509_crt_get_activation_time(crt);
    if (until != (time_t)-1 && until < now)
        log_warn("tls: the certificate in %s has expired; clients will refuse it", path);
    else if (from != (time_t)-1 && from > now)
        log_warn("tls: the certificate in %s is not valid yet; clients will refuse it", path);
}

static int check_cert(const char *pem, size_t len, const char *path, char *err, size_t errlen)
{
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
    gnutls_x509_crt_t *list = NULL;
    unsigned n = 0;
    int rc = gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0);
    bool ok = rc >= 0 && n > 0;
    if (ok)
        warn_validity(list[0], path);
    for (unsigned i = 0; rc >= 0 && i < n; i++)
        gnutls_x509_crt_deinit(list[i]);
    gnutls_free(list); /* still NULL after a failure */
    if (ok)
        return 0;
    snprintf(err, errlen, "the TLS certificate file %s holds no PEM certificate (%s)", path,
             rc < 0 ? gnutls_strerror(rc) : "none found");
    return -1;
}

static int check_key(const char *pem, size_t len, const char *path, char *err, size_t errlen)
{
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)len};
    gnutls_x509_privkey_t key;
    if (gnutls_x509_privkey_init(&key) < 0) {
        snprintf(err, errlen, "out of memory reading the TLS key file %s", path);
        return -1;
    }
    int rc = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_x509_privkey_deinit(key);
    if (rc < 0) {
        snprintf(err, errlen, "the TLS key file %s holds no unencrypted PEM private key (%s)", path,
                 gnutls_strerror(rc));
        return -1;
    }
    return 0;
}

/* The same call libmicrohttpd makes at start: it refuses a key that does
 * not belong to the certificate. */
static int check_pair(const struct http_tls_pem *p, const char *cert_path, const char *key_path,
                      char *err, size_t errlen)
{
    gnutls_certificate_credentials_t cred;
    if (gnutls_certificate_allocate_credentials(&cred) < 0) {
        snprintf(err, errlen, "out of memory checking the TLS files");
        return -1;
    }
    gnutls_datum_t c = {(unsigned char *)p->cert, (unsigned)strlen(p->cert)};
    gnutls_datum_t k = {(unsigned char *)p->key, (unsigned)p->key_len};
    int rc = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials(cred);
    if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
        snprintf(err, errlen, "the TLS key file %s does not belong to the certificate in %s", key_path,
                 cert_path);
        return -1;
    }
    if (rc < 0) {
        snprintf(err, errlen, "the TLS files %s and %s cannot be used together (%s)", cert_path, key_path,
                 gnutls_strerror(rc));
        return -1;
    }
    return 0;
}

int http_tls_load(const char *cert_path, const char *key_path, struct http_tls_pem *out, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen, "this libmicrohttpd was built without TLS support; --tls-cert cannot be used");
        return -1;
    }
    size_t cert_len = 0;
    out->cert = read_pem(cert_path, "certificate", &cert_len, err, errlen);
    if (!out->cert)
        return -1;
    out->key = read_pem(key_path, "key", &out->key_len, err, errlen);
    if (!out->key || check_cert(out->cert, cert_len, cert_path, err, errlen) != 0 ||
        check_key(out->key, out->key_len, key_path, err, errlen) != 0 ||
        check_pair(out, cert_path, key_path, err, errlen) != 0) {
        http_tls_free(out);
        return -1;
    }
    return 0;
}

void http_tls_free(struct http_tls_pem *p)
{
    if (p->key)
        explicit_bzero(p->key, p->key_len);
    free(p->key);
    free(p->cert);
    memset(p, 0, sizeof(*p));
}
