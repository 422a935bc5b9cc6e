#include "util/timeutil.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The test clock: milliseconds added to the wall clock. Zero unless a
 * server started with --test-clock moved it (POST /v1/test/clock); atomic
 * so every thread sees a move at once without a lock on the hot path. */
static _Atomic int64_t clock_offset_ms;

int64_t time_now(void) { return time_now_ms() / 1000; }

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + atomic_load(&clock_offset_ms);
}

void time_offset_set_ms(int64_t offset_ms) { atomic_store(&clock_offset_ms, offset_ms); }

int64_t time_offset_ms(void) { return atomic_load(&clock_offset_ms); }

int64_t time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t time_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int parse_ymd(const char **p, int *y, int *m, int *d)
{
    if (digits(p, 4, y) || **p != '-')
        return -1;
    (*p)++;
    if (digits(p, 2, m) || **p != '-')
        return -1;
    (*p)++;
    if (digits(p, 2, d))
        return -1;
    if (*y < 1970 || *y > 9999 || *m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m))
        return -1;
    return 0;
}

int time_parse_date(const char *s, int *y, int *m, int *d)
{
    const char *p = s;
    if (parse_ymd(&p, y, m, d) || *p)
        return -1;
    return 0;
}

int time_parse_rfc3339(const char *s, int64_t *out)
{
    const char *p = s;
    int y, mo, d, h, mi, se;
    if (parse_ymd(&p, &y, &mo, &d))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &se))
        return -1;
    if (h > 23 || mi > 59 || se > 60)
        return -1;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                    .tm_hour = h, .tm_min = mi, .tm_sec = se > 59 ? 59 : se};
    *out = (int64_t)timegm(&tm) - off;
    return 0;
}

bool time_zone_valid(const char *tz)
{
    if (!tz || !*tz || strlen(tz) > 64 || strstr(tz, "..") || tz[0] == '/')
        return false;
    for (const char *c = tz; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("/_+-", *c))
            return false;
    char path[128];
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char magic[4] = {0};
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, "TZif", 4) == 0;
}

/* glibc converts local time only through the TZ environment variable, so
 * conversions take this lock, switch TZ, convert and switch back to UTC.
 * They happen when a campaign is saved, never on the redemption path, and
 * the server itself only ever uses the UTC functions (timegm, gmtime_r). */
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t local_midnight(int y, int m, int d)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_isdst = -1};
    return (int64_t)mktime(&tm);
}

int time_day_bounds(const char *tz, int y, int m, int d, int64_t *first, int64_t *last)
{
    if (!tz || strcmp(tz, "UTC") == 0) {
        struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
        *first = (int64_t)timegm(&tm);
        *last = *first + 86399;
        return 0;
    }
    if (!time_zone_valid(tz))
        return -1;
    pthread_mutex_lock(&tz_lock);
    setenv("TZ", tz, 1);
    tzset();
    *first = local_midnight(y, m, d);
    /* The next day's midnight, normalised by mktime across month ends. */
    *last = local_midnight(y, m, d + 1) - 1;
    setenv("TZ", "UTC", 1);
    tzset();
    pthread_mutex_unlock(&tz_lock);
    return 0;
}

void time_format(int64_t t, char out[TIME_STR_MAX])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, TIME_STR_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void time_format_date(int64_t t, char out[TIME_STR_MAX])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, TIME_STR_MAX, "%Y-%m-%d", &tm);
}

void time_local_date(int64_t t, const char *tz, int *y, int *m, int *d)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (tz && strcmp(tz, "UTC") != 0 && time_zone_valid(tz)) {
        pthread_mutex_lock(&tz_lock);
        setenv("TZ", tz, 1);
        tzset();
        localtime_r(&tt, &tm);
        setenv("TZ", "UTC", 1);
        tzset();
        pthread_mutex_unlock(&tz_lock);
    } else {
        gmtime_r(&tt, &tm);
    }
    *y = tm.tm_year + 1900;
    *m = tm.tm_mon + 1;
    *d = tm.tm_mday;
}
