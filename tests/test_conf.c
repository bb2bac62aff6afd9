/*
 * test_conf.c — the configuration module (conf.h): defaults, each value
 * type with its bounds and junk, every error kind with its exact
 * FILE:LINE, paths, queues, hostile files; and that conf/jobd.conf and
 * docs/CONFIG.md name every key of the table, with its default.
 *
 * Each test runs in a fresh temporary directory (its cwd), so files are
 * written as "jobd.conf" and errors read "jobd.conf:LINE: ...".
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "netacl.h"
#include "store.h"
#include "testutil.h"

static char tmpdir[64];
static char oldcwd[PATH_MAX];
static int fds_before;
static char err[CONF_ERRLEN];

static void
setup(void)
{
	fds_before = tu_fd_count();
	ck_assert_ptr_nonnull(getcwd(oldcwd, sizeof(oldcwd)));
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_conf.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_int_eq(chdir(tmpdir), 0);
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(p);
}

static void
teardown(void)
{
	ck_assert_int_eq(chdir(oldcwd), 0);
	ck_assert_int_eq(nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	ck_assert_int_eq(tu_fd_count(), fds_before);
}

/* ---- helpers ------------------------------------------------------------- */

static void
put_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void
put(const char *path, const char *text)
{
	put_bytes(path, text, strlen(text));
}

/* Load path; on success return the conf, else fail with the message. */
static struct conf *
ok_path(const char *path)
{
	struct conf *c = NULL;
	int r = conf_load(path, &c, err, sizeof(err));

	ck_assert_msg(r == 0, "conf_load: %d: %s", r, err);
	ck_assert_ptr_nonnull(c);
	return c;
}

static struct conf *
ok(const char *text)
{
	put("jobd.conf", text);
	return ok_path("jobd.conf");
}

/* Load path; assert it fails with rc and exactly the message want. */
static void
err_path(const char *path, int rc, const char *want)
{
	struct conf *c = (struct conf *)1;
	int r = conf_load(path, &c, err, sizeof(err));

	ck_assert_msg(r == rc, "conf_load: %d, want %d (%s)", r, rc, err);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(err, want);
}

static void
bad(const char *text, const char *want)
{
	put("jobd.conf", text);
	err_path("jobd.conf", -EINVAL, want);
}

/* "[sect]\nkey = val\n" is refused at line 2 with "must be allowed". */
static void
bad_value(const char *sect, const char *key, const char *val,
    const char *allowed)
{
	char text[512], want[1024];

	snprintf(text, sizeof(text), "[%s]\n%s = %s\n", sect, key, val);
	snprintf(want, sizeof(want), "jobd.conf:2: %s: must be %s, not \"%s\"",
	    key, allowed, val);
	bad(text, want);
}

/* The [daemon] of "[daemon]\nkey = val\n", in a conf the caller frees. */
static struct conf *
daemon_with(const char *key, const char *val, const struct conf_daemon **d)
{
	char text[512];
	struct conf *c;

	snprintf(text, sizeof(text), "[daemon]\n%s = %s\n", key, val);
	c = ok(text);
	*d = conf_daemon(c);
	return c;
}

static const struct conf_queue *
queue_with(struct conf **c, const char *key, const char *val)
{
	char text[512];

	snprintf(text, sizeof(text), "[queue.default]\n%s = %s\n", key, val);
	*c = ok(text);
	return conf_queue(*c, 0);
}

/* The whole of file at path, NUL-terminated (caller frees). */
static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(getdelim(&buf, &len, '\0', f) > 0, 1);
	fclose(f);
	return buf;
}

/* A file of the source tree (this file is tests/test_conf.c in it). */
static void
src_path(char *out, size_t len, const char *rel)
{
	const char *me = __FILE__, *s = strstr(me, "tests/test_conf.c");

	ck_assert_msg(me[0] == '/' && s != NULL, "__FILE__ is %s", me);
	snprintf(out, len, "%.*s%s", (int)(s - me), me, rel);
}

static char *
dump(const struct conf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	conf_dump(f, c);
	fclose(f);
	return buf;
}

/* ---- defaults ------------------------------------------------------------ */

START_TEST(test_defaults_empty_file)
{
	struct conf *c = ok("");
	const struct conf_daemon *d = conf_daemon(c);
	const struct conf_queue *q;

	ck_assert_str_eq(d->socket, "/run/jobd/jobd.sock");
	ck_assert_str_eq(d->database, "/var/lib/jobd/jobd.db");
	ck_assert_int_eq(d->sync, CONF_SYNC_FULL);
	ck_assert_uint_eq(d->max_line, 1024 * 1024);
	ck_assert_double_eq(d->shutdown_grace, 10);
	ck_assert_int_eq(d->max_connections, 1024);
	ck_assert_int_eq(d->log_level, LOG_LVL_INFO);
	ck_assert_uint_eq(d->max_output, 1024 * 1024);
	ck_assert_double_eq(d->kill_grace, 5);
	ck_assert_int_eq(d->exec_concurrency, 0);
	ck_assert_int_eq(d->http_per_host, 8);
	ck_assert_uint_eq(d->socket_mode, 0660);
	ck_assert_str_eq(d->socket_group.name, "");
	ck_assert_uint_eq(d->socket_group.gid, (gid_t)-1);
	ck_assert_int_eq(d->max_queued_per_user, 0);
	ck_assert_str_eq(d->admin_group.name, "");
	ck_assert_uint_eq(d->admin_group.gid, (gid_t)-1);
	ck_assert_int_eq(d->visibility, CONF_VIS_OWN);
	ck_assert(d->allow_exec);
	ck_assert(d->allow_http);
	ck_assert_uint_eq(conf_queue_count(c), 1);
	q = conf_queue(c, 0);
	ck_assert_str_eq(q->name, "default");
	ck_assert_int_eq(q->workers, 16);
	ck_assert_int_eq(q->capacity, 1000);
	ck_assert_double_eq(q->timeout, 300);
	ck_assert_int_eq(q->max_attempts, 3);
	ck_assert_str_eq(conf_path(c), "jobd.conf");
	conf_free(c);
}
END_TEST

START_TEST(test_defaults_for_absent_keys)
{
	struct conf *c = ok("[daemon]\nsync = normal\n\n"
	                    "[queue.x]\nworkers = 2\n");
	const struct conf_daemon *d = conf_daemon(c);
	const struct conf_queue *q = conf_queue_by_name(c, "x");

	ck_assert_int_eq(d->sync, CONF_SYNC_NORMAL);
	ck_assert_str_eq(d->socket, "/run/jobd/jobd.sock");
	ck_assert_uint_eq(d->max_line, 1024 * 1024);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(q->workers, 2);
	ck_assert_int_eq(q->capacity, 1000);
	ck_assert_double_eq(q->timeout, 300);
	ck_assert_int_eq(q->max_attempts, 3);
	conf_free(c);
}
END_TEST

