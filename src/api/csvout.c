/* csvout.c — see csvout.h. */
#include <stdlib.h>
#include <string.h>

#include "api/csvout.h"

struct csv_stream {
    const char *header; /* static text */
    api_csv_page_fn page;
    void *cls;
    void (*cls_free)(void *);
    bool started, last_page;
    char *buf; /* the current page, from open_memstream */
    size_t len, pos;
};

void api_csv_cell(FILE *f, const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Fills the buffer with the header (first time) and the next page that
 * has rows; false once nothing is left to send. */
static bool csv_fill(struct csv_stream *x)
{
    free(x->buf);
    x->buf = NULL;
    x->len = x->pos = 0;
    while (!x->last_page) {
        FILE *f = open_memstream(&x->buf, &x->len);
        if (!f)
            return false;
        if (!x->started) {
            fputs(x->header, f);
            x->started = true;
        }
        x->last_page = !x->page(x->cls, f);
        fclose(f);
        if (x->len > 0)
            return true;
        free(x->buf); /* an empty page that is not the last: read on */
        x->buf = NULL;
    }
    return false;
}

static ssize_t csv_read(void *cls, char *buf, size_t max)
{
    struct csv_stream *x = cls;
    if (x->pos >= x->len && !csv_fill(x))
        return -1;
    size_t n = x->len - x->pos < max ? x->len - x->pos : max;
    memcpy(buf, x->buf + x->pos, n);
    x->pos += n;
    return (ssize_t)n;
}

static void csv_free(void *cls)
{
    struct csv_stream *x = cls;
    free(x->buf);
    if (x->cls_free)
        x->cls_free(x->cls);
    free(x);
}

void api_csv_stream(struct api_resp *w, const char *header, api_csv_page_fn page, void *cls,
                    void (*cls_free)(void *))
{
    struct csv_stream *x = calloc(1, sizeof(*x));
    if (!x) {
        if (cls_free)
            cls_free(cls);
        return api_store_error(w, PROMO_INTERNAL, "export");
    }
    *x = (struct csv_stream){.header = header, .page = page, .cls = cls, .cls_free = cls_free};
    w->status = 200;
    w->content_type = "text/csv; charset=utf-8";
    w->stream = csv_read;
    w->stream_cls = x;
    w->stream_free = csv_free;
}
