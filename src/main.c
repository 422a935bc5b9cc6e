/* main.c — `promo serve` runs the server; every other command is the CLI,
 * an HTTP client of a running server (src/cli). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cli/cli.h"
#include "http/http.h"
#include "store/store.h"
#include "util/log.h"
#include "util/rand.h"
#include "util/timeutil.h"

static void serve_usage(void)
{
    fprintf(stderr, "usage: promo serve [--db PATH] [--listen HOST:PORT]\n"
                    "  --db PATH          SQLite file (default ./promo.db; env PROMO_DB)\n"
                    "  --listen HOST:PORT address to listen on (default 127.0.0.1:8080; env PROMO_LISTEN)\n"
                    "  PROMO_BOOTSTRAP_TOKEN  first admin token when the store has none\n");
}

static int serve(int argc, char **argv)
{
    const char *db = getenv("PROMO_DB") ? getenv("PROMO_DB") : "promo.db";
    const char *listen = getenv("PROMO_LISTEN") ? getenv("PROMO_LISTEN") : "127.0.0.1:8080";
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            serve_usage();
            return 0;
        } else {
            fprintf(stderr, "promo serve: unknown or incomplete option '%s'\n", argv[i]);
            serve_usage();
            return 2;
        }
    }
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
    struct api_ctx ctx = {.started_at = time_now()};
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
    struct http_server *http = http_start(&ctx, listen, err, sizeof err);
    if (!http) {
        fprintf(stderr, "promo: %s\n", err);
        api_jobs_stop(&ctx);
        store_close(ctx.st);
        return 1;
    }
    log_info("promo serving on http://%s (store %s)", listen, db);
    int sig = 0;
    sigwait(&sigs, &sig);
    log_info("promo: signal %d, stopping", sig);
    http_stop(http);
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
