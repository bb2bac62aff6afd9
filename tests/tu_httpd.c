/*
 * tu_httpd.c — see tu_httpd.h.
 *
 * One acceptor thread polls the listening socket (so that th_stop can
 * end it with a flag); each connection gets a thread that reads a request,
 * answers it, and loops while the connection is kept alive.  A connection
 * thread closes its own socket under the server's lock when it is done;
 * th_stop shuts down the sockets still open (waking their blocked reads)
 * and joins every thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tu_httpd.h"

#define TH_HEAD_MAX  (64 * 1024)        /* a request's head */
#define TH_BODY_MAX  (16 * 1024 * 1024) /* and its body */

struct th_conn {
	struct th_server *s;
	int fd;                 /* -1 once closed */
	SSL *ssl;
	pthread_t tid;
	char *buf;              /* read, not yet used; NUL-terminated */
	size_t len;
	struct th_conn *next;
};

struct th_server {
	bool tls;
	bool v6;                /* on [::1], not 127.0.0.1 */
	int lfd, dead_fd, port, dead_port;
	SSL_CTX *ctx;
	char cert[64];          /* PEM file of the certificate */
	pthread_t acceptor;
	atomic_bool stop;       /* read by every thread of the server */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct th_stats st;
	struct th_conn *conns;
};

struct th_req {
	char method[16];
	char target[1024];
	size_t head_len;        /* bytes of the head, CRLFCRLF included */
	size_t body_len;
	bool close;             /* the client sent Connection: close */
};

/* ---- counters ------------------------------------------------------------ */

static void
th_count(struct th_server *s, int *field, int delta)
{
	pthread_mutex_lock(&s->mu);
	*field += delta;
	if (s->st.inflight > s->st.max_inflight)
		s->st.max_inflight = s->st.inflight;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void
th_stats(struct th_server *s, struct th_stats *st)
{
	pthread_mutex_lock(&s->mu);
	*st = s->st;
	pthread_mutex_unlock(&s->mu);
}

void
th_reset_max(struct th_server *s)
{
	pthread_mutex_lock(&s->mu);
	s->st.max_inflight = s->st.inflight;
	pthread_mutex_unlock(&s->mu);
}

static bool
th_wait_for(struct th_server *s, const int *field, int n, double timeout)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)timeout;
	ts.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	while (*field < n &&
	    pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
		;
	ok = *field >= n;
	pthread_mutex_unlock(&s->mu);
	return ok;
}

bool
th_wait_closed(struct th_server *s, int n, double timeout)
{
	return th_wait_for(s, &s->st.closed, n, timeout);
}

bool
th_wait_requests(struct th_server *s, int n, double timeout)
{
	return th_wait_for(s, &s->st.requests, n, timeout);
}

/* ---- connection I/O ------------------------------------------------------ */

/* Read more into c->buf.  Bytes read, 0 at the end or on an error. */
static size_t
th_fill(struct th_conn *c, size_t want)
{
	char tmp[16384];
	ssize_t n;

	if (want > sizeof(tmp))
		want = sizeof(tmp);
	if (c->ssl != NULL)
		n = SSL_read(c->ssl, tmp, (int)want);
	else
		n = recv(c->fd, tmp, want, 0);
	if (n <= 0)
		return 0;
	c->buf = realloc(c->buf, c->len + (size_t)n + 1);
	ck_assert_ptr_nonnull(c->buf);
	memcpy(c->buf + c->len, tmp, (size_t)n);
	c->len += (size_t)n;
	c->buf[c->len] = '\0';         /* for sscanf */
	return (size_t)n;
}

static int
th_write(struct th_conn *c, const void *p, size_t n)
{
	const char *q = p;
	ssize_t k;

	while (n > 0) {
		if (c->ssl != NULL)
			k = SSL_write(c->ssl, q, (int)n);
		else
			k = send(c->fd, q, n, MSG_NOSIGNAL);
		if (k <= 0)
			return -1;
		q += k;
		n -= (size_t)k;
	}
	return 0;
}

static int __attribute__((format(printf, 2, 3)))
th_printf(struct th_conn *c, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return th_write(c, buf, (size_t)n < sizeof(buf) ? (size_t)n :
	    sizeof(buf) - 1);
}

/* Drop the first n bytes of c->buf. */
static void
th_consume(struct th_conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n + 1);
	c->len -= n;
}

/* ---- requests ------------------------------------------------------------ */

