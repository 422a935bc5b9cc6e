/* router.c — the route table: method + path pattern → handler. A '*'
 * segment matches one non-empty path segment and becomes a parameter. */
#include <string.h>

#include "http/router.h"

#define JSON_MAX (1u << 20)       /* 1 MiB */
#define CSV_MAX (32u << 20)       /* 32 MiB */
#define FORM_MAX (8u << 10)       /* 8 KiB: an OAuth token request is a few short parameters */

/* Who may call what: the permission matrix of docs/security.md. */
#define R_ADMIN ROLE_ADMIN
#define R_MANAGE (ROLE_ADMIN | ROLE_MARKETER)                /* change campaigns and codes */
#define R_READ (ROLE_ADMIN | ROLE_MARKETER | ROLE_VIEWER)    /* read campaigns, codes, reports */
#define R_USE (ROLE_ADMIN | ROLE_INTEGRATION)                 /* spend codes: validate, reserve, redeem, rollback */
#define R_VALIDATE (ROLE_ADMIN | ROLE_INTEGRATION | ROLE_STOREFRONT)
/* Reading uses is reporting: issue 4 gives integration only the calls that
 * spend codes (validate, reserve, redeem, rollback), no reads. */
#define R_ORDERS R_READ

static const struct route routes[] = {
    {"GET", "/healthz", api_health, 0, JSON_MAX},
    {"GET", "/metrics", api_metrics, 0, JSON_MAX},
    {"POST", "/v1/campaigns", api_campaign_create, R_MANAGE, JSON_MAX},
    {"GET", "/v1/campaigns", api_campaign_list, R_READ, JSON_MAX},
    {"GET", "/v1/campaigns/*", api_campaign_get, R_READ, JSON_MAX},
    {"PATCH", "/v1/campaigns/*", api_campaign_patch, R_MANAGE, JSON_MAX},
    {"POST", "/v1/campaigns/*/pause", api_campaign_pause, R_MANAGE, JSON_MAX},
    {"POST", "/v1/campaigns/*/resume", api_campaign_resume, R_MANAGE, JSON_MAX},
    {"POST", "/v1/campaigns/*/end", api_campaign_end, R_MANAGE, JSON_MAX},
    {"GET", "/v1/campaigns/*/stats", api_campaign_stats, R_READ, JSON_MAX},
    {"POST", "/v1/campaigns/*/codes", api_codes_create, R_MANAGE, JSON_MAX},
    {"GET", "/v1/campaigns/*/codes", api_codes_list, R_READ, JSON_MAX},
    {"POST", "/v1/campaigns/*/codes/import", api_codes_import, R_MANAGE, CSV_MAX},
    {"POST", "/v1/campaigns/*/issue", api_code_issue, R_MANAGE, JSON_MAX},
    {"GET", "/v1/codes/*", api_code_get, R_READ, JSON_MAX},
    {"POST", "/v1/codes/*/disable", api_code_disable, R_MANAGE, JSON_MAX},
    {"GET", "/v1/jobs/*", api_job_get, R_READ, JSON_MAX},
    {"GET", "/v1/events", api_events_list, R_READ, JSON_MAX},
    {"GET", "/v1/audit", api_audit_list, R_ADMIN, JSON_MAX},
    {"POST", "/v1/validate", api_validate, R_VALIDATE, JSON_MAX},
    {"POST", "/v1/redemptions", api_redeem, R_USE, JSON_MAX},
    {"GET", "/v1/redemptions", api_redemption_list, R_ORDERS, JSON_MAX},
    {"GET", "/v1/redemptions/*", api_redemption_get, R_ORDERS, JSON_MAX},
    {"POST", "/v1/redemptions/*/rollback", api_redemption_rollback, R_USE, JSON_MAX},
    {"POST", "/v1/reservations", api_reserve, R_USE, JSON_MAX},
    {"GET", "/v1/reservations/*", api_reservation_get, R_ORDERS, JSON_MAX},
    {"POST", "/v1/reservations/*/confirm", api_reservation_confirm, R_USE, JSON_MAX},
    {"POST", "/v1/reservations/*/release", api_reservation_release, R_USE, JSON_MAX},
    {"POST", "/v1/tokens", api_token_create, R_ADMIN, JSON_MAX},
    {"GET", "/v1/tokens", api_token_list, R_ADMIN, JSON_MAX},
    {"GET", "/v1/tokens/*", api_token_get, R_ADMIN, JSON_MAX},
    {"DELETE", "/v1/tokens/*", api_token_revoke, R_ADMIN, JSON_MAX},
    {"POST", "/v1/oauth/clients", api_oauth_client_create, R_ADMIN, JSON_MAX},
    {"GET", "/v1/oauth/clients", api_oauth_client_list, R_ADMIN, JSON_MAX},
    {"GET", "/v1/oauth/clients/*", api_oauth_client_get, R_ADMIN, JSON_MAX},
    {"DELETE", "/v1/oauth/clients/*", api_oauth_client_delete, R_ADMIN, JSON_MAX},
    /* Public: the client authenticates itself (Basic or form), RFC 6749 §4.4. */
    {"POST", "/oauth/token", api_oauth_token, 0, FORM_MAX},
    {"POST", "/v1/templates", api_template_create, R_MANAGE, JSON_MAX},
    {"GET", "/v1/templates", api_template_list, R_READ, JSON_MAX},
    {"GET", "/v1/templates/*", api_template_get, R_READ, JSON_MAX},
    {"PUT", "/v1/templates/*", api_template_put, R_MANAGE, JSON_MAX},
    {"DELETE", "/v1/templates/*", api_template_delete, R_MANAGE, JSON_MAX},
    {"POST", "/v1/templates/*/preview", api_template_preview, R_READ, JSON_MAX},
    {"POST", "/v1/webhooks", api_webhook_create, R_ADMIN, JSON_MAX},
    {"GET", "/v1/webhooks", api_webhook_list, R_ADMIN, JSON_MAX},
    {"GET", "/v1/webhooks/*", api_webhook_get, R_ADMIN, JSON_MAX},
    {"DELETE", "/v1/webhooks/*", api_webhook_delete, R_ADMIN, JSON_MAX},
    {"POST", "/v1/messages", api_message_send, R_MANAGE, JSON_MAX},
    {"GET", "/v1/messages", api_message_list, R_READ, JSON_MAX},
    {"GET", "/v1/messages/*", api_message_get, R_READ, JSON_MAX},
    {"GET", "/v1/messages/*/attempts", api_message_attempts, R_READ, JSON_MAX},
    {"POST", "/v1/messages/*/retry", api_message_retry, R_MANAGE, JSON_MAX},
    /* customers, events, segments, scheduler (issue 3) */
    {"PUT", "/v1/customers/*", api_customer_put, R_MANAGE | ROLE_INTEGRATION, JSON_MAX},
    {"GET", "/v1/customers/*", api_customer_get, R_READ, JSON_MAX},
    {"GET", "/v1/customers", api_customer_list, R_READ, JSON_MAX},
    {"POST", "/v1/events", api_event_ingest, R_MANAGE | ROLE_INTEGRATION, JSON_MAX},
    {"GET", "/v1/segments", api_segment_list, R_READ, JSON_MAX},
    {"GET", "/v1/segments/*", api_segment_get, R_READ, JSON_MAX},
    {"PUT", "/v1/segments/*", api_segment_put, R_MANAGE, JSON_MAX},
    {"DELETE", "/v1/segments/*", api_segment_delete, R_MANAGE, JSON_MAX},
    {"GET", "/v1/tasks", api_task_list, R_MANAGE, JSON_MAX},
    {"POST", "/v1/test/clock", api_test_clock, R_ADMIN, JSON_MAX},
    {"GET", "/v1/test/clock", api_test_clock, R_ADMIN, JSON_MAX},
    /* rules and expiry reminders (issue 3, part C) */
    {"POST", "/v1/rules", api_rule_create, R_MANAGE, JSON_MAX},
    {"GET", "/v1/rules", api_rule_list, R_READ, JSON_MAX},
    {"GET", "/v1/rules/*", api_rule_get, R_READ, JSON_MAX},
    {"PUT", "/v1/rules/*", api_rule_put, R_MANAGE, JSON_MAX},
    {"DELETE", "/v1/rules/*", api_rule_delete, R_MANAGE, JSON_MAX},
    {"GET", "/v1/campaigns/*/reminders", api_reminders_get, R_READ, JSON_MAX},
    {"PUT", "/v1/campaigns/*/reminders", api_reminders_put, R_MANAGE, JSON_MAX},
    {"DELETE", "/v1/campaigns/*/reminders", api_reminders_delete, R_MANAGE, JSON_MAX},
};

