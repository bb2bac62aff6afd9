/*
 * test_jobd_multi_postgres.c — several jobd daemons on one PostgreSQL
 * database (a throwaway cluster, tu_pg.h; never skipped): jobs of every
 * daemon seen, waited for and cancelled from any other; a daemon killed
 * under load has its jobs taken over by the others, none lost, none run
 * twice at once (each start is in job_attempts with its node and epoch,
 * checked by SQL); a daemon stopped (SIGSTOP) past its lease cannot
 * record the end of a job another daemon took; pause holds for all.
 *
 * Daemon 0 is the harness's (tu_jobd.h: its directory, config and
 * database); daemons 1 and 2 run from copies of its config with sockets
 * of their own.  Every lease here is 2 s (renewed every 0.67 s).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tu_jobd.h"

#define NDAEMON 3
#define LEASE   2

#define MULTI_CONF                                                          \
	TJ_DAEMON "lease = 2\n"                                              \
	"[queue.default]\nworkers = 4\ncapacity = 10000\ntimeout = 0\n"

static pid_t mpid[NDAEMON];             /* [0] is the harness's */
static struct tj_conn *mc[NDAEMON];

static int
m_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Daemon i (>= 1): daemon 0's config with its own socket. */
static void
m_spawn(int i)
{
	char name[32], sock[32], *conf, *p, *q, bin[512];
	double end = tj_now() + 2 * TJ_TIMEOUT;
	const char *path;
	FILE *f;
	pid_t pid;
	int fd, err;

	snprintf(sock, sizeof(sock), "jobd%d.sock", i);
	conf = tj_slurp(tj_path("jobd.conf"), NULL);
	ck_assert_ptr_nonnull(conf);
	ck_assert_ptr_nonnull(p = strstr(conf, "socket = "));
	ck_assert_ptr_nonnull(q = strchr(p, '\n'));
	snprintf(name, sizeof(name), "jobd%d.conf", i);
	ck_assert_ptr_nonnull(f = fopen(tj_path(name), "w"));
	fprintf(f, "%.*ssocket = %s%s", (int)(p - conf), conf, tj_path(sock),
	    q);
	fclose(f);
	free(conf);
	snprintf(bin, sizeof(bin), "%s", tj_bin("jobd"));
	snprintf(name, sizeof(name), "jobd%d.err", i);
	err = open(tj_path(name), O_WRONLY | O_CREAT | O_APPEND, 0644);
	ck_assert_int_ge(err, 0);
	snprintf(name, sizeof(name), "jobd%d.conf", i);
	path = tj_path(name);
	if ((pid = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(err, 1);
		dup2(err, 2);
		execl(bin, "jobd", "-c", path, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(pid, 0);
	close(err);
	mpid[i] = pid;
	while ((fd = m_connect(tj_path(sock))) < 0) {
		ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0,
		    "jobd %d exited at start", i);
		ck_assert_msg(tj_now() < end, "jobd %d not ready", i);
		usleep(20000);
	}
	mc[i] = tj_adopt(fd);
	tj_assert_ok(tj_req(mc[i], "{'op':'ping'}"));
}

static void
m_start(void)
{
	tj_start(MULTI_CONF);
	mpid[0] = tj_pid();
	mc[0] = tj_connect();
	for (int i = 1; i < NDAEMON; i++)
		m_spawn(i);
}

/* Stop daemon i >= 1 (SIGTERM) and assert a clean exit. */
static void
m_stop(int i)
{
	double end = tj_now() + 3 * TJ_TIMEOUT;
	int st = 0;

	if (mpid[i] <= 0)
		return;
	tj_close(mc[i]);
	mc[i] = NULL;
	kill(mpid[i], SIGTERM);
	while (waitpid(mpid[i], &st, WNOHANG) == 0) {
		ck_assert_msg(tj_now() < end, "jobd %d does not stop", i);
		usleep(20000);
	}
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "jobd %d: exit status %#x", i, st);
	mpid[i] = 0;
}

static void
m_stop_all(void)
{
	for (int i = 1; i < NDAEMON; i++)
		m_stop(i);
}

/* The nodes.id of daemon i. */
static long long
m_node(int i)
{
	return tj_sql_int("SELECT id FROM nodes WHERE pid = %d", (int)mpid[i]);
}

/* No two starts of one job overlap, and every start names its node and
 * epoch: what "none run twice at once" leaves in the database. */
static void
m_assert_attempts_sane(void)
{
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts a "
	    "JOIN job_attempts b ON a.job_id = b.job_id AND a.attempt < "
	    "b.attempt WHERE b.started_at < a.finished_at"), 0);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts "
	    "WHERE node IS NULL OR epoch IS NULL"), 0);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts a "
	    "JOIN jobs j ON j.id = a.job_id WHERE a.attempt > j.attempts"), 0);
}

