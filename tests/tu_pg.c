/*
 * tu_pg.c — a throwaway PostgreSQL cluster for the tests (see tu_pg.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "testutil.h"
#include "tu_pg.h"

static char pg_dir[64];                 /* /tmp/jobd-pg.XXXXXX: socket, log */
static char pg_bindir[256];
static int pg_watch_fd = -1;            /* closing it stops the cluster */
static pid_t pg_watch_pid;
static uid_t pg_uid;                    /* who runs the server */
static gid_t pg_gid;

/* Where initdb and pg_ctl are: $JOBD_PG_BINDIR, Debian's
 * /usr/lib/postgresql/N/bin (the newest), or the PATH. */
static int
pg_find_bindir(void)
{
	const char *env = getenv("JOBD_PG_BINDIR");
	glob_t g;
	char *slash;

	if (env != NULL && *env != '\0') {
		snprintf(pg_bindir, sizeof(pg_bindir), "%s", env);
		return 0;
	}
	if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0 &&
	    g.gl_pathc > 0) {
		/* glob sorts: 9 < 10 is wrong, but Debian ships one major. */
		snprintf(pg_bindir, sizeof(pg_bindir), "%s",
		    g.gl_pathv[g.gl_pathc - 1]);
		globfree(&g);
		if ((slash = strrchr(pg_bindir, '/')) != NULL)
			*slash = '\0';
		return 0;
	}
	if (access("/usr/local/bin/initdb", X_OK) == 0) {
		snprintf(pg_bindir, sizeof(pg_bindir), "/usr/local/bin");
		return 0;
	}
	if (access("/usr/bin/initdb", X_OK) == 0) {
		snprintf(pg_bindir, sizeof(pg_bindir), "/usr/bin");
		return 0;
	}
	fprintf(stderr, "tu_pg: PostgreSQL's initdb not found (looked in "
	    "$JOBD_PG_BINDIR, /usr/lib/postgresql/*/bin, /usr/local/bin, "
	    "/usr/bin): install Debian's postgresql (.ci/deps)\n");
	return -1;
}

/* PostgreSQL refuses root: pick an unprivileged user to run it as. */
static int
pg_pick_user(void)
{
	struct passwd *pw;

	pg_uid = geteuid();
	pg_gid = getegid();
	if (pg_uid != 0)
		return 0;
	if ((pw = getpwnam("postgres")) == NULL &&
	    (pw = getpwnam("nobody")) == NULL) {
		fprintf(stderr, "tu_pg: running as root and there is neither "
		    "a \"postgres\" nor a \"nobody\" user to run PostgreSQL "
		    "as\n");
		return -1;
	}
	pg_uid = pw->pw_uid;
	pg_gid = pw->pw_gid;
	return 0;
}

/* Run bindir/prog argv as the server's user, output into log; its exit
 * status (or -1). */
static int
pg_run(const char *prog, char *const *args, const char *log)
{
	char path[320];
	char *argv[24];
	int st, fd, n = 0;
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", pg_bindir, prog);
	argv[n++] = path;
	while (*args != NULL && n < 23)
		argv[n++] = *args++;
	argv[n] = NULL;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644)) >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (getuid() == 0 && (setgroups(0, NULL) < 0 ||
		    setgid(pg_gid) < 0 || setuid(pg_uid) < 0))
			_exit(126);
		if (chdir(pg_dir) < 0)
			_exit(126);
		execv(path, argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
pg_show_log(const char *log)
{
	char line[512];
	FILE *f = fopen(log, "r");

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		fprintf(stderr, "tu_pg:   %s", line);
	fclose(f);
}

static void
pg_rm_rf(const char *dir)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", "--", dir, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &st, 0);
}

static void
pg_ctl_stop(void)
{
	char data[96], log[96];
	char *stop[] = { "-D", data, "-m", "immediate", "-w", "stop", NULL };

	snprintf(data, sizeof(data), "%s/data", pg_dir);
	snprintf(log, sizeof(log), "%s/ctl.log", pg_dir);
	(void)pg_run("pg_ctl", stop, log);
	pg_rm_rf(pg_dir);
}

/* The watchdog: when every copy of the pipe's write end is closed (the
 * test process ended, however), stop the cluster and remove it.  Its own
 * session, so that a signal to the test's process group does not take it
 * along before it has cleaned up. */
static int
pg_watchdog(void)
{
	int p[2];
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	if ((pg_watch_pid = fork()) < 0)
		return -1;
	if (pg_watch_pid == 0) {
		close(p[1]);
		setsid();
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		while (read(p[0], &c, 1) != 0 && errno == EINTR)
			;
		pg_ctl_stop();
		_exit(0);
	}
	close(p[0]);
	pg_watch_fd = p[1];
	return 0;
}