/* Matches one pattern; on success writes parameter spans into params. */
static int match(const char *pattern, const char *path, struct route_match *m)
{
    const char *p = pattern, *s = path;
    int n = 0;
    while (*p && *s) {
        if (*p == '*') {
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0 || n >= ROUTE_PARAMS_MAX)
                return 0;
            m->param[n] = s;
            m->param_len[n++] = len;
            s += len;
            p++;
        } else if (*p++ != *s++) {
            return 0;
        }
    }
    if (*p || *s)
        return 0;
    m->n_params = n;
    return 1;
}

int router_find(const char *method, const char *path, struct route_match *m)
{
    int path_known = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        struct route_match t = {0};
        if (!match(routes[i].pattern, path, &t))
            continue;
        path_known = 1;
        if (strcmp(routes[i].method, method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
            *m = t;
            m->route = &routes[i];
            return 200;
        }
    }
    return path_known ? 405 : 404;
}

const char *router_allowed(const char *path, char *buf, size_t len)
{
    buf[0] = 0;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        struct route_match t = {0};
        if (match(routes[i].pattern, path, &t) && strlen(buf) + strlen(routes[i].method) + 3 < len) {
            if (buf[0])
                strcat(buf, ", ");
            strcat(buf, routes[i].method);
        }
    }
    return buf;
}
