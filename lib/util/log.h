/*
 * log.h — the thin log layer (after OpenBSD's log.c).
 *
 * Everything goes to stderr, one line per call, prefixed with the program
 * name.  log_warn appends strerror(errno); the *x variants do not.  Every
 * function preserves errno.  fatal/fatalx log and exit(1).
 * An error is logged once, where it is handled — not at every layer it
 * passes through.
 */
#ifndef JOBD_LOG_H
#define JOBD_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARNING = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/* Set the program name shown on each line and the most verbose level
 * printed (default: "jobd", LOG_LVL_INFO).  When stderr is the journal
 * stream JOURNAL_STREAM names, lines start with "<N>" (their level, as
 * syslog numbers it) instead of the name, so journald files them at their
 * level. */
void log_init(const char *progname, enum log_level max);
void log_set_level(enum log_level max);
enum log_level log_get_level(void);

/* Parse "err", "warning", "notice", "info", "debug".  0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *lvl);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif /* JOBD_LOG_H */
