/* fuzz_csv.c — the body of POST /v1/campaigns/{id}/codes/import:
 * api_parse_csv on what the handler lets through (not empty, no NUL). Rows
 * come in file order, at most one per line ("\n", "\r\n" or a lone "\r"
 * ends a line, as libcsv sees it), each with a line number inside the
 * file, and a row not rejected holds a code the store can take as it is. */
#include "fuzz.h"

#include "api/parse.h"

static int count_lines(const char *s, size_t n)
{
    int lines = 1;
    for (size_t i = 0; i < n; i++)
        lines += s[i] == '\n' || (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n'));
    return lines;
}

static void check_row(const struct import_row *row, int lines)
{
    FUZZ_CHECK(row->line >= 1 && row->line <= lines);
    if (row->reject_reason)
        return;
    char shown[PROMO_CODE_MAX + 1], key[CODEFMT_KEY_MAX + 1];
    size_t len = strlen(row->k.code);
    FUZZ_CHECK(codefmt_check_shown(row->k.code, len, shown) == PROMO_OK && strcmp(shown, row->k.code) == 0);
    FUZZ_CHECK(codefmt_normalize(row->k.code, len, key) == PROMO_OK);
    FUZZ_CHECK(row->k.max_uses == PROMO_UNLIMITED || (row->k.max_uses >= 1 && row->k.max_uses <= PROMO_MONEY_MAX));
    FUZZ_CHECK(!row->k.customer_id || (*row->k.customer_id && strlen(row->k.customer_id) <= 200));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || memchr(data, 0, size))
        return 0; /* the handler refuses these before parsing */
    char *text = fuzz_body(data, size);
    struct arena a = {0};
    struct import_row *rows = NULL;
    size_t n = 0;
    const char *herr = NULL;
    if (api_parse_csv(&a, text, size, &rows, &n, &herr) == 0) {
        int lines = count_lines(text, size);
        for (size_t i = 0; i < n; i++) {
            check_row(&rows[i], lines);
            FUZZ_CHECK(i == 0 || rows[i].line > rows[i - 1].line);
        }
        FUZZ_CHECK(n <= (size_t)lines);
        free(rows);
    } else {
        FUZZ_CHECK(rows == NULL);
    }
    arena_free(&a);
    free(text);
    return 0;
}
