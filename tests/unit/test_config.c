/* test_config.c — the configuration file: defaults, every key, and a clear
 * FILE:LINE message for every mistake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/limiter.h"
#include "util/config.h"

static char err[512];

static int parse(const char *text, struct config *c)
{
    return config_parse(text, strlen(text), "promo.ini", c, err, sizeof err);
}

static void refuses(const char *text, const char *message)
{
    struct config c;
    assert_int_equal(parse(text, &c), -1);
    assert_string_equal(err, message);
}

static void an_empty_file_gives_the_defaults(void **state)
{
    (void)state;
    struct config c, d;
    config_defaults(&d);
    assert_int_equal(parse("", &c), 0);
    assert_memory_equal(&c, &d, sizeof c);
    assert_true(d.per_ip.milli_per_s > 0 && d.bf_failures > 0);
    assert_false(d.trust_forwarded_for);
    assert_false(d.test_clock);
    assert_string_equal(d.db, "");
}

static void every_key_is_read(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(parse("; comment\n# another\n"
                           "[server]\ndb = /var/lib/promo/promo.db\nlisten = 0.0.0.0:9000\ntest_clock = true\n\n"
                           "[limits]\nper_ip_per_second = 20\nper_ip_burst = 40\n"
                           "per_token_per_second = 0.5\nper_token_burst = 3\n"
                           "storefront_per_second = 2.125\nstorefront_burst = 4\n"
                           "per_customer_per_second = 0\nper_customer_burst = 1\n"
                           "[bruteforce]\nfailures = 7\nwindow_seconds = 30\nblock_seconds = 900\n"
                           "[proxy]\ntrust_forwarded_for = true\n",
                           &c),
                     0);
    assert_string_equal(c.db, "/var/lib/promo/promo.db");
    assert_string_equal(c.listen, "0.0.0.0:9000");
    assert_int_equal(c.per_ip.milli_per_s, 20000);
    assert_int_equal(c.per_ip.burst, 40);
    assert_int_equal(c.per_token.milli_per_s, 500);
    assert_int_equal(c.per_token.burst, 3);
    assert_int_equal(c.storefront.milli_per_s, 2125);
    assert_int_equal(c.storefront.burst, 4);
    assert_int_equal(c.per_customer.milli_per_s, 0);
    assert_int_equal(c.per_customer.burst, 1);
    assert_int_equal(c.bf_failures, 7);
    assert_int_equal(c.bf_window_s, 30);
    assert_int_equal(c.bf_block_s, 900);
    assert_true(c.trust_forwarded_for);
    assert_true(c.test_clock);
}

static void keys_left_out_keep_their_defaults(void **state)
{
    (void)state;
    struct config c, d;
    config_defaults(&d);
    assert_int_equal(parse("[limits]\nper_ip_burst = 9\n", &c), 0);
    assert_int_equal(c.per_ip.burst, 9);
    assert_int_equal(c.per_ip.milli_per_s, d.per_ip.milli_per_s);
    assert_int_equal(c.bf_failures, d.bf_failures);
}

static void an_unknown_key_names_file_line_and_key(void **state)
{
    (void)state;
    refuses("[limits]\nper_ip_burst = 9\n\nper_ip_burts = 10\n", "promo.ini:4: unknown key 'per_ip_burts' in [limits]");
    refuses("[bruteforce]\nper_ip_burst = 9\n", "promo.ini:2: unknown key 'per_ip_burst' in [bruteforce]");
}

static void an_unknown_section_is_refused(void **state)
{
    (void)state;
    refuses("[limit]\nper_ip_burst = 9\n",
            "promo.ini:2: unknown section [limit] (known: server, limits, bruteforce, proxy, smtp, delivery)");
}

static void a_key_outside_a_section_is_refused(void **state)
{
    (void)state;
    refuses("db = x.db\n", "promo.ini:1: 'db' is outside a section ([server], [limits], [bruteforce], [proxy], [smtp] or [delivery])");
}

static void bad_values_are_refused_with_what_is_expected(void **state)
{
    (void)state;
    refuses("[limits]\nper_ip_burst = 0\n",
            "promo.ini:2: [limits] per_ip_burst must be a whole number from 1 to 1000000, not '0'");
    refuses("[limits]\nper_ip_burst = -3\n",
            "promo.ini:2: [limits] per_ip_burst must be a whole number from 1 to 1000000, not '-3'");
    refuses("[limits]\nper_ip_burst = 12abc\n",
            "promo.ini:2: [limits] per_ip_burst must be a whole number from 1 to 1000000, not '12abc'");
    refuses("[limits]\nper_ip_per_second = 1.2345\n",
            "promo.ini:2: [limits] per_ip_per_second must be a number of requests per second from 0 (no limit) "
            "to 1000000, with at most 3 decimals, not '1.2345'");
    refuses("[limits]\nper_ip_per_second = 1e3\n",
            "promo.ini:2: [limits] per_ip_per_second must be a number of requests per second from 0 (no limit) "
            "to 1000000, with at most 3 decimals, not '1e3'");
    refuses("[limits]\nper_ip_per_second = 1000001\n",
            "promo.ini:2: [limits] per_ip_per_second must be a number of requests per second from 0 (no limit) "
            "to 1000000, with at most 3 decimals, not '1000001'");
    refuses("[proxy]\ntrust_forwarded_for = yes\n",
            "promo.ini:2: [proxy] trust_forwarded_for must be true or false, not 'yes'");
    refuses("[server]\ndb =\n", "promo.ini:2: [server] db must not be empty, not ''");
    refuses("[bruteforce]\nwindow_seconds = 0\n",
            "promo.ini:2: [bruteforce] window_seconds must be a whole number from 1 to 86400, not '0'");
    /* the limiter counts a slice in 16 bits (LIMITER_FAILURES_MAX) */
    refuses("[bruteforce]\nfailures = 65536\n",
            "promo.ini:2: [bruteforce] failures must be a whole number from 0 to 65535, not '65536'");
}