static const char *
th_header(const char *head, size_t len, const char *name, char *val,
    size_t vlen)
{
	size_t nl = strlen(name);
	const char *p = memchr(head, '\n', len), *end = head + len;

	while (p != NULL && p + 1 < end) {
		p++;
		if ((size_t)(end - p) > nl + 1 && strncasecmp(p, name, nl) == 0
		    && p[nl] == ':') {
			const char *v = p + nl + 1, *e = memchr(v, '\r',
			    (size_t)(end - v));

			while (*v == ' ')
				v++;
			snprintf(val, vlen, "%.*s", e ? (int)(e - v) : 0, v);
			return val;
		}
		p = memchr(p, '\n', (size_t)(end - p));
	}
	return NULL;
}

/* Read one whole request into c->buf.  0, or -1 at the end. */
static int
th_read_req(struct th_conn *c, struct th_req *r)
{
	char *end, val[64];

	memset(r, 0, sizeof(*r));
	while ((end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL)
	    == NULL)
		if (c->len > TH_HEAD_MAX || th_fill(c, TH_HEAD_MAX) == 0)
			return -1;
	r->head_len = (size_t)(end - c->buf) + 4;
	if (sscanf(c->buf, "%15s %1023s", r->method, r->target) != 2)
		return -1;
	if (th_header(c->buf, r->head_len, "Content-Length", val,
	    sizeof(val)) != NULL)
		r->body_len = strtoul(val, NULL, 10);
	if (th_header(c->buf, r->head_len, "Connection", val, sizeof(val))
	    != NULL && strcasecmp(val, "close") == 0)
		r->close = true;
	if (r->body_len > TH_BODY_MAX)
		return -1;
	while (c->len < r->head_len + r->body_len)
		if (th_fill(c, r->head_len + r->body_len - c->len) == 0)
			return -1;
	return 0;
}

static const char *
th_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 302: return "Found";
	case 404: return "Not Found";
	case 418: return "I'm a teapot";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Whatever";
	}
}

/* A reply with a Content-Length (no body for HEAD); extra: more header
 * lines, each ending in CRLF. */
static int
th_reply(struct th_conn *c, const struct th_req *r, int status,
    const char *extra, const void *body, size_t len)
{
	if (th_printf(c, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s\r\n",
	    status, th_reason(status), len, extra) < 0)
		return -1;
	if (strcmp(r->method, "HEAD") == 0 || len == 0)
		return 0;
	return th_write(c, body, len);
}

/* ---- paths: each returns 0 to keep the connection, -1 to close it -------- */

static int
th_status(struct th_conn *c, const struct th_req *r, long n)
{
	char body[32];

	snprintf(body, sizeof(body), "status %ld\n", n);
	return th_reply(c, r, (int)n, "", body, strlen(body));
}

static int
th_echo(struct th_conn *c, const struct th_req *r, long n)
{
	return th_reply(c, r, 200, "Content-Type: text/plain\r\n", c->buf,
	    r->head_len + r->body_len);
}

