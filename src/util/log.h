/* log.h — one line per event on stderr: time, level, message. Never given
 * a secret or a whole code (callers mask them). */
#ifndef PROMO_UTIL_LOG_H
#define PROMO_UTIL_LOG_H

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
