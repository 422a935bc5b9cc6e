/* template.c — checking and filling message templates (template.h). The
 * vocabulary is a fixed table plus a few patterns (cart items by index,
 * event and customer attribute members), so a typo is refused when the
 * template is saved rather than sending "Hello ," to a million customers. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify/template.h"
#include "util/buf.h"
#include "util/timeutil.h"

#define OUT_MAX (4u << 20) /* a rendered field: templates are ≤ 256 KiB, values ≤ a few KiB each */
#define NAME_MAX_LEN 128

enum kind { V_TEXT, V_MONEY, V_DATE };

/* The plain variables and how their values are written. */
static const struct {
    const char *name;
    enum kind kind;
} VARS[] = {
    {"code", V_TEXT},           {"discount", V_MONEY},       {"currency", V_TEXT},
    {"expires_at", V_DATE},     {"customer.id", V_TEXT},     {"customer.name", V_TEXT},
    {"customer.email", V_TEXT}, {"customer.phone", V_TEXT},  {"customer.locale", V_TEXT},
    {"customer.timezone", V_TEXT}, {"campaign.id", V_TEXT},  {"campaign.name", V_TEXT},
    {"order.id", V_TEXT},       {"order.amount", V_MONEY},   {"cart.total", V_MONEY},
    {"cart.url", V_TEXT},       {"event.type", V_TEXT},      {"event.at", V_DATE},
};
#define N_VARS (sizeof VARS / sizeof VARS[0])

static const char *const ITEM_FIELDS[] = {"id", "name", "price", "quantity", "category", "url", NULL};

/* True when s[0..len) is one or more identifier segments joined by '.'. */
static bool path_ok(const char *s, size_t len)
{
    if (len == 0 || len > NAME_MAX_LEN || s[0] == '.' || s[len - 1] == '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '.' && s[i + 1] == '.')
            return false;
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.')
            return false;
    }
    return true;
}

static bool has_prefix(const char *s, size_t len, const char *p)
{
    size_t n = strlen(p);
    return len > n && memcmp(s, p, n) == 0;
}

/* cart.items.<N>.<field>, N a decimal index below 1000. */
static bool cart_item(const char *s, size_t len, const char **field)
{
    if (!has_prefix(s, len, "cart.items."))
        return false;
    const char *p = s + 11, *end = s + len;
    size_t digits = 0;
    while (p + digits < end && isdigit((unsigned char)p[digits]))
        digits++;
    if (digits == 0 || digits > 3 || p + digits >= end || p[digits] != '.')
        return false;
    const char *f = p + digits + 1;
    size_t flen = (size_t)(end - f);
    for (const char *const *k = ITEM_FIELDS; *k; k++)
        if (strlen(*k) == flen && memcmp(*k, f, flen) == 0) {
            *field = *k;
            return true;
        }
    return false;
}

static int var_index(const char *s, size_t len)
{
    for (size_t i = 0; i < N_VARS; i++)
        if (strlen(VARS[i].name) == len && memcmp(VARS[i].name, s, len) == 0)
            return (int)i;
    return -1;
}

bool tpl_known(const char *s, size_t len)
{
    const char *field;
    if (!path_ok(s, len))
        return false;
    return var_index(s, len) >= 0 || cart_item(s, len, &field) || has_prefix(s, len, "event.data.") ||
           has_prefix(s, len, "customer.attributes.");
}

static enum kind kind_of(const char *s, size_t len)
{
    int i = var_index(s, len);
    if (i >= 0)
        return VARS[i].kind;
    const char *field;
    if (cart_item(s, len, &field) && strcmp(field, "price") == 0)
        return V_MONEY;
    return V_TEXT;
}

/* ---- scanning ------------------------------------------------------------------ */

/* Finds the next placeholder at or after p. On 1: [*name, *name+*nlen) is
 * the trimmed name and *after points past the closing braces. 0: none left.
 * -1: a `{{` without a well-formed name and `}}` (err set). */
