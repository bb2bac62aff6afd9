/*
 * bench_proto.c — what the wire protocol costs per request.
 *
 * The daemon's budget is 8 µs of CPU per job, all included; this measures
 * proto's share.  Prints, as medians over several rounds:
 *   - jansson's json_loadb alone on a typical submit line (the floor);
 *   - proto_parse on the same line: the lean parser (proto_fast.c), and
 *     proto_parse_full, the full one (prescan + jansson + submit fields),
 *     for the same line and for the bench_jobd line;
 *   - proto_parse of a 100-job submit_group, per job;
 *   - the answer: proto_ok + "id" + proto_dump, and free; and proto_line,
 *     the same bytes without jansson;
 *   - a rejected line: proto_parse + proto_error + proto_dump.
 *
 * Usage: bench_proto [-n iterations] [-r rounds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "proto.h"

#define ROUNDS_MAX 31

static int rounds = 7;

static const char submit_line[] =
    "{\"op\":\"submit\",\"kind\":\"exec\",\"args\":{\"argv\":[\"/bin/echo\","
    "\"hello\"],\"env\":{\"LANG\":\"C\"}},\"queue\":\"default\","
    "\"timeout\":30,\"name\":\"build-42\",\"nowait\":false,\"tag\":17}";
static const char noop_line[] =
    "{\"op\":\"submit\",\"kind\":\"sleep\",\"args\":{\"seconds\":0}}";
static const char bad_line[] =
    "{\"op\":\"submit\",\"kind\":\"exec\",\"args\":[],\"tag\":17}";
static char *group_line;
static size_t group_njobs = 100;

/* Run fn rounds times (each returns ns per operation); print the median. */
static void
report(const char *what, double (*fn)(long), long iters)
{
	double v[ROUNDS_MAX];

	for (int i = 0; i < rounds; i++)
		v[i] = fn(iters);
	qsort(v, (size_t)rounds, sizeof(*v), bench_cmp_double);
	printf("%-48s %8.0f ns\n", what, v[rounds / 2]);
}

static void
must_parse(const char *line, size_t len, struct proto_req *req)
{
	struct proto_err err;

	if (proto_parse(line, len, req, &err) != 0) {
		fprintf(stderr, "bench_proto: %s\n", err.msg);
		exit(1);
	}
}

static double
bench_jansson(long iters)
{
	double t0 = bench_now();

	for (long i = 0; i < iters; i++)
		json_decref(json_loadb(submit_line, sizeof(submit_line) - 1,
		    JSON_REJECT_DUPLICATES, NULL));
	return (bench_now() - t0) / iters * 1e9;
}

static double
bench_parse_submit(long iters)
{
	struct proto_req req;
	double t0 = bench_now();

	for (long i = 0; i < iters; i++) {
		must_parse(submit_line, sizeof(submit_line) - 1, &req);
		proto_req_clear(&req);
	}
	return (bench_now() - t0) / iters * 1e9;
}

/* The full parser alone on line (len bytes). */
static double
parse_full(const char *line, size_t len, long iters)
{
	struct proto_req req;
	struct proto_err err;
	double t0 = bench_now();

	for (long i = 0; i < iters; i++) {
		if (proto_parse_full(line, len, &req, &err) != 0)
			exit(1);
		proto_req_clear(&req);
	}
	return (bench_now() - t0) / iters * 1e9;
}

static double
bench_parse_full(long iters)
{
	return parse_full(submit_line, sizeof(submit_line) - 1, iters);
}

static double
bench_noop_full(long iters)
{
	return parse_full(noop_line, sizeof(noop_line) - 1, iters);
}

static double
bench_noop_lean(long iters)
{
	struct proto_req req;
	double t0 = bench_now();

	for (long i = 0; i < iters; i++) {
		must_parse(noop_line, sizeof(noop_line) - 1, &req);
		proto_req_clear(&req);
	}
	return (bench_now() - t0) / iters * 1e9;
}

