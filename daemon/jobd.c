/*
 * jobd.c — the daemon: load the config, open the store, recover, serve
 * the socket until SIGTERM/SIGINT, then stop gracefully and exit 0.
 *
 * Everything runs on one thread and one event loop (the store's writer
 * thread aside).  main() sets the pieces up on the loop's own stack, then
 * the main task starts the server and waits for a stop; SIGHUP reloads the
 * config from the signal callback (conf_load blocks and wants a big stack,
 * so not from a task).
 *
 * Under systemd (svc.h, docs/SYSTEMD.md) jobd takes the listening socket
 * jobd.socket passes instead of making one, says READY=1 once it serves,
 * RELOADING=1/READY=1 around a SIGHUP and STOPPING=1 at a stop, keeps
 * STATUS= current and pings the watchdog from the loop.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "co.h"
#include "co_pool.h"
#include "co_sched.h"
#include "conf.h"
#include "engine.h"
#include "exec_iso.h"
#include "log.h"
#include "obs.h"
#include "ops.h"
#include "schedules.h"
#include "server.h"
#include "store.h"
#include "svc.h"

#define DEFAULT_CONF "/etc/jobd/jobd.conf"

struct jobd {
	const char *conf_path;
	struct conf *conf;
	struct event_base *base;
	struct co_rt *rt;
	struct store *st;
	struct eng *eng;
	struct exec_iso *iso;           /* exec jobs' containment */
	struct sch *sch;                /* [schedule.NAME] */
	struct srv *srv;
	struct obs *obs;                /* metrics, watch, HTTP listener */
	struct ops_ctx ops;
	struct event *sig[3];
	struct svc *svc;
	int passed_fd;                  /* from the service manager, or -1 */
	bool stop;
	struct co_waitq stopq;          /* the main task, for a stop */
	bool sock_created;              /* jobd made it: jobd removes it */
	char sock_path[108];            /* where it listens, for the logs */
};

static __attribute__((noreturn)) void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: jobd [-c FILE]          run the daemon (default %s)\n"
	    "       jobd --check-config [-v] -c FILE\n"
	    "       jobd --version\n", DEFAULT_CONF);
	exit(status);
}

