/* csvout.h — CSV answers streamed a page at a time (RFC 4180), so an
 * export of millions of rows never sits whole in memory. Private to api/. */
#ifndef PROMO_API_CSVOUT_H
#define PROMO_API_CSVOUT_H

#include <stdbool.h>
#include <stdio.h>

#include "api/api.h"

/* Writes the next page of rows to f. Returns false when no page follows
 * (this one may still hold rows). A store failure after the status line
 * is sent can only end the body early: return false, and the client sees
 * a short CSV rather than a false complete one. */
typedef bool (*api_csv_page_fn)(void *cls, FILE *f);

/* Writes one cell, quoted when it holds a comma, quote or line break.
 * NULL writes nothing (an empty cell). */
void api_csv_cell(FILE *f, const char *s);

/* Makes w a 200 text/csv answer: `header` (a whole line, with its '\n')
 * then page() until it returns false. The stream owns cls from here and
 * calls cls_free(cls) when the answer ends, sent or not; on failure
 * (out of memory) w is a 500 and cls is freed at once. */
void api_csv_stream(struct api_resp *w, const char *header, api_csv_page_fn page, void *cls,
                    void (*cls_free)(void *));

#endif
