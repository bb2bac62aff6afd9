/*
 * ctl_args.h — jobctl's command-line values, checked and turned into the
 * JSON that goes on the wire.
 *
 * Everything jobctl can check before it connects, it checks here, so that
 * a typo is a usage error (exit 2) naming the argument rather than a round
 * trip to jobd: ids, seconds, counts, and the JSON a user types (ARGS-JSON,
 * a submit-group file), whose syntax errors name the line and column.
 * Bounds are the protocol's (proto.h).
 *
 * Every function returning int gives 0 on success or -EINVAL with a
 * one-line message (no newline, no "jobctl:" prefix) in err.
 */
#ifndef JOBD_CTL_ARGS_H
#define JOBD_CTL_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* A good size for the err buffers below. */
#define CTL_ERRLEN 512

/* Parse the len bytes of text as one JSON value of type want (JSON_OBJECT,
 * JSON_ARRAY).  what names the text in messages ("ARGS-JSON", a file
 * name).  Duplicate keys are refused, as jobd refuses them.  0 and *out (a
 * new reference), or -EINVAL: "WHAT: invalid JSON at line L, column C:
 * ...", "WHAT: expected a JSON object, got an array". */
int ctl_json_parse(const char *text, size_t len, const char *what,
    json_type want, json_t **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The args object of `jobctl submit KIND WORD...`: one word starting with
 * '{' is ARGS-JSON for any kind; else the kind's shorthand: sleep takes one
 * number (seconds), exec the command and its arguments (argv), http one
 * URL.  0 and *out (a new reference), or -EINVAL. */
int ctl_args_build(const char *kind, int nwords, char *const *words,
    json_t **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* A job or group id: a decimal integer from 1 to INT64_MAX.  what names
 * it in the message. */
int ctl_parse_id(const char *s, const char *what, int64_t *out, char *err,
    size_t errlen) __attribute__((warn_unused_result));

/* A decimal integer in [min, max]. */
int ctl_parse_int(const char *s, const char *what, int64_t min, int64_t max,
    int64_t *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* A number of seconds from 0 to PROTO_TIMEOUT_MAX ("1.5", "30", "1e3").
 * *out is a new JSON integer when the value is whole (it reads better on
 * the wire: "timeout":30), else a JSON real. */
int ctl_parse_seconds(const char *s, const char *what, json_t **out,
    char *err, size_t errlen) __attribute__((warn_unused_result));

/* A duration ("90", "30s", "15m", "12h", "7d"; duration.h) into *secs. */
int ctl_parse_duration(const char *s, const char *what, double *secs,
    char *err, size_t errlen) __attribute__((warn_unused_result));

/* A point in time for --at: epoch seconds ("1800000000.5"), or local time
 * as YYYY-MM-DDTHH:MM[:SS] (or a space for the T) into *t. */
int ctl_parse_when(const char *s, const char *what, double *t, char *err,
    size_t errlen) __attribute__((warn_unused_result));

/* A string option of at most max bytes (the protocol's bound). */
int ctl_check_string(const char *s, const char *what, size_t max, char *err,
    size_t errlen) __attribute__((warn_unused_result));

/* The jobs of a submit-group file, path or "-" for stdin: a JSON array of
 * job objects, at most max bytes.  0 and *jobs (a new reference), or
 * -EINVAL: "FILE: No such file or directory", "FILE: invalid JSON at line
 * L, column C: ...", "stdin: jobs[3] is not a JSON object". */
int ctl_read_jobs(const char *path, size_t max, json_t **jobs, char *err,
    size_t errlen) __attribute__((warn_unused_result));

#endif /* JOBD_CTL_ARGS_H */
