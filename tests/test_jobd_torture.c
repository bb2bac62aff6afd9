/*
 * test_jobd_torture.c — crash torture: jobd under load from many
 * connections (sleep and exec jobs, lone and in groups of both modes) is
 * SIGKILLed at a random moment, restarted, and checked, cycle after cycle:
 *
 *  - every job whose submit was answered ok is in the database;
 *  - no job process from before the kill is alive (PR_SET_PDEATHSIG);
 *  - at the end, once everything has run: no job is left queued or
 *    running, no job has more than max_attempts attempts, and no exec job
 *    ran more often than its attempts say (each run appends its pid to a
 *    file named after the job), so none ran more than max_attempts times.
 *
 * JOBD_TORTURE_CYCLES sets the number of cycles (default 10, what CI runs;
 * tests/torture runs 100) and JOBD_TORTURE_SEED the random seed (default:
 * the time, printed so a failure can be replayed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tu_jobd.h"

#define NCLIENTS        8
#define PIPELINE        4               /* requests in flight per client */
#define MAX_ATTEMPTS    3
#define MAX_JOBS        200000

#define TORTURE_CONF                                                         \
	TJ_DAEMON "kill_grace = 0.2\nexec_concurrency = 6\n"                 \
	"[queue.default]\nworkers = 8\ncapacity = 64\ntimeout = 0\n"         \
	"max_attempts = 3\n"                                                 \
	"[queue.other]\nworkers = 3\ncapacity = 16\ntimeout = 0\n"           \
	"max_attempts = 3\n"

/* Acknowledged jobs, across every cycle. */
static struct acked {
	json_int_t id;
	unsigned token;                 /* the job's name is t<token> */
	bool exec;
} acked[MAX_JOBS];
static size_t nacked;
static unsigned next_token;

/* One request in flight: the tokens of its jobs. */
struct sent {
	unsigned token[3];
	bool exec[3];
	int n;
};

struct client {
	int fd;
	char in[1 << 16];
	size_t inlen;
	struct sent fifo[PIPELINE];
	int head, count;
	bool dead;
};

static int
raw_connect(void)
{
	int fd = tj_raw_connect();

	ck_assert_msg(fd >= 0, "connect: %s", strerror(errno));
	return fd;
}

/* One job of a request: sleep or exec, in a random queue. */
static int
job_fields(char *buf, size_t len, unsigned token, bool exec)
{
	const char *queue = rand() % 4 == 0 ? "other" : "default";
	double t = (rand() % 300) / 1000.0;

	if (!exec)
		return snprintf(buf, len, "{\"kind\":\"sleep\",\"args\":"
		    "{\"seconds\":%.3f},\"queue\":\"%s\",\"name\":\"t%u\"}", t,
		    queue, token);
	return snprintf(buf, len, "{\"kind\":\"exec\",\"args\":{\"argv\":"
	    "[\"sh\",\"-c\",\"echo $$ >> %s/t%u; exec sleep %.3f\"]},"
	    "\"queue\":\"%s\",\"name\":\"t%u\"}", tj_path("runs"), token, t,
	    queue, token);
}

/* Send a new request on c: a lone submit or a group of 2 or 3. */
static void
client_send(struct client *c)
{
	struct sent *s = &c->fifo[(c->head + c->count) % PIPELINE];
	char req[4096], job[1024];
	size_t off = 0;
	int i, group = rand() % 5 == 0;

	s->n = group ? 2 + rand() % 2 : 1;
	for (i = 0; i < s->n; i++) {
		s->token[i] = next_token++;
		s->exec[i] = rand() % 2;
	}
	if (!group) {
		job_fields(job, sizeof(job), s->token[0], s->exec[0]);
		off = (size_t)snprintf(req, sizeof(req), "{\"op\":\"submit\",%s",
		    job + 1);
	} else {
		off = (size_t)snprintf(req, sizeof(req), "{\"op\":"
		    "\"submit_group\",\"mode\":\"%s\",\"jobs\":[",
		    rand() % 2 ? "all" : "fail_fast");
		for (i = 0; i < s->n; i++) {
			job_fields(job, sizeof(job), s->token[i], s->exec[i]);
			off += (size_t)snprintf(req + off, sizeof(req) - off,
			    "%s%s", i ? "," : "", job);
		}
		off += (size_t)snprintf(req + off, sizeof(req) - off, "]}");
	}
	req[off++] = '\n';
	if (write(c->fd, req, off) != (ssize_t)off) {
		c->dead = true;         /* jobd is gone (or going) */
		return;
	}
	c->count++;
}