/* --check-config: 0 when the file is good. */
static int
check_config(const char *path, bool verbose)
{
	char err[CONF_ERRLEN];
	struct conf *c;

	if (conf_load(path, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (verbose)
		conf_dump(stdout, c);
	else
		printf("%s: ok\n", path);
	conf_free(c);
	return 0;
}

/* ---- reload ------------------------------------------------------------ */

/* Keys read only at start: say which changed, since they wait for it. */
static void
reload_warn(const struct conf_daemon *o, const struct conf_daemon *n)
{
	const char *changed[13];
	size_t i, k = 0;

	if (strcmp(o->socket, n->socket) != 0)
		changed[k++] = "socket";
	if (o->socket_mode != n->socket_mode)
		changed[k++] = "socket_mode";
	if (o->socket_group.gid != n->socket_group.gid)
		changed[k++] = "socket_group";
	if (strcmp(o->database, n->database) != 0)
		changed[k++] = "database";
	if (o->store != n->store)
		changed[k++] = "store";
	if (o->sync != n->sync)
		changed[k++] = "sync";
	if (o->busy_timeout != n->busy_timeout)
		changed[k++] = "busy_timeout";
	if (o->exec_concurrency != n->exec_concurrency)
		changed[k++] = "exec_concurrency";
	if (o->http_per_host != n->http_per_host)
		changed[k++] = "http_per_host";
	if (o->cgroup != n->cgroup)
		changed[k++] = "cgroup";
	if (strcmp(o->http_listen, n->http_listen) != 0)
		changed[k++] = "http_listen";
	for (i = 0; i < k; i++)
		log_warnx("reload: %s changed; it takes effect at the next "
		    "start", changed[i]);
}

static void
limits_of(const struct conf *c, struct srv_limits *lim)
{
	lim->max_line = conf_daemon(c)->max_line;
	lim->max_connections = conf_daemon(c)->max_connections;
	lim->client_memory = conf_daemon(c)->client_memory;
	lim->line_timeout = conf_daemon(c)->line_timeout;
	lim->max_per_user = conf_daemon(c)->max_connections_per_user;
	lim->admin_gid = conf_daemon(c)->admin_group.gid;
}

static void
reload(struct jobd *jd)
{
	char err[CONF_ERRLEN];
	struct srv_limits lim;
	struct conf *c;

	if (conf_load(jd->conf_path, &c, err, sizeof(err)) < 0) {
		log_warnx("reload refused, the running configuration is kept: "
		    "%s", err);
		return;
	}
	reload_warn(conf_daemon(jd->conf), conf_daemon(c));
	if (eng_configure(jd->eng, c) < 0)
		log_warnx("reload: out of memory; some queues keep their "
		    "old settings");
	if (sch_configure(jd->sch, c) < 0)
		log_warnx("reload: out of memory; the schedules are kept");
	limits_of(c, &lim);
	srv_set_limits(jd->srv, &lim);
	log_set_level((enum log_level)conf_daemon(c)->log_level);
	conf_free(jd->conf);
	jd->conf = c;
	log_info("reloaded %s: %zu queues", jd->conf_path,
	    conf_queue_count(c));
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct jobd *jd = arg;

	(void)what;
	if (sig == SIGHUP) {
		svc_reloading(jd->svc);
		reload(jd);
		svc_ready(jd->svc);
		return;
	}
	if (jd->stop) {
		log_info("already stopping; give it shutdown_grace seconds");
		return;
	}
	log_info("%s: stopping", strsignal(sig));
	jd->stop = true;
	svc_stopping(jd->svc);
	co_waitq_wake_all(&jd->stopq, 0);
}

/* ---- status --------------------------------------------------------------- */

/* Append " NAME R+Q/W" (running + queued / workers) at buf[*n], or " ..."
 * and -ENOSPC when it would not fit. */
static int
status_queue(char *buf, size_t len, size_t *n,
    const struct eng_queue_info *qi)
{
	char one[96];
	int k;

	k = snprintf(one, sizeof(one), " %s %zu+%zu/%d", qi->name,
	    qi->running, qi->queued, qi->workers);
	if (k < 0 || (size_t)k >= sizeof(one) || *n + (size_t)k + 5 >= len) {
		if (*n + 4 < len)
			*n += (size_t)snprintf(buf + *n, len - *n, " ...");
		return -ENOSPC;
	}
	memcpy(buf + *n, one, (size_t)k + 1);
	*n += (size_t)k;
	return 0;
}

/* STATUS= for systemctl status: totals, then each queue while it fits. */
static void
status_of(void *arg, char *buf, size_t len)
{
	struct jobd *jd = arg;
	struct eng_queue_info qi;
	size_t i, queued = 0, running = 0, n;

	if (jd->eng == NULL || jd->srv == NULL) {
		snprintf(buf, len, "starting");
		return;
	}
	for (i = 0; eng_queue_info(jd->eng, i, &qi) == 0; i++) {
		queued += qi.queued;
		running += qi.running;
	}
	n = (size_t)snprintf(buf, len, "%s%zu running, %zu queued, %zu "
	    "connected;", jd->stop ? "stopping: " : "", running, queued,
	    srv_connections(jd->srv));
	for (i = 0; n < len && eng_queue_info(jd->eng, i, &qi) == 0; i++)
		if (status_queue(buf, len, &n, &qi) < 0)
			break;
}

/* ---- the main task --------------------------------------------------------- */

static int
main_task(void *arg)
{
	struct jobd *jd = arg;
	const struct conf_daemon *d = conf_daemon(jd->conf);
	int rc;

	if ((rc = srv_start(jd->srv)) < 0) {
		log_warnx("cannot start the server: %s", strerror(-rc));
		return rc;
	}
	log_info("jobd %s ready: socket %s%s, database %s, %zu queues",
	    JOBD_VERSION, jd->sock_path, jd->sock_created ? "" :
	    " (from the service manager)", d->database,
	    conf_queue_count(jd->conf));
	svc_ready(jd->svc);
	while (!jd->stop)
		(void)co_waitq_wait(&jd->stopq, CO_FOREVER, NULL);
	srv_stop_accepting(jd->srv);
	obs_close(jd->obs);             /* the HTTP clients go now */
	sch_stop(jd->sch);
	if (jd->sock_created)
		(void)unlink(conf_daemon(jd->conf)->socket);
	eng_shutdown(jd->eng, conf_daemon(jd->conf)->shutdown_grace);
	srv_close_all(jd->srv);
	return 0;
}

/* ---- set-up -------------------------------------------------------------- */

/* What to do about a database jobd cannot use, after its error. */
static const char *
store_hint(int rc)
{
	if (rc == -EBADMSG || rc == -EUCLEAN)
		return "; jobd leaves the file as it is: restore it from a "
		    "backup, salvage it (sqlite3 FILE .recover), or move it "
		    "away to start with an empty database";
	return "";
}

/* Refuse a database (or its -wal, -shm) that others may read: every
 * job's args and output are in it.  allow_world_readable_db overrides. */
static void
check_db_mode(const struct conf_daemon *d)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char path[PATH_MAX + 8];
	struct stat sb;
	size_t i;

	if (d->store != CONF_STORE_SQLITE || d->allow_world_readable_db)
		return;
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s%s", d->database, sfx[i]);
		if (stat(path, &sb) == 0 && (sb.st_mode & (S_IROTH | S_IWOTH)))
			fatalx("%s: mode %04o lets other users read every "
			    "job's args and output: chmod o-rw it, or set "
			    "allow_world_readable_db = yes", path,
			    (unsigned)(sb.st_mode & 07777));
	}
}