/* ---- one database, three daemons ----------------------------------------- */

START_TEST(test_spread_and_get_anywhere)
{
	json_int_t id[NDAEMON][5];
	json_t *job;

	m_start();
	for (int i = 0; i < NDAEMON; i++)
		for (int k = 0; k < 5; k++)
			id[i][k] = tj_submit(mc[i], "'kind':'sleep',"
			    "'args':{'seconds':0.05}");
	/* Each job is waited for at the next daemon, not its own. */
	for (int i = 0; i < NDAEMON; i++)
		for (int k = 0; k < 5; k++) {
			job = tj_wait(mc[(i + 1) % NDAEMON], id[i][k],
			    TJ_TIMEOUT);
			ck_assert_str_eq(tj_str(job, "state"), "succeeded");
			ck_assert_int_eq(tj_int(job, "node"), m_node(i));
		}
	ck_assert_int_eq(tj_sql_int("SELECT count(DISTINCT node) FROM jobs"),
	    NDAEMON);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM nodes"), NDAEMON);
	/* list at any daemon shows every daemon's jobs */
	job = tj_req(mc[2], "{'op':'list','limit':100}");
	ck_assert_int_eq(json_array_size(tj_at(job, "jobs")), NDAEMON * 5);
	m_assert_attempts_sane();
	m_stop_all();
}
END_TEST

/* All submitted at one daemon, with more than its workers can start:
 * the rest is pooled and the other daemons claim it. */
START_TEST(test_pool_claimed_elsewhere)
{
	enum { N = 30 };
	json_int_t id[N];
	json_t *job;

	m_start();
	/* Daemon 0 knows the others from its first rounds (every 0.67 s). */
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM nodes"), NDAEMON);
	usleep((useconds_t)(1.5e6 * tu_slow()));
	for (int k = 0; k < N; k++)
		id[k] = tj_submit(mc[0], "'kind':'sleep','args':{'seconds':0.3}");
	for (int k = 0; k < N; k++) {
		job = tj_wait(mc[k % NDAEMON], id[k], 4 * TJ_TIMEOUT);
		ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	}
	/* 4 workers a daemon: daemon 0 cannot have run them all at once */
	ck_assert_int_ge(tj_sql_int("SELECT count(DISTINCT node) FROM jobs"),
	    2);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE "
	    "node IS NULL"), 0);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts"), N);
	m_assert_attempts_sane();
	m_stop_all();
}
END_TEST

