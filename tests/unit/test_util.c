/* Unit tests of util/: time parsing and zones, the capped buffer, the arena. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/arena.h"
#include "util/buf.h"
#include "util/rand.h"
#include "util/strpack.h"
#include "util/timeutil.h"

static void rfc3339_with_offset_is_converted_to_utc(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(time_parse_rfc3339("2026-12-01T23:59:59+09:00", &t), 0);
    char s[TIME_STR_MAX];
    time_format(t, s);
    assert_string_equal(s, "2026-12-01T14:59:59Z");
    assert_int_equal(time_parse_rfc3339("2026-12-01T14:59:59.123Z", &t), 0);
    time_format(t, s);
    assert_string_equal(s, "2026-12-01T14:59:59Z");
    assert_int_equal(time_parse_rfc3339("2026-12-01T00:00:00-05:30", &t), 0);
    time_format(t, s);
    assert_string_equal(s, "2026-12-01T05:30:00Z");
}

static void rfc3339_without_offset_or_malformed_is_refused(void **state)
{
    (void)state;
    int64_t t;
    const char *bad[] = {"2026-12-01T23:59:59", "2026-12-01", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
                         "2026-12-01T24:00:00Z", "2026-12-01T23:59:59+9:00", "x", "", "2026-12-01T23:59:59Zjunk",
                         "2026-12-01T23:59:59.Z"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(time_parse_rfc3339(bad[i], &t), -1);
}

static void leap_day_is_a_date_only_in_leap_years(void **state)
{
    (void)state;
    int y, m, d;
    assert_int_equal(time_parse_date("2028-02-29", &y, &m, &d), 0);
    assert_int_equal(time_parse_date("2027-02-29", &y, &m, &d), -1);
    assert_int_equal(time_parse_date("2100-02-29", &y, &m, &d), -1);
    assert_int_equal(time_parse_date("2000-02-29", &y, &m, &d), 0);
}

static void a_day_in_seoul_starts_at_15_utc_the_day_before(void **state)
{
    (void)state;
    int64_t first, last;
    char s[TIME_STR_MAX];
    assert_int_equal(time_day_bounds("Asia/Seoul", 2026, 11, 30, &first, &last), 0);
    time_format(first, s);
    assert_string_equal(s, "2026-11-29T15:00:00Z");
    time_format(last, s);
    assert_string_equal(s, "2026-11-30T14:59:59Z");
}

static void a_dst_day_in_new_york_has_23_hours(void **state)
{
    (void)state;
    int64_t first, last;
    /* 2026-03-08: clocks go forward, the day lasts 23 hours. */
    assert_int_equal(time_day_bounds("America/New_York", 2026, 3, 8, &first, &last), 0);
    assert_int_equal(last - first + 1, 23 * 3600);
    /* Month end rolls over: the last second of 31 December. */
    assert_int_equal(time_day_bounds("America/New_York", 2026, 12, 31, &first, &last), 0);
    char s[TIME_STR_MAX];
    time_format(last, s);
    assert_string_equal(s, "2027-01-01T04:59:59Z");
}

static void unknown_or_unsafe_zones_are_refused(void **state)
{
    (void)state;
    assert_true(time_zone_valid("Asia/Seoul"));
    assert_true(time_zone_valid("UTC"));
    assert_false(time_zone_valid("Mars/Olympus"));
    assert_false(time_zone_valid("../../etc/passwd"));
    assert_false(time_zone_valid("/etc/passwd"));
    assert_false(time_zone_valid(""));
    assert_false(time_zone_valid("Asia/Seoul\n"));
    int64_t a, b;
    assert_int_equal(time_day_bounds("Mars/Olympus", 2026, 1, 1, &a, &b), -1);
}

static void buffer_refuses_to_grow_past_its_cap(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 10);
    assert_int_equal(buf_append(&b, "12345", 5), 0);
    assert_int_equal(buf_append(&b, "67890", 5), 0);
    assert_int_equal(buf_append(&b, "x", 1), -1);
    assert_int_equal(b.len, 10);
    assert_string_equal(b.data, "1234567890");
    assert_int_equal(buf_printf(&b, "%d", 1), -1);
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%s-%d", "ab", 42), 0);
    assert_string_equal(b.data, "ab-42");
    buf_free(&b);
}