/* run_as at start: say so when root would run others' jobs as root. */
static void
check_run_as(const struct conf_daemon *d)
{
	if (geteuid() == 0 && d->allow_exec &&
	    d->run_as == CONF_RUN_AS_DAEMON)
		log_warnx("run_as = daemon and jobd is root: every client of "
		    "the socket runs exec jobs as root");
}

/* Make the missing directories above the file path: 0700, or 0750 and
 * group socket_group when that is set (its members reach the socket;
 * the database itself stays 0600).  Existing ones are left alone. */
static void
make_dirs(const char *path, const struct conf_daemon *d)
{
	bool grp = d->socket_group.gid != (gid_t)-1, end;
	char dir[PATH_MAX], *s;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir) ||
	    (s = strrchr(dir, '/')) == NULL || s == dir)
		return;
	*s = '\0';
	for (s = dir + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		end = *s == '\0';
		*s = '\0';
		if (mkdir(dir, 0700) == 0) {
			if (chmod(dir, grp ? 0750 : 0700) < 0 || (grp &&
			    chown(dir, (uid_t)-1, d->socket_group.gid) < 0))
				fatal("%s", dir);
			log_info("made directory %s (%s)", dir, grp ? "0750, "
			    "group socket_group" : "0700");
		} else if (errno != EEXIST) {
			fatal("cannot make directory %s", dir);
		}
		if (end)
			break;
		*s = '/';
	}
}

static void
open_store(struct jobd *jd)
{
	const struct conf_daemon *d = conf_daemon(jd->conf);
	struct store_opts so = {
		.backend = d->store == CONF_STORE_SQLITE ? "sqlite" :
		    "postgresql",
		.path = d->database,
		.sync = d->sync == CONF_SYNC_NORMAL ? STORE_SYNC_NORMAL :
		    STORE_SYNC_FULL,
		/* 0 would mean the store's default: 1 ms is "do not wait" */
		.busy_timeout_ms = d->busy_timeout * 1000 >= 1 ?
		    (int)(d->busy_timeout * 1000) : 1,
		.lease = d->lease,
	};
	int rc;

	make_dirs(d->database, d);
	check_db_mode(d);
	check_run_as(d);
	if ((rc = store_open(&jd->st, jd->base, &so)) < 0)
		fatalx("cannot open the database: %s%s", store_errmsg(),
		    store_hint(rc));
	if ((jd->eng = eng_new(jd->rt, jd->st)) == NULL ||
	    (jd->obs = obs_new()) == NULL)
		fatalx("out of memory");
	eng_isolate(jd->eng, jd->iso);
	/* The counters only feed /metrics: without the listener they are
	 * not kept at all.  Watchers need no listener. */
	eng_observe(jd->eng, *conf_daemon(jd->conf)->http_listen != '\0' ?
	    obs_met(jd->obs) : NULL, obs_hub(jd->obs));
	if (eng_configure(jd->eng, jd->conf) < 0)
		fatalx("out of memory");
	if ((rc = eng_recover(jd->eng)) < 0)
		fatalx("recovery failed: %s%s", rc == -ENOMEM ?
		    "out of memory" : store_errmsg(), store_hint(rc));
	if ((jd->sch = sch_new(jd->rt, jd->base, jd->eng, jd->st)) == NULL ||
	    sch_configure(jd->sch, jd->conf) < 0)
		fatalx("schedules: out of memory");
	jd->ops.sch = jd->sch;
}

