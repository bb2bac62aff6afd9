/*
 * log.c — see log.h.  One fprintf per line; stderr is unbuffered, so lines
 * from the loop thread and the worker threads do not interleave mid-line.
 *
 * Under systemd, stderr is a stream to journald and JOURNAL_STREAM names
 * it ("DEV:INO").  Then each line starts with its syslog priority ("<6>"),
 * which journald strips and files the line under, and carries neither the
 * program name nor a time: the journal records both.  The variable is
 * believed only when it names the stderr jobd actually has, as
 * sd_journal_stream_fd(3) says: a shell started from a unit inherits the
 * variable with a different stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"

static const char *log_name = "jobd";
static enum log_level log_max = LOG_LVL_INFO;
static int log_journal = -1;            /* -1: not yet looked at */

/* Is stderr the stream JOURNAL_STREAM names? */
static int
log_to_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	if (env == NULL || sscanf(env, "%llu:%llu%n", &dev, &ino, &n) != 2 ||
	    env[n] != '\0' || fstat(2, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *progname, enum log_level max)
{
	log_name = progname;
	log_max = max;
	log_journal = log_to_journal();
}

void
log_set_level(enum log_level max)
{
	log_max = max;
}

enum log_level
log_get_level(void)
{
	return log_max;
}

int
log_level_parse(const char *s, enum log_level *lvl)
{
	static const struct {
		const char *name;
		enum log_level lvl;
	} names[] = {
		{ "err", LOG_LVL_ERR }, { "error", LOG_LVL_ERR },
		{ "warning", LOG_LVL_WARNING }, { "notice", LOG_LVL_NOTICE },
		{ "info", LOG_LVL_INFO }, { "debug", LOG_LVL_DEBUG },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*lvl = names[i].lvl;
			return 0;
		}
	}
	return -EINVAL;
}

static void
log_vline(enum log_level lvl, int errnum, const char *fmt, va_list ap)
{
	char msg[1024];
	int saved = errno;

	if (lvl > log_max)
		return;
	if (log_journal < 0)
		log_journal = log_to_journal();
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_journal && errnum)
		fprintf(stderr, "<%d>%s: %s\n", lvl, msg, strerror(errnum));
	else if (log_journal)
		fprintf(stderr, "<%d>%s\n", lvl, msg);
	else if (errnum)
		fprintf(stderr, "%s: %s: %s\n", log_name, msg, strerror(errnum));
	else
		fprintf(stderr, "%s: %s\n", log_name, msg);
	errno = saved;
}

#define LOG_BODY(lvl, errnum)                   \
	do {                                    \
		va_list ap;                     \
		va_start(ap, fmt);              \
		log_vline(lvl, errnum, fmt, ap); \
		va_end(ap);                     \
	} while (0)

void
log_warn(const char *fmt, ...)
{
	int e = errno;

	LOG_BODY(LOG_LVL_WARNING, e);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_WARNING, 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_INFO, 0);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_DEBUG, 0);
}

void
fatal(const char *fmt, ...)
{
	int e = errno;

	LOG_BODY(LOG_LVL_ERR, e);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERR, 0);
	exit(1);
}
