/* config.h — the server's configuration file (`promo serve --config FILE`,
 * env PROMO_CONFIG), an INI file read with libinih. Every key is optional
 * and has a default; an unknown section or key, a key set twice, or a bad
 * value is an error naming FILE:LINE and the key, so a typo can never
 * silently leave a limit at its default. docs/config.md lists every key. */
#ifndef PROMO_UTIL_CONFIG_H
#define PROMO_UTIL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_STR_MAX 1024
#define CONFIG_FILE_MAX (1 << 20) /* larger files are refused: a config is a page */

/* A rate limit: `milli_per_s` thousandths of a request per second (the
 * file says `per_second = 0.5`, stored as 500); 0 turns the limit off.
 * `burst` requests may come at once. */
struct config_rate {
    int64_t milli_per_s;
    int64_t burst;
};

struct config {
    /* [server]: "" when the file does not set them (flags and env win). */
    char db[CONFIG_STR_MAX];
    char listen[CONFIG_STR_MAX];
    /* [limits] */
    struct config_rate per_ip;       /* every request, by client IP */
    struct config_rate per_token;    /* every authenticated request, by token */
    struct config_rate storefront;   /* storefront tokens, by token and client IP */
    struct config_rate per_customer; /* validate/redeem/reserve, by customer_id */
    /* [bruteforce]: failures 0 turns detection off */
    int64_t bf_failures, bf_window_s, bf_block_s;
    /* [proxy] */
    bool trust_forwarded_for;
    /* [smtp]: smtp_host "" means no e-mail server (e-mails fail and retry) */
    char smtp_host[CONFIG_STR_MAX];
    int64_t smtp_port;
    char smtp_from[CONFIG_STR_MAX];
    char smtp_username[CONFIG_STR_MAX], smtp_password[CONFIG_STR_MAX]; /* "": no AUTH */
    bool smtp_starttls;                                                /* require STARTTLS */
    /* [delivery]: the outbox workers (jobs/delivery.c) */
    int64_t dlv_max_attempts, dlv_backoff_base_ms, dlv_backoff_cap_ms;
    int64_t dlv_timeout_ms, dlv_connect_timeout_ms, dlv_workers, dlv_poll_ms;
    /* [server] test_clock: tests only, as `promo serve --test-clock` */
    bool test_clock;
};

/* The defaults, as docs/config.md lists them. */
void config_defaults(struct config *c);

/* Parses `len` bytes of INI text into *c, starting from the defaults.
 * `name` is the file name used in messages. Returns 0, or -1 with a
 * sentence in err ("promo.ini:7: unknown key 'burts' in [limits]"). Safe on
 * any input (no NUL needed at text[len]); keeps no state between calls. */
int config_parse(const char *text, size_t len, const char *name, struct config *c, char *err, size_t errlen);

/* Reads the file at `path` and parses it as config_parse does. */
int config_load(const char *path, struct config *c, char *err, size_t errlen);

#endif
