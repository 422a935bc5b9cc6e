/* client_ip.h — private to http/: who is calling, as the rate limits and
 * the audit log see it. */
#ifndef PROMO_HTTP_CLIENT_IP_H
#define PROMO_HTTP_CLIENT_IP_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdbool.h>

#define CLIENT_IP_MAX INET6_ADDRSTRLEN

/* The client's address as canonical text ("203.0.113.7", "2001:db8::1";
 * IPv4-mapped IPv6 shown as IPv4). With trust_forwarded_for (promo runs
 * behind a proxy that appends the address it saw), the last hop of the last
 * X-Forwarded-For header: the one that proxy wrote, where every earlier hop
 * could be forged by the client. When that hop is missing or not an
 * address, the socket's peer. "unknown" if even that fails. */
void http_client_ip(struct MHD_Connection *c, bool trust_forwarded_for, char out[CLIENT_IP_MAX]);

#endif
