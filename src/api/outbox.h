/* outbox.h — what templates.c, messages.c and webhooks.c share. Private
 * to api/. They use notify/template.h, the pure template checker and
 * renderer (no I/O), as campaigns.c uses core/. */
#ifndef PROMO_API_OUTBOX_H
#define PROMO_API_OUTBOX_H

#include "api/api.h"

/* Reads subject, body_text and body_html of `body` into t (arena copies)
 * and checks each as a template: a 400 names the field and the variable
 * ("body_html: unknown variable {{customer.nmae}}"). Bodies may hold
 * newlines and tabs; the subject may not. need_body: body_text or
 * body_html is required. */
bool api_tpl_fields(struct api_req *r, json_t *body, struct template_rec *t, bool need_body, struct api_resp *w);
/* The variables t uses, as a JSON array (a new reference). */
json_t *api_tpl_variables(const struct template_rec *t);
/* Renders t with data into *out (strings in r->a; NULL where t has none);
 * the HTML body escapes values. false with a 400/500 in w. */
bool api_tpl_render(struct api_req *r, const struct template_rec *t, const json_t *data, struct template_rec *out,
                    struct api_resp *w);
/* A time in Unix milliseconds as RFC 3339 with milliseconds, or null for 0. */
json_t *api_time_ms(int64_t ms);

#endif
