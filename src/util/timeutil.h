/* timeutil.h — wall clock and RFC 3339 / IANA time-zone conversions.
 * promo keeps Unix seconds (UTC) everywhere and answers in UTC ("...Z"). */
#ifndef PROMO_UTIL_TIMEUTIL_H
#define PROMO_UTIL_TIMEUTIL_H

#include <stdbool.h>
#include <stdint.h>

#define TIME_STR_MAX 32

/* Current Unix time in seconds; in milliseconds. */
int64_t time_now(void);
int64_t time_now_ms(void);
/* The test clock's offset from the wall clock, in milliseconds (0 in
 * production). Only `promo serve --test-clock` lets an API call set it
 * (api/testclock.c); time_now and time_now_ms include it. */
void time_offset_set_ms(int64_t offset_ms);
int64_t time_offset_ms(void);
/* Monotonic milliseconds, for durations. */
int64_t time_mono_ms(void);
int64_t time_mono_ns(void);

/* Parses "2026-12-01T23:59:59+09:00" / "...Z" / with fractional seconds
 * (dropped). An offset is required. Returns 0 and *out, or -1. */
int time_parse_rfc3339(const char *s, int64_t *out);
/* Parses a date alone "2026-11-30". Returns 0 or -1. */
int time_parse_date(const char *s, int *y, int *m, int *d);
/* The first and last second of a calendar day in an IANA zone (NULL or
 * "UTC": UTC). Returns 0, or -1 when the zone is unknown. */
int time_day_bounds(const char *tz, int y, int m, int d, int64_t *first, int64_t *last);
/* True when `tz` names a zone in the system's zoneinfo database. */
bool time_zone_valid(const char *tz);
/* Formats t as "2026-11-30T14:59:59Z" into out. */
void time_format(int64_t t, char out[TIME_STR_MAX]);
/* "2026-11-30" of t in UTC. */
void time_format_date(int64_t t, char out[TIME_STR_MAX]);

/* The calendar date of instant t in the IANA zone tz (NULL, "UTC" or an
 * unknown zone: UTC). Takes the same lock as time_day_bounds. */
void time_local_date(int64_t t, const char *tz, int *y, int *m, int *d);

#endif
