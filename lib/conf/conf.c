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
#include <grp.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#define NAMECHARS                                                            \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"
#define GROUP_NAME_MAX 32 /* useradd's limit on Linux */
#define SUN_PATH_MAX ((long long)sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

enum sect { SECT_NONE, SECT_DAEMON, SECT_QUEUE };
enum type { T_INT, T_SECONDS, T_SIZE, T_BOOL, T_ENUM, T_PATH, T_MODE, T_GROUP };

struct enumval {
	const char *name;
	int value;
};

/* One row per key.  lo/hi bound the value (T_PATH: hi = max length once
 * resolved); def is parsed like a value from the file. */
struct key {
	const char *name;
	enum sect sect;
	size_t off; /* of the field in struct conf_daemon / conf_queue */
	enum type type;
	long long lo, hi;
	const char *def;
	const struct enumval *ev; /* T_ENUM: the names, NULL-terminated */
	const char *help;
};

static const struct enumval sync_ev[] = {
	{ "full", CONF_SYNC_FULL }, { "normal", CONF_SYNC_NORMAL }, { NULL, 0 }
};
static const struct enumval level_ev[] = {
	{ "err", LOG_LVL_ERR }, { "warning", LOG_LVL_WARNING },
	{ "notice", LOG_LVL_NOTICE }, { "info", LOG_LVL_INFO },
	{ "debug", LOG_LVL_DEBUG }, { NULL, 0 }
};

#define KIB 1024LL
#define MIB (1024LL * 1024)
#define D(f) SECT_DAEMON, offsetof(struct conf_daemon, f)
#define Q(f) SECT_QUEUE, offsetof(struct conf_queue, f)

static const struct key keys[] = {
	{ "socket", D(socket), T_PATH, 1, SUN_PATH_MAX, "/run/jobd/jobd.sock",
	    NULL, "Unix stream socket jobd listens on" },
	{ "database", D(database), T_PATH, 1, PATH_MAX - 1,
	    "/var/lib/jobd/jobd.db", NULL, "SQLite job database (WAL mode)" },
	{ "sync", D(sync), T_ENUM, 0, 0, "full", sync_ev,
	    "commit durability: full survives power loss, normal a jobd crash" },
	{ "max_line", D(max_line), T_SIZE, KIB, 64 * MIB, "1M", NULL,
	    "longest request line; a longer one gets line_too_long" },
	{ "shutdown_grace", D(shutdown_grace), T_SECONDS, 0, 3600, "10", NULL,
	    "on SIGTERM, seconds running jobs get before going back to queued" },
	{ "max_connections", D(max_connections), T_INT, 1, 65536, "1024", NULL,
	    "client connections open at once; more wait in the backlog" },
	{ "log_level", D(log_level), T_ENUM, 0, 0, "info", level_ev,
	    "most verbose level logged to stderr" },
	{ "max_output", D(max_output), T_SIZE, 0, 64 * MIB, "1M", NULL,
	    "cap on each captured exec stream and http body" },
	{ "kill_grace", D(kill_grace), T_SECONDS, 0, 3600, "5", NULL,
	    "seconds from SIGTERM to SIGKILL when an exec job is stopped" },
	{ "exec_concurrency", D(exec_concurrency), T_INT, 0, 65536, "0", NULL,
	    "exec jobs running at once, all queues; 0 = number of CPUs" },
	{ "http_per_host", D(http_per_host), T_INT, 1, 65536, "8", NULL,
	    "http requests in flight to one host:port, all queues" },
	{ "socket_mode", D(socket_mode), T_MODE, 0, 0777, "0660", NULL,
	    "permissions of the socket file" },
	{ "socket_group", D(socket_group), T_GROUP, 0, 0, "", NULL,
	    "group of the socket file; empty = jobd's own group" },
	{ "max_queued_per_user", D(max_queued_per_user), T_INT, 0, 10000000,
	    "0", NULL, "queued jobs one user (peer uid) may have; 0 = no limit" },
	{ "admin_group", D(admin_group), T_GROUP, 0, 0, "", NULL,
	    "members and root are exempt from per-user limits; empty = root" },
	{ "allow_exec", D(allow_exec), T_BOOL, 0, 0, "yes", NULL,
	    "accept exec jobs (no: such submits are refused)" },
	{ "allow_http", D(allow_http), T_BOOL, 0, 0, "yes", NULL,
	    "accept http jobs (no: such submits are refused)" },
	{ "workers", Q(workers), T_INT, 1, 100000, "16", NULL,
	    "worker coroutines = jobs of this queue running at once" },
	{ "capacity", Q(capacity), T_INT, 1, 10000000, "1000", NULL,
	    "jobs that may wait (queued) in this queue" },
	{ "timeout", Q(timeout), T_SECONDS, 0, 31536000, "300", NULL,
	    "per-job timeout in seconds when a submit gives none; 0 = none" },
	{ "max_attempts", Q(max_attempts), T_INT, 1, 100, "3", NULL,
	    "starts a job gets when a crash or stop interrupts it" },
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
};