START_TEST(test_comments_and_blanks_only)
{
	struct conf *c =
	    ok("# nothing\n\n; still nothing\n   \n\t# indented\n");
	char *a = dump(c), *b;

	conf_free(c);
	c = ok("");
	b = dump(c);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	conf_free(c);
}
END_TEST

START_TEST(test_key_info_table)
{
	struct conf_keyinfo ki;
	size_t n = 0;

	while (conf_key_info(n, &ki) == 0) {
		ck_assert(strcmp(ki.section, "daemon") == 0 ||
		    strcmp(ki.section, "queue") == 0);
		ck_assert(strlen(ki.help) > 10);
		ck_assert(strlen(ki.allowed) > 5);
		n++;
	}
	ck_assert_int_eq(conf_key_info(n, &ki), -ENOENT);
	ck_assert_uint_ge(n, 21);
	ck_assert_int_eq(conf_key_info(3, &ki), 0);
	ck_assert_str_eq(ki.name, "max_line");
	ck_assert_str_eq(ki.type, "size");
	ck_assert_str_eq(ki.def, "1M");
	ck_assert_str_eq(ki.allowed,
	    "a size from 1K to 64M (bytes, or with "
	    "a K, M or G suffix for KiB, MiB, GiB)");
}
END_TEST

/* ---- conf/jobd.conf and docs/CONFIG.md against the table ----------------- */

START_TEST(test_sample_config_is_valid_and_default)
{
	char path[PATH_MAX];
	struct conf *c, *e;
	char *a, *b;

	src_path(path, sizeof(path), "conf/jobd.conf");
	c = ok_path(path);
	e = ok("");
	a = dump(c);
	b = dump(e);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	conf_free(c);
	conf_free(e);
}
END_TEST

/* Line "name = def" in the key's section, under a comment block that
 * says "Default def". */
static void
sample_has_key(char *text, const struct conf_keyinfo *ki)
{
	char want[256], dflt[256], sect[32] = "", comment[4096] = "";
	bool found = false;

	snprintf(want, sizeof(want), ki->def[0] ? "%s = %s" : "%s =%s",
	    ki->name, ki->def);
	snprintf(dflt, sizeof(dflt), "Default %s",
	    ki->def[0] ? ki->def : "empty");
	for (char *l = text, *nl; l != NULL && !found; l = nl) {
		if ((nl = strchr(l, '\n')) != NULL)
			*nl++ = '\0';
		if (l[0] == '[')
			snprintf(sect, sizeof(sect), "%s",
			    strncmp(l, "[queue.", 7) == 0 ? "queue" : "daemon");
		if (l[0] == '#')
			strncat(comment, l,
			    sizeof(comment) - strlen(comment) - 1);
		else if (strcmp(l, want) == 0 && strcmp(sect, ki->section) == 0)
			found = true;
		else
			comment[0] = '\0';
	}
	ck_assert_msg(found, "conf/jobd.conf has no line \"%s\" in [%s]", want,
	    ki->section);
	ck_assert_msg(strstr(comment, dflt) != NULL,
	    "conf/jobd.conf: the comment above \"%s\" lacks \"%s\"", want,
	    dflt);
}

START_TEST(test_sample_config_has_every_key)
{
	struct conf_keyinfo ki;
	char path[PATH_MAX], *text;

	src_path(path, sizeof(path), "conf/jobd.conf");
	for (size_t i = 0; conf_key_info(i, &ki) == 0; i++) {
		text = slurp(path);
		sample_has_key(text, &ki);
		free(text);
	}
}
END_TEST

START_TEST(test_docs_have_every_key)
{
	char path[PATH_MAX], *text, row[128], dflt[256];
	struct conf_keyinfo ki;

	src_path(path, sizeof(path), "docs/CONFIG.md");
	text = slurp(path);
	for (size_t i = 0; conf_key_info(i, &ki) == 0; i++) {
		char *l, *end;

		/* A queue key's row is under "## [queue.NAME]" (a key may be
		 * in both sections: retain_succeeded). */
		snprintf(row, sizeof(row), "\n| `%s` |", ki.name);
		l = strstr(strcmp(ki.section, "queue") == 0 ?
		    strstr(text, "## [queue.NAME]") : text, row);
		ck_assert_msg(l != NULL, "docs/CONFIG.md has no row for %s",
		    ki.name);
		end = strchr(l + 1, '\n');
		snprintf(dflt, sizeof(dflt), ki.def[0] ? "`%s`" : "empty%s",
		    ki.def);
		ck_assert_msg(memmem(l, end - l, dflt, strlen(dflt)) != NULL,
		    "docs/CONFIG.md: row of %s lacks its default %s", ki.name,
		    dflt);
	}
	free(text);
}
END_TEST

/* ---- value types --------------------------------------------------------- */

#define WORKERS_OK "an integer from 1 to 100000"

START_TEST(test_int_values)
{
	const char *junk[] = { "0", "100001", "-1", "abc", "12abc", "+5",
		"0x10", "1e3", "1.0", "", "99999999999999999999", "1 2",
		"-99999999999999999999" };
	const struct conf_queue *q;
	struct conf *c;

	q = queue_with(&c, "workers", "1");
	ck_assert_int_eq(q->workers, 1);
	conf_free(c);
	q = queue_with(&c, "workers", "100000");
	ck_assert_int_eq(q->workers, 100000);
	conf_free(c);
	q = queue_with(&c, "capacity", "10000000");
	ck_assert_int_eq(q->capacity, 10000000);
	conf_free(c);
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		bad_value("queue.default", "workers", junk[i], WORKERS_OK);
	bad_value("queue.default", "capacity", "10000001",
	    "an integer from 1 to 10000000");
	bad_value("daemon", "max_connections", "65537",
	    "an integer from 1 to 65536");
}
END_TEST

#define TIMEOUT_OK "a number of seconds from 0 to 31536000 (fractions allowed)"

START_TEST(test_seconds_values)
{
	static const struct {
		const char *v;
		double want;
	} good[] = { { "0", 0 }, { "0.5", 0.5 }, { ".25", 0.25 }, { "1.", 1 },
		{ "300", 300 }, { "31536000", 31536000 }, { "007.5", 7.5 } };
	const char *junk[] = { "31536001", "31536000.5", "-1", "1e3", "inf",
		"nan", "0x10", ".", "1.2.3", "1,5", "", "5s", "+1" };
	const struct conf_queue *q;
	char huge[420];
	struct conf *c;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		q = queue_with(&c, "timeout", good[i].v);
		ck_assert_double_eq(q->timeout, good[i].want);
		conf_free(c);
	}
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		bad_value("queue.default", "timeout", junk[i], TIMEOUT_OK);
	memset(huge, '9', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	huge[150] = '\0'; /* 1e150: finite, out of bounds */
	bad_value("queue.default", "timeout", huge, TIMEOUT_OK);
	bad_value("daemon", "kill_grace", "3601",
	    "a number of seconds from 0 to 3600 (fractions allowed)");
}
END_TEST

