/*
 * fuzz_answer.c — fuzz target fuzz_answer_one (fuzz.h): one answer line through what jobctl
 * does with an answer.
 *
 * jobctl trusts its jobd less than a terminal trusts jobctl: whatever
 * comes back is parsed as jansson does in ctl_call (flags 0), written
 * back as compact JSON (jc_json_text, which must read back as exactly
 * the same value: shortest reals lose nothing) and shown by every human
 * printer, fed the fields jobctl feeds them whatever their type.  The
 * shown text must hold no control character but '\n' (ctl_show.h: a job
 * can neither break the layout nor drive the terminal).  jobd's side of
 * the same text: its own compact writer (proto_dump.c) must write any
 * value byte for byte as jansson's printer does.
 */
#include <stdint.h>

#include "jc.h"
#include "ctl_show.h"
#include "fuzz.h"
#include "proto.h"

/* A fixed "now" (2026-01-01), so a run is repeatable. */
#define FA_NOW 1767225600.0

/* jc_json_text(v) reads back as v, exactly. */
static void
fa_text(const json_t *v)
{
	char *text = jc_json_text(v);
	json_t *back;

	FUZZ_CHECK(text != NULL);
	back = json_loads(text, 0, NULL);
	FUZZ_CHECK(back != NULL && json_equal(back, v));
	json_decref(back);
	free(text);
}

/* No C0 control but '\n', no DEL, no C1 (U+0080..U+009F) in len bytes of
 * s. */
static void
fa_clean(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len; i++) {
		FUZZ_CHECK(p[i] >= 0x20 || p[i] == '\n');
		FUZZ_CHECK(p[i] != 0x7f);
		FUZZ_CHECK(!(p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 &&
		    p[i + 1] <= 0x9f));
	}
}

/* Everything the printers make of ans, as jobctl's commands call them. */
static void
fa_show(const json_t *ans)
{
	const json_t *jobs = json_object_get(ans, "jobs");
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	FUZZ_CHECK(f != NULL);
	ctl_show_job(f, json_object_get(ans, "job"), FA_NOW);
	ctl_show_job(f, ans, FA_NOW);
	ctl_show_jobs(f, jobs, FA_NOW, 80);
	ctl_show_jobs(f, jobs, FA_NOW, 0);
	ctl_show_tally(f, jobs);
	ctl_show_stats(f, ans);
	FUZZ_CHECK(fclose(f) == 0);
	fa_clean(out, len);
	free(out);
}

/* jobd's own compact writer and jansson's (with the reals respelt) give
 * the same bytes, or both give none. */
static void
fa_writers(const json_t *v)
{
	char *own = proto_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY), *ref;
	int rc = proto_dumps_jansson(v, JSON_COMPACT | JSON_ENCODE_ANY, &ref);

	FUZZ_CHECK((own == NULL) == (rc < 0));
	FUZZ_CHECK(own == NULL || strcmp(own, ref) == 0);
	free(own);
	free(ref);
}

int
fuzz_answer_one(const uint8_t *data, size_t size)
{
	json_t *ans = json_loadb((const char *)data, size, 0, NULL);

	if (ans == NULL)
		return 0;
	fa_text(ans);
	fa_writers(ans);
	if (json_is_object(ans))
		fa_show(ans);
	json_decref(ans);
	return 0;
}