static void arena_keeps_small_and_large_allocations_apart(void **state)
{
    (void)state;
    struct arena a = {0};
    char *small = arena_strdup(&a, "hello");
    char *big = arena_alloc(&a, 100000);
    memset(big, 'x', 100000);
    char *after = arena_printf(&a, "%s %d", "n", 7);
    assert_string_equal(small, "hello");
    assert_string_equal(after, "n 7");
    assert_null(arena_strdup(&a, NULL));
    for (int i = 0; i < 10000; i++)
        assert_non_null(arena_alloc(&a, 24));
    arena_free(&a);
    assert_null(a.head);
}

static void ids_have_the_prefix_sort_by_time_and_differ(void **state)
{
    (void)state;
    assert_int_equal(util_rand_init(), 0);
    char a[48], b[48], later[48];
    util_rand_id("cmp_", a, sizeof a);
    util_rand_id("cmp_", b, sizeof b);
    assert_int_equal(strlen(a), 4 + 9 + 16);
    assert_memory_equal(a, "cmp_", 4);
    assert_string_not_equal(a, b);
    struct timespec pause = {0, 3 * 1000000};
    nanosleep(&pause, NULL);
    util_rand_id("cmp_", later, sizeof later);
    assert_true(strcmp(a, later) < 0);
    assert_true(memcmp(a, later, 4 + 9) < 0); /* the time part alone orders them */
    char tiny[10];
    util_rand_id("cmp_", tiny, sizeof tiny); /* too small: empty, no overflow */
    assert_string_equal(tiny, "");
    char h1[65], h2[65];
    util_hash_secret("secret", h1);
    util_hash_secret("secret", h2);
    assert_string_equal(h1, h2);
    util_hash_secret("secreT", h2);
    assert_string_not_equal(h1, h2);
    assert_int_equal(strlen(h1), 64);
}

static void uniform_draws_cover_every_value_evenly(void **state)
{
    (void)state;
    assert_int_equal(util_rand_init(), 0);
    /* 31 (the default charset) does not divide 256: rejection sampling must
     * still give every value about 1/31 of the draws. */
    enum { N = 31, DRAWS = 310000 };
    int counts[N] = {0};
    for (int i = 0; i < DRAWS; i++) {
        uint32_t v = util_rand_uniform(N);
        assert_true(v < N);
        counts[v]++;
    }
    for (int i = 0; i < N; i++) {
        /* expected 10000; 6 standard deviations is about ±590 */
        assert_in_range(counts[i], 9400, 10600);
    }
    assert_int_equal(util_rand_uniform(1), 0);
    assert_true(util_rand_uniform(1000000) < 1000000);
}

static void strpack_copies_strings_and_keeps_nulls(void **state)
{
    (void)state;
    const char *src[4] = {"tok_1", NULL, "", "admin"};
    const char *a = "x", *b = "x", *c = "x", *d = "x";
    const char **const dst[4] = {&a, &b, &c, &d};
    size_t n = strpack_size(src, 4);
    assert_int_equal(n, 6 + 0 + 1 + 6);
    char *block = malloc(n);
    char *end = strpack(block, src, dst, 4);
    assert_ptr_equal(end, block + n);
    assert_string_equal(a, "tok_1");
    assert_null(b);
    assert_string_equal(c, "");
    assert_string_equal(d, "admin");
    assert_true(a >= block && d < block + n); /* copies, inside the block */
    assert_ptr_not_equal(a, src[0]);
    free(block);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc3339_with_offset_is_converted_to_utc),
        cmocka_unit_test(rfc3339_without_offset_or_malformed_is_refused),
        cmocka_unit_test(leap_day_is_a_date_only_in_leap_years),
        cmocka_unit_test(a_day_in_seoul_starts_at_15_utc_the_day_before),
        cmocka_unit_test(a_dst_day_in_new_york_has_23_hours),
        cmocka_unit_test(unknown_or_unsafe_zones_are_refused),
        cmocka_unit_test(buffer_refuses_to_grow_past_its_cap),
        cmocka_unit_test(arena_keeps_small_and_large_allocations_apart),
        cmocka_unit_test(ids_have_the_prefix_sort_by_time_and_differ),
        cmocka_unit_test(uniform_draws_cover_every_value_evenly),
        cmocka_unit_test(strpack_copies_strings_and_keeps_nulls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