static void
ack_add(json_int_t id, unsigned token, bool exec)
{
	ck_assert_uint_lt(nacked, MAX_JOBS);
	acked[nacked++] = (struct acked){ id, token, exec };
}

/* The answer to the oldest request in flight. */
static void
client_answer(struct client *c, const char *line)
{
	struct sent *s = &c->fifo[c->head];
	json_t *a = json_loads(line, 0, NULL), *ids;
	int i;

	ck_assert_msg(a != NULL && c->count > 0, "stray answer: %s", line);
	c->head = (c->head + 1) % PIPELINE;
	c->count--;
	if (json_is_true(json_object_get(a, "ok"))) {
		if ((ids = json_object_get(a, "ids")) != NULL) {
			ck_assert_int_eq(json_array_size(ids), s->n);
			for (i = 0; i < s->n; i++)
				ack_add(json_integer_value(json_array_get(ids,
				    i)), s->token[i], s->exec[i]);
		} else {
			ack_add(json_integer_value(json_object_get(a, "id")),
			    s->token[0], s->exec[0]);
		}
	}
	json_decref(a);
}

/* Read what c has; every whole line is an answer. */
static void
client_read(struct client *c)
{
	char *nl, *p;
	ssize_t n;

	n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen - 1);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			c->dead = true;
		return;
	}
	c->inlen += (size_t)n;
	c->in[c->inlen] = '\0';
	p = c->in;
	while ((nl = strchr(p, '\n')) != NULL) {
		*nl = '\0';
		client_answer(c, p);
		p = nl + 1;
	}
	c->inlen -= (size_t)(p - c->in);
	memmove(c->in, p, c->inlen);
}

/* Load jobd from every client for `load` seconds. */
static void
load_for(struct client *cl, double load)
{
	struct pollfd pfd[NCLIENTS];
	double end = tj_now() + load;
	int i;

	while (tj_now() < end) {
		for (i = 0; i < NCLIENTS; i++) {
			while (!cl[i].dead && cl[i].count < PIPELINE)
				client_send(&cl[i]);
			pfd[i] = (struct pollfd){ .fd = cl[i].dead ? -1 :
			    cl[i].fd, .events = POLLIN };
		}
		if (poll(pfd, NCLIENTS, 20) <= 0)
			continue;
		for (i = 0; i < NCLIENTS; i++)
			if (pfd[i].revents != 0)
				client_read(&cl[i]);
	}
}

/* After the kill: what was already in the sockets was acknowledged too. */
static void
drain_after_kill(struct client *cl)
{
	for (int i = 0; i < NCLIENTS; i++) {
		fcntl(cl[i].fd, F_SETFL, O_NONBLOCK);
		while (!cl[i].dead)
			client_read(&cl[i]);
		close(cl[i].fd);
	}
}

/* Every pid any exec job wrote, so far: all of them must die with jobd. */
static void
assert_no_survivor(void)
{
	double end = tj_now() + 3.0 * tu_slow();
	char path[512];
	struct dirent *de;
	DIR *d;
	FILE *f;
	int pid, left;

	do {
		left = 0;
		ck_assert_ptr_nonnull(d = opendir(tj_path("runs")));
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] != 't')
				continue;
			snprintf(path, sizeof(path), "%s/%s", tj_path("runs"),
			    de->d_name);
			if ((f = fopen(path, "re")) == NULL)
				continue;
			while (fscanf(f, "%d", &pid) == 1)
				left += !tu_pid_dead(pid);
			fclose(f);
		}
		closedir(d);
	} while (left > 0 && tj_now() < end && usleep(50000) == 0);
	ck_assert_msg(left == 0, "%d job processes outlived jobd", left);
}

static int
cmp_id(const void *a, const void *b)
{
	json_int_t x = ((const struct acked *)a)->id;
	json_int_t y = ((const struct acked *)b)->id;

	return x < y ? -1 : x > y;
}