#define MAXLINE_OK                                                           \
	"a size from 1K to 64M (bytes, or with a K, M or G suffix for KiB, " \
	"MiB, GiB)"

START_TEST(test_size_values)
{
	static const struct {
		const char *v;
		size_t want;
	} good[] = { { "1K", 1024 }, { "1KiB", 1024 }, { "1024", 1024 },
		{ "64M", 64 << 20 }, { "64MiB", 64 << 20 },
		{ "65536K", 64 << 20 }, { "3000", 3000 } };
	const char *junk[] = { "1023", "65M", "1G", "1GiB", "1.5M", "1k", "1KB",
		"M", "-1K", "1 K", "", "99999999999999999999G", "9999999999G",
		"0x400" };
	const struct conf_daemon *d;
	struct conf *c;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		c = daemon_with("max_line", good[i].v, &d);
		ck_assert_uint_eq(d->max_line, good[i].want);
		conf_free(c);
	}
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		bad_value("daemon", "max_line", junk[i], MAXLINE_OK);
	c = daemon_with("max_output", "0", &d);
	ck_assert_uint_eq(d->max_output, 0);
	conf_free(c);
}
END_TEST

#define BOOL_OK "yes, no, true, false, on, off, 1 or 0"

START_TEST(test_bool_values)
{
	const char *yes[] = { "yes", "true", "on", "1", "YES", "True" };
	const char *no[] = { "no", "false", "off", "0", "NO", "Off" };
	const char *junk[] = { "maybe", "", "2", "y", "yes please" };
	const struct conf_daemon *d;
	struct conf *c;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		c = daemon_with("allow_exec", yes[i], &d);
		ck_assert(d->allow_exec);
		conf_free(c);
		c = daemon_with("allow_http", no[i], &d);
		ck_assert(!d->allow_http);
		ck_assert(d->allow_exec);
		conf_free(c);
	}
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		bad_value("daemon", "allow_exec", junk[i], BOOL_OK);
}
END_TEST

START_TEST(test_enum_values)
{
	static const struct {
		const char *v;
		int lvl;
	} lv[] = { { "err", LOG_LVL_ERR }, { "warning", LOG_LVL_WARNING },
		{ "notice", LOG_LVL_NOTICE }, { "info", LOG_LVL_INFO },
		{ "debug", LOG_LVL_DEBUG } };
	const struct conf_daemon *d;
	struct conf *c;

	c = daemon_with("sync", "normal", &d);
	ck_assert_int_eq(d->sync, CONF_SYNC_NORMAL);
	conf_free(c);
	c = daemon_with("sync", "full", &d);
	ck_assert_int_eq(d->sync, CONF_SYNC_FULL);
	conf_free(c);
	for (size_t i = 0; i < sizeof(lv) / sizeof(lv[0]); i++) {
		c = daemon_with("log_level", lv[i].v, &d);
		ck_assert_int_eq(d->log_level, lv[i].lvl);
		conf_free(c);
	}
	c = daemon_with("visibility", "all", &d);
	ck_assert_int_eq(d->visibility, CONF_VIS_ALL);
	conf_free(c);
	c = daemon_with("visibility", "own", &d);
	ck_assert_int_eq(d->visibility, CONF_VIS_OWN);
	conf_free(c);
	bad_value("daemon", "visibility", "mine", "own or all");
	bad_value("daemon", "sync", "FULL", "full or normal");
	bad_value("daemon", "sync", "", "full or normal");
	bad_value("daemon", "log_level", "loud",
	    "err, warning, notice, info or debug");
	bad_value("daemon", "log_level", "error",
	    "err, warning, notice, info or debug");
}
END_TEST

/* store: sqlite (the default) is taken, and so is postgresql with a libpq
 * connection string for database (a URI or key=value pairs, kept as
 * written, never resolved as a path); each refuses the other's kind of
 * database, whichever line comes first; anything else is unknown. */
START_TEST(test_store_key)
{
	const struct conf_daemon *d;
	struct conf *c;

	c = daemon_with("sync", "full", &d);
	ck_assert_int_eq(d->store, CONF_STORE_SQLITE);
	conf_free(c);
	c = daemon_with("store", "sqlite", &d);
	ck_assert_int_eq(d->store, CONF_STORE_SQLITE);
	conf_free(c);
	put("jobd.conf", "[daemon]\nstore = postgresql\n"
	    "database = postgresql:///jobd?host=/run/postgresql\n");
	ck_assert_int_eq(conf_load("jobd.conf", &c, err, sizeof(err)), 0);
	d = conf_daemon(c);
	ck_assert_int_eq(d->store, CONF_STORE_POSTGRESQL);
	ck_assert_str_eq(d->database, "postgresql:///jobd?host=/run/postgresql");
	conf_free(c);
	put("jobd.conf", "[daemon]\ndatabase = host=/tmp/s dbname=j\n"
	    "store = postgresql\n");
	ck_assert_int_eq(conf_load("jobd.conf", &c, err, sizeof(err)), 0);
	ck_assert_str_eq(conf_daemon(c)->database, "host=/tmp/s dbname=j");
	conf_free(c);
	put("jobd.conf", "[daemon]\nstore = postgresql\n");
	err_path("jobd.conf", -EINVAL, "jobd.conf: store = postgresql needs "
	    "database = a libpq connection string or URI (for example "
	    "postgresql:///jobd?host=/run/postgresql), not "
	    "\"/var/lib/jobd/jobd.db\"");
	put("jobd.conf", "[daemon]\ndatabase = postgres://h/db\n");
	err_path("jobd.conf", -EINVAL, "jobd.conf: database = postgres://h/db "
	    "is a PostgreSQL connection string: set store = postgresql, or "
	    "give the SQLite file's path");
	bad_value("daemon", "store", "mysql", "sqlite or postgresql");
	bad_value("daemon", "store", "SQLite", "sqlite or postgresql");
}
END_TEST

/* The key and the store's table agree: every backend the store names is
 * a value of the key, taken if built and refused if not. */
