/*
 * conf_type.c — the value types of config keys (see conf_type.h): strict
 * parsers that refuse junk, signs, overflow and out-of-bounds values, and
 * printers whose output parses back to the same value.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "conf_type.h"
#include "duration.h"
#include "netacl.h"

#define GROUP_NAME_MAX 32 /* useradd's limit on Linux */

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
int_parse(const struct conf_key *k, const char *v, void *f, const char *dir,
    char *msg, size_t msglen)
{
	long long n;

	if (parse_ll(v, 10, &n) != 0 || n < k->lo || n > k->hi)
		return -EINVAL;
	*(int *)f = (int)n;
	return 0;
}

static void
int_print(char *b, size_t len, const struct conf_key *k, const void *f)
{
	snprintf(b, len, "%d", *(const int *)f);
}

static void
int_allowed(char *b, size_t len, const struct conf_key *k)
{
	snprintf(b, len, "an integer from %lld to %lld", k->lo, k->hi);
}

/* Seconds: digits with an optional fraction; no sign, exponent, hex, inf
 * or nan.  The daemon never calls setlocale, so strtod reads '.'. */
static int
sec_parse(const struct conf_key *k, const char *v, void *f, const char *dir,
    char *msg, size_t msglen)
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
sec_print(char *b, size_t len, const struct conf_key *k, const void *f)
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
sec_allowed(char *b, size_t len, const struct conf_key *k)
{
	snprintf(b, len,
	    "a number of seconds from %lld to %lld (fractions allowed)", k->lo,
	    k->hi);
}

static const struct {
	const char *sfx;
	int shift;
} size_sfx[] = {
	{ "", 0 },
	{ "K", 10 },
	{ "KiB", 10 },
	{ "M", 20 },
	{ "MiB", 20 },
	{ "G", 30 },
	{ "GiB", 30 },
};

/* A size: decimal digits, then nothing or one of size_sfx. */
static int
size_parse(const struct conf_key *k, const char *v, void *f, const char *dir,
    char *msg, size_t msglen)
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
	if (n != 0 && n % (1024 * CONF_MIB) == 0)
		snprintf(b, len, "%lldG", n / (1024 * CONF_MIB));
	else if (n != 0 && n % CONF_MIB == 0)
		snprintf(b, len, "%lldM", n / CONF_MIB);
	else if (n != 0 && n % CONF_KIB == 0)
		snprintf(b, len, "%lldK", n / CONF_KIB);
	else
		snprintf(b, len, "%lld", n);
}

static void
size_print(char *b, size_t len, const struct conf_key *k, const void *f)
{
	size_fmt(b, len, (long long)*(const size_t *)f);
}

static void
size_allowed(char *b, size_t len, const struct conf_key *k)
{
	char lo[32], hi[32];

	size_fmt(lo, sizeof(lo), k->lo);
	size_fmt(hi, sizeof(hi), k->hi);
	snprintf(b, len,
	    "a size from %s to %s (bytes, or with a K, M or G suffix for "
	    "KiB, MiB, GiB)",
	    lo, hi);
}

static int
bool_parse(const struct conf_key *k, const char *v, void *f, const char *dir,
    char *msg, size_t msglen)
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
bool_print(char *b, size_t len, const struct conf_key *k, const void *f)
{
	snprintf(b, len, "%s", *(const bool *)f ? "yes" : "no");
}

static void
bool_allowed(char *b, size_t len, const struct conf_key *k)
{
	snprintf(b, len, "yes, no, true, false, on, off, 1 or 0");
}

static int
enum_parse(const struct conf_key *k, const char *v, void *f, const char *dir,
    char *msg, size_t msglen)
{
	for (const struct conf_enumval *e = k->ev; e->name != NULL; e++) {
		if (strcmp(v, e->name) != 0)
			continue;
		if (e->refused != NULL) {
			snprintf(msg, msglen, "%s = %s: %s", k->name, v,
			    e->refused);
			return -ENOTSUP;
		}
		*(int *)f = e->value;
		return 0;
	}
	return -EINVAL;
}