static int
th_chunked(struct th_conn *c, const struct th_req *r, long n)
{
	char chunk[32];

	if (th_printf(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n") < 0)
		return -1;
	for (long i = 0; i < n; i++) {
		snprintf(chunk, sizeof(chunk), "chunk %ld\n", i);
		if (th_printf(c, "%zx\r\n%s\r\n", strlen(chunk), chunk) < 0)
			return -1;
		usleep(1000);   /* separate reads on the client's side */
	}
	return th_printf(c, "0\r\n\r\n");
}

static int
th_bytes(struct th_conn *c, const struct th_req *r, long n)
{
	char buf[16384];
	long off = 0;
	size_t k;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)('a' + i % 26);
	if (th_printf(c, "HTTP/1.1 200 OK\r\nContent-Length: %ld\r\n\r\n",
	    n) < 0)
		return -1;
	while (off < n) {       /* sizeof(buf) is a multiple of 26 */
		k = (size_t)(n - off) < sizeof(buf) - sizeof(buf) % 26 ?
		    (size_t)(n - off) : sizeof(buf) - sizeof(buf) % 26;
		if (th_write(c, buf, k) < 0)
			return -1;
		off += (long)k;
	}
	return 0;
}

static int
th_slow(struct th_conn *c, const struct th_req *r, long ms)
{
	usleep((useconds_t)ms * 1000);
	return th_reply(c, r, 200, "", "slow\n", 5);
}

static int
th_hang(struct th_conn *c, const struct th_req *r, long n)
{
	while (!c->s->stop && th_fill(c, 1) > 0)
		;
	return -1;
}

/* A 200 with a long Content-Length, then a byte every ms milliseconds
 * until the client closes: the same I/O timeout never passes. */
static int
th_trickle(struct th_conn *c, const struct th_req *r, long ms)
{
	if (th_printf(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n"
	    "\r\n") < 0)
		return -1;
	while (!c->s->stop && th_write(c, "x", 1) == 0)
		usleep((useconds_t)ms * 1000);
	return -1;
}

static int
th_redirect(struct th_conn *c, const struct th_req *r, long n)
{
	return th_reply(c, r, 302, "Location: /status/200\r\n", "moved\n", 6);
}

static int
th_close(struct th_conn *c, const struct th_req *r, long n)
{
	th_reply(c, r, 200, "Connection: close\r\n", "bye\n", 4);
	return -1;
}

static int
th_drop(struct th_conn *c, const struct th_req *r, long n)
{
	th_reply(c, r, 200, "", "dropped\n", 8);
	return -1;
}

static int
th_nolength(struct th_conn *c, const struct th_req *r, long n)
{
	th_printf(c, "HTTP/1.1 200 OK\r\n\r\nuntil the end");
	return -1;
}

/* 503 asking for N seconds before the next try. */
static int
th_retry_after(struct th_conn *c, const struct th_req *r, long n)
{
	char head[64];

	snprintf(head, sizeof(head), "Retry-After: %ld\r\n", n);
	return th_reply(c, r, 503, head, "busy\n", 5);
}

static int
th_binary(struct th_conn *c, const struct th_req *r, long n)
{
	static const char body[] = "ok\xff\xfe\0A\xc3\xa9\xe2\x82";

	return th_reply(c, r, 200, "", body, sizeof(body) - 1);
}

static int
th_headers(struct th_conn *c, const struct th_req *r, long n)
{
	return th_reply(c, r, 200, "X-One: 1\r\nX-Multi: a\r\nX-Multi: b\r\n"
	    "X-Latin: caf\xe9\r\n", "", 0);
}

static const struct {
	const char *prefix;
	int (*fn)(struct th_conn *, const struct th_req *, long);
	bool inflight;          /* counted in inflight while answered */
} th_paths[] = {
	{ "/status/", th_status, true },
	{ "/echo", th_echo, true },
	{ "/chunked/", th_chunked, true },
	{ "/bytes/", th_bytes, true },
	{ "/slow/", th_slow, true },
	{ "/hang", th_hang, false },
	{ "/trickle/", th_trickle, false },
	{ "/redirect", th_redirect, true },
	{ "/close", th_close, true },
	{ "/drop", th_drop, true },
	{ "/nolength", th_nolength, true },
	{ "/binary", th_binary, true },
	{ "/headers", th_headers, true },
	{ "/retry-after/", th_retry_after, true },
};

static int
th_answer(struct th_conn *c, const struct th_req *r)
{
	size_t i, n = sizeof(th_paths) / sizeof(th_paths[0]);
	size_t plen;
	int rc;

	for (i = 0; i < n; i++) {
		plen = strlen(th_paths[i].prefix);
		if (strncmp(r->target, th_paths[i].prefix, plen) == 0)
			break;
	}
	if (i == n)
		return th_status(c, r, 404);
	if (th_paths[i].inflight)
		th_count(c->s, &c->s->st.inflight, 1);
	rc = th_paths[i].fn(c, r, strtol(r->target + plen, NULL, 10));
	if (th_paths[i].inflight)
		th_count(c->s, &c->s->st.inflight, -1);
	return rc;
}

/* ---- threads ------------------------------------------------------------- */

static void *
th_conn_main(void *arg)
{
	struct th_conn *c = arg;
	struct th_server *s = c->s;
	struct th_req r;

	if (s->tls) {
		if ((c->ssl = SSL_new(s->ctx)) == NULL ||
		    SSL_set_fd(c->ssl, c->fd) != 1 || SSL_accept(c->ssl) != 1)
			goto out;
	}
	while (!s->stop && th_read_req(c, &r) == 0) {
		th_count(s, &s->st.requests, 1);
		if (th_answer(c, &r) < 0 || r.close)
			break;
		th_consume(c, r.head_len + r.body_len);
	}
out:
	pthread_mutex_lock(&s->mu);
	SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->fd);
	c->fd = -1;
	s->st.closed++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

static void
th_accept_one(struct th_server *s)
{
	struct th_conn *c;
	int fd, one = 1;

	if ((fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return;
	/* A head and a body written apart must not wait for a delayed ACK. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	c->s = s;
	c->fd = fd;
	pthread_mutex_lock(&s->mu);
	c->next = s->conns;
	s->conns = c;
	s->st.conns++;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	ck_assert_int_eq(pthread_create(&c->tid, NULL, th_conn_main, c), 0);
}

static void *
th_acceptor(void *arg)
{
	struct th_server *s = arg;
	struct pollfd p = { .fd = s->lfd, .events = POLLIN };

	while (!s->stop)
		if (poll(&p, 1, 20) > 0)
			th_accept_one(s);
	return NULL;
}

/* ---- TLS ----------------------------------------------------------------- */

static X509 *
th_self_signed(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name;
	X509_EXTENSION *ext;
	X509V3_CTX v3;

	ck_assert_ptr_nonnull(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	    "DNS:localhost");
	ck_assert_ptr_nonnull(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	return x;
}

/* A server context with a fresh key and a certificate for "localhost",
 * written to s->cert for the client's trust store. */
static void
th_tls_setup(struct th_server *s)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x;
	FILE *f;
	int fd;

	ck_assert_ptr_nonnull(key);
	x = th_self_signed(key);
	snprintf(s->cert, sizeof(s->cert), "/tmp/th-cert-XXXXXX");
	ck_assert_int_ge(fd = mkstemp(s->cert), 0);
	ck_assert_ptr_nonnull(f = fdopen(fd, "w"));
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
	fclose(f);
	ck_assert_ptr_nonnull(s->ctx = SSL_CTX_new(TLS_server_method()));
	ck_assert_int_eq(SSL_CTX_use_certificate(s->ctx, x), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(s->ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
}

/* ---- the server ---------------------------------------------------------- */

/* A TCP socket bound to 127.0.0.1 (v6: ::1) on a free port; *port gets
 * it.  -1 when v6 and the host has no ::1. */
static int
th_bind(bool v6, int *port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = v6 ? sizeof(*a6) : sizeof(*a);
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (v6 && fd < 0)
		return -1;
	ck_assert_int_ge(fd, 0);
	if (v6) {
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_loopback;
	} else {
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		ck_assert_msg(v6, "bind 127.0.0.1: %s", strerror(errno));
		close(fd);
		return -1;
	}
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(v6 ? a6->sin6_port : a->sin_port);
	return fd;
}

static struct th_server *
th_start_on(bool tls, bool v6)
{
	struct th_server *s = calloc(1, sizeof(*s));

	ck_assert_ptr_nonnull(s);
	signal(SIGPIPE, SIG_IGN);       /* SSL_write to a closed socket */
	s->tls = tls;
	s->v6 = v6;
	if ((s->lfd = th_bind(v6, &s->port)) < 0) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (tls)
		th_tls_setup(s);
	ck_assert_int_eq(listen(s->lfd, 128), 0);
	ck_assert_int_ge(s->dead_fd = th_bind(v6, &s->dead_port), 0);
	ck_assert_int_eq(pthread_create(&s->acceptor, NULL, th_acceptor, s),
	    0);
	return s;
}

struct th_server *
th_start(bool tls)
{
	return th_start_on(tls, false);
}

struct th_server *
th_start6(bool tls)
{
	return th_start_on(tls, true);
}

void
th_stop(struct th_server *s)
{
	struct th_conn *c;

	s->stop = true;
	pthread_join(s->acceptor, NULL);
	pthread_mutex_lock(&s->mu);
	for (c = s->conns; c != NULL; c = c->next)
		if (c->fd >= 0)
			shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&s->mu);
	while ((c = s->conns) != NULL) {
		pthread_join(c->tid, NULL);
		s->conns = c->next;
		free(c->buf);
		free(c);
	}
	close(s->lfd);
	close(s->dead_fd);
	if (s->tls) {
		SSL_CTX_free(s->ctx);
		unlink(s->cert);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int
th_port(const struct th_server *s)
{
	return s->port;
}

int
th_dead_port(const struct th_server *s)
{
	return s->dead_port;
}

const char *
th_cert_file(const struct th_server *s)
{
	return s->tls ? s->cert : NULL;
}

const char *
th_url(const struct th_server *s, const char *path)
{
	static char bufs[4][1100];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s://%s:%d%s", s->tls ? "https" :
	    "http", s->v6 ? "[::1]" : "127.0.0.1", s->port, path);
	return b;
}