START_TEST(test_wait_and_cancel_across)
{
	json_int_t slow, longer;
	double t0;
	json_t *a;

	m_start();
	/* wait at daemon 1 for a job daemon 0 runs: it answers the end */
	slow = tj_submit(mc[0], "'kind':'sleep','args':{'seconds':0.5}");
	a = tj_wait(mc[1], slow, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(a, "state"), "succeeded");
	/* a wait that runs out says so */
	longer = tj_submit(mc[0], "'kind':'sleep','args':{'seconds':60}");
	tj_wait_state(mc[0], longer, "running", TJ_TIMEOUT);
	tj_assert_err(tj_req(mc[2], "{'op':'wait','id':%lld,'timeout':0.2}",
	    (long long)longer), "timeout");
	/* cancel at daemon 2 stops it on daemon 0, well within the minute */
	t0 = tj_now();
	a = tj_req(mc[2], "{'op':'cancel','id':%lld,'reason':'from afar'}",
	    (long long)longer);
	tj_assert_ok(a);
	ck_assert_str_eq(tj_str(a, "state"), "cancelled");
	ck_assert_msg(tj_now() - t0 < 30, "the cancel took %.1f s",
	    tj_now() - t0);
	a = tj_job(mc[0], longer);
	ck_assert_str_eq(tj_str(a, "state"), "cancelled");
	ck_assert_str_eq(tj_str(a, "cancel_reason"), "from afar");
	ck_assert_int_eq(tj_int(a, "node"), m_node(0));
	/* a job that has ended is not cancellable, from anywhere */
	tj_assert_err(tj_req(mc[1], "{'op':'cancel','id':%lld}",
	    (long long)slow), "not_cancellable");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_cancels"), 0);
	m_stop_all();
}
END_TEST

/* Pause and resume at one daemon hold for all. */
START_TEST(test_pause_global)
{
	json_int_t id;
	json_t *job;
	double end = tj_now() + 2 * TJ_TIMEOUT;

	m_start();
	tj_assert_ok(tj_req(mc[1], "{'op':'pause','queue':'default'}"));
	while (strstr(tj_log(), "paused (at another daemon)") == NULL) {
		ck_assert_msg(tj_now() < end, "daemon 0 did not pause");
		usleep(20000);
	}
	id = tj_submit(mc[0], "'kind':'sleep','args':{'seconds':0.01}");
	usleep(500000);
	ck_assert_str_eq(tj_str(tj_job(mc[0], id), "state"), "queued");
	tj_assert_ok(tj_req(mc[2], "{'op':'resume','queue':'default'}"));
	job = tj_wait(mc[1], id, 2 * TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_int_eq(tj_int(job, "node"), m_node(0));
	m_stop_all();
}
END_TEST

/* SIGKILL of daemon 0 with jobs running and queued there: the others
 * take them over (the crash rules: sleep runs again), none lost. */
START_TEST(test_sigkill_taken_over)
{
	enum { N = 40 };
	json_int_t id[N];
	long long dead;
	json_t *job;

	m_start();
	dead = m_node(0);
	for (int k = 0; k < N; k++)
		id[k] = tj_submit(mc[0], "'kind':'sleep','args':{'seconds':0.3}");
	tj_wait_state(mc[0], id[0], "running", TJ_TIMEOUT);
	tj_kill();
	for (int k = 0; k < N; k++) {
		job = tj_wait(mc[1 + k % 2], id[k], 4 * TJ_TIMEOUT);
		ck_assert_msg(strcmp(tj_str(job, "state"), "succeeded") == 0,
		    "job %lld: %s", (long long)id[k], tj_dump(job));
	}
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE "
	    "state <> 'succeeded'"), 0);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs"), N);
	/* some were interrupted on the dead daemon and run again elsewhere */
	ck_assert_int_ge(tj_sql_int("SELECT count(*) FROM job_attempts "
	    "WHERE state = 'interrupted' AND node = %lld", dead), 1);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts "
	    "WHERE state = 'interrupted' AND node <> %lld", dead), 0);
	ck_assert_int_ge(tj_sql_int("SELECT count(*) FROM jobs WHERE "
	    "node <> %lld", dead), 1);
	m_assert_attempts_sane();
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM nodes WHERE "
	    "id = %lld", dead), 0);
	m_stop_all();
}
END_TEST

/* Daemon 0, continued after its lease lapsed, has logged it. */
static void
m_wait_lapsed(void)
{
	double end = tj_now() + 2 * TJ_TIMEOUT;

	while (strstr(tj_log(), "lease lapsed") == NULL) {
		ck_assert_msg(tj_now() < end, "no lease lapsed in the log");
		usleep(50000);
	}
}

