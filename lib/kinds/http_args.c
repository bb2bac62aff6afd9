/*
 * http_args.c — an `http` job's args (see http_args.h).  The URL is taken
 * apart by libevent's strict RFC 3986 parser; what evhttp would send as
 * given is checked here first, so that nothing a job says can add a
 * header or a request of its own (CR, LF) or contradict the framing jobd
 * writes (Content-Length, Transfer-Encoding, Expect).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_args.h"
#include "kind.h"

/* What evhttp can send.  CONNECT is a proxy's business. */
static const struct http_method methods[] = {
	{ "GET", EVHTTP_REQ_GET, true, true },
	{ "HEAD", EVHTTP_REQ_HEAD, true, true },
	{ "POST", EVHTTP_REQ_POST, false, false },
	{ "PUT", EVHTTP_REQ_PUT, true, true },
	{ "DELETE", EVHTTP_REQ_DELETE, true, true },
	{ "OPTIONS", EVHTTP_REQ_OPTIONS, true, true },
	{ "PATCH", EVHTTP_REQ_PATCH, false, false },
	/* Idempotent by RFC 9110, but not a method the contract lets run
	 * twice after a crash: it echoes, so a second run is a second log
	 * line somewhere, and nobody needs it re-sent. */
	{ "TRACE", EVHTTP_REQ_TRACE, true, false },
};

#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

/* Headers jobd sets from the body itself. */
static const char *const framing[] = {
	"Content-Length", "Transfer-Encoding", "Expect",
};

static const char *const fields[] = { "url", "method", "headers", "body" };

/* RFC 9110 5.6.2: a token is one or more tchar. */
static bool
is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) &&
		    strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return false;
	return true;
}

const struct http_method *
http_method_find(const char *name)
{
	for (size_t i = 0; i < NMETHODS; i++)
		if (strcmp(name, methods[i].name) == 0)
			return &methods[i];
	return NULL;
}

static int
parse_method(const json_t *args, struct http_args *a, struct proto_err *err)
{
	const char *m = "GET";

	if (proto_field_string(args, "method", PROTO_OPTIONAL, 32, &m,
	    err) < 0)
		return -EINVAL;
	if (!is_token(m))
		return proto_bad(err, "field \"method\": \"%s\" is not an HTTP "
		    "method", m);
	if ((a->method = http_method_find(m)) != NULL)
		return 0;
	return proto_bad(err, "field \"method\": %s is not supported (GET, HEAD, "
	    "POST, PUT, DELETE, OPTIONS, PATCH or TRACE; methods are "
	    "case-sensitive)", m);
}

/* The host without the [] of an IPv6 literal, and Host:'s value. */
static int
parse_host(struct http_args *a, const char *host, int port,
    struct proto_err *err)
{
	size_t n = strlen(host);
	bool dflt = port == (a->target.tls ? 443 : 80);

	if (n >= 2 && host[0] == '[')
		host++, n -= 2;
	if (n == 0)
		return proto_bad(err, "field \"url\": no host");
	if (n > HTTP_ARGS_HOST_MAX)
		return proto_bad(err, "field \"url\": host name too long");
	memcpy(a->host, host, n);
	a->host[n] = '\0';
	snprintf(a->authority, sizeof(a->authority), dflt ? "%s%s%s" :
	    "%s%s%s:%d", strchr(a->host, ':') ? "[" : "", a->host,
	    strchr(a->host, ':') ? "]" : "", port);
	a->target.host = a->host;
	a->target.port = port;
	return 0;
}

/* "/path?query" of the URL, "/" for an empty path; the fragment stays
 * with the client. */
static int
parse_path(struct http_args *a)
{
	const char *path = evhttp_uri_get_path(a->uri);
	const char *query = evhttp_uri_get_query(a->uri);

	if (path == NULL || *path == '\0')
		path = "/";
	if (asprintf(&a->path, "%s%s%s", path, query ? "?" : "",
	    query ? query : "") < 0) {
		a->path = NULL;
		return -ENOMEM;
	}
	return 0;
}

