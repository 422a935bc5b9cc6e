/* cli_out.c — how answers look: pretty JSON for scripts, and for people
 * `key: value` lines for one object and aligned tables for lists. Text
 * from the server is printed with control characters masked, so a
 * campaign name cannot drive the terminal. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"

#define AUTO_COLS_MAX 16

void cli_print_json(const json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
    putchar('\n');
}

/* Appends s with control characters shown as '?'. */
static void add_clean(struct cli_buf *b, const char *s)
{
    for (; *s; s++) {
        char ch = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
        cli_buf_add(b, &ch, 1);
    }
}

void cli_scalar_text(const json_t *v, struct cli_buf *b)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        add_clean(b, json_string_value(v));
        break;
    case JSON_INTEGER:
        cli_buf_printf(b, "%lld", (long long)json_integer_value(v));
        break;
    case JSON_REAL:
        cli_buf_printf(b, "%.15g", json_real_value(v));
        break;
    case JSON_TRUE:
        cli_buf_add(b, "true", 4);
        break;
    case JSON_FALSE:
        cli_buf_add(b, "false", 5);
        break;
    case JSON_NULL:
        cli_buf_add(b, "-", 1);
        break;
    default: {
        /* An object or array inside a cell: compact JSON. */
        char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (!s)
            cli_oom();
        add_clean(b, s);
        free(s);
    }
    }
}

/* Columns a UTF-8 string takes on a terminal: East Asian wide characters
 * (Hangul, CJK, full-width forms) take two, combining marks none. */
static size_t display_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned cp;
        int n;
        if (*p < 0x80)
            cp = *p, n = 1;
        else if ((*p & 0xE0) == 0xC0)
            cp = *p & 0x1F, n = 2;
        else if ((*p & 0xF0) == 0xE0)
            cp = *p & 0x0F, n = 3;
        else if ((*p & 0xF8) == 0xF0)
            cp = *p & 0x07, n = 4;
        else
            cp = '?', n = 1;
        for (int i = 1; i < n; i++) {
            if ((p[i] & 0xC0) != 0x80) {
                n = i;
                cp = '?';
                break;
            }
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        p += n;
        if ((cp >= 0x300 && cp <= 0x36F) || (cp >= 0x200B && cp <= 0x200F))
            continue;
        bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                    (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                    (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                    (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1FAFF) ||
                    (cp >= 0x20000 && cp <= 0x3FFFD);
        w += wide ? 2 : 1;
    }
    return w;
}

static void pad(size_t n)
{
    for (size_t i = 0; i < n; i++)
        putchar(' ');
}

/* ---- tables ---------------------------------------------------------------------- */

static void print_table_cols(const json_t *rows, const struct cli_col *cols, size_t ncols, int indent)
{
    size_t nrows = json_array_size(rows);
    char **cell = calloc((nrows + 1) * ncols, sizeof(*cell));
    size_t *width = calloc(ncols, sizeof(*width));
    if (!cell || !width)
        cli_oom();
    for (size_t j = 0; j < ncols; j++)
        cell[j] = strdup(cols[j].heading);
    for (size_t i = 0; i < nrows; i++) {
        const json_t *row = json_array_get(rows, i);
        for (size_t j = 0; j < ncols; j++) {
            struct cli_buf b = {0};
            if (cols[j].cell)
                cols[j].cell(row, &b);
            else
                cli_scalar_text(json_object_get(row, cols[j].key) ? json_object_get(row, cols[j].key)
                                                                  : json_null(),
                                &b);
            cell[(i + 1) * ncols + j] = b.p ? b.p : strdup("");
        }
    }
    for (size_t k = 0; k < (nrows + 1) * ncols; k++) {
        if (!cell[k])
            cli_oom();
        size_t w = display_width(cell[k]);
        if (w > width[k % ncols])
            width[k % ncols] = w;
    }
    for (size_t i = 0; i <= nrows; i++) {
        pad((size_t)indent);
        for (size_t j = 0; j < ncols; j++) {
            const char *s = cell[i * ncols + j];
            size_t gap = width[j] - display_width(s);
            bool last = j + 1 == ncols;
            if (cols[j].right)
                pad(gap);
            fputs(s, stdout);
            if (!last && !cols[j].right)
                pad(gap);
            if (!last)
                fputs("  ", stdout);
        }
        putchar('\n');
    }
    for (size_t k = 0; k < (nrows + 1) * ncols; k++)
        free(cell[k]);
    free(cell);
    free(width);
}

void cli_print_table(const json_t *rows, const struct cli_col *cols, int indent)
{
    size_t n = 0;
    while (cols[n].heading)
        n++;
    print_table_cols(rows, cols, n, indent);
}

/* A table of rows nobody described: the union of their members, numbers
 * aligned right, headings in capitals. */
static void print_auto_table(const json_t *rows, int indent)
{
    struct cli_col cols[AUTO_COLS_MAX];
    char *heads[AUTO_COLS_MAX];
    size_t n = 0;
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)row, key, v)
        {
            size_t j = 0;
            while (j < n && strcmp(cols[j].key, key) != 0)
                j++;
            if (j == n && n < AUTO_COLS_MAX) {
                heads[n] = strdup(key);
                if (!heads[n])
                    cli_oom();
                for (char *p = heads[n]; *p; p++)
                    if (*p >= 'a' && *p <= 'z')
                        *p = (char)(*p - 'a' + 'A');
                cols[n] = (struct cli_col){.heading = heads[n], .key = key, .right = true};
                n++;
            }
            if (j < n && !json_is_number(v) && !json_is_null(v))
                cols[j].right = false;
        }
    }
    print_table_cols(rows, cols, n, indent);
    for (size_t j = 0; j < n; j++)
        free(heads[j]);
}