/* Every acknowledged job is in the database, under its name. */
static void
assert_all_recorded(void)
{
	const char *out, *p;
	size_t i = 0;
	long long id;
	unsigned token;
	int n;

	qsort(acked, nacked, sizeof(acked[0]), cmp_id);
	out = tj_sql("SELECT id, substr(name, 2) FROM jobs ORDER BY id");
	for (p = out; i < nacked && sscanf(p, "%lld|%u%n", &id, &token, &n) ==
	    2; p += n + (p[n] == '\n')) {
		if (id < acked[i].id)
			continue;
		ck_assert_msg(id == acked[i].id, "acknowledged job %lld is "
		    "not in the database", (long long)acked[i].id);
		ck_assert_uint_eq(token, acked[i].token);
		i++;
	}
	ck_assert_msg(i == nacked, "acknowledged job %lld is not in the "
	    "database", (long long)acked[i < nacked ? i : 0].id);
}

/* How many times the exec job t<token> ran (lines in its runs file). */
static int
runs_of(unsigned token)
{
	char path[512];
	int pid, n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/t%u", tj_path("runs"), token);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fscanf(f, "%d", &pid) == 1)
		n++;
	fclose(f);
	return n;
}

/* Once everything has ended: attempts within bounds, and exec runs within
 * attempts. */
static void
assert_attempts(struct tj_conn *c)
{
	size_t i;
	int runs;
	json_t *job;

	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE state IN "
	    "('queued','running')"), 0);
	ck_assert_int_eq(tj_sql_int("SELECT count(*) FROM jobs WHERE attempts "
	    "> %d", MAX_ATTEMPTS), 0);
	for (i = 0; i < nacked; i++) {
		if (!acked[i].exec)
			continue;
		runs = runs_of(acked[i].token);
		if (runs <= MAX_ATTEMPTS && runs <= tj_sql_int("SELECT attempts "
		    "FROM jobs WHERE id = %lld", (long long)acked[i].id))
			continue;
		job = tj_job(c, acked[i].id);
		ck_abort_msg("exec job %lld ran %d times: %s",
		    (long long)acked[i].id, runs, tj_dump(job));
	}
}

START_TEST(test_torture)
{
	struct client cl[NCLIENTS];
	const char *env = getenv("JOBD_TORTURE_CYCLES");
	const char *seedenv = getenv("JOBD_TORTURE_SEED");
	int cycles = env != NULL ? atoi(env) : 10;
	unsigned seed = seedenv != NULL ? (unsigned)atoi(seedenv) :
	    (unsigned)time(NULL);
	struct tj_conn *c;
	int cycle, i;
	double t0 = tj_now();

	printf("torture: %d cycles, JOBD_TORTURE_SEED=%u\n", cycles, seed);
	srand(seed);
	tj_start(TORTURE_CONF);
	ck_assert_int_eq(mkdir(tj_path("runs"), 0755), 0);
	for (cycle = 0; cycle < cycles; cycle++) {
		memset(cl, 0, sizeof(cl));
		for (i = 0; i < NCLIENTS; i++)
			cl[i].fd = raw_connect();
		load_for(cl, (50 + rand() % 550) / 1000.0 * tu_slow());
		tj_kill();
		drain_after_kill(cl);
		assert_no_survivor();
		tj_restart();
		assert_all_recorded();
	}
	/* The last start runs everything left to its end. */
	c = tj_connect();
	tj_wait_idle(c, 60.0 * tu_slow());
	assert_all_recorded();
	assert_attempts(c);
	printf("torture: %d cycles, %zu jobs acknowledged, %lld exec runs "
	    "(attempts), %lld jobs failed after interruptions, %.1f s\n",
	    cycles, nacked, tj_sql_int("SELECT coalesce(sum(attempts), 0) FROM jobs WHERE "
	    "kind = 'exec'"), tj_sql_int("SELECT count(*) FROM jobs WHERE "
	    "error LIKE 'interrupted%%'"), tj_now() - t0);
}
END_TEST

static Suite *
jobd_torture_suite(void)
{
	Suite *s = suite_create("jobd_torture");
	TCase *tc = tj_tcase("torture", 3600);

	tcase_add_test(tc, test_torture);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(jobd_torture_suite());
}