/* The listening socket: the one systemd passed (jobd.socket; its mode
 * and group are the socket unit's), else one jobd makes at `socket`. */
static int
listen_fd(struct jobd *jd)
{
	const struct conf_daemon *d = conf_daemon(jd->conf);
	const char *what = "";
	int fd;

	if (jd->passed_fd >= 0) {
		fd = srv_adopt(jd->passed_fd, jd->sock_path,
		    sizeof(jd->sock_path), &what);
		if (fd < 0)
			fatalx("the socket passed by the service manager: %s",
			    what);
		if (strcmp(jd->sock_path, d->socket) != 0)
			log_warnx("listening on %s (passed by the service "
			    "manager), not on socket = %s", jd->sock_path,
			    d->socket);
		return fd;
	}
	make_dirs(d->socket, d);
	fd = srv_listen(d->socket, d->socket_mode, d->socket_group.gid, &what);
	if (fd < 0)
		fatalx("socket %s: %s: %s", d->socket, what, strerror(-fd));
	jd->sock_created = true;
	snprintf(jd->sock_path, sizeof(jd->sock_path), "%s", d->socket);
	return fd;
}

static void
open_socket(struct jobd *jd)
{
	struct srv_limits lim;
	int fd = listen_fd(jd);

	limits_of(jd->conf, &lim);
	jd->ops.eng = jd->eng;
	jd->ops.st = jd->st;
	jd->ops.started = store_now();
	/* Lists are read off the loop (ops.c); two threads, so that one
	 * slow list does not queue the next behind it. */
	if ((jd->ops.reads = co_pool_new(jd->rt, 2)) == NULL)
		fatalx("cannot start the read threads: %s", strerror(errno));
	if ((jd->srv = srv_new(jd->rt, fd, &lim, ops_handle, &jd->ops)) ==
	    NULL)
		fatalx("out of memory");
	jd->ops.srv = jd->srv;
	jd->ops.hub = obs_hub(jd->obs);
}

/* The HTTP listener, when http_listen is set. */
static void
open_http(struct jobd *jd)
{
	const char *addr = conf_daemon(jd->conf)->http_listen, *what = "";
	int rc;

	if (*addr == '\0')
		return;
	if ((rc = obs_listen(jd->obs, jd->base, addr, &jd->ops, &what)) < 0)
		fatalx("http_listen %s: %s: %s", addr, what, strerror(-rc));
	/* The port it got (0 asks for any), for the URL a user opens. */
	log_info("http: listening on %s: dashboard http://%.*s:%d/, metrics "
	    "at /metrics", addr, (int)(strrchr(addr, ':') - addr), addr,
	    obs_port(jd->obs));
}

/* The signals jobd acts on (jd->sig[i] watches stop_sigs[i]). */
static const int stop_sigs[3] = { SIGTERM, SIGINT, SIGHUP };

static void
set_signals(struct jobd *jd)
{
	size_t i;

	signal(SIGPIPE, SIG_IGN);       /* EPIPE instead, from every write */
	/* EFBIG instead of a core dump when a file size limit (ulimit -f)
	 * stops a write: the store answers storage_error and goes on. */
	signal(SIGXFSZ, SIG_IGN);
	for (i = 0; i < 3; i++)
		if ((jd->sig[i] = evsignal_new(jd->base, stop_sigs[i],
		    on_signal, jd)) == NULL || evsignal_add(jd->sig[i], NULL) < 0)
			fatalx("cannot watch signal %d", stop_sigs[i]);
}

