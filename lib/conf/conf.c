/*
 * conf.c — see conf.h.  The key table below is the single source of truth
 * for every key: parsing, validation, defaults, conf_dump, conf_key_info.
 *
 * How inih is used.  Debian's inih (55) is built with its defaults: inline
 * comments on (" ;" starts one), multi-line values on, '#' and ';' start a
 * comment line, a 200-byte line buffer on the stack (INI_MAX_LINE; inih
 * splits a longer line and reads its tail as a new line), section names cut
 * to 49 bytes, and a handler without a line number (INI_HANDLER_LINENO 0).
 * So inih reads through our own line reader (rd_line), which
 *  - counts lines, so every error has its exact line;
 *  - refuses what inih would misread: key/section lines longer than
 *    CONF_MAX_LINE, NUL and control bytes, indented lines (inih's
 *    continuation lines), text after "]";
 *  - reads section headers itself, so queue names are never truncated and
 *    a section without keys still exists.
 * inih splits "key = value" and strips comments; on_key() does the rest.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_sched.h"
#include "conf_type.h"
#include "log.h"
#include "netacl.h"

static const struct conf_enumval run_as_ev[] = {
	{ "auto", CONF_RUN_AS_AUTO, NULL },
	{ "submitter", CONF_RUN_AS_SUBMITTER, NULL },
	{ "daemon", CONF_RUN_AS_DAEMON, NULL },
	{ NULL, 0, NULL },
};
static const struct conf_enumval cgroup_ev[] = {
	{ "auto", CONF_CGROUP_AUTO, NULL },
	{ "yes", CONF_CGROUP_YES, NULL },
	{ "no", CONF_CGROUP_NO, NULL },
	{ NULL, 0, NULL },
};
static const struct conf_enumval sync_ev[] = {
	{ "full", CONF_SYNC_FULL, NULL },
	{ "normal", CONF_SYNC_NORMAL, NULL },
	{ NULL, 0, NULL },
};
/* The store's backends (store.c's table has the same names); postgresql
 * is the contract's next one, refused until it is built. */
static const struct conf_enumval store_ev[] = {
	{ "sqlite", CONF_STORE_SQLITE, NULL },
	{ "postgresql", CONF_STORE_POSTGRESQL, NULL },
	{ NULL, 0, NULL },
};
static const struct conf_enumval visibility_ev[] = {
	{ "own", CONF_VIS_OWN, NULL },
	{ "all", CONF_VIS_ALL, NULL },
	{ NULL, 0, NULL },
};
/* http_loopback: auto follows allow_exec (conf_finish). */
static const struct conf_enumval loopback_ev[] = {
	{ "auto", CONF_LOOPBACK_AUTO, NULL },
	{ "yes", CONF_LOOPBACK_YES, NULL },
	{ "no", CONF_LOOPBACK_NO, NULL },
	{ NULL, 0, NULL },
};
static const struct conf_enumval level_ev[] = {
	{ "err", LOG_LVL_ERR, NULL },
	{ "warning", LOG_LVL_WARNING, NULL },
	{ "notice", LOG_LVL_NOTICE, NULL },
	{ "info", LOG_LVL_INFO, NULL },
	{ "debug", LOG_LVL_DEBUG, NULL },
	{ NULL, 0, NULL },
};

static const struct conf_enumval backoff_ev[] = {
	{ "exponential", CONF_BACKOFF_EXPONENTIAL, NULL },
	{ "fixed", CONF_BACKOFF_FIXED, NULL },
	{ NULL, 0, NULL },
};
#define DUR_HI (100LL * 365 * 86400)    /* duration.h's DUR_MAX */

#define KIB  CONF_KIB
#define MIB  CONF_MIB
#define D(f) CONF_SECT_DAEMON, offsetof(struct conf_daemon, f)
#define Q(f) CONF_SECT_QUEUE, offsetof(struct conf_queue, f)

/* Every key: name, section and field, type, bounds, default, help.  The
 * defaults and bounds here are the ones conf/jobd.conf and docs/CONFIG.md
 * state (the tests compare them). */