START_TEST(test_store_key_matches_store)
{
	char text[128];
	const char *name;
	struct conf *c;
	bool built;
	int rc;

	for (size_t i = 0; (name = store_backend_name(i, &built)) != NULL;
	    i++) {
		snprintf(text, sizeof(text), "[daemon]\nstore = %s\n%s", name,
		    strcmp(name, "postgresql") == 0 ?
		    "database = dbname=jobd\n" : "");
		put("jobd.conf", text);
		rc = conf_load("jobd.conf", &c, err, sizeof(err));
		ck_assert_msg(rc == (built ? 0 : -ENOTSUP), "%s: %d %s", name,
		    rc, err);
		if (rc == 0)
			conf_free(c);
	}
}
END_TEST

START_TEST(test_mode_values)
{
	static const struct {
		const char *v;
		mode_t want;
	} good[] = { { "0660", 0660 }, { "660", 0660 }, { "0", 0 },
		{ "0777", 0777 }, { "0600", 0600 }, { "00640", 0640 } };
	const char *junk[] = { "01777", "1000", "0668", "rw-rw----", "-0660",
		"", "0x1b0", "0660 x" };
	const struct conf_daemon *d;
	struct conf *c;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		c = daemon_with("socket_mode", good[i].v, &d);
		ck_assert_uint_eq(d->socket_mode, good[i].want);
		conf_free(c);
	}
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		bad_value("daemon", "socket_mode", junk[i],
		    "an octal mode from 0000 to 0777");
}
END_TEST

#define GROUP_OK \
	"an existing group's name (up to 32 of A-Z a-z 0-9 _ . -) or empty"

/* http_allow / http_deny: lists checked entry by entry, spelled back
 * normalised, and the new limits' defaults. */
START_TEST(test_acl_values)
{
	const struct conf_daemon *d;
	struct conf *c;

	c = daemon_with("http_allow", "127.0.0.0/8, ::1  API.Example.com. "
	    "*.svc ::ffff:10.0.0.0/104", &d);
	ck_assert_str_eq(netacl_text(d->http_allow),
	    "127.0.0.0/8 ::1 api.example.com *.svc 10.0.0.0/8");
	ck_assert_str_eq(netacl_text(d->http_deny), "");
	conf_free(c);
	c = ok("");
	d = conf_daemon(c);
	ck_assert_ptr_nonnull(d->http_allow);
	ck_assert_str_eq(netacl_text(d->http_allow), "");
	ck_assert_int_eq(d->max_connections_per_user, 256);
	ck_assert_double_eq(d->http_max_time, 600);
	conf_free(c);

	bad("[daemon]\nhttp_deny = 10.1.2.3/8\n", "jobd.conf:2: http_deny: "
	    "\"10.1.2.3/8\": bits set past the /8 prefix");
	bad("[daemon]\nhttp_allow = 127.0.0.1/33\n", "jobd.conf:2: "
	    "http_allow: \"127.0.0.1/33\": the prefix must be 0 to 32");
	bad("[daemon]\nhttp_allow = ::1/129\n", "jobd.conf:2: http_allow: "
	    "\"::1/129\": the prefix must be 0 to 128");
	bad("[daemon]\nhttp_allow = 10.0.0.0/\n", "jobd.conf:2: http_allow: "
	    "\"10.0.0.0/\": the prefix must be 0 to 32");
	bad("[daemon]\nhttp_allow = 10.0.0.256\n", "jobd.conf:2: http_allow: "
	    "\"10.0.0.256\": not an IPv4 or IPv6 address, nor a host name");
	bad("[daemon]\nhttp_allow = fe80::1%eth0\n", "jobd.conf:2: "
	    "http_allow: \"fe80::1%eth0\": not an IPv4 or IPv6 address, nor a "
	    "host name");
	bad("[daemon]\nhttp_deny = bad_host!.com\n", "jobd.conf:2: http_deny: "
	    "\"bad_host!.com\": not an address, a block (10.0.0.0/8), a host "
	    "name or *.name");
	bad("[daemon]\nhttp_deny = 300.0.0.0/8\n", "jobd.conf:2: http_deny: "
	    "\"300.0.0.0/8\": \"300.0.0.0\" is not an IPv4 or IPv6 address");
	bad_value("daemon", "http_max_time", "0", "a number of seconds from 1 "
	    "to 86400 (fractions allowed)");
	bad_value("daemon", "max_connections_per_user", "-1", "an integer "
	    "from 0 to 65536");
}
END_TEST

START_TEST(test_group_values)
{
	const struct conf_daemon *d;
	struct conf *c;

	c = daemon_with("socket_group", "root", &d);
	ck_assert_str_eq(d->socket_group.name, "root");
	ck_assert_uint_eq(d->socket_group.gid, 0);
	conf_free(c);
	c = daemon_with("admin_group", "root", &d);
	ck_assert_uint_eq(d->admin_group.gid, 0);
	ck_assert_uint_eq(d->socket_group.gid, (gid_t)-1);
	conf_free(c);
	c = daemon_with("admin_group", "", &d);
	ck_assert_str_eq(d->admin_group.name, "");
	ck_assert_uint_eq(d->admin_group.gid, (gid_t)-1);
	conf_free(c);
	bad_value("daemon", "socket_group", "bad name", GROUP_OK);
	bad_value("daemon", "socket_group", "-root", GROUP_OK);
	bad_value("daemon", "admin_group", "a/b", GROUP_OK);
	bad_value("daemon", "admin_group", "g23456789012345678901234567890123",
	    GROUP_OK);
	bad("[daemon]\nsocket_group = jobd_no_such_group\n",
	    "jobd.conf:2: socket_group: no such group \"jobd_no_such_group\"");
}
END_TEST

#define ADDR_OK \
	"HOST:PORT (e.g. 127.0.0.1:9464 or [::1]:9464) or empty"

START_TEST(test_addr_values)
{
	const char *good[] = { "127.0.0.1:9464", "[::1]:0", "localhost:80",
		"0.0.0.0:65535", "" };
	const char *junk[] = { "127.0.0.1", ":9464", "127.0.0.1:", "h:65536",
		"h:12a", "[::1]9464", "[]:1", "h:123456" };
	const struct conf_daemon *d;
	struct conf *c;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		c = daemon_with("http_listen", good[i], &d);
		ck_assert_str_eq(d->http_listen, good[i]);
		conf_free(c);
	}
	c = ok("");
	ck_assert_str_eq(conf_daemon(c)->http_listen, "");
	conf_free(c);
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		bad_value("daemon", "http_listen", junk[i], ADDR_OK);
}
END_TEST

START_TEST(test_inline_comments_and_separators)
{
	struct conf *c =
	    ok("[daemon] ; the daemon\n"
	       "database = /a;b ; semicolon without a space stays\n"
	       "socket = /s#1\n"
	       "max_line: 2K\n"
	       "[queue.default];x\n"
	       "workers = 32 ; comment\n"
	       "capacity=7\n");
	const struct conf_daemon *d = conf_daemon(c);

	ck_assert_str_eq(d->database, "/a;b");
	ck_assert_str_eq(d->socket, "/s#1");
	ck_assert_uint_eq(d->max_line, 2048);
	ck_assert_int_eq(conf_queue(c, 0)->workers, 32);
	ck_assert_int_eq(conf_queue(c, 0)->capacity, 7);
	conf_free(c);
	bad_value("queue.default", "workers", "32;x", WORKERS_OK);
}
END_TEST

