/* fuzz_config.c — the configuration file (`promo serve --config FILE`):
 * config_parse on any bytes, given exactly `size` bytes (it promises not to
 * need a NUL after them). An accepted file must give values inside every
 * key's documented bounds; a refused one an error naming the file. And an
 * accepted configuration written back out as INI must parse to the same
 * configuration: what the parser keeps is what the file meant. */
#include "fuzz.h"

#include "util/config.h"

static void check_bounds(const struct config *c)
{
    const struct config_rate *rates[] = {&c->per_ip, &c->per_token, &c->storefront, &c->per_customer};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        FUZZ_CHECK(rates[i]->milli_per_s >= 0 && rates[i]->milli_per_s <= 1000000000);
        FUZZ_CHECK(rates[i]->burst >= 1 && rates[i]->burst <= 1000000);
    }
    FUZZ_CHECK(c->bf_failures >= 0 && c->bf_failures <= 1000000);
    FUZZ_CHECK(c->bf_window_s >= 1 && c->bf_window_s <= 86400);
    FUZZ_CHECK(c->bf_block_s >= 1 && c->bf_block_s <= 7 * 86400);
    FUZZ_CHECK(memchr(c->db, 0, sizeof c->db) && memchr(c->listen, 0, sizeof c->listen));
}

static void put_rate(FILE *f, const char *name, const struct config_rate *r)
{
    fprintf(f, "%s_per_second=%lld.%03lld\n%s_burst=%lld\n", name, (long long)(r->milli_per_s / 1000),
            (long long)(r->milli_per_s % 1000), name, (long long)r->burst);
}

/* The configuration as an INI file (caller frees). No space after '=':
 * libinih takes ';' after whitespace as a comment, so "listen =;x" keeps
 * ";x" while "listen = ;x" would be empty (found by this harness; such a
 * value is refused later, by --listen's own check). */
static char *write_ini(const struct config *c, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    FUZZ_CHECK(f != NULL);
    fputs("[server]\n", f);
    if (c->db[0])
        fprintf(f, "db=%s\n", c->db);
    if (c->listen[0])
        fprintf(f, "listen=%s\n", c->listen);
    fputs("[limits]\n", f);
    put_rate(f, "per_ip", &c->per_ip);
    put_rate(f, "per_token", &c->per_token);
    put_rate(f, "storefront", &c->storefront);
    put_rate(f, "per_customer", &c->per_customer);
    fprintf(f, "[bruteforce]\nfailures=%lld\nwindow_seconds=%lld\nblock_seconds=%lld\n",
            (long long)c->bf_failures, (long long)c->bf_window_s, (long long)c->bf_block_s);
    fprintf(f, "[proxy]\ntrust_forwarded_for=%s\n", c->trust_forwarded_for ? "true" : "false");
    fclose(f);
    return text;
}

static bool same_rate(const struct config_rate *a, const struct config_rate *b)
{
    return a->milli_per_s == b->milli_per_s && a->burst == b->burst;
}

static bool same(const struct config *a, const struct config *b)
{
    return strcmp(a->db, b->db) == 0 && strcmp(a->listen, b->listen) == 0 && same_rate(&a->per_ip, &b->per_ip) &&
           same_rate(&a->per_token, &b->per_token) && same_rate(&a->storefront, &b->storefront) &&
           same_rate(&a->per_customer, &b->per_customer) && a->bf_failures == b->bf_failures &&
           a->bf_window_s == b->bf_window_s && a->bf_block_s == b->bf_block_s &&
           a->trust_forwarded_for == b->trust_forwarded_for;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct config c, back; /* ~2 KiB each: off the fuzzer's stack */
    char err[512];
    if (config_parse((const char *)data, size, "fuzz.ini", &c, err, sizeof err) != 0) {
        FUZZ_CHECK(strncmp(err, "fuzz.ini:", 9) == 0 && strlen(err) > 9);
        return 0;
    }
    check_bounds(&c);
    size_t len = 0;
    char *text = write_ini(&c, &len);
    int rc = config_parse(text, len, "again.ini", &back, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "written back:\n%s\nrefused: %s\n", text, err);
    FUZZ_CHECK(rc == 0 && same(&c, &back));
    free(text);
    return 0;
}