static const struct conf_key keys[] = {
	{ "socket", D(socket), CONF_T_PATH, 1, CONF_SUN_PATH_MAX,
	    "/run/jobd/jobd.sock", NULL, "Unix stream socket jobd listens on" },
	{ "database", D(database), CONF_T_DATABASE, 1, PATH_MAX - 1,
	    "/var/lib/jobd/jobd.db", NULL, "the job database: the SQLite file "
	    "(WAL mode), or with store = postgresql a libpq connection string" },
	{ "sync", D(sync), CONF_T_ENUM, 0, 0, "full", sync_ev,
	    "commit durability: full survives power loss, normal a jobd crash" },
	{ "max_line", D(max_line), CONF_T_SIZE, KIB, 64 * MIB, "1M", NULL,
	    "longest request line; a longer one gets line_too_long" },
	{ "shutdown_grace", D(shutdown_grace), CONF_T_SECONDS, 0, 3600, "10",
	    NULL,
	    "on SIGTERM, seconds running jobs get before going back to queued" },
	{ "max_connections", D(max_connections), CONF_T_INT, 1, 65536, "1024",
	    NULL, "client connections open at once; past it a new client is told too_many_connections and closed" },
	{ "log_level", D(log_level), CONF_T_ENUM, 0, 0, "info", level_ev,
	    "most verbose level logged to stderr" },
	{ "max_output", D(max_output), CONF_T_SIZE, 0, 64 * MIB, "1M", NULL,
	    "cap on each captured exec stream and http body" },
	{ "kill_grace", D(kill_grace), CONF_T_SECONDS, 0, 3600, "5", NULL,
	    "seconds from SIGTERM to SIGKILL when an exec job is stopped" },
	{ "exec_concurrency", D(exec_concurrency), CONF_T_INT, 0, 65536, "0",
	    NULL, "exec jobs running at once, all queues; 0 = number of CPUs" },
	{ "http_per_host", D(http_per_host), CONF_T_INT, 1, 65536, "8", NULL,
	    "http requests in flight to one host:port, all queues" },
	{ "socket_mode", D(socket_mode), CONF_T_MODE, 0, 0777, "0660", NULL,
	    "permissions of the socket file" },
	{ "socket_group", D(socket_group), CONF_T_GROUP, 0, 0, "", NULL,
	    "group of the socket file; empty = jobd's own group" },
	{ "max_queued_per_user", D(max_queued_per_user), CONF_T_INT, 0,
	    10000000, "0", NULL,
	    "queued jobs one user (peer uid) may have; 0 = no limit" },
	{ "admin_group", D(admin_group), CONF_T_GROUP, 0, 0, "", NULL,
	    "members and root may cancel any job, have no per-user limit; "
	    "empty = root" },
	{ "visibility", D(visibility), CONF_T_ENUM, 0, 0, "own",
	    visibility_ev, "jobs a client may see: own (its uid's; root and "
	    "admin_group see all) or all" },
	{ "allow_exec", D(allow_exec), CONF_T_BOOL, 0, 0, "yes", NULL,
	    "accept exec jobs (no: such submits are refused)" },
	{ "run_as", D(run_as), CONF_T_ENUM, 0, 0, "auto", run_as_ev,
	    "whose uid an exec job runs as; auto = submitter when jobd is "
	    "root, else daemon" },
	{ "allow_world_readable_db", D(allow_world_readable_db), CONF_T_BOOL,
	    0, 0, "no", NULL,
	    "start even if others may read the database file" },
	{ "cgroup", D(cgroup), CONF_T_ENUM, 0, 0, "auto", cgroup_ev,
	    "a cgroup v2 per exec job; auto = when jobd's cgroup is delegated "
	    "(systemd Delegate=yes); read at start" },
	{ "allow_http", D(allow_http), CONF_T_BOOL, 0, 0, "yes", NULL,
	    "accept http jobs (no: such submits are refused)" },
	{ "client_memory", D(client_memory), CONF_T_SIZE, 16 * MIB, 64 * 1024 * MIB,
	    "256M", NULL, "request and answer buffers of all clients "
	    "together; past it jobd reads no more until answers drain" },
	{ "line_timeout", D(line_timeout), CONF_T_SECONDS, 1, 3600, "30",
	    NULL, "seconds a client may take to send a request line, from its "
	    "first byte; then it is closed" },
	{ "max_connections_per_user", D(max_connections_per_user), CONF_T_INT,
	    0, 65536, "256", NULL, "client connections one user (peer uid) "
	    "may have open; root and admin_group are exempt; 0 = no limit" },
	{ "http_allow", D(http_allow), CONF_T_ACL, 0, 0, "", NULL,
	    "destinations http jobs may reach although denied by default "
	    "(loopback, link-local, cloud metadata)" },
	{ "http_loopback", D(http_loopback), CONF_T_ENUM, 0, 0, "auto",
	    loopback_ev, "may http jobs reach this host's loopback addresses; "
	    "auto = yes when allow_exec = yes (an exec job reaches them anyway)"
	    ", no otherwise" },
	{ "http_deny", D(http_deny), CONF_T_ACL, 0, 0, "", NULL,
	    "destinations http jobs may not reach" },
	{ "http_max_time", D(http_max_time), CONF_T_SECONDS, 1, 86400, "600",
	    NULL, "longest an http request may take, whatever the job's "
	    "timeout" },
	{ "busy_timeout", D(busy_timeout), CONF_T_SECONDS, 0, 3600, "5", NULL,
	    "seconds a write waits for another process's lock on the database" },
	{ "http_listen", D(http_listen), CONF_T_ADDR, 0, 0, "", NULL,
	    "HOST:PORT of the HTTP listener (/metrics, the dashboard); "
	    "empty = off; anything but loopback shows every job to the "
	    "network" },
	{ "store", D(store), CONF_T_ENUM, 0, 0, "sqlite", store_ev,
	    "the job store's backend: sqlite (the database file) or postgresql "
	    "(several daemons may share one database)" },
	{ "workers", Q(workers), CONF_T_INT, 1, 100000, "16", NULL,
	    "worker coroutines = jobs of this queue running at once" },
	{ "capacity", Q(capacity), CONF_T_INT, 1, 10000000, "1000", NULL,
	    "jobs that may wait (queued) in this queue" },
	{ "timeout", Q(timeout), CONF_T_SECONDS, 0, 31536000, "300", NULL,
	    "per-job timeout in seconds when a submit gives none; 0 = none" },
	{ "max_attempts", Q(max_attempts), CONF_T_INT, 1, 100, "3", NULL,
	    "starts a job gets when a crash or stop interrupts it" },
	{ "retain_succeeded", D(retain_succeeded), CONF_T_DURATION, 0, DUR_HI,
	    "7d", NULL, "how long a succeeded job is kept; 0 = forever" },
	{ "retain_failed", D(retain_failed), CONF_T_DURATION, 0, DUR_HI,
	    "30d", NULL, "how long a failed, timed_out or cancelled job is "
	    "kept; 0 = forever" },
	{ "prune_interval", D(prune_interval), CONF_T_DURATION, 1, 86400,
	    "60", NULL, "seconds between the pruner's rounds" },
	{ "sched_window", D(sched_window), CONF_T_DURATION, 1, 3600, "10",
	    NULL, "scheduled jobs due within this are held in memory; the "
	    "rest stay in the database until then" },
	{ "sched_window_jobs", D(sched_window_jobs), CONF_T_INT, 16, 1000000,
	    "4096", NULL, "about how many scheduled jobs the window holds" },
	{ "lease", D(lease), CONF_T_SECONDS, 1, 3600, "30", NULL,
	    "store = postgresql: how long a daemon's hold on its jobs lasts "
	    "without renewal (renewed every third of it); past it, another "
	    "daemon takes them over" },
	{ "priority", Q(priority), CONF_T_INT, 0, 9, "5", NULL,
	    "a submit's default priority; lower runs first" },
	{ "retries", Q(retries), CONF_T_INT, 0, 100, "0", NULL,
	    "a submit's default retries after failed or timed_out" },
	{ "retry_delay", Q(retry_delay), CONF_T_DURATION, 1, DUR_HI, "1",
	    NULL, "base delay before the first retry" },
	{ "retry_max_delay", Q(retry_max_delay), CONF_T_DURATION, 1, DUR_HI,
	    "3600", NULL, "cap on the delay before a retry" },
	{ "retry_backoff", Q(retry_backoff), CONF_T_ENUM, 0, 0, "exponential",
	    backoff_ev, "exponential doubles the delay per retry, fixed keeps it" },
	{ "max_pending", Q(max_pending), CONF_T_INT, 1, 100000000, "1000000",
	    NULL, "scheduled + waiting jobs this queue may hold" },
	{ "retain_succeeded", Q(retain_succeeded), CONF_T_DURATION, -1, DUR_HI,
	    "", NULL, "this queue's retain_succeeded; empty = [daemon]'s" },
	{ "retain_failed", Q(retain_failed), CONF_T_DURATION, -1, DUR_HI, "",
	    NULL, "this queue's retain_failed; empty = [daemon]'s" },
	{ "exec_pids_max", Q(exec_pids_max), CONF_T_INT, 0, 4194304, "0",
	    NULL, "processes an exec job may have at once (its cgroup's "
	    "pids.max), default and cap for submits; 0 = no limit" },
	{ "exec_memory_max", Q(exec_memory_max), CONF_T_SIZE, 0,
	    (size_t)1 << 50, "0", NULL, "memory of an exec job (memory.max), "
	    "default and cap for submits; 0 = no limit" },
	{ "exec_cpu_max", Q(exec_cpu_max), CONF_T_SECONDS, 0, 4096, "0", NULL,
	    "CPUs an exec job may use (cpu.max, e.g. 0.5), default and cap "
	    "for submits; 0 = no limit" },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* A queue and the line of its section header (0: implicit "default"). */
struct cq {
	struct conf_queue pub;
	int line;
};

struct conf {
	char *path;
	struct conf_daemon daemon;
	struct cq *queues;
	size_t nqueues;
	struct csched_set *scheds;      /* [schedule.NAME] */
};

/* The state of one conf_load(). */
struct load {
	struct conf *c;
	const char *path; /* for messages */
	char *dir;        /* of path: "" (none), "/" or "a/b" */
	const char *data; /* the file */
	size_t len, pos;
	int lineno;          /* of the line inih is on */
	enum conf_sect sect; /* the section it is in */
	size_t q;            /* CONF_SECT_QUEUE: which queue */
	int daemon_line;     /* of [daemon], 0 if none yet */
	int seen[NKEYS];     /* line of each key in the current section */
	bool failed;         /* the first error is in err; stop */
	int rc;              /* its errno */
	char *err;
	size_t errlen;
};

/* ---- errors -------------------------------------------------------------- */

/* Like snprintf into err, when there is one (errlen > 0). */
static void __attribute__((format(printf, 3, 4)))
err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Record the first error as "FILE:LINE: ..." ("FILE: ..." off any line);
 * returns rc. */
static int __attribute__((format(printf, 3, 4)))
ld_err(struct load *ld, int rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ld->failed)
		return rc;
	ld->failed = true;
	ld->rc = rc;
	if (ld->errlen == 0)
		return rc;
	if (ld->lineno > 0)
		n = snprintf(ld->err, ld->errlen, "%s:%d: ", ld->path,
		    ld->lineno);
	else
		n = snprintf(ld->err, ld->errlen, "%s: ", ld->path);
	if (n < 0 || (size_t)n >= ld->errlen)
		return rc;
	va_start(ap, fmt);
	vsnprintf(ld->err + n, ld->errlen - n, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- sections and keys --------------------------------------------------- */

static void *
sect_base(struct conf *c, enum conf_sect s, size_t q)
{
	return s == CONF_SECT_DAEMON ? (void *)&c->daemon :
	                               (void *)&c->queues[q].pub;
}

/* Parse v into key k of the section at base; the error message is
 * recorded if it fails. */
static int
key_set(struct load *ld, const struct conf_key *k, void *base, const char *v)
{
	const struct conf_type_ops *t = &conf_types[k->type];
	char msg[PATH_MAX + 128] = "", allowed[192];
	int r;

	r = t->parse(k, v, (char *)base + k->off, ld->dir, msg, sizeof(msg));
	if (r == 0)
		return 0;
	if (msg[0] != '\0')
		return ld_err(ld, r, "%s", msg);
	t->allowed(allowed, sizeof(allowed), k);
	return ld_err(ld, r, "%s: must be %s, not \"%s\"", k->name, allowed, v);
}

/* Every key of section s at base takes its default. */
static int
sect_defaults(struct load *ld, enum conf_sect s, void *base)
{
	int r = 0;

	for (size_t i = 0; i < NKEYS && r == 0; i++)
		if (keys[i].sect == s)
			r = key_set(ld, &keys[i], base, keys[i].def);
	return r;
}

/* Free the strings of section s at base. */
static void
sect_free(enum conf_sect s, void *base)
{
	for (size_t i = 0; i < NKEYS; i++) {
		void *f = (char *)base + keys[i].off;

		if (keys[i].sect == s && (keys[i].type == CONF_T_PATH ||
		    keys[i].type == CONF_T_DATABASE ||
		    keys[i].type == CONF_T_ADDR))
			free(*(char **)f);
		if (keys[i].sect == s && keys[i].type == CONF_T_GROUP)
			free((char *)((struct conf_group *)f)->name);
		if (keys[i].sect == s && keys[i].type == CONF_T_ACL)
			netacl_free(*(struct netacl **)f);
	}
}

static const struct conf_key *
key_find(enum conf_sect s, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sect == s && strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* "[daemon]" or "[queue.NAME]" of the current section. */
static const char *
sect_label(const struct load *ld, char *b, size_t len)
{
	if (ld->sect == CONF_SECT_DAEMON)
		snprintf(b, len, "[daemon]");
	else
		snprintf(b, len, "[queue.%s]", ld->c->queues[ld->q].pub.name);
	return b;
}

static int
key_unknown(struct load *ld, const char *name)
{
	char known[768], label[96];
	size_t n = 0;

	known[0] = '\0';
	for (size_t i = 0; i < NKEYS && n < sizeof(known); i++)
		if (keys[i].sect == ld->sect)
			n += snprintf(known + n, sizeof(known) - n, "%s%s",
			    n ? ", " : "", keys[i].name);
	return ld_err(ld, -EINVAL, "unknown key \"%s\" in %s; known keys: %s",
	    name, sect_label(ld, label, sizeof(label)), known);
}

/* A key of a [schedule.NAME] section: conf_sched.c's. */
static int
sched_key(struct load *ld, const char *name, const char *value)
{
	char msg[CONF_ERRLEN];
	int rc = csched_key(ld->c->scheds, name, value, ld->lineno, msg,
	    sizeof(msg));

	return rc < 0 ? ld_err(ld, rc, "%s", msg) : 0;
}

/* inih's handler: one "name = value" of line ld->lineno.  1 = go on. */
static int
on_key(void *user, const char *section, const char *name, const char *value)
{
	struct load *ld = user;
	const struct conf_key *k;
	char label[96];

	if (ld->failed)
		return 0;
	if (ld->sect == CONF_SECT_NONE)
		return !ld_err(ld, -EINVAL,
		    "key \"%s\" is outside any section; "
		    "put it under [daemon] or [queue.NAME]",
		    name);
	if (ld->sect == CONF_SECT_SCHEDULE)
		return !sched_key(ld, name, value != NULL ? value : "");
	if ((k = key_find(ld->sect, name)) == NULL)
		return !key_unknown(ld, name);
	if (ld->seen[k - keys] != 0)
		return !ld_err(ld, -EINVAL,
		    "duplicate key \"%s\" in %s (first set at line %d)", name,
		    sect_label(ld, label, sizeof(label)), ld->seen[k - keys]);
	ld->seen[k - keys] = ld->lineno;
	return !key_set(ld, k, sect_base(ld->c, ld->sect, ld->q),
	    value != NULL ? value : "");
}

/* Append queue name with its defaults, declared at line (0: implicit). */
static int
queue_add(struct load *ld, const char *name, int line)
{
	struct conf *c = ld->c;
	struct cq *nq;

	if (c->nqueues == CONF_MAX_QUEUES)
		return ld_err(ld, -EINVAL, "too many queues (at most %d)",
		    CONF_MAX_QUEUES);
	nq = reallocarray(c->queues, c->nqueues + 1, sizeof(*nq));
	if (nq == NULL)
		return ld_err(ld, -ENOMEM, "out of memory");
	c->queues = nq;
	nq = &c->queues[c->nqueues];
	memset(nq, 0, sizeof(*nq));
	nq->line = line;
	if ((nq->pub.name = strdup(name)) == NULL)
		return ld_err(ld, -ENOMEM, "out of memory");
	c->nqueues++;
	return sect_defaults(ld, CONF_SECT_QUEUE, &nq->pub);
}

static int
queue_open(struct load *ld, const char *name)
{
	struct conf *c = ld->c;
	size_t i;

	if (!conf_queue_name_valid(name))
		return ld_err(ld, -EINVAL,
		    "bad queue name \"%s\": use 1 to %d of A-Z a-z 0-9 _ . -",
		    name, CONF_QUEUE_NAME_MAX);
	for (i = 0; i < c->nqueues; i++)
		if (strcmp(c->queues[i].pub.name, name) == 0)
			break;
	if (i < c->nqueues && c->queues[i].line != 0)
		return ld_err(ld, -EINVAL,
		    "duplicate section [queue.%s] (first at line %d)", name,
		    c->queues[i].line);
	if (i == c->nqueues && queue_add(ld, name, ld->lineno) < 0)
		return ld->rc;
	c->queues[i].line = ld->lineno;
	ld->sect = CONF_SECT_QUEUE;
	ld->q = i;
	return 0;
}

/* A section header named name (the text between '[' and ']'). */
static int
sect_open(struct load *ld, const char *name)
{
	char msg[CONF_ERRLEN];
	int rc;

	memset(ld->seen, 0, sizeof(ld->seen));
	if (strncmp(name, "queue.", 6) == 0)
		return queue_open(ld, name + 6);
	if (strncmp(name, "schedule.", 9) == 0) {
		ld->sect = CONF_SECT_SCHEDULE;
		rc = csched_open(ld->c->scheds, name + 9, ld->lineno, msg,
		    sizeof(msg));
		return rc < 0 ? ld_err(ld, rc, "%s", msg) : 0;
	}
	if (strcmp(name, "daemon") != 0)
		return ld_err(ld, -EINVAL,
		    "unknown section [%s]: sections are [daemon], "
		    "[queue.NAME] and [schedule.NAME]",
		    name);
	if (ld->daemon_line != 0)
		return ld_err(ld, -EINVAL,
		    "duplicate section [daemon] (first at line %d)",
		    ld->daemon_line);
	ld->daemon_line = ld->lineno;
	ld->sect = CONF_SECT_DAEMON;
	return 0;
}

/* ---- the line reader ----------------------------------------------------- */

/* inih's find_chars_or_comment: the first of chars, or of an inline
 * comment (';' after whitespace), or the end. */
static char *
scan_to(char *s, const char *chars)
{
	bool was_space = false;

	while (*s && strchr(chars, *s) == NULL && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* A "[name]" line (s = the line): opens the section. */
static int
line_section(struct load *ld, char *s)
{
	char *end = scan_to(s + 1, "]"), *rest;

	if (*end != ']')
		return ld_err(ld, -EINVAL, "missing ']' in section header");
	rest = end + 1 + strspn(end + 1, " \t");
	if (*rest != '\0' && *rest != ';')
		return ld_err(ld, -EINVAL, "unexpected text after ']'");
	*end = '\0';
	if (sect_open(ld, s + 1) < 0)
		return ld->rc;
	*end = ']';
	return 0;
}

/* A line that is no comment, no blank and no section: must be key=value. */
static int
line_key(struct load *ld, char *s)
{
	char *sep = scan_to(s, "=:");

	if (*sep != '=' && *sep != ':')
		return ld_err(ld, -EINVAL,
		    "expected \"key = value\", a [section] or a comment");
	if (sep == s)
		return ld_err(ld, -EINVAL, "missing key name before '%c'",
		    *sep);
	return 0;
}

/* Bytes inih must never see: NUL and control characters but tab. */
static int
line_bytes(struct load *ld, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = p[i];

		if (ch == '\0')
			return ld_err(ld, -EINVAL, "NUL byte (binary file?)");
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return ld_err(ld, -EINVAL, "control character 0x%02x",
			    ch);
	}
	return 0;
}

/* Check line p (n bytes, no newline) and copy it into inih's buffer of
 * num bytes; comments and blanks go as "" so they may be any length. */
static int
line_take(struct load *ld, const char *p, size_t n, char *buf, int num)
{
	size_t lead = 0, limit = CONF_MAX_LINE;

	if ((size_t)num - 1 < limit)
		limit = (size_t)num - 1;
	if (line_bytes(ld, p, n) < 0)
		return ld->rc;
	while (lead < n && (p[lead] == ' ' || p[lead] == '\t'))
		lead++;
	buf[0] = '\0';
	if (lead == n || p[lead] == ';' || p[lead] == '#')
		return 0;
	if (n > limit)
		return ld_err(ld, -EINVAL, "line is longer than %zu bytes",
		    limit);
	if (lead > 0)
		return ld_err(ld, -EINVAL,
		    "indented line: start keys and sections at the beginning "
		    "of the line (inih reads an indented line as more of the "
		    "value above)");
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf[0] == '[' ? line_section(ld, buf) : line_key(ld, buf);
}

/* inih's reader: the next line of ld->data into buf, counted. */
static char *
rd_line(char *buf, int num, void *arg)
{
	struct load *ld = arg;
	const char *p = ld->data + ld->pos, *nl;
	size_t n;

	if (ld->failed || ld->pos >= ld->len || num < 2)
		return NULL;
	nl = memchr(p, '\n', ld->len - ld->pos);
	n = nl != NULL ? (size_t)(nl - p) : ld->len - ld->pos;
	ld->pos += n + (nl != NULL);
	ld->lineno++;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (ld->lineno == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3;
		n -= 3;
	}
	return line_take(ld, p, n, buf, num) < 0 ? NULL : buf;
}

/* ---- loading ------------------------------------------------------------- */

/* The whole file at path into *out (malloc'd, *lenp bytes). */
static int
file_read(const char *path, char **out, size_t *lenp, char *err, size_t errlen)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *nb;
	int fd, rc = 0;
	ssize_t n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		rc = -errno;
		err_set(err, errlen, "%s: cannot open: %s", path,
		    strerrordesc_np(-rc));
		goto out;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 16384;
			if (cap > CONF_MAX_FILE + 1)
				cap = CONF_MAX_FILE + 1;
			if ((nb = realloc(buf, cap)) == NULL) {
				rc = -ENOMEM;
				err_set(err, errlen, "%s: out of memory", path);
				goto out;
			}
			buf = nb;
		}
		if ((n = read(fd, buf + len, cap - len)) == -1 &&
		    errno == EINTR)
			continue;
		if (n == -1) {
			rc = -errno;
			err_set(err, errlen, "%s: cannot read: %s", path,
			    strerrordesc_np(-rc));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONF_MAX_FILE) {
			rc = -EFBIG;
			err_set(err, errlen, "%s: larger than %d bytes", path,
			    CONF_MAX_FILE);
			goto out;
		}
	}
out:
	if (fd != -1)
		close(fd);
	if (rc < 0) {
		free(buf);
	} else {
		*out = buf;
		*lenp = len;
	}
	return rc;
}

/* The directory part of path: "" when it has none. */
static char *
path_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup("");
	return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* A new conf with every default and the implicit queue "default". */
static int
conf_new(struct load *ld, const char *path)
{
	if ((ld->c = calloc(1, sizeof(*ld->c))) == NULL ||
	    (ld->c->path = strdup(path)) == NULL ||
	    (ld->c->scheds = csched_new()) == NULL)
		return ld_err(ld, -ENOMEM, "out of memory");
	if (sect_defaults(ld, CONF_SECT_DAEMON, &ld->c->daemon) < 0)
		return ld->rc;
	return queue_add(ld, "default", 0);
}

/* store and database agree: a file for sqlite, a connection string for
 * postgresql (whichever line came first). */
static int
store_check(struct load *ld)
{
	const struct conf_daemon *d = &ld->c->daemon;
	bool ci = conf_is_conninfo(d->database);

	ld->lineno = 0;
	if (d->store == CONF_STORE_POSTGRESQL && !ci)
		return ld_err(ld, -EINVAL, "store = postgresql needs database "
		    "= a libpq connection string or URI (for example "
		    "postgresql:///jobd?host=/run/postgresql), not \"%s\"",
		    d->database);
	if (d->store == CONF_STORE_SQLITE && ci)
		return ld_err(ld, -EINVAL, "database = %s is a PostgreSQL "
		    "connection string: set store = postgresql, or give the "
		    "SQLite file's path", d->database);
	return 0;
}

static int
parse(struct load *ld)
{
	int r = ini_parse_stream(rd_line, ld, on_key, ld);

	if (ld->failed)
		return ld->rc;
	if (r > 0) {
		/* inih saw a syntax error rd_line did not: a bug here. */
		ld->lineno = r;
		return ld_err(ld, -EINVAL, "syntax error");
	}
	if (r < 0)
		return ld_err(ld, -ENOMEM, "out of memory");
	return store_check(ld);
}

/* Values that follow from several keys, once the file is read.  The
 * destinations http jobs may reach (http_reach) are http_allow, plus the
 * loopback blocks when http_loopback says so: as entries of the allow
 * list, so that an http_deny entry as specific (or more) still wins. */
static bool
queue_known(void *arg, const char *name)
{
	return conf_queue_by_name(arg, name) != NULL;
}

/* The schedules, once every queue is known. */
static int
sched_finish(struct load *ld)
{
	char msg[CONF_ERRLEN];
	int line = 0, rc;

	rc = csched_finish(ld->c->scheds, queue_known, ld->c, &line, msg,
	    sizeof(msg));
	if (rc == 0)
		return 0;
	ld->lineno = line;
	return ld_err(ld, rc, "%s", msg);
}

static int
conf_finish(struct load *ld)
{
	struct conf_daemon *d = &ld->c->daemon;
	char msg[NETACL_WHY_MAX], *text;
	bool loop;
	int rc;

	loop = d->http_loopback == CONF_LOOPBACK_YES ||
	    (d->http_loopback == CONF_LOOPBACK_AUTO && d->allow_exec);
	if (asprintf(&text, "%s %s", loop ? "127.0.0.0/8 ::1" : "",
	    netacl_text(d->http_allow)) == -1)
		return ld_err(ld, -ENOMEM, "out of memory");
	rc = netacl_parse(text, &d->http_reach, msg, sizeof(msg));
	free(text);
	if (rc == -ENOMEM)
		return ld_err(ld, rc, "out of memory");
	if (rc < 0) {
		ld->lineno = 0;
		return ld_err(ld, rc, "http_allow with the loopback blocks "
		    "(http_loopback): %s", msg);
	}
	return 0;
}

int
conf_load(const char *path, struct conf **out, char *err, size_t errlen)
{
	struct load ld = { .path = path, .err = err, .errlen = errlen };
	char *data = NULL;
	int r;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if ((r = file_read(path, &data, &ld.len, err, errlen)) < 0)
		goto out;
	ld.data = data;
	if ((ld.dir = path_dir(path)) == NULL) {
		r = ld_err(&ld, -ENOMEM, "out of memory");
		goto out;
	}
	if ((r = conf_new(&ld, path)) < 0)
		goto out;
	if ((r = parse(&ld)) == 0 && (r = conf_finish(&ld)) == 0)
		r = sched_finish(&ld);
out:
	free(data);
	free(ld.dir);
	if (r < 0)
		conf_free(ld.c);
	else
		*out = ld.c;
	return r;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	sect_free(CONF_SECT_DAEMON, &c->daemon);
	netacl_free(c->daemon.http_reach);
	for (size_t i = 0; i < c->nqueues; i++) {
		sect_free(CONF_SECT_QUEUE, &c->queues[i].pub);
		free((char *)c->queues[i].pub.name);
	}
	free(c->queues);
	csched_free(c->scheds);
	free(c->path);
	free(c);
}

/* ---- reading ------------------------------------------------------------- */

const char *
conf_path(const struct conf *c)
{
	return c->path;
}

const struct conf_daemon *
conf_daemon(const struct conf *c)
{
	return &c->daemon;
}

size_t
conf_queue_count(const struct conf *c)
{
	return c->nqueues;
}

const struct conf_queue *
conf_queue(const struct conf *c, size_t i)
{
	return i < c->nqueues ? &c->queues[i].pub : NULL;
}

const struct conf_queue *
conf_queue_by_name(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->nqueues; i++)
		if (strcmp(c->queues[i].pub.name, name) == 0)
			return &c->queues[i].pub;
	return NULL;
}