/* ---- paths --------------------------------------------------------------- */

START_TEST(test_relative_paths_resolved)
{
	const struct conf_daemon *d;
	char abs[PATH_MAX], want[PATH_MAX + 32];
	struct conf *c;

	ck_assert_int_eq(mkdir("run", 0700), 0);
	put("run/jobd.conf",
	    "[daemon]\nsocket = jobd.sock\n"
	    "database = db/jobd.db\n");
	c = ok_path("run/jobd.conf");
	d = conf_daemon(c);
	ck_assert_str_eq(d->socket, "run/jobd.sock");
	ck_assert_str_eq(d->database, "run/db/jobd.db");
	conf_free(c);

	snprintf(abs, sizeof(abs), "%s/run/jobd.conf", tmpdir);
	c = ok_path(abs);
	snprintf(want, sizeof(want), "%s/run/jobd.sock", tmpdir);
	ck_assert_str_eq(conf_daemon(c)->socket, want);
	conf_free(c);

	c = ok("[daemon]\nsocket = jobd.sock\ndatabase = /abs/jobd.db\n");
	ck_assert_str_eq(conf_daemon(c)->socket, "jobd.sock");
	ck_assert_str_eq(conf_daemon(c)->database, "/abs/jobd.db");
	conf_free(c);
}
END_TEST

START_TEST(test_empty_path_refused)
{
	bad("[daemon]\nsocket =\n",
	    "jobd.conf:2: socket: must be a path of 1 "
	    "to 107 bytes (relative to the config file's directory), not \"\"");
	bad("[daemon]\n\ndatabase = ; nothing\n",
	    "jobd.conf:3: database: must "
	    "be a path of 1 to 4095 bytes (relative to the config file's "
	    "directory), or with store = postgresql a libpq connection "
	    "string or URI, not \"\"");
}
END_TEST

START_TEST(test_socket_path_must_fit_sun_path)
{
	char text[300], want[600], p[120], dir[110];
	struct conf *c;

	memset(p, 'a', sizeof(p));
	p[0] = '/';
	p[107] = '\0';
	snprintf(text, sizeof(text), "[daemon]\nsocket = %s\n", p);
	c = ok(text);
	ck_assert_uint_eq(strlen(conf_daemon(c)->socket), 107);
	conf_free(c);

	p[107] = 'a';
	p[108] = '\0';
	snprintf(text, sizeof(text), "[daemon]\nsocket = %s\n", p);
	snprintf(want, sizeof(want),
	    "jobd.conf:2: socket: path \"%s\" is 108 "
	    "bytes long; at most 107 fit in a Unix socket address (sun_path)",
	    p);
	bad(text, want);

	/* Short, but too long once resolved against the file's directory. */
	memset(dir, 'd', 100);
	dir[100] = '\0';
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(text, sizeof(text), "%s/jobd.conf", dir);
	put(text, "[daemon]\nsocket = jobd.sock\n");
	snprintf(want, sizeof(want),
	    "%s:2: socket: path \"%s/jobd.sock\" is "
	    "110 bytes long; at most 107 fit in a Unix socket address "
	    "(sun_path)",
	    text, dir);
	err_path(text, -EINVAL, want);
}
END_TEST

/* ---- queues -------------------------------------------------------------- */

START_TEST(test_default_queue_implicit)
{
	struct conf *c = ok("[queue.fast]\nworkers = 4\n");

	ck_assert_uint_eq(conf_queue_count(c), 2);
	ck_assert_str_eq(conf_queue(c, 0)->name, "default");
	ck_assert_int_eq(conf_queue(c, 0)->workers, 16);
	ck_assert_str_eq(conf_queue(c, 1)->name, "fast");
	ck_assert_int_eq(conf_queue(c, 1)->workers, 4);
	ck_assert_ptr_eq(conf_queue_by_name(c, "default"), conf_queue(c, 0));
	conf_free(c);
}
END_TEST

START_TEST(test_default_queue_declared_later_is_first)
{
	struct conf *c = ok("[queue.a]\n[queue.default]\nworkers = 2\n");

	ck_assert_uint_eq(conf_queue_count(c), 2);
	ck_assert_str_eq(conf_queue(c, 0)->name, "default");
	ck_assert_int_eq(conf_queue(c, 0)->workers, 2);
	ck_assert_str_eq(conf_queue(c, 1)->name, "a");
	ck_assert_int_eq(conf_queue(c, 1)->workers, 16);
	conf_free(c);
}
END_TEST

START_TEST(test_multiple_queues)
{
	struct conf *c =
	    ok("[queue.fast]\nworkers = 64\ntimeout = 2.5\n"
	       "[queue.slow]\nworkers = 1\ncapacity = 5\nmax_attempts = 1\n"
	       "[queue.empty]\n");
	const struct conf_queue *q;

	ck_assert_uint_eq(conf_queue_count(c), 4);
	q = conf_queue_by_name(c, "fast");
	ck_assert_ptr_eq(q, conf_queue(c, 1));
	ck_assert_int_eq(q->workers, 64);
	ck_assert_double_eq(q->timeout, 2.5);
	ck_assert_int_eq(q->capacity, 1000);
	q = conf_queue_by_name(c, "slow");
	ck_assert_ptr_eq(q, conf_queue(c, 2));
	ck_assert_int_eq(q->workers, 1);
	ck_assert_int_eq(q->capacity, 5);
	ck_assert_int_eq(q->max_attempts, 1);
	q = conf_queue_by_name(c, "empty");
	ck_assert_ptr_eq(q, conf_queue(c, 3));
	ck_assert_int_eq(q->workers, 16);
	ck_assert_ptr_null(conf_queue_by_name(c, "nope"));
	ck_assert_ptr_null(conf_queue_by_name(c, "Fast"));
	ck_assert_ptr_null(conf_queue(c, 4));
	conf_free(c);
}
END_TEST

