/* test_limiter.c — rate-limit buckets and brute-force windows: refill,
 * burst, the exact Retry-After, blocking and its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/limiter.h"

#define T0 1000000 /* a monotonic clock is never near 0 */

static struct limiter_rate per_s(int64_t milli, int64_t burst)
{
    return (struct limiter_rate){.milli_per_s = milli, .burst = burst};
}

/* ---- token buckets ------------------------------------------------------ */

static void a_new_bucket_allows_a_whole_burst_at_once(void **state)
{
    (void)state;
    struct limiter_bucket b = {0};
    struct limiter_rate r = per_s(1000, 5);
    for (int i = 0; i < 5; i++)
        assert_true(limiter_take(&b, &r, T0, NULL));
    int64_t wait = -1;
    assert_false(limiter_take(&b, &r, T0, &wait));
    assert_int_equal(wait, 1000);
}

static void a_refused_request_takes_nothing(void **state)
{
    (void)state;
    struct limiter_bucket b = {0};
    struct limiter_rate r = per_s(2000, 1);
    assert_true(limiter_take(&b, &r, T0, NULL));
    int64_t wait;
    for (int i = 0; i < 100; i++)
        assert_false(limiter_take(&b, &r, T0 + 100, &wait));
    assert_int_equal(wait, 400); /* one token every 500 ms, 100 ms passed */
    assert_true(limiter_take(&b, &r, T0 + 500, NULL));
}

static void the_bucket_refills_at_the_rate_exactly(void **state)
{
    (void)state;
    struct limiter_bucket b = {0};
    struct limiter_rate r = per_s(2000, 2); /* 2 per second */
    assert_true(limiter_take(&b, &r, T0, NULL));
    assert_true(limiter_take(&b, &r, T0, NULL));
    assert_false(limiter_take(&b, &r, T0 + 499, NULL));
    assert_true(limiter_take(&b, &r, T0 + 500, NULL));
    assert_false(limiter_take(&b, &r, T0 + 500, NULL));
    assert_true(limiter_take(&b, &r, T0 + 1000, NULL));
}

static void refill_never_exceeds_the_burst(void **state)
{
    (void)state;
    struct limiter_bucket b = {0};
    struct limiter_rate r = per_s(1000, 3);
    assert_true(limiter_take(&b, &r, T0, NULL));
    /* an hour idle refills 3, not 3600 */
    int allowed = 0;
    while (limiter_take(&b, &r, T0 + 3600 * 1000, NULL))
        allowed++;
    assert_int_equal(allowed, 3);
}

static void fractional_rates_give_exact_waits(void **state)
{
    (void)state;
    struct limiter_bucket b = {0};
    struct limiter_rate r = per_s(100, 1); /* 0.1 per second: one every 10 s */
    assert_true(limiter_take(&b, &r, T0, NULL));
    int64_t wait;
    assert_false(limiter_take(&b, &r, T0 + 2500, &wait));
    assert_int_equal(wait, 7500);
    assert_int_equal(limiter_retry_after_s(wait), 8);
    assert_false(limiter_take(&b, &r, T0 + 9999, NULL));
    assert_true(limiter_take(&b, &r, T0 + 10000, NULL));
}

static void retry_after_is_whole_seconds_rounded_up_and_at_least_one(void **state)
{
    (void)state;
    assert_int_equal(limiter_retry_after_s(0), 1);
    assert_int_equal(limiter_retry_after_s(1), 1);
    assert_int_equal(limiter_retry_after_s(1000), 1);
    assert_int_equal(limiter_retry_after_s(1001), 2);
    assert_int_equal(limiter_retry_after_s(59999), 60);
}