/* The state of one conf_load(). */
struct load {
	struct conf *c;
	const char *path;   /* for messages */
	char *dir;          /* of path: "" (none), "/" or "a/b" */
	const char *data;   /* the file */
	size_t len, pos;
	int lineno;         /* of the line inih is on */
	enum sect sect;     /* the section it is in */
	size_t q;           /* SECT_QUEUE: which queue */
	int daemon_line;    /* of [daemon], 0 if none yet */
	int seen[NKEYS];    /* line of each key in the current section */
	bool failed;        /* the first error is in err; stop */
	int rc;             /* its errno */
	char *err;
	size_t errlen;
};

/* ---- errors -------------------------------------------------------------- */

static void
err_vset(char *err, size_t errlen, const char *pfx, const char *fmt,
    va_list ap)
{
	size_t n;

	if (errlen == 0)
		return;
	n = snprintf(err, errlen, "%s", pfx);
	if (n < errlen)
		vsnprintf(err + n, errlen - n, fmt, ap);
}

static void __attribute__((format(printf, 3, 4)))
err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(err, errlen, "", fmt, ap);
	va_end(ap);
}

/* Record the first error as "FILE:LINE: ..." ("FILE: ..." off any line);
 * returns rc. */
static int __attribute__((format(printf, 3, 4)))
ld_err(struct load *ld, int rc, const char *fmt, ...)
{
	char pfx[PATH_MAX + 32];
	va_list ap;

	if (ld->failed)
		return rc;
	ld->failed = true;
	ld->rc = rc;
	if (ld->lineno > 0)
		snprintf(pfx, sizeof(pfx), "%s:%d: ", ld->path, ld->lineno);
	else
		snprintf(pfx, sizeof(pfx), "%s: ", ld->path);
	va_start(ap, fmt);
	err_vset(ld->err, ld->errlen, pfx, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- value types ----------------------------------------------------------
 * parse: 0, or -EINVAL (the caller says "must be ALLOWED, not VALUE") or
 * another error already recorded with ld_err.  It writes the field only on
 * success.  print: the value as a config file spells it.  allowed: what a
 * value may be. */

struct type_ops {
	const char *name;
	int (*parse)(struct load *, const struct key *, const char *, void *);
	void (*print)(char *, size_t, const struct key *, const void *);
	void (*allowed)(char *, size_t, const struct key *);
};

/* Strict decimal (or octal) integer: digits only, overflow refused. */
static int
parse_ll(const char *s, int base, long long *out)
{
	const char *digits = base == 8 ? "01234567" : "0123456789";
	const char *p = s + (*s == '-');
	char *end;

	if (*p == '\0' || p[strspn(p, digits)] != '\0')
		return -EINVAL;
	errno = 0;
	*out = strtoll(s, &end, base);
	return errno == ERANGE ? -ERANGE : 0;
}

static int
int_parse(struct load *ld, const struct key *k, const char *v, void *f)
{
	long long n;

	if (parse_ll(v, 10, &n) != 0 || n < k->lo || n > k->hi)
		return -EINVAL;
	*(int *)f = (int)n;
	return 0;
}

static void
int_print(char *b, size_t len, const struct key *k, const void *f)
{
	snprintf(b, len, "%d", *(const int *)f);
}

static void
int_allowed(char *b, size_t len, const struct key *k)
{
	snprintf(b, len, "an integer from %lld to %lld", k->lo, k->hi);
}

/* Seconds: digits with an optional fraction; no sign, exponent, hex, inf
 * or nan.  The daemon never calls setlocale, so strtod reads '.'. */
static int
sec_parse(struct load *ld, const struct key *k, const char *v, void *f)
{
	const char *digits = "0123456789";
	size_t a = strspn(v, digits), b = 0;
	double d;

	if (v[a] == '.')
		b = strspn(v + a + 1, digits) + 1;
	if (v[a + b] != '\0' || a + b == 0 || (a == 0 && b == 1))
		return -EINVAL;
	d = strtod(v, NULL);
	if (!isfinite(d) || d < k->lo || d > k->hi)
		return -EINVAL;
	*(double *)f = d;
	return 0;
}

static void
sec_print(char *b, size_t len, const struct key *k, const void *f)
{
	size_t n;

	snprintf(b, len, "%.9f", *(const double *)f);
	n = strlen(b);
	while (n > 0 && b[n - 1] == '0')
		b[--n] = '\0';
	if (n > 0 && b[n - 1] == '.')
		b[--n] = '\0';
}

static void
sec_allowed(char *b, size_t len, const struct key *k)
{
	snprintf(b, len, "a number of seconds from %lld to %lld "
	    "(fractions allowed)", k->lo, k->hi);
}

static const struct {
	const char *sfx;
	int shift;
} size_sfx[] = {
	{ "", 0 }, { "K", 10 }, { "KiB", 10 }, { "M", 20 }, { "MiB", 20 },
	{ "G", 30 }, { "GiB", 30 },
};

/* A size: decimal digits, then nothing or one of size_sfx. */
static int
size_parse(struct load *ld, const struct key *k, const char *v, void *f)
{
	size_t nd = strspn(v, "0123456789"), i;
	char num[24];
	long long n;

	if (nd == 0 || nd >= sizeof(num))
		return -EINVAL;
	for (i = 0; i < sizeof(size_sfx) / sizeof(size_sfx[0]); i++)
		if (strcmp(v + nd, size_sfx[i].sfx) == 0)
			break;
	if (i == sizeof(size_sfx) / sizeof(size_sfx[0]))
		return -EINVAL;
	memcpy(num, v, nd);
	num[nd] = '\0';
	if (parse_ll(num, 10, &n) != 0 || n > (LLONG_MAX >> size_sfx[i].shift))
		return -EINVAL;
	n <<= size_sfx[i].shift;
	if (n < k->lo || n > k->hi)
		return -EINVAL;
	*(size_t *)f = (size_t)n;
	return 0;
}

static void
size_fmt(char *b, size_t len, long long n)
{
	if (n != 0 && n % (1024 * MIB) == 0)
		snprintf(b, len, "%lldG", n / (1024 * MIB));
	else if (n != 0 && n % MIB == 0)
		snprintf(b, len, "%lldM", n / MIB);
	else if (n != 0 && n % KIB == 0)
		snprintf(b, len, "%lldK", n / KIB);
	else
		snprintf(b, len, "%lld", n);
}

static void
size_print(char *b, size_t len, const struct key *k, const void *f)
{
	size_fmt(b, len, (long long)*(const size_t *)f);
}

static void
size_allowed(char *b, size_t len, const struct key *k)
{
	char lo[32], hi[32];

	size_fmt(lo, sizeof(lo), k->lo);
	size_fmt(hi, sizeof(hi), k->hi);
	snprintf(b, len, "a size from %s to %s (bytes, or with a K, M or G "
	    "suffix for KiB, MiB, GiB)", lo, hi);
}

static int
bool_parse(struct load *ld, const struct key *k, const char *v, void *f)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0 || strcasecmp(v, no[i]) == 0) {
			*(bool *)f = strcasecmp(v, yes[i]) == 0;
			return 0;
		}
	}
	return -EINVAL;
}

