/*
 * client.c — the C client library (lib/client/jc.h) in one program: the
 * example of docs/CLIENT.md.
 *
 * Connects to jobd ($JOBD_SOCKET, else /run/jobd/jobd.sock), submits a
 * job and waits for it, runs a group of three (one fails) like
 * asyncio.gather(return_exceptions=True), pipelines ten submits on the
 * one connection, and shows an error answer.  Exits 0; 77 when there is
 * no jobd to talk to (ctest counts that as skipped); 1 on any other error.
 *
 * Build it against an installed library:
 *	cc client.c $(pkg-config --cflags --libs jobdclient) -o client
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jc.h"

/* Say what went wrong with the last call on c and return 1. */
static int
failed(struct jc_conn *c, const char *what, int rc)
{
	const struct jc_error *e = jc_last_error(c);

	if (rc == JC_EJOBD)	/* jobd answered an error */
		fprintf(stderr, "client: %s: %s: %s\n", what, e->name,
		    e->message);
	else			/* no answer: a negative errno */
		fprintf(stderr, "client: %s: %s\n", what, e->message);
	return 1;
}

/* One sleep job; submit waits until jobd has it on disk. */
static int
one_job(struct jc_conn *c)
{
	json_t *args = json_pack("{s:f}", "seconds", 0.1), *job = NULL;
	struct jc_submit_opts o = JC_SUBMIT_INIT;
	char *result;
	int64_t id;
	int rc;

	o.name = "example";
	o.timeout = 10;
	rc = jc_submit(c, "sleep", args, &o, &id, NULL);
	json_decref(args);
	if (rc != 0)
		return failed(c, "submit", rc);
	if ((rc = jc_wait(c, id, JC_FOREVER, &job)) != 0)
		return failed(c, "wait", rc);
	result = jc_json_text(json_object_get(job, "result"));
	printf("job %lld %s: %s\n", (long long)id,
	    json_string_value(json_object_get(job, "state")), result);
	free(result);
	json_decref(job);
	return 0;
}

/* Three jobs as one group, the second failing; wait for all of them. */
static int
group(struct jc_conn *c)
{
	json_t *jobs = json_array(), *ended = NULL, *job;
	int64_t g;
	size_t i;
	int rc;

	for (i = 0; i < 3; i++) {
		json_t *args = i == 1 ?
		    json_pack("{s:f,s:s}", "seconds", 0.0, "fail", "boom") :
		    json_pack("{s:f}", "seconds", 0.05);

		json_array_append_new(jobs, jc_job_spec("sleep", args, NULL));
		json_decref(args);
	}
	rc = jc_submit_group(c, jobs, "all", false, &g, NULL);
	json_decref(jobs);
	if (rc != 0)
		return failed(c, "submit_group", rc);
	if ((rc = jc_wait_group(c, g, JC_FOREVER, &ended)) != 0)
		return failed(c, "wait group", rc);
	printf("group %lld:", (long long)g);
	json_array_foreach(ended, i, job)
		printf(" %s", json_string_value(json_object_get(job, "state")));
	printf("\n");
	json_decref(ended);
	return 0;
}

/* Ten submits sent before any answer is read, then the ten answers, in
 * order: one round trip's wait for all of them. */
static int
pipelined(struct jc_conn *c)
{
	json_t *args = json_pack("{s:i}", "seconds", 0), *ans;
	int i, rc;

	for (i = 0; i < 10; i++)
		if ((rc = jc_submit_send(c, "sleep", args, NULL)) != 0) {
			json_decref(args);
			return failed(c, "send", rc);
		}
	json_decref(args);
	for (i = 0; i < 10; i++) {
		if ((rc = jc_answer_recv(c, &ans)) != 0)
			return failed(c, "answer", rc);
		if (i == 9)
			printf("10 pipelined submits: last id %lld\n",
			    (long long)json_integer_value(json_object_get(ans,
			    "id")));
		json_decref(ans);
	}
	return 0;
}

int
main(void)
{
	struct jc_conn *c;
	json_t *job;
	int rc;

	/* NULL: $JOBD_SOCKET, else the default socket. */
	if ((rc = jc_open(NULL, &c)) < 0) {
		fprintf(stderr, "client: cannot connect to %s: %s\n",
		    jc_default_path(), rc == -ENOENT ? "no such socket" :
		    strerror(-rc));
		return rc == -ENOENT || rc == -ECONNREFUSED ? 77 : 1;
	}
	jc_set_timeout(c, 30);	/* no call waits longer for its answer */
	if (one_job(c) != 0 || group(c) != 0 || pipelined(c) != 0) {
		jc_close(c);
		return 1;
	}
	/* An error answer: JC_EJOBD, and the connection stays usable. */
	if ((rc = jc_get(c, 1000000000, false, &job)) == JC_EJOBD &&
	    jc_last_error(c)->code == JC_E_NOT_FOUND)
		printf("%s: %s\n", jc_last_error(c)->name,
		    jc_last_error(c)->message);
	else if (rc == 0)
		json_decref(job);
	jc_close(c);
	return 0;
}