/* SIGSTOP of daemon 0 past its lease while it runs a job: daemon 1 or 2
 * takes it and runs it again; daemon 0, continued, cannot record its
 * own end of it, and goes on with a new epoch. */
START_TEST(test_sigstop_fenced)
{
	long long stopped, taker;
	json_int_t id, after;
	json_t *job;
	double end;

	m_start();
	stopped = m_node(0);
	id = tj_submit(mc[0], "'kind':'sleep','args':{'seconds':2}");
	tj_wait_state(mc[0], id, "running", TJ_TIMEOUT);
	tj_signal(SIGSTOP);
	end = tj_now() + 4 * TJ_TIMEOUT;
	while (tj_sql_int("SELECT count(*) FROM jobs WHERE id = %lld AND "
	    "node <> %lld", (long long)id, stopped) == 0) {
		ck_assert_msg(tj_now() < end, "the job was not taken over");
		usleep(50000);
	}
	taker = tj_sql_int("SELECT node FROM jobs WHERE id = %lld",
	    (long long)id);
	/* The stopped daemon's own sleep is over (the lease, 2 s, is as
	 * long): continued now, it would end the job at once, while the
	 * taker's run has 2 s to go. */
	tj_signal(SIGCONT);
	job = tj_wait(mc[1], id, 4 * TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_int_eq(tj_int(job, "node"), taker);
	/* The end recorded is the taker's: a whole run after its start. */
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs j JOIN "
	    "job_attempts a ON a.job_id = j.id AND a.attempt = 2 WHERE "
	    "j.id = %lld AND j.finished_at >= a.started_at + 1.99 AND "
	    "a.finished_at = j.finished_at", (long long)id), 1);
	/* Two starts: the stopped daemon's, interrupted, and the taker's.
	 * The stopped one's late end is not among them. */
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts WHERE "
	    "job_id = %lld", (long long)id), 2);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts WHERE "
	    "job_id = %lld AND attempt = 1 AND node = %lld AND state = "
	    "'interrupted'", (long long)id, stopped), 1);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts WHERE "
	    "job_id = %lld AND attempt = 2 AND node = %lld AND state = "
	    "'succeeded'", (long long)id, taker), 1);
	m_assert_attempts_sane();
	/* Daemon 0 knows, and works on under its next epoch. */
	m_wait_lapsed();
	ck_assert_int_ge(tj_sql_int("SELECT epoch FROM nodes WHERE id = %lld",
	    stopped), 2);
	after = tj_submit(mc[0], "'kind':'sleep','args':{'seconds':0.05}");
	job = tj_wait(mc[0], after, TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_int_eq(tj_int(job, "node"), stopped);
	m_stop_all();
}
END_TEST

/* Daemon i's count of jobs waiting for dependencies (stats, memory). */
static long long
m_waiting(int i)
{
	return tj_int(tj_req(mc[i], "{'op':'stats'}"), "queues.default.waiting");
}

/* A chain of dependencies across the three daemons: each link submitted
 * at another daemon than the one before, released by the end another
 * daemon records (the store decides in that end's transaction; the link
 * is pooled for any daemon, and the daemon that held it waiting learns
 * it from its note); a failure cancels down the chain the same way. */