static int next_var(const char *text, const char *p, const char **open, const char **name, size_t *nlen,
                    const char **after, char *err, size_t errlen)
{
    const char *o = strstr(p, "{{");
    if (!o)
        return 0;
    const char *q = o + 2;
    while (*q == ' ')
        q++;
    const char *n = q;
    while (*q && (isalnum((unsigned char)*q) || *q == '_' || *q == '.'))
        q++;
    const char *nend = q;
    while (*q == ' ')
        q++;
    if (q[0] != '}' || q[1] != '}') {
        const char *close = strstr(o + 2, "}}");
        if (!close)
            snprintf(err, errlen, "unclosed {{ at character %zu", (size_t)(o - text) + 1);
        else
            snprintf(err, errlen, "{{%.*s}} at character %zu is not a variable name (letters, digits, _ and .)",
                     (int)((close - o - 2) > 40 ? 40 : (close - o - 2)), o + 2, (size_t)(o - text) + 1);
        return -1;
    }
    if (nend == n) {
        snprintf(err, errlen, "empty {{}} at character %zu", (size_t)(o - text) + 1);
        return -1;
    }
    *open = o;
    *name = n;
    *nlen = (size_t)(nend - n);
    *after = q + 2;
    return 1;
}

static void add_var(json_t *vars, const char *name, size_t len)
{
    json_t *s = json_stringn(name, len);
    size_t i;
    json_t *v;
    json_array_foreach(vars, i, v) if (json_equal(v, s))
    {
        json_decref(s);
        return;
    }
    json_array_append_new(vars, s);
}

int tpl_check(const char *text, json_t *vars, char *err, size_t errlen)
{
    const char *p = text, *open, *name, *after;
    size_t len;
    int r;
    if (strlen(text) > TPL_TEXT_MAX) {
        snprintf(err, errlen, "is longer than %u bytes", TPL_TEXT_MAX);
        return -1;
    }
    while ((r = next_var(text, p, &open, &name, &len, &after, err, errlen)) == 1) {
        if (!tpl_known(name, len)) {
            snprintf(err, errlen, "unknown variable {{%.*s}} (see docs/templates.md for the variables)",
                     (int)(len > NAME_MAX_LEN ? NAME_MAX_LEN : len), name);
            return -1;
        }
        if (json_is_array(vars))
            add_var(vars, name, len);
        p = after;
    }
    return r;
}

/* ---- formatting ------------------------------------------------------------------ */

enum tpl_lang tpl_lang_of(const char *locale)
{
    if (locale && (locale[0] == 'k' || locale[0] == 'K') && (locale[1] == 'o' || locale[1] == 'O') &&
        (locale[2] == 0 || locale[2] == '-' || locale[2] == '_'))
        return TPL_KO;
    return TPL_EN;
}

/* Minor-unit digits of a currency: 0 for the ones without minor units. */
static int exponent(const char *cur)
{
    static const char *const ZERO[] = {"KRW", "JPY", "VND", "CLP", "ISK", "TWD", NULL};
    for (const char *const *z = ZERO; *z; z++)
        if (strcmp(cur, *z) == 0)
            return 0;
    return 2;
}

static const char *symbol(const char *cur)
{
    if (strcmp(cur, "KRW") == 0) return "₩";
    if (strcmp(cur, "USD") == 0) return "$";
    if (strcmp(cur, "EUR") == 0) return "€";
    if (strcmp(cur, "JPY") == 0) return "¥";
    if (strcmp(cur, "GBP") == 0) return "£";
    return NULL;
}

/* |v| with a comma every three digits. */
static void grouped(uint64_t v, char *out, size_t len)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
    char tmp[48];
    size_t j = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            tmp[j++] = ',';
        tmp[j++] = digits[i];
    }
    tmp[j] = 0;
    snprintf(out, len, "%s", tmp);
}

void tpl_format_money(int64_t minor, const char *currency, enum tpl_lang lang, char *out, size_t len)
{
    const char *sign = minor < 0 ? "-" : "";
    uint64_t v = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    char num[64];
    int e = currency ? exponent(currency) : 0;
    if (e == 0) {
        grouped(v, num, sizeof num);
    } else {
        char whole[48];
        grouped(v / 100, whole, sizeof whole);
        snprintf(num, sizeof num, "%s.%02u", whole, (unsigned)(v % 100));
    }
    if (!currency) {
        snprintf(out, len, "%s%s", sign, num);
    } else if (lang == TPL_KO && strcmp(currency, "KRW") == 0) {
        snprintf(out, len, "%s%s원", sign, num);
    } else if (symbol(currency)) {
        snprintf(out, len, "%s%s%s", sign, symbol(currency), num);
    } else {
        snprintf(out, len, "%s%s %s", sign, num, currency);
    }
}