static int
parse_url(const json_t *args, struct http_args *a, struct proto_err *err)
{
	const char *url, *scheme, *host;
	int port, rc;

	if ((rc = proto_field_string(args, "url", PROTO_REQUIRED,
	    HTTP_ARGS_URL_MAX, &url, err)) < 0)
		return rc;
	if ((a->uri = evhttp_uri_parse_with_flags(url, 0)) == NULL)
		return proto_bad(err, "field \"url\": %s is not a valid URL", url);
	scheme = evhttp_uri_get_scheme(a->uri);
	if (scheme == NULL || (strcasecmp(scheme, "http") != 0 &&
	    strcasecmp(scheme, "https") != 0))
		return proto_bad(err, "field \"url\": the scheme must be http:// "
		    "or https://");
	a->target.tls = strcasecmp(scheme, "https") == 0;
	if (evhttp_uri_get_userinfo(a->uri) != NULL)
		return proto_bad(err, "field \"url\": user:password@ is not "
		    "supported (send an Authorization header)");
	if ((host = evhttp_uri_get_host(a->uri)) == NULL)
		host = "";
	if ((port = evhttp_uri_get_port(a->uri)) == -1)
		port = a->target.tls ? 443 : 80;
	if (port < 1 || port > 65535)
		return proto_bad(err, "field \"url\": the port must be 1 to 65535");
	if ((rc = parse_host(a, host, port, err)) < 0)
		return rc;
	if (parse_path(a) < 0)
		return proto_bad(err, "out of memory");
	return 0;
}

/* A header value: no control characters but HTAB (so no CR or LF, which
 * would let a value start a header or a request of its own). */
static bool
is_value(const char *s)
{
	for (; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

static int
check_header(const json_t *headers, const char *name, struct proto_err *err)
{
	const char *value;

	if (strlen(name) > HTTP_ARGS_NAME_MAX || !is_token(name))
		return proto_bad(err, "field \"headers\": \"%s\" is not a header "
		    "name", name);
	for (size_t i = 0; i < sizeof(framing) / sizeof(framing[0]); i++)
		if (strcasecmp(name, framing[i]) == 0)
			return proto_bad(err, "field \"headers\": jobd sets %s "
			    "itself", framing[i]);
	if (proto_field_string(headers, name, PROTO_REQUIRED,
	    HTTP_ARGS_VALUE_MAX, &value, err) < 0) {
		proto_err_prefix(err, "field \"headers\": ");
		return -EINVAL;
	}
	if (!is_value(value))
		return proto_bad(err, "field \"headers\": the value of %s holds a "
		    "CR, LF or another control character", name);
	return 0;
}

static int
parse_headers(const json_t *args, struct http_args *a, struct proto_err *err)
{
	const char *name;
	json_t *v;

	if (proto_field_object(args, "headers", PROTO_OPTIONAL, &a->headers,
	    err) < 0)
		return -EINVAL;
	if (a->headers == NULL)
		return 0;
	if (json_object_size(a->headers) > HTTP_ARGS_HEADERS_MAX)
		return proto_bad(err, "field \"headers\": more than %d headers",
		    HTTP_ARGS_HEADERS_MAX);
	json_object_foreach(a->headers, name, v)
		if (check_header(a->headers, name, err) < 0)
			return -EINVAL;
	return 0;
}

void
http_args_free(struct http_args *a)
{
	if (a->uri != NULL)
		evhttp_uri_free(a->uri);
	free(a->path);
}

int
http_args_parse(const json_t *args, struct http_args *a, struct proto_err *err)
{
	memset(a, 0, sizeof(*a));
	if (kind_fields_known(args, fields, sizeof(fields) / sizeof(fields[0]),
	    err) < 0 || parse_url(args, a, err) < 0 ||
	    parse_method(args, a, err) < 0 ||
	    parse_headers(args, a, err) < 0 ||
	    proto_field_string(args, "body", PROTO_OPTIONAL,
	    HTTP_ARGS_BODY_MAX, &a->body, err) < 0) {
		http_args_free(a);
		proto_err_prefix(err, "args: ");
		return -EINVAL;
	}
	if (a->body != NULL)
		a->body_len = json_string_length(json_object_get(args, "body"));
	return 0;
}
