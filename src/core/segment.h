/* segment.h — customer segments as small named rules over a customer's
 * facts, and their evaluation. Pure: the rule comes in as a jansson value
 * (a data structure, no I/O), the facts as a struct; nothing allocates.
 *
 * A rule: {"all": [cond, ...]} or {"any": [cond, ...]} with 1..16
 * conditions; a condition {"fact": F, "op": OP, "value": V} where F is one
 * of order_count, total_spent, spent_365d, days_since_last_order,
 * days_since_signup (integers; ops = != > >= < <=), has_ordered (boolean;
 * = !=) or attributes.<name> (integer, string or boolean value; strings
 * and booleans take = and != only). A fact the customer does not have
 * (days since an order never placed, an attribute never set) makes its
 * condition false whatever the op. */
#ifndef PROMO_CORE_SEGMENT_H
#define PROMO_CORE_SEGMENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define SEGMENT_COND_MAX 16
#define SEGMENT_NAME_MAX 64
#define SEGMENT_ATTR_MAX 64

enum seg_fact {
    FACT_ORDER_COUNT,
    FACT_TOTAL_SPENT,
    FACT_SPENT_365D,
    FACT_DAYS_SINCE_LAST_ORDER,
    FACT_DAYS_SINCE_SIGNUP,
    FACT_HAS_ORDERED,
    FACT_ATTRIBUTE,
};
enum seg_op { SEG_EQ, SEG_NE, SEG_GT, SEG_GE, SEG_LT, SEG_LE };

struct seg_cond {
    enum seg_fact fact;
    const char *attr; /* FACT_ATTRIBUTE: the name after "attributes." (borrowed from the rule) */
    enum seg_op op;
    json_t *value;    /* borrowed from the rule */
};

struct seg_rule {
    bool any; /* true: any condition; false: all of them */
    size_t n;
    struct seg_cond c[SEGMENT_COND_MAX];
};

/* What the server knows of a customer at evaluation time. Times are Unix
 * seconds, 0 for "never". attributes: a JSON object or NULL (borrowed). */
struct seg_facts {
    int64_t order_count, total_spent, spent_365d;
    int64_t signup_at, last_order_at;
    json_t *attributes;
};

/* spent_365d counts the orders after this cutoff (Unix seconds) at `now`:
 * the one definition of the window both stores compute it with. */
static inline int64_t segment_spent_since(int64_t now) { return now - 365 * 86400; }

/* Checks and reads a rule. On PROMO_BAD_REQUEST *field is a static path of
 * the offending member ("rule.all[2].op" is written into field_buf, which
 * *field then points at) and *why a static sentence. `out` borrows from
 * `rule`, which must outlive it. */
enum promo_err core_segment_parse(json_t *rule, struct seg_rule *out, char *field_buf, size_t field_len,
                                  const char **field, const char **why);

/* True when the facts satisfy the rule at `now`. */
bool core_segment_match(const struct seg_rule *r, const struct seg_facts *f, int64_t now);

/* True for a segment name: 1..64 of [a-z0-9_-], starting with a letter or digit. */
bool core_segment_name_valid(const char *name);

#endif