void tpl_format_date(int64_t t, const char *tz, enum tpl_lang lang, char *out, size_t len)
{
    static const char *const MONTHS[] = {"January", "February", "March",     "April",   "May",      "June",
                                         "July",    "August",   "September", "October", "November", "December"};
    int y, m, d;
    time_local_date(t, tz, &y, &m, &d);
    if (lang == TPL_KO)
        snprintf(out, len, "%d년 %d월 %d일", y, m, d);
    else
        snprintf(out, len, "%s %d, %d", MONTHS[m - 1], d, y);
}

/* ---- rendering ------------------------------------------------------------------- */

/* The value at a dotted path (numeric segments index arrays), or NULL. */
static const json_t *lookup(const json_t *data, const char *name, size_t len)
{
    const json_t *v = data;
    const char *p = name, *end = name + len;
    while (v && p < end) {
        const char *dot = memchr(p, '.', (size_t)(end - p));
        size_t seg = dot ? (size_t)(dot - p) : (size_t)(end - p);
        char key[NAME_MAX_LEN + 1];
        memcpy(key, p, seg);
        key[seg] = 0;
        if (json_is_object(v))
            v = json_object_get(v, key);
        else if (json_is_array(v) && isdigit((unsigned char)key[0]))
            v = json_array_get(v, (size_t)strtoul(key, NULL, 10));
        else
            v = NULL;
        p += seg + 1;
    }
    return v;
}

static const char *str_at(const json_t *data, const char *path)
{
    return json_string_value(lookup(data, path, strlen(path)));
}

/* A time given as RFC 3339 text or as Unix seconds; 0 on success. */
static int time_of(const json_t *v, int64_t *t)
{
    if (json_is_integer(v)) {
        *t = json_integer_value(v);
        return 0;
    }
    return json_is_string(v) ? time_parse_rfc3339(json_string_value(v), t) : -1;
}

/* Writes the value of one variable as text into out. */
static void value_text(const json_t *data, const char *name, size_t len, char *out, size_t outlen)
{
    const json_t *v = lookup(data, name, len);
    enum tpl_lang lang = tpl_lang_of(str_at(data, "customer.locale"));
    enum kind k = kind_of(name, len);
    int64_t t;
    out[0] = 0;
    if (!v || json_is_null(v))
        return;
    if (k == V_MONEY && json_is_integer(v))
        tpl_format_money(json_integer_value(v), str_at(data, "currency"), lang, out, outlen);
    else if (k == V_DATE && time_of(v, &t) == 0)
        tpl_format_date(t, str_at(data, "customer.timezone"), lang, out, outlen);
    else if (json_is_string(v))
        snprintf(out, outlen, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, outlen, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, outlen, "%s", json_is_true(v) ? "true" : "false");
    /* objects and arrays have no text: left empty */
}

static int put_escaped(struct buf *b, const char *s)
{
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        }
        if (rep ? buf_puts(b, rep) : buf_append(b, s, 1))
            return -1;
    }
    return 0;
}

char *tpl_render(const char *text, const json_t *data, bool html, char *err, size_t errlen)
{
    struct buf b;
    buf_init(&b, OUT_MAX);
    const char *p = text, *open, *name, *after;
    size_t len;
    int r, bad = 0;
    char *val = malloc(64 * 1024);
    if (!val) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    while (!bad && (r = next_var(text, p, &open, &name, &len, &after, err, errlen)) == 1) {
        value_text(data, name, len, val, 64 * 1024);
        bad = buf_append(&b, p, (size_t)(open - p)) || (html ? put_escaped(&b, val) : buf_puts(&b, val));
        p = after;
    }
    free(val);
    if (!bad && r == 0)
        bad = buf_puts(&b, p);
    else if (!bad)
        bad = -1;
    else
        snprintf(err, errlen, "the rendered text is longer than %u bytes", OUT_MAX);
    if (bad) {
        buf_free(&b);
        return NULL;
    }
    if (!b.data && buf_puts(&b, "") != 0) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t n;
    return buf_steal(&b, &n);
}
