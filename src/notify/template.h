/* template.h — message templates: {{variable}} placeholders from a fixed,
 * documented vocabulary (docs/templates.md), checked when a template is
 * saved and filled when a message is made. Pure: no I/O, no clock; the
 * only state is what the caller passes. Unit-tested in
 * tests/unit/test_template.c.
 *
 * Syntax: `{{ name }}` (spaces inside the braces optional); a name is
 * letters, digits, `_` and `.`-separated segments. There are no loops or
 * conditions: a template is text with holes. */
#ifndef PROMO_NOTIFY_TEMPLATE_H
#define PROMO_NOTIFY_TEMPLATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TPL_ERR_MAX 256
#define TPL_TEXT_MAX (256u << 10) /* a template field holds at most 256 KiB */

enum tpl_lang { TPL_EN = 0, TPL_KO = 1 };

/* True when `name` is a variable of the vocabulary. */
bool tpl_known(const char *name, size_t len);

/* Checks a template text: every `{{` is closed and names a known variable.
 * 0, or -1 with a sentence in err naming the variable or the position
 * ("unknown variable {{customer.nmae}}"). When `vars` is a JSON array,
 * the variables used are appended to it (each once). */
int tpl_check(const char *text, json_t *vars, char *err, size_t errlen);

/* Fills a checked template from `data` (the shape of docs/templates.md:
 * customer, code, discount, currency, expires_at, campaign, cart, order,
 * event). A variable without a value becomes the empty string. `html`:
 * values are HTML-escaped (the template's own markup is kept). Money and
 * dates are written in the customer's locale and time zone
 * (data.customer.locale / .timezone). Returns a malloc'd string the
 * caller frees, or NULL with err set (bad syntax or out of memory). */
char *tpl_render(const char *text, const json_t *data, bool html, char *err, size_t errlen);

/* "ko", "ko-KR", "ko_KR" → TPL_KO; anything else (NULL too) → TPL_EN. */
enum tpl_lang tpl_lang_of(const char *locale);
/* An amount in minor units of `currency` (ISO 4217; NULL: a bare number)
 * with thousands separators: ko KRW "5,000원", en KRW "₩5,000", en USD
 * "$12.50", others "12.50 EUR". */
void tpl_format_money(int64_t minor, const char *currency, enum tpl_lang lang, char *out, size_t len);
/* The calendar date of instant t (Unix seconds) in time zone tz (IANA;
 * NULL or unknown: UTC): ko "2026년 12월 3일", en "December 3, 2026". */
void tpl_format_date(int64_t t, const char *tz, enum tpl_lang lang, char *out, size_t len);

#endif
