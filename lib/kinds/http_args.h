/*
 * http_args.h — the args of an `http` job, checked and taken apart: the
 * URL (scheme, host, port, request target), the method, the headers to
 * send and the body.  kind_http.h says what is allowed and why.
 */
#ifndef JOBD_HTTP_ARGS_H
#define JOBD_HTTP_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/http.h>
#include <jansson.h>

#include "http_pool.h"
#include "proto.h"

/* Bytes of the URL. */
#define HTTP_ARGS_URL_MAX     8192
/* Request headers, and bytes of one header's name and value. */
#define HTTP_ARGS_HEADERS_MAX 100
#define HTTP_ARGS_NAME_MAX    256
#define HTTP_ARGS_VALUE_MAX   8192
/* Bytes of the request body (the request line bounds it first). */
#define HTTP_ARGS_BODY_MAX    (64u * 1024 * 1024)
/* Longest host name (DNS: 253; an IPv6 literal is shorter). */
#define HTTP_ARGS_HOST_MAX    253

struct http_method {
	const char *name;
	enum evhttp_cmd_type type;
	bool idempotent;        /* may be sent again (RFC 9110 9.2.2) */
	/* may run again after a crash (the contract: GET, HEAD, OPTIONS,
	 * PUT, DELETE; POST and PATCH only if the job says idempotent) */
	bool rerun;
};

/* The method called name (case-sensitive), or NULL. */
const struct http_method *http_method_find(const char *name);

struct http_args {
	struct evhttp_uri *uri;         /* owned */
	struct http_target target;      /* https?, host (-> host[]), port */
	char host[HTTP_ARGS_HOST_MAX + 1];      /* without an IPv6's [] */
	char authority[HTTP_ARGS_HOST_MAX + 16];        /* Host:'s value */
	char *path;                     /* "/path?query"; owned */
	const struct http_method *method;
	json_t *headers;                /* borrowed from the args, or NULL */
	const char *body;               /* borrowed, or NULL */
	size_t body_len;
};

/* Check args and fill a (its strings borrowed from args, which must
 * outlive it).  0, or -EINVAL with err filled (bad_request, the message
 * starting "args: " and naming the field); a holds nothing then. */
int http_args_parse(const json_t *args, struct http_args *a,
    struct proto_err *err);

/* Free what a owns (after a 0 from http_args_parse). */
void http_args_free(struct http_args *a);

#endif /* JOBD_HTTP_ARGS_H */
