/* main.c — `promo serve` runs the server; every other command is the CLI,
 * an HTTP client of a running server (src/cli). */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cli/cli.h"
#include "http/http.h"
#include "jobs/delivery.h"
#include "jobs/scheduler.h"
#include "store/store.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/timeutil.h"

static void serve_usage(void)
{
    fprintf(stderr, "usage: promo serve [--db PATH] [--listen HOST:PORT] [--tls-cert FILE --tls-key FILE]\n"
                    "  --config FILE      INI file: [server] [limits] [bruteforce] [proxy] (env PROMO_CONFIG;\n"
                    "                     docs/config.md); --db/--listen and their env win over it\n"
                    "  --db PATH|URL      SQLite file (default ./promo.db; env PROMO_DB), or\n"
                    "                     postgres://user@host:port/db[?pool=N&shards=N] (docs/scaling.md)\n"
                    "  --listen HOST:PORT address to listen on (default 127.0.0.1:8080; env PROMO_LISTEN)\n"
                    "  --tls-cert FILE    serve HTTPS (TLS 1.2+) with this PEM certificate chain (env PROMO_TLS_CERT)\n"
                    "  --tls-key FILE     the PEM private key of that certificate (env PROMO_TLS_KEY)\n"
                    "  --test-clock       tests only: POST /v1/test/clock may move the server's time (env PROMO_TEST_CLOCK=1)\n"
                    "  PROMO_BOOTSTRAP_TOKEN  first admin token when the store has none\n");
}

/* The --db value for the log: a password in a URL's user part becomes ***. */
static void db_for_log(const char *db, char *out, size_t n)
{
    const char *scheme = strstr(db, "://"), *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (!colon) {
        snprintf(out, n, "%s", db);
        return;
    }
    snprintf(out, n, "%.*s:***%s", (int)(colon - db), db, at);
}

/* PROMO_SMTP_HOST and PROMO_SMTP_PORT win over [smtp] host and port, so
 * a test or a container can point the server at a mail relay. 0 or -1. */
static int smtp_env(struct config *cfg)
{
    const char *host = getenv("PROMO_SMTP_HOST"), *port = getenv("PROMO_SMTP_PORT");
    if (host && *host)
        snprintf(cfg->smtp_host, sizeof cfg->smtp_host, "%s", host);
    if (port && *port) {
        char *end;
        long p = strtol(port, &end, 10);
        if (*end || p < 1 || p > 65535) {
            fprintf(stderr, "promo serve: PROMO_SMTP_PORT must be a port number, not '%s'\n", port);
            return -1;
        }
        cfg->smtp_port = p;
    }
    return 0;
}