static void
bool_print(char *b, size_t len, const struct key *k, const void *f)
{
	snprintf(b, len, "%s", *(const bool *)f ? "yes" : "no");
}

static void
bool_allowed(char *b, size_t len, const struct key *k)
{
	snprintf(b, len, "yes, no, true, false, on, off, 1 or 0");
}

static int
enum_parse(struct load *ld, const struct key *k, const char *v, void *f)
{
	for (const struct enumval *e = k->ev; e->name != NULL; e++) {
		if (strcmp(v, e->name) == 0) {
			*(int *)f = e->value;
			return 0;
		}
	}
	return -EINVAL;
}

static void
enum_print(char *b, size_t len, const struct key *k, const void *f)
{
	const struct enumval *e = k->ev;

	while (e->name != NULL && e->value != *(const int *)f)
		e++;
	snprintf(b, len, "%s", e->name != NULL ? e->name : "?");
}

/* "a or b", "a, b or c" */
static void
enum_allowed(char *b, size_t len, const struct key *k)
{
	size_t n = 0;

	b[0] = '\0';
	for (const struct enumval *e = k->ev; e->name != NULL && n < len; e++) {
		const char *sep = e == k->ev ? "" : e[1].name ? ", " : " or ";

		n += snprintf(b + n, len - n, "%s%s", sep, e->name);
	}
}

