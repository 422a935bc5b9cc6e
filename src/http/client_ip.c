/* client_ip.c — the client's address, from the socket or a trusted proxy's
 * X-Forwarded-For. See client_ip.h. */
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/client_ip.h"

/* Canonical text of an IPv4 or IPv6 address in binary form. */
static int text_of(int family, const void *addr, char out[CLIENT_IP_MAX])
{
    if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)addr))
        return inet_ntop(AF_INET, (const unsigned char *)addr + 12, out, CLIENT_IP_MAX) ? 0 : -1;
    return inet_ntop(family, addr, out, CLIENT_IP_MAX) ? 0 : -1;
}

static int sockaddr_text(const struct sockaddr *sa, char out[CLIENT_IP_MAX])
{
    if (sa->sa_family == AF_INET)
        return text_of(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out);
    if (sa->sa_family == AF_INET6)
        return text_of(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out);
    return -1;
}

/* Keeps the value of the last X-Forwarded-For header: a proxy appends to
 * the last one, or adds one after those the client sent. */
static enum MHD_Result last_forwarded(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    if (value && strcasecmp(key, "X-Forwarded-For") == 0)
        *(const char **)cls = value;
    return MHD_YES;
}

/* The last hop of X-Forwarded-For as canonical text; -1 when there is none
 * or it is not an address. */
static int forwarded_ip(struct MHD_Connection *c, char out[CLIENT_IP_MAX])
{
    const char *v = NULL;
    MHD_get_connection_values(c, MHD_HEADER_KIND, last_forwarded, &v);
    if (!v)
        return -1;
    const char *hop = strrchr(v, ',');
    hop = hop ? hop + 1 : v;
    hop += strspn(hop, " \t");
    size_t n = strcspn(hop, " \t");
    char text[CLIENT_IP_MAX];
    if (n == 0 || n >= sizeof text || hop[n + strspn(hop + n, " \t")])
        return -1;
    memcpy(text, hop, n);
    text[n] = 0;
    unsigned char bin[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, text, bin) == 1)
        return text_of(AF_INET, bin, out);
    if (inet_pton(AF_INET6, text, bin) == 1)
        return text_of(AF_INET6, bin, out);
    return -1;
}

void http_client_ip(struct MHD_Connection *c, bool trust_forwarded_for, char out[CLIENT_IP_MAX])
{
    if (trust_forwarded_for && forwarded_ip(c, out) == 0)
        return;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr || sockaddr_text(ci->client_addr, out) != 0)
        snprintf(out, CLIENT_IP_MAX, "unknown");
}