static double
bench_line(long iters)
{
	json_t *tag = json_integer(17);
	char head[64], line[128];
	double t0 = bench_now();

	for (long i = 0; i < iters; i++) {
		snprintf(head, sizeof(head), "{\"ok\":true,\"id\":%ld", i + 1);
		if (proto_line(line, sizeof(line), head, tag, "}") == 0)
			exit(1);
	}
	json_decref(tag);
	return (bench_now() - t0) / iters * 1e9;
}

static double
bench_parse_group(long iters)
{
	struct proto_req req;
	size_t len = strlen(group_line);
	double t0;

	iters = iters / (long)group_njobs + 1;
	t0 = bench_now();
	for (long i = 0; i < iters; i++) {
		must_parse(group_line, len, &req);
		proto_req_clear(&req);
	}
	return (bench_now() - t0) / iters / (double)group_njobs * 1e9;
}

static double
bench_answer(long iters)
{
	struct proto_req req;
	json_t *resp;
	char *out;
	size_t len;
	double t0;

	must_parse(submit_line, sizeof(submit_line) - 1, &req);
	t0 = bench_now();
	for (long i = 0; i < iters; i++) {
		resp = proto_ok(&req);
		json_object_set_new(resp, "id", json_integer(i + 1));
		if (proto_dump(resp, &out, &len) != 0)
			exit(1);
		free(out);
		json_decref(resp);
	}
	t0 = (bench_now() - t0) / iters * 1e9;
	proto_req_clear(&req);
	return t0;
}

static double
bench_reject(long iters)
{
	struct proto_req req;
	struct proto_err err;
	json_t *resp;
	char *out;
	size_t len;
	double t0 = bench_now();

	for (long i = 0; i < iters; i++) {
		if (proto_parse(bad_line, sizeof(bad_line) - 1, &req, &err) ==
		    0)
			exit(1);
		resp = proto_error(&req, err.code, err.msg);
		if (proto_dump(resp, &out, &len) != 0)
			exit(1);
		free(out);
		json_decref(resp);
		proto_req_clear(&req);
	}
	return (bench_now() - t0) / iters * 1e9;
}

/* A submit_group line of group_njobs copies of a typical job. */
static char *
make_group_line(void)
{
	static const char job[] = "{\"kind\":\"sleep\",\"args\":{\"seconds\":"
	                          "0.1},\"name\":\"part\"}";
	char *s = malloc(64 + group_njobs * sizeof(job)), *p = s;

	if (s == NULL)
		exit(1);
	p += sprintf(p, "{\"op\":\"submit_group\",\"mode\":\"all\",\"jobs\":[");
	for (size_t i = 0; i < group_njobs; i++)
		p += sprintf(p, "%s%s", i ? "," : "", job);
	strcpy(p, "]}");
	return s;
}

int
main(int argc, char **argv)
{
	long iters = 200000;
	int c;

	while ((c = getopt(argc, argv, "n:r:")) != -1) {
		switch (c) {
		case 'n':
			iters = atol(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		default:
			fprintf(stderr,
			    "usage: bench_proto [-n iterations] [-r rounds]\n");
			return 2;
		}
	}
	if (iters < 1 || rounds < 1 || rounds > ROUNDS_MAX) {
		fprintf(stderr, "bench_proto: bad -n or -r\n");
		return 2;
	}
	group_line = make_group_line();
	printf("submit line: %zu bytes\n", sizeof(submit_line) - 1);
	report("json_loadb alone (submit line)", bench_jansson, iters);
	report("proto_parse submit (the lean parser)", bench_parse_submit,
	    iters);
	report("proto_parse_full submit (prescan+jansson+fields)",
	    bench_parse_full, iters);
	report("proto_parse bench_jobd's no-op line (lean)", bench_noop_lean,
	    iters);
	report("proto_parse_full bench_jobd's no-op line", bench_noop_full,
	    iters);
	report("proto_parse submit_group of 100, per job", bench_parse_group,
	    iters);
	report("answer: proto_ok + id + proto_dump", bench_answer, iters);
	report("answer: proto_line (same bytes, no jansson)", bench_line,
	    iters);
	report("reject: parse + proto_error + proto_dump", bench_reject, iters);
	free(group_line);
	return 0;
}