START_TEST(test_queue_names)
{
	char name[80], text[128], want[256];
	struct conf *c;

	memset(name, 'q', 64);
	name[64] = '\0';
	snprintf(text, sizeof(text), "[queue.%s]\n", name);
	c = ok(text);
	ck_assert_ptr_nonnull(conf_queue_by_name(c, name));
	conf_free(c);
	c = ok("[queue.AZaz09_.-]\n");
	ck_assert_ptr_nonnull(conf_queue_by_name(c, "AZaz09_.-"));
	conf_free(c);

	name[64] = 'q';
	name[65] = '\0';
	snprintf(text, sizeof(text), "\n[queue.%s]\n", name);
	snprintf(want, sizeof(want),
	    "jobd.conf:2: bad queue name \"%s\": use "
	    "1 to 64 of A-Z a-z 0-9 _ . -",
	    name);
	bad(text, want);
	bad("[queue.]\n",
	    "jobd.conf:1: bad queue name \"\": use 1 to 64 of "
	    "A-Z a-z 0-9 _ . -");
	bad("[queue.a b]\n",
	    "jobd.conf:1: bad queue name \"a b\": use 1 to 64 "
	    "of A-Z a-z 0-9 _ . -");
	bad("[queue.a/b]\n",
	    "jobd.conf:1: bad queue name \"a/b\": use 1 to 64 "
	    "of A-Z a-z 0-9 _ . -");
	bad("[queue.caf\xc3\xa9]\n",
	    "jobd.conf:1: bad queue name "
	    "\"caf\xc3\xa9\": use 1 to 64 of A-Z a-z 0-9 _ . -");
	ck_assert(conf_queue_name_valid("a.b-c_d"));
	ck_assert(!conf_queue_name_valid(""));
	ck_assert(!conf_queue_name_valid("a:b"));
}
END_TEST

/* ---- every error kind, with its line ------------------------------------- */

START_TEST(test_unknown_key)
{
	bad("# c\n[queue.default]\nworker = 3\n",
	    "jobd.conf:3: unknown key "
	    "\"worker\" in [queue.default]; known keys: workers, capacity, "
	    "timeout, max_attempts, priority, retries, retry_delay, "
	    "retry_max_delay, retry_backoff, max_pending, retain_succeeded, "
	    "retain_failed, exec_pids_max, exec_memory_max, exec_cpu_max");
	bad("[queue.x]\n\nWorkers = 3\n",
	    "jobd.conf:3: unknown key \"Workers\" "
	    "in [queue.x]; known keys: workers, capacity, "
	    "timeout, max_attempts, priority, retries, retry_delay, "
	    "retry_max_delay, retry_backoff, max_pending, retain_succeeded, "
	    "retain_failed, exec_pids_max, exec_memory_max, exec_cpu_max");
	bad("[daemon]\nworkers = 3\n",
	    "jobd.conf:2: unknown key \"workers\" "
	    "in [daemon]; known keys: socket, database, sync, max_line, "
	    "shutdown_grace, max_connections, log_level, max_output, "
	    "kill_grace, exec_concurrency, http_per_host, socket_mode, "
	    "socket_group, max_queued_per_user, admin_group, visibility, "
	    "allow_exec, run_as, allow_world_readable_db, cgroup, "
	    "allow_http, client_memory, line_timeout, max_connections_per_user, http_allow, http_loopback, http_deny, http_max_time, busy_timeout, http_listen, store, "
	    "retain_succeeded, retain_failed, prune_interval, sched_window, "
	    "sched_window_jobs, lease");
}
END_TEST

START_TEST(test_unknown_section)
{
	bad("[daemon]\n\n[deamon]\n",
	    "jobd.conf:3: unknown section [deamon]: "
	    "sections are [daemon], [queue.NAME] and [schedule.NAME]");
	bad("[queue]\n",
	    "jobd.conf:1: unknown section [queue]: sections are "
	    "[daemon], [queue.NAME] and [schedule.NAME]");
	bad("[ daemon ]\n",
	    "jobd.conf:1: unknown section [ daemon ]: sections "
	    "are [daemon], [queue.NAME] and [schedule.NAME]");
	bad("[]\n",
	    "jobd.conf:1: unknown section []: sections are [daemon], "
	    "[queue.NAME] and [schedule.NAME]");
}
END_TEST

START_TEST(test_duplicate_key)
{
	bad("[daemon]\nsync = full\n; c\nsync = normal\n",
	    "jobd.conf:4: "
	    "duplicate key \"sync\" in [daemon] (first set at line 2)");
	bad("[queue.a]\nworkers = 1\nworkers = 1\n",
	    "jobd.conf:3: duplicate "
	    "key \"workers\" in [queue.a] (first set at line 2)");
	/* The same key in two sections is no duplicate. */
	conf_free(ok("[queue.a]\nworkers = 1\n[queue.b]\nworkers = 2\n"));
}
END_TEST

START_TEST(test_duplicate_section)
{
	bad("[daemon]\n[queue.x]\n[daemon]\n",
	    "jobd.conf:3: duplicate section "
	    "[daemon] (first at line 1)");
	bad("\n[queue.x]\n[queue.y]\n[queue.x]\n",
	    "jobd.conf:4: duplicate "
	    "section [queue.x] (first at line 2)");
	bad("[queue.default]\n[queue.default]\n",
	    "jobd.conf:2: duplicate "
	    "section [queue.default] (first at line 1)");
}
END_TEST

START_TEST(test_key_outside_section)
{
	bad("# top\n\nworkers = 3\n[queue.default]\n",
	    "jobd.conf:3: key "
	    "\"workers\" is outside any section; put it under [daemon] or "
	    "[queue.NAME]");
}
END_TEST

START_TEST(test_syntax_errors)
{
	bad("[daemon\n", "jobd.conf:1: missing ']' in section header");
	bad("[daemon ;]\n", "jobd.conf:1: missing ']' in section header");
	bad("[daemon] x\n", "jobd.conf:1: unexpected text after ']'");
	bad("[daemon]\nsocket\n",
	    "jobd.conf:2: expected \"key = value\", a "
	    "[section] or a comment");
	bad("[daemon]\nsocket ; = x\n",
	    "jobd.conf:2: expected \"key = "
	    "value\", a [section] or a comment");
	bad("[daemon]\n= x\n", "jobd.conf:2: missing key name before '='");
	bad("[daemon]\n: x\n", "jobd.conf:2: missing key name before ':'");
}
END_TEST

START_TEST(test_indented_lines_refused)
{
	const char *msg =
	    "indented line: start keys and sections at the "
	    "beginning of the line (inih reads an indented line as more of "
	    "the value above)";
	char want[256];

	snprintf(want, sizeof(want), "jobd.conf:3: %s", msg);
	bad("[daemon]\nsocket = /a\n  database = /b\n", want);
	bad("[daemon]\nsocket = /a\n\t[queue.x]\n", want);
	snprintf(want, sizeof(want), "jobd.conf:2: %s", msg);
	bad("[daemon]\n socket = /a\n", want);
}
END_TEST

