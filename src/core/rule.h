/* rule.h — automation rules (docs/automation.md): their validation at save
 * time and the test of their conditions when an event lands. Pure: the
 * rule is a jansson value, nothing here reads a store or a clock.
 *
 * A rule body:
 *   {"name": "...", "enabled": true,
 *    "trigger": {"event": "cart_abandoned"} | {"segment_entered": "vip"},
 *    "conditions": [cond, ...],                       (optional, 0..16)
 *    "steps": [{"delay_seconds": 86400,
 *               "issue": {"campaign_id": "cmp_..."},  (optional)
 *               "message": {"template_id": "tpl_...", "channel": "email"|"webhook",
 *                           "webhook_id": "wh_..."}}], (optional; 1..10 steps,
 *                                                       each with issue or message)
 *    "cancel_on": {"event": "purchase", "match": "cart_id"}}  (optional)
 * A condition: {"property": "cart_total", "op": ">=", "value": 50000} over
 * the event's properties (a dotted path; ops = != > >= < <= and "exists"),
 * {"segment": "vip"} or {"not_segment": "vip"} over the customer's
 * segments (by hand or computed), or a fact condition of segments
 * ({"fact": "order_count", "op": ">=", "value": 2}; see segment.h) over
 * the customer's facts. */
#ifndef PROMO_CORE_RULE_H
#define PROMO_CORE_RULE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "segment.h"

#define RULE_STEPS_MAX 10
#define RULE_COND_MAX 16
#define RULE_DELAY_MAX (366 * 86400) /* a step waits at most a year */
#define RULE_NAME_MAX 200
#define RULE_FIELD_MAX 96

/* Checks a rule body (the whole object a client PUTs). On
 * PROMO_BAD_REQUEST, field_buf holds the offending member's path
 * ("steps[1].delay_seconds") and *why a static sentence. References to
 * templates, campaigns and webhooks are the caller's to check (they need
 * the store): core_rule_refs lists them. */
enum promo_err core_rule_check(const json_t *body, char *field_buf, size_t field_len, const char **why);

/* Calls fn for each id a checked rule refers to: kind "campaign",
 * "template" or "webhook" and the field that names it. Stops at the first
 * nonzero return and returns it. */
typedef int (*rule_ref_fn)(void *ctx, const char *kind, const char *id, const char *field);
int core_rule_refs(const json_t *body, rule_ref_fn fn, void *ctx);

/* True when every condition holds for the event's properties (an object
 * or NULL), the customer's segments (JSON arrays of names or NULL) and
 * facts at `now` (NULL: every fact condition is false). */
bool core_rule_conditions_hold(const json_t *conditions, const json_t *props, const json_t *segments,
                               const json_t *computed, const struct seg_facts *facts, int64_t now);

/* The value at a dotted path of an object ("cart.id"), or NULL. */
const json_t *core_rule_path(const json_t *obj, const char *path);

#endif