static int serve(int argc, char **argv)
{
    jin_use_region();
    const char *db = getenv("PROMO_DB"), *listen = getenv("PROMO_LISTEN"), *config_file = getenv("PROMO_CONFIG");
    struct http_tls tls = {getenv("PROMO_TLS_CERT"), getenv("PROMO_TLS_KEY")};
    /* The test clock lets an admin call move the server's time: for tests
     * only, never on unless asked for. */
    const char *tc = getenv("PROMO_TEST_CLOCK");
    bool test_clock = tc && strcmp(tc, "1") == 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen = argv[++i];
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_file = argv[++i];
        else if (strcmp(argv[i], "--tls-cert") == 0 && i + 1 < argc)
            tls.cert_file = argv[++i];
        else if (strcmp(argv[i], "--tls-key") == 0 && i + 1 < argc)
            tls.key_file = argv[++i];
        else if (strcmp(argv[i], "--test-clock") == 0)
            test_clock = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            serve_usage();
            return 0;
        } else {
            fprintf(stderr, "promo serve: unknown or incomplete option '%s'\n", argv[i]);
            serve_usage();
            return 2;
        }
    }
    /* Empty counts as unset, so PROMO_TLS_CERT= turns TLS off. A lone
     * certificate or key is a mistake, never a silent fall back to HTTP. */
    bool use_tls = (tls.cert_file && *tls.cert_file) || (tls.key_file && *tls.key_file);
    if (use_tls && !(tls.cert_file && *tls.cert_file && tls.key_file && *tls.key_file)) {
        fprintf(stderr, "promo serve: --tls-cert and --tls-key go together (or PROMO_TLS_CERT and PROMO_TLS_KEY)\n");
        return 2;
    }
    /* The file only fills what flags and env left unset; a mistake in it
     * stops the start, naming the file, line and key. */
    struct config cfg;
    char cerr[512];
    if (config_file && *config_file ? config_load(config_file, &cfg, cerr, sizeof cerr) != 0
                                    : (config_defaults(&cfg), 0)) {
        fprintf(stderr, "promo serve: %s\n", cerr);
        return 2;
    }
    if (smtp_env(&cfg) != 0)
        return 2;
    test_clock = test_clock || cfg.test_clock;
    if (!db)
        db = cfg.db[0] ? cfg.db : "promo.db";
    if (!listen)
        listen = cfg.listen[0] ? cfg.listen : "127.0.0.1:8080";
    /* The server thinks in UTC; local time is converted explicitly. */
    setenv("TZ", "UTC", 1);
    if (util_rand_init() != 0) {
        fprintf(stderr, "promo: cannot initialise libsodium\n");
        return 1;
    }
    /* Signals are taken by sigwait below, not by whichever thread runs. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    struct api_ctx ctx = {.started_at = time_now(), .cfg = &cfg, .test_clock = test_clock};
    if (store_open(db, &ctx.st, err, sizeof err) != PROMO_OK) {
        fprintf(stderr, "promo: %s\n", err);
        return 1;
    }
    if (api_bootstrap(&ctx) != 0) {
        fprintf(stderr, "promo: cannot create the first admin token\n");
        store_close(ctx.st);
        return 1;
    }
    if (api_jobs_start(&ctx) != 0) {
        fprintf(stderr, "promo: cannot start the job runner\n");
        store_close(ctx.st);
        return 1;
    }
    /* The outbox's workers: sending happens only there, never in a request.
     * A store without the outbox or the tasks (a backend not yet ported to
     * a new family, src/store/pg_pending.c) gets neither workers nor
     * scheduler: they would only poll functions that answer 503. */
    bool outbox = store_supports(ctx.st, STORE_F_OUTBOX), tasks = store_supports(ctx.st, STORE_F_TASKS);
    if (!outbox)
        log_info("promo: the %s store has no outbox yet: message delivery is off", store_backend_name(ctx.st));
    if (!tasks)
        log_info("promo: the %s store has no scheduler tasks yet: the scheduler is off", store_backend_name(ctx.st));
    struct delivery *dlv = outbox ? delivery_start(ctx.st, &cfg) : NULL;
    if (outbox && !dlv) {
        fprintf(stderr, "promo: cannot start the delivery workers\n");
        api_jobs_stop(&ctx);
        store_close(ctx.st);
        return 1;
    }
    ctx.sched = tasks ? scheduler_start(ctx.st) : NULL;
    if (tasks && !ctx.sched) {
        fprintf(stderr, "promo: cannot start the scheduler\n");
        delivery_stop(dlv);
        api_jobs_stop(&ctx);
        store_close(ctx.st);
        return 1;
    }
    ctx.guard = api_guard_new(&cfg);
    if (!ctx.guard)
        snprintf(err, sizeof err, "out of memory for the rate-limit tables");
    struct http_server *http = ctx.guard ? http_start(&ctx, listen, use_tls ? &tls : NULL, err, sizeof err) : NULL;
    if (!http) {
        fprintf(stderr, "promo: %s\n", err);
        api_guard_free(ctx.guard);
        scheduler_stop(ctx.sched);
        delivery_stop(dlv);
        api_jobs_stop(&ctx);
        store_close(ctx.st);
        return 1;
    }
    char db_shown[2048];
    db_for_log(db, db_shown, sizeof db_shown);
    log_info("promo serving on %s://%s (store %s)", use_tls ? "https" : "http", listen, db_shown);
    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("promo: signal %d, stopping", sig);
    http_stop(http);
    scheduler_stop(ctx.sched);
    delivery_stop(dlv);
    api_guard_free(ctx.guard);
    api_jobs_stop(&ctx);
    store_close(ctx.st);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "serve") == 0)
        return serve(argc, argv);
    return cli_main(argc, argv);
}