static void
enum_print(char *b, size_t len, const struct conf_key *k, const void *f)
{
	const struct conf_enumval *e = k->ev;

	while (e->name != NULL && e->value != *(const int *)f)
		e++;
	snprintf(b, len, "%s", e->name != NULL ? e->name : "?");
}

/* "a or b", "a, b or c" */
static void
enum_allowed(char *b, size_t len, const struct conf_key *k)
{
	size_t n = 0, total = 0, i = 0;

	b[0] = '\0';
	for (const struct conf_enumval *e = k->ev; e->name != NULL; e++)
		total += e->refused == NULL;
	for (const struct conf_enumval *e = k->ev; e->name != NULL && n < len;
	     e++) {
		if (e->refused != NULL)
			continue;
		n += snprintf(b + n, len - n, "%s%s", i == 0 ? "" :
		    i + 1 < total ? ", " : " or ", e->name);
		i++;
	}
}

/* v resolved against dir; NULL on ENOMEM. */
static char *
path_resolve(const char *dir, const char *v)
{
	char *p = NULL;
	int r;

	if (v[0] == '/' || dir[0] == '\0')
		return strdup(v);
	if (strcmp(dir, "/") == 0)
		r = asprintf(&p, "/%s", v);
	else
		r = asprintf(&p, "%s/%s", dir, v);
	return r < 0 ? NULL : p;
}