START_TEST(test_control_bytes_refused)
{
	static const char nul[] = "[daemon]\nsocket = /a\0b\n";

	put_bytes("jobd.conf", nul, sizeof(nul) - 1);
	err_path("jobd.conf", -EINVAL, "jobd.conf:2: NUL byte (binary file?)");
	bad("[daemon]\nsocket = /a\x01\n",
	    "jobd.conf:2: control character "
	    "0x01");
	bad("# \x1b[31m\n", "jobd.conf:1: control character 0x1b");
	bad("[daemon]\r\nsocket = /a\rb\r\n",
	    "jobd.conf:2: control character "
	    "0x0d");
}
END_TEST

START_TEST(test_line_numbers_exact)
{
	char big[5000], text[10100];

	/* CRLF, a BOM, and a comment line longer than CONF_MAX_LINE. */
	bad("\xef\xbb\xbf[daemon]\r\n\r\n; c\r\nmax_line = 1\r\n",
	    "jobd.conf:4: max_line: must be " MAXLINE_OK ", not \"1\"");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(text, sizeof(text), "[daemon]\n# %s\n; %s\n\nsync = no\n", big,
	    big);
	bad(text, "jobd.conf:5: sync: must be full or normal, not \"no\"");
	/* The first error is the one reported. */
	bad("[daemon]\nsync = no\nbogus = 1\n[nope]\n",
	    "jobd.conf:2: sync: must be full or normal, not \"no\"");
	/* A file without a final newline. */
	bad("[daemon]\nsync = no",
	    "jobd.conf:2: sync: must be full or normal, "
	    "not \"no\"");
}
END_TEST

START_TEST(test_line_length_limit)
{
	char text[512], p[300];
	struct conf *c;
	size_t n = CONF_MAX_LINE - strlen("database = ");

	memset(p, 'p', sizeof(p));
	p[0] = '/';
	p[n] = '\0';
	snprintf(text, sizeof(text), "[daemon]\ndatabase = %s\n", p);
	c = ok(text);
	ck_assert_uint_eq(strlen(conf_daemon(c)->database), n);
	conf_free(c);
	p[n] = 'p';
	p[n + 1] = '\0';
	snprintf(text, sizeof(text), "[daemon]\ndatabase = %s\n", p);
	bad(text, "jobd.conf:2: line is longer than 197 bytes");
}
END_TEST

/* ---- files and hostile input --------------------------------------------- */

START_TEST(test_missing_file)
{
	err_path("nope.conf", -ENOENT,
	    "nope.conf: cannot open: No such file "
	    "or directory");
	put("jobd.conf", "");
	err_path("jobd.conf/x", -ENOTDIR,
	    "jobd.conf/x: cannot open: Not a "
	    "directory");
}
END_TEST

/* The load, as a user who may not read the file: a child that drops root
 * when the tests run as root. */
static void
load_unprivileged(const char *path, int rc, const char *want)
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct conf *c = NULL;
		int r;

		if (geteuid() == 0 && setresgid(65534, 65534, 65534) == -1)
			_exit(2);
		if (geteuid() == 0 && setresuid(65534, 65534, 65534) == -1)
			_exit(2);
		r = conf_load(path, &c, err, sizeof(err));
		_exit(r == rc && c == NULL && strcmp(err, want) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "unprivileged load: status %#x", st);
}

START_TEST(test_unreadable_file)
{
	put("jobd.conf", "[daemon]\n");
	ck_assert_int_eq(chmod("jobd.conf", 0), 0);
	load_unprivileged("jobd.conf", -EACCES,
	    "jobd.conf: cannot open: Permission denied");
}
END_TEST

START_TEST(test_file_is_directory)
{
	ck_assert_int_eq(mkdir("d", 0700), 0);
	err_path("d", -EISDIR, "d: cannot read: Is a directory");
}
END_TEST

START_TEST(test_file_size_limit)
{
	size_t n = CONF_MAX_FILE;
	char *buf = malloc(n + 1);

	/* Comment lines of 64 bytes: exactly CONF_MAX_FILE loads. */
	ck_assert_ptr_nonnull(buf);
	memset(buf, '#', n + 1);
	for (size_t i = 63; i < n + 1; i += 64)
		buf[i] = '\n';
	put_bytes("jobd.conf", buf, n);
	conf_free(ok_path("jobd.conf"));
	put_bytes("jobd.conf", buf, n + 1);
	err_path("jobd.conf", -EFBIG, "jobd.conf: larger than 1048576 bytes");
	free(buf);
	err_path("/dev/zero", -EFBIG, "/dev/zero: larger than 1048576 bytes");
}
END_TEST

START_TEST(test_very_long_lines)
{
	size_t n = 100000;
	char *buf = malloc(n + 64);

	ck_assert_ptr_nonnull(buf);
	memset(buf, 'a', n);
	buf[n] = '\0';
	put("jobd.conf", buf);
	err_path("jobd.conf", -EINVAL,
	    "jobd.conf:1: line is longer than 197 "
	    "bytes");
	memcpy(buf, "[daemon]\n\nsocket = /", 20);
	put("jobd.conf", buf);
	err_path("jobd.conf", -EINVAL,
	    "jobd.conf:3: line is longer than 197 "
	    "bytes");
	/* A long section header is refused, not cut short. */
	memset(buf, 'a', n);
	memcpy(buf, "[queue.", 7);
	strcpy(buf + 200, "]\n");
	put("jobd.conf", buf);
	err_path("jobd.conf", -EINVAL,
	    "jobd.conf:1: line is longer than 197 "
	    "bytes");
	free(buf);
}
END_TEST

START_TEST(test_long_queue_names_not_truncated)
{
	/* inih cuts section names to 49 bytes; two names sharing 60 bytes
	 * must still be two queues. */
	char a[65], b[65], text[256];
	struct conf *c;

	memset(a, 'x', 64);
	a[64] = '\0';
	memcpy(b, a, sizeof(b));
	b[63] = 'y';
	snprintf(text, sizeof(text),
	    "[queue.%s]\nworkers = 1\n[queue.%s]\n"
	    "workers = 2\n",
	    a, b);
	c = ok(text);
	ck_assert_uint_eq(conf_queue_count(c), 3);
	ck_assert_int_eq(conf_queue_by_name(c, a)->workers, 1);
	ck_assert_int_eq(conf_queue_by_name(c, b)->workers, 2);
	conf_free(c);
}
END_TEST