START_TEST(test_deps_chain_across)
{
	json_int_t a[NDAEMON], f[NDAEMON];
	char want[64];
	json_t *j;

	m_start();
	a[0] = tj_submit(mc[0], "'kind':'sleep','args':{'seconds':0.5}");
	for (int i = 1; i < NDAEMON; i++)
		a[i] = tj_submit(mc[i], "'kind':'sleep','args':{'seconds':0},"
		    "'after':[%lld]", (long long)a[i - 1]);
	ck_assert_str_eq(tj_str(tj_job(mc[0], a[2]), "state"), "waiting");
	ck_assert_int_eq(m_waiting(1), 1);
	ck_assert_int_eq(m_waiting(2), 1);
	/* Waited for at the daemon that held it waiting: the wait follows
	 * it into the pool and to its end wherever it ran. */
	for (int i = 0; i < NDAEMON; i++) {
		j = tj_wait(mc[i], a[i], TJ_TIMEOUT);
		ck_assert_str_eq(tj_str(j, "state"), "succeeded");
	}
	for (int i = 1; i < NDAEMON; i++)
		ck_assert(tj_num(tj_job(mc[0], a[i]), "started_at") >=
		    tj_num(tj_job(mc[0], a[i - 1]), "finished_at"));
	ck_assert_int_eq(m_waiting(1), 0);
	ck_assert_int_eq(m_waiting(2), 0);

	/* A failure at daemon 0 cancels a link waiting at 1, and that one's
	 * cancel the link waiting at 2. */
	f[0] = tj_submit(mc[0], "'kind':'sleep','args':{'seconds':0.5,"
	    "'fail':'boom'}");
	for (int i = 1; i < NDAEMON; i++)
		f[i] = tj_submit(mc[i], "'kind':'sleep','args':{'seconds':0},"
		    "'after':[%lld],'on_dependency_failure':'cancel'",
		    (long long)f[i - 1]);
	ck_assert_str_eq(tj_str(tj_wait(mc[1], f[0], TJ_TIMEOUT), "state"),
	    "failed");
	for (int i = 1; i < NDAEMON; i++) {
		j = tj_wait(mc[i], f[i], TJ_TIMEOUT);
		ck_assert_str_eq(tj_str(j, "state"), "cancelled");
		snprintf(want, sizeof(want), "dependency: job %lld ended %s",
		    (long long)f[i - 1], i == 1 ? "failed" : "cancelled");
		ck_assert_str_eq(tj_str(j, "cancel_reason"), want);
		ck_assert_int_eq(tj_int(j, "attempts"), 0);
	}
	ck_assert_int_eq(m_waiting(1), 0);
	ck_assert_int_eq(m_waiting(2), 0);
	/* Every note taken by its daemon, no row left held by none. */
	tj_wait_sql(0, "SELECT count(*) FROM job_notes");
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE "
	    "finished_at IS NULL"), 0);
	m_assert_attempts_sane();
	m_stop_all();
}
END_TEST

/* A fail_fast group whose members run on all three daemons: the member
 * that fails on one cancels those running on the others.  Submitted at
 * daemon 0 (4 workers): 4 members stay there, 4 go to the pool;
 * the one that fails waits for a gate at daemon 1, so it starts only
 * once every other member runs, and is then claimed elsewhere. */
