/* events.c — GET /v1/events: the append-only log, oldest first, to audit
 * or to tail (follow next_cursor). */
#include <stdlib.h>
#include <string.h>

#include "api/jsonin.h"
#include "util/timeutil.h"

void api_events_list(struct api_req *r, struct api_resp *w)
{
    int limit;
    if (!jin_query_limit(r, &limit, w))
        return;
    const char *cursor = r->query(r->qctx, "cursor");
    if (cursor && (!*cursor || strspn(cursor, "0123456789") != strlen(cursor) || strlen(cursor) > 18))
        return api_error(w, PROMO_BAD_REQUEST, "cursor is not one this server gave out");
    struct event *v;
    size_t n;
    int64_t next;
    enum promo_err rc = store_events_list(r->ctx->st, r->a, r->query(r->qctx, "campaign_id"),
                                          r->query(r->qctx, "type"), cursor ? strtoll(cursor, NULL, 10) : 0,
                                          limit, &v, &n, &next);
    if (rc != PROMO_OK)
        return api_store_error(w, rc, "event");
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++) {
        char at[TIME_STR_MAX];
        time_format(v[i].at, at);
        json_t *d = v[i].data ? json_loads(v[i].data, 0, NULL) : NULL;
        json_array_append_new(
            data, json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:o}", "id", v[i].id, "type",
                            v[i].type, "at", at, "campaign_id", v[i].campaign_id, "code", v[i].code_key,
                            "customer_id", v[i].customer_id, "order_id", v[i].order_id, "subject_id",
                            v[i].subject_id, "reason", v[i].reason, "data", d ? d : json_object()));
    }
    api_json(w, 200,
             json_pack("{s:o, s:o}", "data", data, "next_cursor",
                       next ? json_string(arena_printf(r->a, "%lld", (long long)next)) : json_null()));
}