size_t
conf_schedule_count(const struct conf *c)
{
	return csched_count(c->scheds);
}

const struct conf_schedule *
conf_schedule(const struct conf *c, size_t i)
{
	return csched_at(c->scheds, i);
}

bool
conf_queue_name_valid(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= CONF_QUEUE_NAME_MAX &&
	    strspn(name, CONF_NAMECHARS) == n;
}

static void
dump_sect(FILE *f, enum conf_sect s, const void *base)
{
	char v[PATH_MAX + 32];

	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].sect != s)
			continue;
		conf_types[keys[i].type].print(v, sizeof(v), &keys[i],
		    (const char *)base + keys[i].off);
		fprintf(f, "%s =%s%s\n", keys[i].name, v[0] ? " " : "", v);
	}
}

void
conf_dump(FILE *f, const struct conf *c)
{
	fprintf(f, "[daemon]\n");
	dump_sect(f, CONF_SECT_DAEMON, &c->daemon);
	for (size_t i = 0; i < c->nqueues; i++) {
		fprintf(f, "\n[queue.%s]\n", c->queues[i].pub.name);
		dump_sect(f, CONF_SECT_QUEUE, &c->queues[i].pub);
	}
	csched_dump(f, c->scheds);
}

int
conf_key_info(size_t i, struct conf_keyinfo *out)
{
	if (i >= NKEYS)
		return -ENOENT;
	out->name = keys[i].name;
	out->section = keys[i].sect == CONF_SECT_DAEMON ? "daemon" : "queue";
	out->type = conf_types[keys[i].type].name;
	out->def = keys[i].def;
	out->help = keys[i].help;
	conf_types[keys[i].type].allowed(out->allowed, sizeof(out->allowed),
	    &keys[i]);
	return 0;
}