static void retry_after_is_the_time_a_request_is_allowed_again(void **state)
{
    (void)state;
    struct limiter_bucket b = {0};
    struct limiter_rate r = per_s(3000, 10); /* 3 per second, burst 10 */
    for (int i = 0; i < 10; i++)
        assert_true(limiter_take(&b, &r, T0, NULL));
    int64_t wait;
    assert_false(limiter_take(&b, &r, T0 + 1, &wait));
    assert_int_equal(wait, 333); /* 1/3 s = 333.3 ms after T0, rounded up */
    assert_false(limiter_take(&b, &r, T0 + 1 + wait - 1, NULL));
    assert_true(limiter_take(&b, &r, T0 + 1 + wait, NULL));
}

static void rate_zero_means_no_limit(void **state)
{
    (void)state;
    struct limiter_bucket b = {0};
    struct limiter_rate r = per_s(0, 1);
    for (int i = 0; i < 100000; i++)
        assert_true(limiter_take(&b, &r, T0, NULL));
}

static void the_largest_rate_and_burst_do_not_overflow(void **state)
{
    (void)state;
    struct limiter_bucket b = {0};
    struct limiter_rate r = per_s(LIMITER_RATE_MAX, LIMITER_BURST_MAX);
    for (int i = 0; i < LIMITER_BURST_MAX; i++)
        assert_true(limiter_take(&b, &r, T0, NULL));
    int64_t wait;
    assert_false(limiter_take(&b, &r, T0, &wait));
    assert_int_equal(wait, 1);
    assert_true(limiter_take(&b, &r, INT64_MAX / 2, NULL));
}

/* ---- brute force -------------------------------------------------------- */

static const struct limiter_policy POLICY = {.failures = 5, .window_ms = 60000, .block_ms = 300000};

static void failures_below_the_threshold_do_not_block(void **state)
{
    (void)state;
    struct limiter_window w = {0};
    for (int i = 0; i < 4; i++)
        assert_false(limiter_fail(&w, &POLICY, T0 + i));
    assert_int_equal(limiter_blocked_ms(&w, T0 + 10), 0);
}

static void the_threshold_blocks_for_block_ms_once(void **state)
{
    (void)state;
    struct limiter_window w = {0};
    for (int i = 0; i < 4; i++)
        assert_false(limiter_fail(&w, &POLICY, T0));
    assert_true(limiter_fail(&w, &POLICY, T0 + 5));
    assert_int_equal(limiter_blocked_ms(&w, T0 + 5), 300000);
    assert_int_equal(limiter_blocked_ms(&w, T0 + 100005), 200000);
    /* failures during the block start nothing new */
    for (int i = 0; i < 20; i++)
        assert_false(limiter_fail(&w, &POLICY, T0 + 1000));
    assert_int_equal(limiter_blocked_ms(&w, T0 + 300004), 1);
    assert_int_equal(limiter_blocked_ms(&w, T0 + 300005), 0);
}

static void after_a_block_the_count_starts_over(void **state)
{
    (void)state;
    struct limiter_window w = {0};
    for (int i = 0; i < 5; i++)
        limiter_fail(&w, &POLICY, T0);
    int64_t after = T0 + 300000;
    for (int i = 0; i < 4; i++)
        assert_false(limiter_fail(&w, &POLICY, after));
    assert_true(limiter_fail(&w, &POLICY, after));
}

static void failures_spread_wider_than_the_window_never_block(void **state)
{
    (void)state;
    struct limiter_window w = {0};
    /* 5 failures per window would block; 2 per window, for an hour, do not */
    for (int64_t t = 0; t < 3600 * 1000; t += 30000)
        assert_false(limiter_fail(&w, &POLICY, 60000 * 100 + t));
}

/* The regression that made the API suite flaky: 4 of 5 failures just
 * before a boundary and the 5th just after. A two-window counter weighted
 * the first 4 by the share of their window still inside and let it pass. */
static void a_burst_across_a_slice_boundary_blocks(void **state)
{
    (void)state;
    int64_t slice = (POLICY.window_ms + 6) / 7;
    int64_t first = 60000 * 1000 / slice * slice;
    for (int64_t boundary = first; boundary < first + 4 * slice; boundary += slice) {
        struct limiter_window w = {0};
        for (int i = 0; i < 4; i++)
            assert_false(limiter_fail(&w, &POLICY, boundary - 1));
        assert_true(limiter_fail(&w, &POLICY, boundary + 1));
    }
}