START_TEST(test_fail_fast_across)
{
	enum { N = 8 };
	json_int_t gate, gid, id[N + 1], fill[2];
	char want[96];
	json_t *r, *j;

	m_start();
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM nodes"), NDAEMON);
	usleep((useconds_t)(1.5e6 * tu_slow()));        /* peers known */
	gate = tj_submit(mc[1], "'kind':'sleep','args':{'seconds':60}");
	tj_wait_state(mc[1], gate, "running", TJ_TIMEOUT);
	/* Room for 3 at daemon 1 and 2 at daemon 2: the 4 pooled members
	 * cannot all go to one. */
	for (int k = 0; k < 2; k++) {
		fill[k] = tj_submit(mc[2], "'kind':'sleep','args':"
		    "{'seconds':60}");
		tj_wait_state(mc[2], fill[k], "running", TJ_TIMEOUT);
	}
	r = tj_req(mc[0], "{'op':'submit_group','mode':'fail_fast','jobs':["
	    "{'kind':'sleep','args':{'seconds':60}},"
	    "{'kind':'sleep','args':{'seconds':60}},"
	    "{'kind':'sleep','args':{'seconds':60}},"
	    "{'kind':'sleep','args':{'seconds':60}},"
	    "{'kind':'sleep','args':{'seconds':60}},"
	    "{'kind':'sleep','args':{'seconds':60}},"
	    "{'kind':'sleep','args':{'seconds':60}},"
	    "{'kind':'sleep','args':{'seconds':60}},"
	    "{'kind':'sleep','args':{'seconds':0,'fail':'boom'},"
	    "'after':[%lld],'on_dependency_failure':'run'}]}",
	    (long long)gate);
	tj_assert_ok(r);
	gid = tj_int(r, "group");
	for (int k = 0; k <= N; k++) {
		char key[16];

		snprintf(key, sizeof(key), "ids.%d", k);
		id[k] = tj_int(r, key);
	}
	for (int k = 0; k < N; k++)
		tj_wait_state(mc[k % NDAEMON], id[k], "running", TJ_TIMEOUT);
	tj_wait_sql(N, "SELECT count(*) FROM jobs WHERE group_id = %lld AND "
	    "state = 'running' AND node IS NOT NULL", (long long)gid);
	ck_assert_int_eq(tj_sql_int("SELECT count(DISTINCT node) FROM jobs "
	    "WHERE group_id = %lld AND state = 'running'", (long long)gid),
	    NDAEMON);
	/* The gate's cancel at daemon 1 releases the last member, held
	 * waiting by daemon 0 (no room there): pooled, claimed, failed. */
	tj_assert_ok(tj_req(mc[1], "{'op':'cancel','id':%lld}",
	    (long long)gate));
	tj_assert_ok(tj_req(mc[2], "{'op':'wait','group':%lld,'timeout':%g}",
	    (long long)gid, 3 * TJ_TIMEOUT));
	j = tj_job(mc[2], id[N]);
	ck_assert_str_eq(tj_str(j, "state"), "failed");
	ck_assert_int_ne(tj_int(j, "node"), m_node(0));
	snprintf(want, sizeof(want), "fail_fast: job %lld of group %lld "
	    "ended failed", (long long)id[N], (long long)gid);
	for (int k = 0; k < N; k++) {
		j = tj_job(mc[(k + 1) % NDAEMON], id[k]);
		ck_assert_str_eq(tj_str(j, "state"), "cancelled");
		ck_assert_msg(strncmp(tj_str(j, "cancel_reason"), want,
		    strlen(want)) == 0, "job %lld: %s", (long long)id[k],
		    tj_str(j, "cancel_reason"));
	}
	/* Each ran once, on one daemon; the asks all taken. */
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts a "
	    "JOIN jobs j ON j.id = a.job_id WHERE j.group_id = %lld",
	    (long long)gid), N + 1);
	tj_wait_sql(0, "SELECT count(*) FROM job_cancels");
	tj_wait_sql(0, "SELECT count(*) FROM job_notes");
	ck_assert_int_eq(m_waiting(0), 0);
	for (int k = 0; k < 2; k++)
		tj_assert_ok(tj_req(mc[0], "{'op':'cancel','id':%lld}",
		    (long long)fill[k]));
	m_assert_attempts_sane();
	m_stop_all();
}
END_TEST

/* cancel group at the daemon it was submitted to reaches every member:
 * those running there, those two other daemons claimed from the pool
 * (asked, job_cancels) and those still pooled (cancelled by the store at
 * once: they never start). */
