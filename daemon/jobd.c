/*
 * jobd.c — the daemon: load the config, open the store, recover, serve
 * the socket until SIGTERM/SIGINT, then stop gracefully and exit 0.
 *
 * Everything runs on one thread and one event loop (the store's writer
 * thread aside).  main() sets the pieces up on the loop's own stack, then
 * the main task starts the server and waits for a stop; SIGHUP reloads the
 * config from the signal callback (conf_load blocks and wants a big stack,
 * so not from a task).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "co.h"
#include "co_sched.h"
#include "conf.h"
#include "engine.h"
#include "log.h"
#include "ops.h"
#include "server.h"
#include "store.h"

#define DEFAULT_CONF "/etc/jobd/jobd.conf"

struct jobd {
	const char *conf_path;
	struct conf *conf;
	struct event_base *base;
	struct co_rt *rt;
	struct store *st;
	struct eng *eng;
	struct srv *srv;
	struct ops_ctx ops;
	struct event *sig[3];
	bool stop;
	struct co_waitq stopq;          /* the main task, for a stop */
	bool sock_created;
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
	const char *changed[8];
	size_t i, k = 0;

	if (strcmp(o->socket, n->socket) != 0)
		changed[k++] = "socket";
	if (o->socket_mode != n->socket_mode)
		changed[k++] = "socket_mode";
	if (o->socket_group.gid != n->socket_group.gid)
		changed[k++] = "socket_group";
	if (strcmp(o->database, n->database) != 0)
		changed[k++] = "database";
	if (o->sync != n->sync)
		changed[k++] = "sync";
	if (o->exec_concurrency != n->exec_concurrency)
		changed[k++] = "exec_concurrency";
	if (o->http_per_host != n->http_per_host)
		changed[k++] = "http_per_host";
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
		reload(jd);
		return;
	}
	if (jd->stop) {
		log_info("already stopping; give it shutdown_grace seconds");
		return;
	}
	log_info("%s: stopping", strsignal(sig));
	jd->stop = true;
	co_waitq_wake_all(&jd->stopq, 0);
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
	log_info("jobd %s ready: socket %s, database %s, %zu queues",
	    JOBD_VERSION, d->socket, d->database, conf_queue_count(jd->conf));
	while (!jd->stop)
		(void)co_waitq_wait(&jd->stopq, CO_FOREVER, NULL);
	srv_stop_accepting(jd->srv);
	if (jd->sock_created)
		(void)unlink(conf_daemon(jd->conf)->socket);
	eng_shutdown(jd->eng, conf_daemon(jd->conf)->shutdown_grace);
	srv_close_all(jd->srv);
	return 0;
}

/* ---- set-up -------------------------------------------------------------- */

static void
open_store(struct jobd *jd)
{
	const struct conf_daemon *d = conf_daemon(jd->conf);
	struct store_opts so = {
		.path = d->database,
		.sync = d->sync == CONF_SYNC_NORMAL ? STORE_SYNC_NORMAL :
		    STORE_SYNC_FULL,
	};
	int rc;

	if ((rc = store_open(&jd->st, jd->base, &so)) < 0)
		fatalx("cannot open the database: %s", store_errmsg());
	if ((jd->eng = eng_new(jd->rt, jd->st)) == NULL ||
	    eng_configure(jd->eng, jd->conf) < 0)
		fatalx("out of memory");
	if ((rc = eng_recover(jd->eng)) < 0)
		fatalx("recovery failed: %s", rc == -ENOMEM ?
		    "out of memory" : store_errmsg());
}

static void
open_socket(struct jobd *jd)
{
	const struct conf_daemon *d = conf_daemon(jd->conf);
	struct srv_limits lim;
	const char *what = "";
	int fd;

	fd = srv_listen(d->socket, d->socket_mode, d->socket_group.gid, &what);
	if (fd < 0)
		fatalx("socket %s: %s: %s", d->socket, what, strerror(-fd));
	jd->sock_created = true;
	limits_of(jd->conf, &lim);
	jd->ops.eng = jd->eng;
	jd->ops.st = jd->st;
	jd->ops.started = store_now();
	if ((jd->srv = srv_new(jd->rt, fd, &lim, ops_handle, &jd->ops)) ==
	    NULL)
		fatalx("out of memory");
	jd->ops.srv = jd->srv;
}

static void
set_signals(struct jobd *jd)
{
	static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };
	size_t i;

	signal(SIGPIPE, SIG_IGN);       /* EPIPE instead, from every write */
	for (i = 0; i < 3; i++)
		if ((jd->sig[i] = evsignal_new(jd->base, sigs[i], on_signal,
		    jd)) == NULL || evsignal_add(jd->sig[i], NULL) < 0)
			fatalx("cannot watch signal %d", sigs[i]);
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

static void
start(struct jobd *jd)
{
	char err[CONF_ERRLEN];

	if (conf_load(jd->conf_path, &jd->conf, err, sizeof(err)) < 0)
		fatalx("%s", err);
	log_set_level((enum log_level)conf_daemon(jd->conf)->log_level);
	json_object_seed(0);
	co_waitq_init(&jd->stopq);
	if ((jd->base = co_base_new()) == NULL ||
	    (jd->rt = co_rt_new(jd->base, NULL)) == NULL)
		fatalx("cannot set up the event loop");
	set_signals(jd);
	raise_nofile();
	open_store(jd);
	open_socket(jd);
}

static void
finish(struct jobd *jd)
{
	size_t i;

	co_rt_shutdown(jd->rt);
	store_close(jd->st);            /* commits what the stop wrote */
	eng_free(jd->eng);
	srv_free(jd->srv);
	for (i = 0; i < 3; i++)
		if (jd->sig[i] != NULL)
			event_free(jd->sig[i]);
	if (co_rt_free(jd->rt) < 0)
		log_warnx("tasks left at exit");
	event_base_free(jd->base);
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