/* v resolved against the config file's directory; NULL on ENOMEM. */
static char *
path_resolve(const struct load *ld, const char *v)
{
	char *p = NULL;
	int r;

	if (v[0] == '/' || ld->dir[0] == '\0')
		return strdup(v);
	if (strcmp(ld->dir, "/") == 0)
		r = asprintf(&p, "/%s", v);
	else
		r = asprintf(&p, "%s/%s", ld->dir, v);
	return r < 0 ? NULL : p;
}

static int
path_parse(struct load *ld, const struct key *k, const char *v, void *f)
{
	char *p;
	size_t n;

	if (*v == '\0')
		return -EINVAL;
	if ((p = path_resolve(ld, v)) == NULL)
		return ld_err(ld, -ENOMEM, "out of memory");
	if ((n = strlen(p)) > (size_t)k->hi) {
		ld_err(ld, -EINVAL, "%s: path \"%s\" is %zu bytes long; at most "
		    "%lld fit%s", k->name, p, n, k->hi, k->hi == SUN_PATH_MAX ?
		    " in a Unix socket address (sun_path)" : "");
		free(p);
		return -EINVAL;
	}
	free(*(char **)f);
	*(char **)f = p;
	return 0;
}

static void
path_print(char *b, size_t len, const struct key *k, const void *f)
{
	snprintf(b, len, "%s", *(char *const *)f);
}

static void
path_allowed(char *b, size_t len, const struct key *k)
{
	snprintf(b, len, "a path of 1 to %lld bytes (relative to the config "
	    "file's directory)", k->hi);
}

static int
mode_parse(struct load *ld, const struct key *k, const char *v, void *f)
{
	long long n;

	if (*v == '-' || strlen(v) > 12 || parse_ll(v, 8, &n) != 0 ||
	    n < k->lo || n > k->hi)
		return -EINVAL;
	*(mode_t *)f = (mode_t)n;
	return 0;
}

static void
mode_print(char *b, size_t len, const struct key *k, const void *f)
{
	snprintf(b, len, "%04o", (unsigned)*(const mode_t *)f);
}

static void
mode_allowed(char *b, size_t len, const struct key *k)
{
	snprintf(b, len, "an octal mode from %04llo to %04llo", k->lo, k->hi);
}

/* gid of group name: 0, -ENOENT when there is none, or -errno. */
static int
group_lookup(const char *name, gid_t *gid)
{
	long hint = sysconf(_SC_GETGR_R_SIZE_MAX);
	size_t len = hint > 0 ? (size_t)hint : 4096;
	struct group gr, *res = NULL;
	char *buf = NULL, *nb;
	int r;

	for (;;) {
		if ((nb = realloc(buf, len)) == NULL) {
			r = ENOMEM;
			break;
		}
		buf = nb;
		r = getgrnam_r(name, &gr, buf, len, &res);
		if (r != ERANGE || len >= 1024 * 1024)
			break;
		len *= 2;
	}
	if (r == 0 && res == NULL)
		r = ENOENT;
	if (r == 0)
		*gid = gr.gr_gid;
	free(buf);
	return -r;
}

static int
group_parse(struct load *ld, const struct key *k, const char *v, void *f)
{
	struct conf_group *g = f;
	size_t n = strlen(v);
	gid_t gid = (gid_t)-1;
	char *name;
	int r;

	if (n > GROUP_NAME_MAX || strspn(v, NAMECHARS) != n || *v == '-')
		return -EINVAL;
	if (n > 0 && (r = group_lookup(v, &gid)) < 0) {
		if (r == -ENOENT)
			return ld_err(ld, -EINVAL, "%s: no such group \"%s\"",
			    k->name, v);
		return ld_err(ld, r, "%s: cannot look up group \"%s\": %s",
		    k->name, v, strerror(-r));
	}
	if ((name = strdup(v)) == NULL)
		return ld_err(ld, -ENOMEM, "out of memory");
	free((char *)g->name);
	g->name = name;
	g->gid = gid;
	return 0;
}