START_TEST(test_cancel_group_across)
{
	enum { N = 16 };
	char jobs[N * 48 + 1] = "", *p = jobs;
	json_int_t gid;
	json_t *r;

	m_start();
	usleep((useconds_t)(1.5e6 * tu_slow()));        /* peers known */
	for (int k = 0; k < N; k++)
		p += sprintf(p, "%s{'kind':'sleep','args':{'seconds':60}}",
		    k > 0 ? "," : "");
	r = tj_req(mc[0], "{'op':'submit_group','jobs':[%s]}", jobs);
	tj_assert_ok(r);
	gid = tj_int(r, "group");
	/* 4 workers each: 12 run, 4 stay in the pool. */
	tj_wait_sql(3 * 4, "SELECT count(*) FROM jobs WHERE group_id = %lld "
	    "AND state = 'running'", (long long)gid);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE "
	    "group_id = %lld AND state = 'queued' AND node IS NULL",
	    (long long)gid), N - 12);
	r = tj_req(mc[0], "{'op':'cancel','group':%lld}", (long long)gid);
	tj_assert_ok(r);
	ck_assert_int_eq(json_array_size(tj_at(r, "ids")), N);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE "
	    "group_id = %lld AND state = 'cancelled'", (long long)gid), N);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts a "
	    "JOIN jobs j ON j.id = a.job_id WHERE j.group_id = %lld",
	    (long long)gid), 12);
	tj_wait_sql(0, "SELECT count(*) FROM job_cancels");
	m_assert_attempts_sane();
	m_stop_all();
}
END_TEST

/* A note for a daemon that stops (SIGSTOP) before it takes it: the job
 * it held waiting runs elsewhere, from the pool; once the daemon's lease
 * has lapsed the daemon that reaps it drops its notes (its rows say what
 * they said), and the daemon, continued, holds nothing of it. */
START_TEST(test_notes_of_stopped_node)
{
	long long stopped;
	json_int_t x, w;
	json_t *job;
	double end;

	m_start();
	stopped = m_node(0);
	x = tj_submit(mc[1], "'kind':'sleep','args':{'seconds':1}");
	w = tj_submit(mc[0], "'kind':'sleep','args':{'seconds':0},"
	    "'after':[%lld]", (long long)x);
	ck_assert_int_eq(m_waiting(0), 1);
	tj_signal(SIGSTOP);
	ck_assert_str_eq(tj_str(tj_wait(mc[1], x, TJ_TIMEOUT), "state"),
	    "succeeded");
	job = tj_wait(mc[1], w, 2 * TJ_TIMEOUT);
	ck_assert_str_eq(tj_str(job, "state"), "succeeded");
	ck_assert_int_ne(tj_int(job, "node"), stopped);
	/* Still stopped: only the reaper can have dropped the note. */
	end = tj_now() + 2 * TJ_TIMEOUT;
	while (tj_sql_int("SELECT count(*) FROM job_notes") != 0) {
		ck_assert_msg(tj_now() < end, "the stopped daemon's note is "
		    "still there");
		usleep(50000);
	}
	tj_signal(SIGCONT);
	m_wait_lapsed();
	end = tj_now() + 2 * TJ_TIMEOUT;
	/* Its next node round hands the waiting job over (deps_lost). */
	while (m_waiting(0) != 0) {
		ck_assert_msg(tj_now() < end, "daemon 0 still holds the job "
		    "waiting");
		usleep(50000);
	}
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM job_attempts WHERE "
	    "job_id = %lld", (long long)w), 1);
	m_assert_attempts_sane();
	m_stop_all();
}
END_TEST

static Suite *
multi_suite(void)
{
	Suite *s = suite_create("jobd_multi_postgres");
	TCase *tc = tj_tcase("multi", 120);

	tcase_add_test(tc, test_spread_and_get_anywhere);
	tcase_add_test(tc, test_pool_claimed_elsewhere);
	tcase_add_test(tc, test_wait_and_cancel_across);
	tcase_add_test(tc, test_pause_global);
	tcase_add_test(tc, test_deps_chain_across);
	tcase_add_test(tc, test_fail_fast_across);
	tcase_add_test(tc, test_notes_of_stopped_node);
	tcase_add_test(tc, test_cancel_group_across);
	tcase_add_test(tc, test_sigkill_taken_over);
	tcase_add_test(tc, test_sigstop_fenced);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	/* Always the postgresql store: this suite has no SQLite run. */
	setenv("JOBD_TEST_STORE", "postgresql", 1);
	return tu_main(multi_suite());
}