/* Every way of placing `failures` failures within window_ms blocks: the
 * first at every millisecond of a slice, the others spread to the end of
 * the window. */
static void failures_within_the_window_always_block(void **state)
{
    (void)state;
    int64_t base = 60000 * 1000, slice = (POLICY.window_ms + 6) / 7;
    for (int64_t first = base; first < base + slice; first++) {
        struct limiter_window w = {0};
        int64_t step = (POLICY.window_ms - 1) / (POLICY.failures - 1);
        for (int i = 0; i < POLICY.failures - 1; i++)
            assert_false(limiter_fail(&w, &POLICY, first + i * step));
        assert_true(limiter_fail(&w, &POLICY, first + POLICY.window_ms - 1));
    }
}

static void failures_older_than_eight_sevenths_of_the_window_are_forgotten(void **state)
{
    (void)state;
    int64_t base = 60000 * 1000, slice = (POLICY.window_ms + 6) / 7;
    for (int64_t first = base; first < base + slice; first += 7) {
        struct limiter_window w = {0};
        for (int i = 0; i < 4; i++)
            assert_false(limiter_fail(&w, &POLICY, first));
        assert_false(limiter_fail(&w, &POLICY, first + 8 * slice));
    }
}

static void failures_two_windows_old_are_forgotten(void **state)
{
    (void)state;
    struct limiter_window w = {0};
    int64_t start = 60000 * 1000;
    for (int i = 0; i < 4; i++)
        limiter_fail(&w, &POLICY, start);
    for (int i = 0; i < 4; i++)
        assert_false(limiter_fail(&w, &POLICY, start + 120000));
}

/* Against an exact count over random failure times: whenever the last
 * window_ms holds `failures` failures (counting back to the block's
 * start), the limiter has blocked; and it never blocks when the last 8
 * slices' length (8/7 of the window, rounded up) holds fewer. */
static void blocks_exactly_when_an_exact_count_says_it_may(void **state)
{
    (void)state;
    struct limiter_policy p = {.failures = 6, .window_ms = 10000, .block_ms = 5000};
    int64_t slice = (p.window_ms + 6) / 7;
    unsigned seed = 12345;
    for (int run = 0; run < 200; run++) {
        struct limiter_window w = {0};
        int64_t t = 1000000 + run * 7919, since = 0; /* failures counted since the last block's end */
        int64_t times[64];
        int n = 0;
        for (int k = 0; k < 60; k++) {
            seed = seed * 1103515245u + 12345u;
            t += (seed >> 16) % 4000;
            if (limiter_blocked_ms(&w, t) > 0)
                continue;
            if (n == 64)
                n = 0;
            times[n++] = t;
            int exact = 0, wide = 0;
            for (int i = 0; i < n; i++) {
                if (times[i] < since)
                    continue;
                exact += times[i] > t - p.window_ms;
                wide += times[i] > t - 8 * slice;
            }
            bool blocked = limiter_fail(&w, &p, t);
            if (exact >= p.failures)
                assert_true(blocked);
            if (wide < p.failures)
                assert_false(blocked);
            if (blocked)
                since = t + 1, n = 0;
        }
    }
}

static void no_key_gets_the_threshold_through_in_a_window(void **state)
{
    (void)state;
    /* a failure every 10 ms from anywhere in a slice: the block comes at
     * the 5th, never later */
    int64_t start = 60000 * 1000;
    for (int64_t off = 0; off < 9000; off += 250) {
        struct limiter_window w = {0};
        int through = 0;
        for (int64_t t = start + off; t < start + off + 60000; t += 10) {
            if (limiter_blocked_ms(&w, t))
                break;
            if (!limiter_fail(&w, &POLICY, t))
                through++;
        }
        assert_int_equal(through, POLICY.failures - 1);
    }
}