/* Each client is an fd, and each exec job three: take every fd the hard
 * limit allows (the soft one is often 1024), so max_connections is what
 * limits clients.  Children get only their three standard fds anyway. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("setrlimit(RLIMIT_NOFILE)");
}

/* Containment of exec jobs: first, while jobd has a single thread (the
 * guardian is a fork). */
static void
isolate(struct jobd *jd)
{
	char err[512];
	int rc;

	if ((rc = exec_iso_open(conf_daemon(jd->conf)->cgroup, &jd->iso, err,
	    sizeof(err))) < 0)
		fatalx("%s", err);
	log_info("exec jobs: %s", exec_iso_mode(jd->iso));
}

static void
start(struct jobd *jd)
{
	char err[CONF_ERRLEN];
	const char *what = "";

	if (conf_load(jd->conf_path, &jd->conf, err, sizeof(err)) < 0)
		fatalx("%s", err);
	log_set_level((enum log_level)conf_daemon(jd->conf)->log_level);
	isolate(jd);
	json_object_seed(0);
	co_waitq_init(&jd->stopq);
	/* Blocks of 512 KiB and more (a list's answer line, its rows' array)
	 * are mapped apart and unmapped when freed: glibc would otherwise
	 * raise this threshold after the first big free and keep later big
	 * answers in its heap (docs/PERF.md, "No request blocks the loop"). */
	(void)mallopt(M_MMAP_THRESHOLD, 512 * 1024);
	if ((jd->base = co_base_new()) == NULL ||
	    (jd->rt = co_rt_new(jd->base, NULL)) == NULL)
		fatalx("cannot set up the event loop");
	/* The service manager's variables are read (and unset) before the
	 * store's threads start: unsetenv races with getenv elsewhere. */
	if ((jd->svc = svc_new(jd->base, status_of, jd)) == NULL)
		fatalx("out of memory");
	if ((jd->passed_fd = svc_listen_fd(&what)) < 0 &&
	    jd->passed_fd != -ENOENT)
		fatalx("socket activation: %s: %s", what,
		    strerror(-jd->passed_fd));
	set_signals(jd);
	raise_nofile();
	open_store(jd);
	open_socket(jd);
	open_http(jd);
}

static void
finish(struct jobd *jd)
{
	size_t i;

	co_rt_shutdown(jd->rt);
	co_pool_free(jd->ops.reads);    /* no task is in it any more */
	store_close(jd->st);            /* commits what the stop wrote */
	sch_free(jd->sch);              /* its submits' answers are in */
	eng_free(jd->eng);
	srv_free(jd->srv);
	obs_free(jd->obs);
	svc_free(jd->svc);
	/* Past the loop, a repeated stop signal (systemd's, a test's) is
	 * ignored as it was in it: with the default action it would kill
	 * jobd in the middle of its last frees (exit 143, seen under TSan). */
	for (i = 0; i < 3; i++) {
		if (jd->sig[i] != NULL)
			event_free(jd->sig[i]);
		signal(stop_sigs[i], SIG_IGN);
	}
	if (co_rt_free(jd->rt) < 0)
		log_warnx("tasks left at exit");
	event_base_free(jd->base);
	exec_iso_free(jd->iso);         /* no job left: the guardian goes */
	conf_free(jd->conf);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct jobd jd = { .conf_path = DEFAULT_CONF };
	bool check = false, verbose = false;
	int ch, result = 0;

	while ((ch = getopt_long(argc, argv, "c:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': jd.conf_path = optarg; break;
		case 'C': check = true; break;
		case 'v': verbose = true; break;
		case 'V': printf("jobd %s\n", JOBD_VERSION); return 0;
		case 'h': usage(0);
		default: usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (check)
		return check_config(jd.conf_path, verbose);
	log_init("jobd", LOG_LVL_INFO);
	start(&jd);
	if (co_rt_run(jd.rt, main_task, &jd, &result) < 0 || result < 0)
		log_warnx("the main task failed");
	finish(&jd);
	log_info("stopped");
	return result < 0 ? 1 : 0;
}