static void
group_print(char *b, size_t len, const struct key *k, const void *f)
{
	snprintf(b, len, "%s", ((const struct conf_group *)f)->name);
}

static void
group_allowed(char *b, size_t len, const struct key *k)
{
	snprintf(b, len, "an existing group's name (up to %d of A-Z a-z 0-9 "
	    "_ . -) or empty", GROUP_NAME_MAX);
}

static const struct type_ops types[] = {
	[T_INT] = { "int", int_parse, int_print, int_allowed },
	[T_SECONDS] = { "seconds", sec_parse, sec_print, sec_allowed },
	[T_SIZE] = { "size", size_parse, size_print, size_allowed },
	[T_BOOL] = { "bool", bool_parse, bool_print, bool_allowed },
	[T_ENUM] = { "enum", enum_parse, enum_print, enum_allowed },
	[T_PATH] = { "path", path_parse, path_print, path_allowed },
	[T_MODE] = { "mode", mode_parse, mode_print, mode_allowed },
	[T_GROUP] = { "group", group_parse, group_print, group_allowed },
};

/* ---- sections and keys --------------------------------------------------- */

static void *
sect_base(struct conf *c, enum sect s, size_t q)
{
	return s == SECT_DAEMON ? (void *)&c->daemon : (void *)&c->queues[q].pub;
}

/* Parse v into key k of the section at base; the error message is
 * recorded if it fails. */
static int
key_set(struct load *ld, const struct key *k, void *base, const char *v)
{
	char allowed[192];
	int r;

	r = types[k->type].parse(ld, k, v, (char *)base + k->off);
	if (r == -EINVAL && !ld->failed) {
		types[k->type].allowed(allowed, sizeof(allowed), k);
		ld_err(ld, r, "%s: must be %s, not \"%s\"", k->name, allowed, v);
	}
	return r;
}

/* Every key of section s at base takes its default. */
static int
sect_defaults(struct load *ld, enum sect s, void *base)
{
	int r = 0;

	for (size_t i = 0; i < NKEYS && r == 0; i++)
		if (keys[i].sect == s)
			r = key_set(ld, &keys[i], base, keys[i].def);
	return r;
}

/* Free the strings of section s at base. */
static void
sect_free(enum sect s, void *base)
{
	for (size_t i = 0; i < NKEYS; i++) {
		void *f = (char *)base + keys[i].off;

		if (keys[i].sect == s && keys[i].type == T_PATH)
			free(*(char **)f);
		if (keys[i].sect == s && keys[i].type == T_GROUP)
			free((char *)((struct conf_group *)f)->name);
	}
}

static const struct key *
key_find(enum sect s, const char *name)
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
	if (ld->sect == SECT_DAEMON)
		snprintf(b, len, "[daemon]");
	else
		snprintf(b, len, "[queue.%s]", ld->c->queues[ld->q].pub.name);
	return b;
}

static int
key_unknown(struct load *ld, const char *name)
{
	char known[512], label[96];
	size_t n = 0;

	known[0] = '\0';
	for (size_t i = 0; i < NKEYS && n < sizeof(known); i++)
		if (keys[i].sect == ld->sect)
			n += snprintf(known + n, sizeof(known) - n, "%s%s",
			    n ? ", " : "", keys[i].name);
	return ld_err(ld, -EINVAL, "unknown key \"%s\" in %s; known keys: %s",
	    name, sect_label(ld, label, sizeof(label)), known);
}

/* inih's handler: one "name = value" of line ld->lineno.  1 = go on. */
static int
on_key(void *user, const char *section, const char *name, const char *value)
{
	struct load *ld = user;
	const struct key *k;
	char label[96];

	if (ld->failed)
		return 0;
	if (ld->sect == SECT_NONE)
		return !ld_err(ld, -EINVAL, "key \"%s\" is outside any "
		    "section; put it under [daemon] or [queue.NAME]", name);
	if ((k = key_find(ld->sect, name)) == NULL)
		return !key_unknown(ld, name);
	if (ld->seen[k - keys] != 0)
		return !ld_err(ld, -EINVAL, "duplicate key \"%s\" in %s (first "
		    "set at line %d)", name, sect_label(ld, label,
		    sizeof(label)), ld->seen[k - keys]);
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
	return sect_defaults(ld, SECT_QUEUE, &nq->pub);
}