static void the_largest_policy_blocks_at_its_count(void **state)
{
    (void)state;
    struct limiter_policy p = {.failures = LIMITER_FAILURES_MAX, .window_ms = 86400000, .block_ms = 1000};
    struct limiter_window w = {0};
    for (int i = 0; i < LIMITER_FAILURES_MAX - 1; i++)
        assert_false(limiter_fail(&w, &p, T0 + i));
    assert_true(limiter_fail(&w, &p, T0 + LIMITER_FAILURES_MAX));
}

static void detection_off_never_blocks(void **state)
{
    (void)state;
    struct limiter_window w = {0};
    struct limiter_policy off = {.failures = 0, .window_ms = 60000, .block_ms = 1000};
    for (int i = 0; i < 1000; i++)
        assert_false(limiter_fail(&w, &off, T0));
    assert_int_equal(limiter_blocked_ms(&w, T0), 0);
}

/* ---- idleness (what the key table may evict) ----------------------------- */

static void a_key_is_idle_once_its_bucket_is_full_and_failures_are_old(void **state)
{
    (void)state;
    struct limiter_bucket b = {0};
    struct limiter_window w = {0};
    struct limiter_rate r = per_s(1000, 2);
    int64_t start = 60000 * 1000;
    assert_true(limiter_idle(&b, &r, &w, &POLICY, start));
    limiter_take(&b, &r, start, NULL);
    assert_false(limiter_idle(&b, &r, &w, &POLICY, start + 999));
    assert_true(limiter_idle(&b, &r, &w, &POLICY, start + 1000));
    limiter_fail(&w, &POLICY, start + 1000);
    assert_false(limiter_idle(&b, &r, &w, &POLICY, start + 61000));
    assert_true(limiter_idle(&b, &r, &w, &POLICY, start + 120000));
}

static void a_blocked_key_is_never_idle(void **state)
{
    (void)state;
    struct limiter_bucket b = {0};
    struct limiter_window w = {0};
    struct limiter_rate r = per_s(1000, 2);
    for (int i = 0; i < 5; i++)
        limiter_fail(&w, &POLICY, T0);
    assert_false(limiter_idle(&b, &r, &w, &POLICY, T0 + 299999));
    assert_true(limiter_idle(&b, &r, &w, &POLICY, T0 + 300000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_new_bucket_allows_a_whole_burst_at_once),
        cmocka_unit_test(a_refused_request_takes_nothing),
        cmocka_unit_test(the_bucket_refills_at_the_rate_exactly),
        cmocka_unit_test(refill_never_exceeds_the_burst),
        cmocka_unit_test(fractional_rates_give_exact_waits),
        cmocka_unit_test(retry_after_is_whole_seconds_rounded_up_and_at_least_one),
        cmocka_unit_test(retry_after_is_the_time_a_request_is_allowed_again),
        cmocka_unit_test(rate_zero_means_no_limit),
        cmocka_unit_test(the_largest_rate_and_burst_do_not_overflow),
        cmocka_unit_test(failures_below_the_threshold_do_not_block),
        cmocka_unit_test(the_threshold_blocks_for_block_ms_once),
        cmocka_unit_test(after_a_block_the_count_starts_over),
        cmocka_unit_test(failures_spread_wider_than_the_window_never_block),
        cmocka_unit_test(a_burst_across_a_slice_boundary_blocks),
        cmocka_unit_test(failures_within_the_window_always_block),
        cmocka_unit_test(failures_older_than_eight_sevenths_of_the_window_are_forgotten),
        cmocka_unit_test(blocks_exactly_when_an_exact_count_says_it_may),
        cmocka_unit_test(the_largest_policy_blocks_at_its_count),
        cmocka_unit_test(failures_two_windows_old_are_forgotten),
        cmocka_unit_test(no_key_gets_the_threshold_through_in_a_window),
        cmocka_unit_test(detection_off_never_blocks),
        cmocka_unit_test(a_key_is_idle_once_its_bucket_is_full_and_failures_are_old),
        cmocka_unit_test(a_blocked_key_is_never_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