static int
path_parse(const struct conf_key *k, const char *v, void *f, const char *dir,
    char *msg, size_t msglen)
{
	const char *sun = k->hi == CONF_SUN_PATH_MAX ?
	    " in a Unix socket address (sun_path)" :
	    "";
	char *p;
	size_t n;

	if (*v == '\0')
		return -EINVAL;
	if ((p = path_resolve(dir, v)) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	if ((n = strlen(p)) > (size_t)k->hi) {
		snprintf(msg, msglen,
		    "%s: path \"%s\" is %zu bytes long; at most %lld fit%s",
		    k->name, p, n, k->hi, sun);
		free(p);
		return -EINVAL;
	}
	free(*(char **)f);
	*(char **)f = p;
	return 0;
}

static void
path_print(char *b, size_t len, const struct conf_key *k, const void *f)
{
	snprintf(b, len, "%s", *(char *const *)f);
}

static void
path_allowed(char *b, size_t len, const struct conf_key *k)
{
	snprintf(b, len,
	    "a path of 1 to %lld bytes (relative to the config file's "
	    "directory)",
	    k->hi);
}

static int
mode_parse(const struct conf_key *k, const char *v, void *f, const char *dir,
    char *msg, size_t msglen)
{
	long long n;

	if (*v == '-' || strlen(v) > 12 || parse_ll(v, 8, &n) != 0 ||
	    n < k->lo || n > k->hi)
		return -EINVAL;
	*(mode_t *)f = (mode_t)n;
	return 0;
}

static void
mode_print(char *b, size_t len, const struct conf_key *k, const void *f)
{
	snprintf(b, len, "%04o", (unsigned)*(const mode_t *)f);
}

static void
mode_allowed(char *b, size_t len, const struct conf_key *k)
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
group_parse(const struct conf_key *k, const char *v, void *f, const char *dir,
    char *msg, size_t msglen)
{
	struct conf_group *g = f;
	size_t n = strlen(v);
	gid_t gid = (gid_t)-1;
	char *name;
	int r;

	if (n > GROUP_NAME_MAX || strspn(v, CONF_NAMECHARS) != n || *v == '-')
		return -EINVAL;
	if (n > 0 && (r = group_lookup(v, &gid)) < 0) {
		if (r == -ENOENT)
			snprintf(msg, msglen, "%s: no such group \"%s\"",
			    k->name, v);
		else
			snprintf(msg, msglen,
			    "%s: cannot look up group \"%s\": %s", k->name, v,
			    strerrordesc_np(-r));
		return r == -ENOENT ? -EINVAL : r;
	}
	if ((name = strdup(v)) == NULL) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	free((char *)g->name);
	g->name = name;
	g->gid = gid;
	return 0;
}

static void
group_print(char *b, size_t len, const struct conf_key *k, const void *f)
{
	snprintf(b, len, "%s", ((const struct conf_group *)f)->name);
}

static void
group_allowed(char *b, size_t len, const struct conf_key *k)
{
	snprintf(b, len,
	    "an existing group's name (up to %d of A-Z a-z 0-9 _ . -) or "
	    "empty",
	    GROUP_NAME_MAX);
}

/* A list of addresses, blocks and host names (netacl.h). */
static int
acl_parse(const struct conf_key *k, const char *v, void *f, const char *dir,
    char *msg, size_t msglen)
{
	struct netacl **l = f, *nl;
	char why[256];
	int r;

	if ((r = netacl_parse(v, &nl, why, sizeof(why))) < 0) {
		snprintf(msg, msglen, "%s: %s", k->name, why);
		return r;
	}
	netacl_free(*l);
	*l = nl;
	return 0;
}

static void
acl_print(char *b, size_t len, const struct conf_key *k, const void *f)
{
	snprintf(b, len, "%s", netacl_text(*(struct netacl *const *)f));
}

static void
acl_allowed(char *b, size_t len, const struct conf_key *k)
{
	snprintf(b, len, "addresses, blocks (10.0.0.0/8, fd00::/8), host "
	    "names or *.name, separated by blanks or commas (at most %d)",
	    NETACL_MAX);
}

/* A duration (duration.h): its own message for a malformed one, so "7x"
 * says what is wrong with it. */
static int
dur_conf_parse(const struct conf_key *k, const char *v, void *f,
    const char *dir, char *msg, size_t msglen)
{
	char err[DUR_ERR_MAX];
	double d;

	if (v[0] == '\0' && k->lo < 0) {
		*(double *)f = -1;
		return 0;
	}
	if (dur_parse(v, &d, err, sizeof(err)) < 0) {
		snprintf(msg, msglen, "%s: %s", k->name, err);
		return -EINVAL;
	}
	if (d < (k->lo > 0 ? k->lo : 0) || d > k->hi)
		return -EINVAL;
	*(double *)f = d;
	return 0;
}

static void
dur_conf_print(char *b, size_t len, const struct conf_key *k, const void *f)
{
	if (*(const double *)f < 0)
		b[0] = '\0';
	else
		sec_print(b, len, k, f);
}

static void
dur_conf_allowed(char *b, size_t len, const struct conf_key *k)
{
	snprintf(b, len, "a duration from %llds to %llds (seconds, or 30s, "
	    "15m, 12h, 7d)%s", k->lo > 0 ? k->lo : 0, k->hi, k->lo < 0 ?
	    ", or empty for the [daemon] value" : "");
}

const struct conf_type_ops conf_types[] = {
	[CONF_T_INT] = { "int", int_parse, int_print, int_allowed },
	[CONF_T_SECONDS] = { "seconds", sec_parse, sec_print, sec_allowed },
	[CONF_T_SIZE] = { "size", size_parse, size_print, size_allowed },
	[CONF_T_BOOL] = { "bool", bool_parse, bool_print, bool_allowed },
	[CONF_T_ENUM] = { "enum", enum_parse, enum_print, enum_allowed },
	[CONF_T_PATH] = { "path", path_parse, path_print, path_allowed },
	[CONF_T_MODE] = { "mode", mode_parse, mode_print, mode_allowed },
	[CONF_T_GROUP] = { "group", group_parse, group_print, group_allowed },
	[CONF_T_ACL] = { "acl", acl_parse, acl_print, acl_allowed },
	[CONF_T_DURATION] = { "duration", dur_conf_parse, dur_conf_print,
	    dur_conf_allowed },
};