int
tu_pg_start(void)
{
	char data[96], log[96], ctl[96], opts[256];
	char *init[] = { "-D", data, "-U", "jobd", "--auth=trust", "-E", "UTF8",
		"--no-locale", "-N", NULL };
	char *start[] = { "-D", data, "-l", log, "-w", "-t", "120", "-o",
		opts, "start", NULL };

	if (pg_dir[0] != '\0')
		return 0;
	if (pg_find_bindir() < 0 || pg_pick_user() < 0)
		return -1;
	snprintf(pg_dir, sizeof(pg_dir), "/tmp/jobd-pg.XXXXXX");
	if (mkdtemp(pg_dir) == NULL || chown(pg_dir, pg_uid, pg_gid) < 0) {
		fprintf(stderr, "tu_pg: %s: %s\n", pg_dir, strerror(errno));
		pg_dir[0] = '\0';
		return -1;
	}
	if (pg_watchdog() < 0) {
		fprintf(stderr, "tu_pg: watchdog: %s\n", strerror(errno));
		pg_rm_rf(pg_dir);
		pg_dir[0] = '\0';
		return -1;
	}
	snprintf(data, sizeof(data), "%s/data", pg_dir);
	snprintf(log, sizeof(log), "%s/initdb.log", pg_dir);
	if (pg_run("initdb", init, log) != 0) {
		fprintf(stderr, "tu_pg: %s/initdb failed (as uid %d):\n",
		    pg_bindir, (int)pg_uid);
		pg_show_log(log);
		tu_pg_stop();
		return -1;
	}
	snprintf(log, sizeof(log), "%s/server.log", pg_dir);
	snprintf(ctl, sizeof(ctl), "%s/ctl.log", pg_dir);
	snprintf(opts, sizeof(opts), "-k %s -c listen_addresses='' "
	    "-c fsync=off -c full_page_writes=off -c max_connections=300 "
	    "-c shared_buffers=64MB", pg_dir);
	if (pg_run("pg_ctl", start, ctl) != 0) {
		fprintf(stderr, "tu_pg: %s/pg_ctl start failed (as uid %d); "
		    "its output and the server's log:\n", pg_bindir,
		    (int)pg_uid);
		pg_show_log(ctl);
		pg_show_log(log);
		tu_pg_stop();
		return -1;
	}
	return 0;
}

void
tu_pg_stop(void)
{
	int st;

	if (pg_watch_fd < 0)
		return;
	close(pg_watch_fd);
	pg_watch_fd = -1;
	while (waitpid(pg_watch_pid, &st, 0) < 0 && errno == EINTR)
		;
	pg_dir[0] = '\0';
}

const char *
tu_pg_sockdir(void)
{
	return pg_dir;
}

static PGconn *
pg_connect(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "tu_pg: connect %s: %s",
	    conninfo, PQerrorMessage(c));
	return c;
}

void
tu_pg_exec(const char *conninfo, const char *sql)
{
	PGconn *c = pg_connect(conninfo);
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK;
	char msg[512];

	snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	ck_assert_msg(ok, "tu_pg: %s: %s", sql, msg);
}

long long
tu_pg_int(const char *conninfo, const char *sql)
{
	PGconn *c = pg_connect(conninfo);
	PGresult *r = PQexec(c, sql);
	long long v = -1;
	char msg[512];
	int ok = PQresultStatus(r) == PGRES_TUPLES_OK;

	snprintf(msg, sizeof(msg), "%s", PQerrorMessage(c));
	if (ok && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	PQfinish(c);
	ck_assert_msg(ok, "tu_pg: %s: %s", sql, msg);
	return v;
}

void
tu_pg_newdb(char *buf, size_t len)
{
	static unsigned n;
	char admin[128], sql[128], name[64];

	ck_assert_msg(pg_dir[0] != '\0', "tu_pg: no cluster (tu_pg_start)");
	snprintf(name, sizeof(name), "t%d_%u", (int)getpid(), n++);
	snprintf(admin, sizeof(admin), "host=%s dbname=postgres user=jobd",
	    pg_dir);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	tu_pg_exec(admin, sql);
	snprintf(buf, len, "host=%s dbname=%s user=jobd", pg_dir, name);
}

bool
tu_pg_wanted(void)
{
	const char *v = getenv("JOBD_TEST_STORE");

	return v != NULL && strcmp(v, "postgresql") == 0;
}

char *
tu_pg_rows(const char *conninfo, const char *sql, char *err, size_t errlen)
{
	PGconn *c = pg_connect(conninfo);
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(c));
	} else if ((f = open_memstream(&out, &len)) != NULL) {
		for (int i = 0; i < PQntuples(r); i++) {
			for (int k = 0; k < PQnfields(r); k++)
				fprintf(f, "%s%s", k > 0 ? "|" : "",
				    PQgetvalue(r, i, k));
			if (i + 1 < PQntuples(r))
				fputc('\n', f);
		}
		fclose(f);
	}
	PQclear(r);
	PQfinish(c);
	return out;
}