START_TEST(test_binary_junk)
{
	unsigned char buf[4096];
	unsigned seed = 12345;
	int errors = 0;

	for (int round = 0; round < 50; round++) {
		struct conf *c = NULL;
		int r;

		for (size_t i = 0; i < sizeof(buf); i++) {
			seed = seed * 1103515245 + 12345;
			buf[i] = (unsigned char)(seed >> 16);
			if (round >= 25 && buf[i] < 0x20) /* text-like junk */
				buf[i] = round % 2 ? '\n' : '=';
		}
		put_bytes("jobd.conf", buf, sizeof(buf));
		r = conf_load("jobd.conf", &c, err, sizeof(err));
		/* All comments, by chance: fine. */
		if (r == 0) {
			conf_free(c);
			continue;
		}
		ck_assert_msg(r == -EINVAL, "round %d: %d %s", round, r, err);
		ck_assert_ptr_null(c);
		errors++;
		ck_assert_msg(strncmp(err, "jobd.conf:", 10) == 0 &&
		        atoi(err + 10) >= 1,
		    "round %d: %s", round, err);
	}
	ck_assert_int_ge(errors, 45);
}
END_TEST

START_TEST(test_ten_thousand_sections)
{
	size_t len = 0, cap = 10000 * 24;
	char *buf = malloc(cap);
	struct conf *c;

	ck_assert_ptr_nonnull(buf);
	for (int i = 0; i < 10000; i++)
		len += snprintf(buf + len, cap - len, "[queue.q%d]\n", i);
	put("jobd.conf", buf);
	/* "default" plus 1023 declared queues fill CONF_MAX_QUEUES. */
	err_path("jobd.conf", -EINVAL,
	    "jobd.conf:1024: too many queues (at "
	    "most 1024)");
	put_bytes("jobd.conf", buf, strstr(buf, "[queue.q1023]") - buf);
	c = ok_path("jobd.conf");
	ck_assert_uint_eq(conf_queue_count(c), 1024);
	ck_assert_ptr_nonnull(conf_queue_by_name(c, "q1022"));
	conf_free(c);

	len = 0;
	for (int i = 0; i < 10000; i++)
		len += snprintf(buf + len, cap - len, "[daemon]\n");
	put("jobd.conf", buf);
	err_path("jobd.conf", -EINVAL,
	    "jobd.conf:2: duplicate section "
	    "[daemon] (first at line 1)");
	free(buf);
}
END_TEST

/* ---- dump, error buffer -------------------------------------------------- */

START_TEST(test_dump_round_trip)
{
	struct conf *c =
	    ok("[daemon]\nsocket = /tmp/j.sock\nsync = normal\n"
	       "max_line = 2048K\nshutdown_grace = 0.125\nmax_output = 1000\n"
	       "kill_grace = 2.5\nsocket_mode = 600\nsocket_group = root\n"
	       "allow_http = off\nlog_level = debug\n"
	       "[queue.b]\ntimeout = 0\nworkers = 3\n[queue.default]\n"
	       "capacity = 1\n");
	char *a = dump(c), *b;

	ck_assert_ptr_nonnull(strstr(a, "\nmax_line = 2M\n"));
	ck_assert_ptr_nonnull(strstr(a, "\nshutdown_grace = 0.125\n"));
	ck_assert_ptr_nonnull(strstr(a, "\nmax_output = 1000\n"));
	ck_assert_ptr_nonnull(strstr(a, "\nsocket_mode = 0600\n"));
	ck_assert_ptr_nonnull(strstr(a, "\nallow_http = no\n"));
	ck_assert_ptr_nonnull(strstr(a, "\nadmin_group =\n"));
	ck_assert_ptr_nonnull(strstr(a,
	    "[queue.default]\nworkers = 16\n"
	    "capacity = 1\ntimeout = 300\nmax_attempts = 3\npriority = 5\n"));
	ck_assert_ptr_nonnull(strstr(a, "\n\n[queue.b]\n"
	    "workers = 3\ncapacity = 1000\ntimeout = 0\n"));
	conf_free(c);
	c = ok(a);
	b = dump(c);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	conf_free(c);
}
END_TEST

START_TEST(test_error_buffer_bounds)
{
	struct conf *c = NULL;
	char small[12];

	put("jobd.conf", "[daemon]\nsync = no\n");
	memset(small, 'z', sizeof(small));
	ck_assert_int_eq(conf_load("jobd.conf", &c, small, sizeof(small)),
	    -EINVAL);
	ck_assert_str_eq(small, "jobd.conf:2");
	ck_assert_int_eq(conf_load("jobd.conf", &c, NULL, 0), -EINVAL);
	ck_assert_int_eq(conf_load("nope", &c, NULL, 0), -ENOENT);
	ck_assert_ptr_null(c);
	conf_free(NULL);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("conf");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults_empty_file);
	tcase_add_test(tc, test_defaults_for_absent_keys);
	tcase_add_test(tc, test_comments_and_blanks_only);
	tcase_add_test(tc, test_key_info_table);
	tcase_add_test(tc, test_sample_config_is_valid_and_default);
	tcase_add_test(tc, test_sample_config_has_every_key);
	tcase_add_test(tc, test_docs_have_every_key);
	tcase_add_test(tc, test_int_values);
	tcase_add_test(tc, test_addr_values);
	tcase_add_test(tc, test_seconds_values);
	tcase_add_test(tc, test_size_values);
	tcase_add_test(tc, test_bool_values);
	tcase_add_test(tc, test_enum_values);
	tcase_add_test(tc, test_store_key);
	tcase_add_test(tc, test_store_key_matches_store);
	tcase_add_test(tc, test_mode_values);
	tcase_add_test(tc, test_group_values);
	tcase_add_test(tc, test_acl_values);
	tcase_add_test(tc, test_inline_comments_and_separators);
	tcase_add_test(tc, test_relative_paths_resolved);
	tcase_add_test(tc, test_empty_path_refused);
	tcase_add_test(tc, test_socket_path_must_fit_sun_path);
	tcase_add_test(tc, test_default_queue_implicit);
	tcase_add_test(tc, test_default_queue_declared_later_is_first);
	tcase_add_test(tc, test_multiple_queues);
	tcase_add_test(tc, test_queue_names);
	tcase_add_test(tc, test_unknown_key);
	tcase_add_test(tc, test_unknown_section);
	tcase_add_test(tc, test_duplicate_key);
	tcase_add_test(tc, test_duplicate_section);
	tcase_add_test(tc, test_key_outside_section);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_indented_lines_refused);
	tcase_add_test(tc, test_control_bytes_refused);
	tcase_add_test(tc, test_line_numbers_exact);
	tcase_add_test(tc, test_line_length_limit);
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_unreadable_file);
	tcase_add_test(tc, test_file_is_directory);
	tcase_add_test(tc, test_file_size_limit);
	tcase_add_test(tc, test_very_long_lines);
	tcase_add_test(tc, test_long_queue_names_not_truncated);
	tcase_add_test(tc, test_binary_junk);
	tcase_add_test(tc, test_ten_thousand_sections);
	tcase_add_test(tc, test_dump_round_trip);
	tcase_add_test(tc, test_error_buffer_bounds);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(conf_suite());
}