static int
queue_open(struct load *ld, const char *name)
{
	struct conf *c = ld->c;
	size_t i;

	if (!conf_queue_name_valid(name))
		return ld_err(ld, -EINVAL, "bad queue name \"%s\": use 1 to %d "
		    "of A-Z a-z 0-9 _ . -", name, CONF_QUEUE_NAME_MAX);
	for (i = 0; i < c->nqueues; i++)
		if (strcmp(c->queues[i].pub.name, name) == 0)
			break;
	if (i < c->nqueues && c->queues[i].line != 0)
		return ld_err(ld, -EINVAL, "duplicate section [queue.%s] "
		    "(first at line %d)", name, c->queues[i].line);
	if (i == c->nqueues && queue_add(ld, name, ld->lineno) < 0)
		return ld->rc;
	c->queues[i].line = ld->lineno;
	ld->sect = SECT_QUEUE;
	ld->q = i;
	return 0;
}

/* A section header named name (the text between '[' and ']'). */
static int
sect_open(struct load *ld, const char *name)
{
	memset(ld->seen, 0, sizeof(ld->seen));
	if (strncmp(name, "queue.", 6) == 0)
		return queue_open(ld, name + 6);
	if (strcmp(name, "daemon") != 0)
		return ld_err(ld, -EINVAL, "unknown section [%s]: sections "
		    "are [daemon] and [queue.NAME]", name);
	if (ld->daemon_line != 0)
		return ld_err(ld, -EINVAL, "duplicate section [daemon] (first "
		    "at line %d)", ld->daemon_line);
	ld->daemon_line = ld->lineno;
	ld->sect = SECT_DAEMON;
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
		return ld_err(ld, -EINVAL, "expected \"key = value\", a "
		    "[section] or a comment");
	if (sep == s)
		return ld_err(ld, -EINVAL, "missing key name before '%c'", *sep);
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
		return ld_err(ld, -EINVAL, "indented line: start keys and "
		    "sections at the beginning of the line (inih reads an "
		    "indented line as more of the value above)");
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
file_read(const char *path, char **out, size_t *lenp, char *err,
    size_t errlen)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *nb;
	int fd, rc = 0;
	ssize_t n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		rc = -errno;
		err_set(err, errlen, "%s: cannot open: %s", path, strerror(-rc));
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
		if ((n = read(fd, buf + len, cap - len)) == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = -errno;
			err_set(err, errlen, "%s: cannot read: %s", path,
			    strerror(-rc));
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
	    (ld->c->path = strdup(path)) == NULL)
		return ld_err(ld, -ENOMEM, "out of memory");
	if (sect_defaults(ld, SECT_DAEMON, &ld->c->daemon) < 0)
		return ld->rc;
	return queue_add(ld, "default", 0);
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
	r = parse(&ld);
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
	sect_free(SECT_DAEMON, &c->daemon);
	for (size_t i = 0; i < c->nqueues; i++) {
		sect_free(SECT_QUEUE, &c->queues[i].pub);
		free((char *)c->queues[i].pub.name);
	}
	free(c->queues);
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

bool
conf_queue_name_valid(const char *name)
{
	size_t n = strlen(name);

	return n >= 1 && n <= CONF_QUEUE_NAME_MAX && strspn(name, NAMECHARS) == n;
}

static void
dump_sect(FILE *f, enum sect s, const void *base)
{
	char v[PATH_MAX + 32];

	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].sect != s)
			continue;
		types[keys[i].type].print(v, sizeof(v), &keys[i],
		    (const char *)base + keys[i].off);
		fprintf(f, "%s =%s%s\n", keys[i].name, v[0] ? " " : "", v);
	}
}

void
conf_dump(FILE *f, const struct conf *c)
{
	fprintf(f, "[daemon]\n");
	dump_sect(f, SECT_DAEMON, &c->daemon);
	for (size_t i = 0; i < c->nqueues; i++) {
		fprintf(f, "\n[queue.%s]\n", c->queues[i].pub.name);
		dump_sect(f, SECT_QUEUE, &c->queues[i].pub);
	}
}

int
conf_key_info(size_t i, struct conf_keyinfo *out)
{
	if (i >= NKEYS)
		return -ENOENT;
	out->name = keys[i].name;
	out->section = keys[i].sect == SECT_DAEMON ? "daemon" : "queue";
	out->type = types[keys[i].type].name;
	out->def = keys[i].def;
	out->help = keys[i].help;
	types[keys[i].type].allowed(out->allowed, sizeof(out->allowed),
	    &keys[i]);
	return 0;
}
