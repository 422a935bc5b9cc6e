/* cli.h — the `promo` commands other than `serve`: an HTTP client of the
 * API (libcurl + jansson). */
#ifndef PROMO_CLI_H
#define PROMO_CLI_H

/* Runs `promo <command> ...` (argv[0] "promo", argv[1] the command).
 * Returns the exit code: 0 ok, 1 the server refused, 2 usage, 3 the server
 * cannot be reached. */
int cli_main(int argc, char **argv);

#endif