static void the_largest_failures_threshold_is_accepted(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(parse("[bruteforce]\nfailures = 65535\n", &c), 0);
    assert_int_equal(c.bf_failures, LIMITER_FAILURES_MAX);
}

static void a_key_set_twice_is_refused(void **state)
{
    (void)state;
    refuses("[limits]\nper_ip_burst = 9\n[server]\n[limits]\nper_ip_burst = 10\n",
            "promo.ini:5: [limits] per_ip_burst is set twice (first on line 2)");
}

static void a_line_that_is_not_key_value_is_refused(void **state)
{
    (void)state;
    refuses("[limits]\nper_ip_burst 9\n", "promo.ini:2: not a 'key = value' line, a [section] or a comment");
    refuses("[limits\n", "promo.ini:1: not a 'key = value' line, a [section] or a comment");
}

static void the_first_mistake_is_the_one_reported(void **state)
{
    (void)state;
    refuses("[limits]\nnope\nper_ip_burst = x\n", "promo.ini:2: not a 'key = value' line, a [section] or a comment");
    refuses("[limits]\nper_ip_burst = x\nnope\n",
            "promo.ini:2: [limits] per_ip_burst must be a whole number from 1 to 1000000, not 'x'");
}

static void line_numbers_count_long_lines_once(void **state)
{
    (void)state;
    char text[1024];
    char pad[400];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = 0;
    snprintf(text, sizeof text, "[server]\n; %s\n[limits]\nbad_key = 1\n", pad);
    refuses(text, "promo.ini:2: line is too long (at most 198 characters)");
}

static void nul_bytes_and_crlf(void **state)
{
    (void)state;
    struct config c;
    assert_int_equal(config_parse("[limits]\0x", 10, "promo.ini", &c, err, sizeof err), -1);
    assert_string_equal(err, "promo.ini: holds a NUL byte: not a text file");
    assert_int_equal(parse("[limits]\r\nper_ip_burst = 9\r\n", &c), 0);
    assert_int_equal(c.per_ip.burst, 9);
}

static void a_file_is_loaded_and_a_missing_one_is_named(void **state)
{
    (void)state;
    char path[] = "/tmp/promo-config-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "[bruteforce]\nfailures = 3\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct config c;
    assert_int_equal(config_load(path, &c, err, sizeof err), 0);
    assert_int_equal(c.bf_failures, 3);
    unlink(path);
    assert_int_equal(config_load(path, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "cannot open"));
}

/* promo.example.ini documents every key at its default: it must parse
 * and say exactly what config_defaults says (run from the repository root,
 * as tests/run.sh does; skipped elsewhere). */
static void the_example_file_lists_the_defaults(void **state)
{
    (void)state;
    if (access("promo.example.ini", R_OK) != 0)
        skip();
    struct config c, d;
    assert_int_equal(config_load("promo.example.ini", &c, err, sizeof err), 0);
    config_defaults(&d);
    assert_string_equal(c.db, "promo.db");
    assert_string_equal(c.listen, "127.0.0.1:8080");
    memcpy(c.db, d.db, sizeof c.db);
    memcpy(c.listen, d.listen, sizeof c.listen);
    assert_memory_equal(&c, &d, sizeof c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_empty_file_gives_the_defaults),
        cmocka_unit_test(every_key_is_read),
        cmocka_unit_test(keys_left_out_keep_their_defaults),
        cmocka_unit_test(an_unknown_key_names_file_line_and_key),
        cmocka_unit_test(an_unknown_section_is_refused),
        cmocka_unit_test(a_key_outside_a_section_is_refused),
        cmocka_unit_test(bad_values_are_refused_with_what_is_expected),
        cmocka_unit_test(the_largest_failures_threshold_is_accepted),
        cmocka_unit_test(a_key_set_twice_is_refused),
        cmocka_unit_test(a_line_that_is_not_key_value_is_refused),
        cmocka_unit_test(the_first_mistake_is_the_one_reported),
        cmocka_unit_test(line_numbers_count_long_lines_once),
        cmocka_unit_test(nul_bytes_and_crlf),
        cmocka_unit_test(a_file_is_loaded_and_a_missing_one_is_named),
        cmocka_unit_test(the_example_file_lists_the_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
