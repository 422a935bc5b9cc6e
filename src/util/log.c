#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>

#include "util/timeutil.h"

static void log_line(const char *level, const char *fmt, va_list ap)
{
    char ts[TIME_STR_MAX], line[1024];
    time_format(time_now(), ts);
    vsnprintf(line, sizeof line, fmt, ap);
    /* One fprintf per line so concurrent threads do not interleave. */
    fprintf(stderr, "%s %s %s\n", ts, level, line);
}

#define LOG_FN(name, level)                                                                        \
    void name(const char *fmt, ...)                                                                \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        log_line(level, fmt, ap);                                                                  \
        va_end(ap);                                                                                \
    }
LOG_FN(log_info, "info")
LOG_FN(log_warn, "warn")
LOG_FN(log_error, "error")