/* ---- key: value ------------------------------------------------------------------ */

static bool all_objects(const json_t *arr)
{
    size_t i;
    const json_t *v;
    if (json_array_size(arr) == 0)
        return false;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_object(v))
            return false;
    }
    return true;
}

/* Widest dotted key that prints on a line of its own. */
static size_t key_width(const json_t *obj, size_t prefix)
{
    size_t w = 0;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        size_t k = prefix + strlen(key);
        if (json_is_object(v) && json_object_size(v) > 0)
            k = key_width(v, k + 1);
        else if (json_is_array(v) && all_objects(v))
            k = 0;
        if (k > w)
            w = k;
    }
    return w;
}

static void print_kv(const json_t *obj, const char *prefix, size_t width)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        struct cli_buf name = {0};
        if (*prefix)
            cli_buf_printf(&name, "%s.", prefix);
        add_clean(&name, key);
        if (json_is_object(v) && json_object_size(v) > 0) {
            print_kv(v, name.p, width);
        } else if (json_is_array(v) && all_objects(v)) {
            printf("%s:\n", name.p);
            print_auto_table(v, 2);
        } else {
            struct cli_buf val = {0};
            if (json_is_array(v)) {
                size_t i;
                const json_t *e;
                json_array_foreach(v, i, e)
                {
                    if (i)
                        cli_buf_add(&val, ", ", 2);
                    cli_scalar_text(e, &val);
                }
                if (json_array_size(v) == 0)
                    cli_buf_add(&val, "-", 1);
            } else if (json_is_object(v)) {
                cli_buf_add(&val, "-", 1);
            } else {
                cli_scalar_text(v, &val);
            }
            printf("%s:", name.p);
            pad(width - display_width(name.p) + 1);
            printf("%s\n", val.p ? val.p : "");
            cli_buf_free(&val);
        }
        cli_buf_free(&name);
    }
}

void cli_print_object(const json_t *obj)
{
    if (!json_is_object(obj)) {
        struct cli_buf b = {0};
        cli_scalar_text(obj, &b);
        printf("%s\n", b.p ? b.p : "");
        cli_buf_free(&b);
        return;
    }
    print_kv(obj, "", key_width(obj, 0));
}

/* ---- lists ----------------------------------------------------------------------- */

int cli_list(struct cli *c, const char *path, long long limit, bool all, const struct cli_col *cols)
{
    json_t *rows = json_array();
    json_t *last = NULL; /* the last page, printed as is with --json when not --all */
    char *cursor = NULL;
    int rc = CLI_OK;
    bool more = false;
    if (!rows)
        cli_oom();
    for (;;) {
        struct cli_buf p = {0};
        cli_buf_printf(&p, "%s%s", path, strchr(path, '?') ? "&" : "?");
        if (limit > 0)
            cli_buf_printf(&p, "limit=%lld&", limit);
        if (cursor) {
            cli_buf_add(&p, "cursor=", 7);
            cli_buf_escape(&p, cursor);
        }
        if (p.p[p.len - 1] == '&' || p.p[p.len - 1] == '?')
            p.p[--p.len] = '\0';
        struct cli_answer ans;
        rc = cli_call(c, "GET", p.p, NULL, NULL, &ans);
        cli_buf_free(&p);
        if (rc != CLI_OK) {
            cli_answer_free(&ans);
            break;
        }
        json_t *data = json_object_get(ans.json, "data");
        if (!json_is_array(data)) {
            fputs("promo: the server's list has no \"data\" array\n", stderr);
            cli_answer_free(&ans);
            rc = CLI_REFUSED;
            break;
        }
        json_array_extend(rows, data);
        const char *next = json_string_value(json_object_get(ans.json, "next_cursor"));
        free(cursor);
        cursor = next && *next ? strdup(next) : NULL;
        json_decref(last);
        last = json_incref(ans.json);
        cli_answer_free(&ans);
        if (!cursor)
            break;
        if (!all) {
            more = true;
            break;
        }
    }
    if (rc == CLI_OK) {
        if (c->json && !all)
            cli_print_json(last);
        else if (c->json) {
            json_t *doc = json_pack("{s:O, s:n}", "data", rows, "next_cursor");
            cli_print_json(doc);
            json_decref(doc);
        }
        else {
            cli_print_table(rows, cols, 0);
            if (more)
                fputs("(more rows: add --all, or a larger --limit)\n", stderr);
        }
    }
    free(cursor);
    json_decref(last);
    json_decref(rows);
    return rc;
}
