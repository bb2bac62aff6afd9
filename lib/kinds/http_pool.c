/*
 * http_pool.c — the http kind's connections (see http_pool.h).
 *
 * Who frees what, since libevent calls back into what we hold:
 *  - an http_conn owns its evhttp_connection, which owns its bufferevent,
 *    which owns (https) its SSL.  conn_free frees the lot, always from a
 *    task or from the conn's own timer, never inside an evhttp callback.
 *    The callbacks we give evhttp (conn_closed, conn_event) only record
 *    what happened.
 *  - a name lookup that a cancelled task gives up is cancelled and waited
 *    for (shielded; libevent reports the cancellation on the next loop
 *    turn), so that no lookup is left pending when the pool is freed.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "co.h"
#include "co_pool.h"
#include "co_sched.h"
#include "co_sync.h"
#include "http_pool.h"
#include "log.h"
#include "netacl.h"

#define HOST_BUCKETS 256
/* How long a cancelled lookup may take to report that it is over. */
#define LOOKUP_CANCEL_WAIT 5.0

TAILQ_HEAD(conn_list, http_conn);

struct http_pool {
	struct event_base *base;
	struct evdns_base *dns;
	SSL_CTX *tls;                   /* made at the first https request */
	bool tls_loading;
	struct co_waitq tls_wait;       /* tasks waiting for it */
	struct co_pool *tls_thread;     /* where it is made */
	unsigned per_host;
	const struct netacl *allow, *deny;      /* where conns may go */
	struct conn_list idle;          /* every idle conn, oldest first */
	LIST_HEAD(, http_host) hosts[HOST_BUCKETS];
	struct http_pool_stats st;
};

struct http_host {
	LIST_ENTRY(http_host) link;
	struct http_pool *pool;
	char *name;                     /* as in the URL; IPv6 without [] */
	int port;
	bool tls;
	struct co_sem *permits;
	unsigned users;                 /* leases held or waited for */
	struct conn_list idle;          /* newest last */
};

struct http_conn {
	struct http_host *host;
	struct evhttp_connection *evcon;
	SSL *ssl;                       /* https; the bufferevent's */
	struct event *timer;            /* idle timeout, or "free me" */
	TAILQ_ENTRY(http_conn) hlink;   /* host->idle */
	TAILQ_ENTRY(http_conn) plink;   /* pool->idle */
	bool idle;
	bool closed;                    /* its socket is gone */
	bool connected;
	unsigned served;                /* requests sent on it */
	/* The connect phase, as seen through evhttp's bufferevent callback. */
	bufferevent_event_cb evhttp_cb;
	void *evhttp_arg;
	short what;                     /* the BEV_EVENT_* that ended it */
	int sock_err;                   /* errno of a failed connect */
	unsigned long tls_err;          /* first OpenSSL error, if any */
	struct sockaddr_storage sa;     /* the address it connects to */
	char ip[INET6_ADDRSTRLEN];
	char name[300];                 /* "host:port" */
	char addr[INET6_ADDRSTRLEN + 8];        /* "address:port" */
};

/* ---- hosts --------------------------------------------------------------- */

static unsigned
host_hash(const char *name, int port, bool tls)
{
	unsigned h = 2166136261u;       /* FNV-1a, names without case */

	for (const unsigned char *s = (const unsigned char *)name; *s; s++)
		h = (h ^ (unsigned)tolower(*s)) * 16777619u;
	h = (h ^ (unsigned)port) * 16777619u;
	return (h ^ (unsigned)tls) % HOST_BUCKETS;
}

static struct http_host *
host_new(struct http_pool *p, const struct http_target *t, unsigned bucket)
{
	struct http_host *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->pool = p;
	h->port = t->port;
	h->tls = t->tls;
	TAILQ_INIT(&h->idle);
	if ((h->name = strdup(t->host)) == NULL ||
	    (h->permits = co_sem_new(p->per_host)) == NULL) {
		free(h->name);
		free(h);
		return NULL;
	}
	LIST_INSERT_HEAD(&p->hosts[bucket], h, link);
	p->st.hosts++;
	return h;
}

static struct http_host *
host_get(struct http_pool *p, const struct http_target *t)
{
	unsigned b = host_hash(t->host, t->port, t->tls);
	struct http_host *h;

	LIST_FOREACH(h, &p->hosts[b], link)
		if (h->port == t->port && h->tls == t->tls &&
		    strcasecmp(h->name, t->host) == 0)
			return h;
	return host_new(p, t, b);
}

/* Forget h once nothing refers to it: hosts come and go with their jobs,
 * so the table is bounded by what is in use. */
static void
host_put(struct http_host *h)
{
	if (h->users > 0 || !TAILQ_EMPTY(&h->idle))
		return;
	LIST_REMOVE(h, link);
	h->pool->st.hosts--;
	co_sem_free(h->permits);
	free(h->name);
	free(h);
}

/* ---- connections --------------------------------------------------------- */

static void
idle_unlink(struct http_conn *c)
{
	TAILQ_REMOVE(&c->host->idle, c, hlink);
	TAILQ_REMOVE(&c->host->pool->idle, c, plink);
	c->host->pool->st.idle--;
	c->idle = false;
	evtimer_del(c->timer);
}

static void
conn_free(struct http_conn *c)
{
	struct http_host *h = c->host;

	if (c->idle)
		idle_unlink(c);
	if (c->evcon != NULL)
		evhttp_connection_free(c->evcon);  /* may call conn_closed */
	event_free(c->timer);
	free(c);
	host_put(h);
}

/* evhttp: the socket is closing (server's close, a reset, our free). */
static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct http_conn *c = arg;

	c->closed = true;
	if (c->idle)            /* free it from the loop, not inside evhttp */
		event_active(c->timer, EV_TIMEOUT, 0);
}

/* The idle timeout, or an idle connection the server closed. */
static void
conn_timer(evutil_socket_t fd, short what, void *arg)
{
	conn_free(arg);
}

/* Send a request's last segment at once, not after the ACK of the ones
 * before it (Nagle): a request is written whole, there is nothing to
 * coalesce. */
static void
nodelay(struct bufferevent *bev)
{
	int one = 1;

	(void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY,
	    &one, sizeof(one));
}

/* The connect phase: learn why a connect or handshake failed (evhttp only
 * says that it did), then hand over to evhttp.  Once connected, evhttp
 * puts its own callbacks back. */
static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;
	int e = errno;

	if (what & BEV_EVENT_CONNECTED) {
		c->connected = true;
		nodelay(bev);
	} else {
		c->what = what;
		if (what & BEV_EVENT_ERROR)
			c->sock_err = e;
		if (c->ssl != NULL)
			c->tls_err = bufferevent_get_openssl_error(bev);
	}
	errno = e;              /* evhttp looks at it */
	c->evhttp_cb(bev, what, c->evhttp_arg);
}

static void
conn_watch(struct http_conn *c)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
	bufferevent_data_cb rd, wr;

	bufferevent_getcb(bev, &rd, &wr, &c->evhttp_cb, &c->evhttp_arg);
	if (c->evhttp_cb != NULL)
		bufferevent_setcb(bev, rd, wr, conn_event, c);
}

/* What the certificate must name: the address for an IP literal (no SNI
 * then: RFC 6066 allows only names), else the host name, also sent as
 * SNI. */
static int
tls_name(SSL *ssl, const char *host)
{
	unsigned char a[sizeof(struct in6_addr)];

	if (evutil_inet_pton(AF_INET, host, a) == 1 ||
	    evutil_inet_pton(AF_INET6, host, a) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    host) == 1 ? 0 : -1;
	if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
	    SSL_set1_host(ssl, host) != 1)
		return -1;
	return 0;
}

static struct bufferevent *
tls_bev(struct http_conn *c)
{
	struct http_pool *p = c->host->pool;
	struct bufferevent *bev;
	SSL *ssl;

	if ((ssl = SSL_new(p->tls)) == NULL)
		return NULL;
	if (tls_name(ssl, c->host->name) < 0 ||
	    (bev = bufferevent_openssl_socket_new(p->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	/* Many servers close without a close_notify; the body's framing
	 * says whether it is complete, not TLS. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	c->ssl = ssl;
	return bev;
}

static void
conn_names(struct http_conn *c, const struct evutil_addrinfo *ai)
{
	const struct sockaddr *sa = ai->ai_addr;
	const void *a = sa->sa_family == AF_INET6 ?
	    (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr :
	    (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
	bool v6 = sa->sa_family == AF_INET6;
	const char *name = c->host->name;

	if (evutil_inet_ntop(sa->sa_family, a, c->ip, sizeof(c->ip)) == NULL)
		snprintf(c->ip, sizeof(c->ip), "?");
	snprintf(c->addr, sizeof(c->addr), "%s%s%s:%d", v6 ? "[" : "",
	    c->ip, v6 ? "]" : "", c->host->port);
	v6 = strchr(name, ':') != NULL;
	snprintf(c->name, sizeof(c->name), "%s%s%s:%d", v6 ? "[" : "", name,
	    v6 ? "]" : "", c->host->port);
}

static int
conn_new(struct http_host *h, const struct evutil_addrinfo *ai,
    struct http_conn **out)
{
	struct http_pool *p = h->pool;
	struct bufferevent *bev = NULL;
	struct http_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->host = h;
	memcpy(&c->sa, ai->ai_addr, ai->ai_addrlen <= sizeof(c->sa) ?
	    ai->ai_addrlen : sizeof(c->sa));
	conn_names(c, ai);
	if ((c->timer = evtimer_new(p->base, conn_timer, c)) == NULL ||
	    (h->tls && (bev = tls_bev(c)) == NULL))
		goto fail;
	/* A numeric address and no resolver: evhttp connects at once. */
	c->evcon = evhttp_connection_base_bufferevent_new(p->base, NULL, bev,
	    c->ip, (unsigned short)h->port);
	if (c->evcon == NULL)
		goto fail;
	evhttp_connection_set_timeout(c->evcon, HTTP_IO_TIMEOUT);
	evhttp_connection_set_max_headers_size(c->evcon, HTTP_HEAD_MAX);
	evhttp_connection_set_closecb(c->evcon, conn_closed, c);
	p->st.opened++;
	*out = c;
	return 0;
fail:
	if (bev != NULL)
		bufferevent_free(bev);
	if (c->timer != NULL)
		event_free(c->timer);
	free(c);
	return -ENOMEM;
}

/* May a connection to sa go ahead under the pool's lists now?  0, or
 * -EACCES with err saying which address and which key. */
static int
policy_check(const struct http_host *h, const struct sockaddr *sa,
    char *err, size_t errlen)
{
	const struct http_pool *p = h->pool;
	struct netacl_verdict v;
	bool v6 = strchr(h->name, ':') != NULL;

	netacl_check(p->allow, p->deny, h->name, sa, &v);
	if (v.allowed)
		return 0;
	if (v.from == NETACL_DENY)
		snprintf(err, errlen, "destination %s of %s%s%s:%d is denied "
		    "by http_deny (%s)", v.addr, v6 ? "[" : "", h->name,
		    v6 ? "]" : "", h->port, v.why);
	else
		snprintf(err, errlen, "destination %s of %s%s%s:%d is denied: "
		    "%s address; list it in http_allow to reach it", v.addr,
		    v6 ? "[" : "", h->name, v6 ? "]" : "", h->port, v.why);
	return -EACCES;
}

/* The newest idle connection of h still open and still allowed (the
 * lists may have changed since it was made), or NULL. */
static struct http_conn *
idle_take(struct http_host *h)
{
	struct http_conn *c;
	char why[8];

	while ((c = TAILQ_LAST(&h->idle, conn_list)) != NULL) {
		idle_unlink(c);
		if (!c->closed && policy_check(h, (struct sockaddr *)&c->sa,
		    why, sizeof(why)) == 0)
			return c;
		conn_free(c);   /* h has a user: it stays */
	}
	return NULL;
}

/* ---- name lookups -------------------------------------------------------- */

struct lookup {
	struct co_task *task;
	struct evutil_addrinfo *res;
	int result;
	bool done;
	bool abandoned;         /* nobody waits: the callback frees it */
};

static void
lookup_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct lookup *lk = arg;

	if (lk->abandoned) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		free(lk);
		return;
	}
	lk->result = result;
	lk->res = res;
	lk->done = true;
	co_wake(lk->task, 0);
}

/* The task gave up on lk: cancel it and wait (shielded) for its callback,
 * which libevent runs on a later loop turn; past LOOKUP_CANCEL_WAIT, leave
 * lk to the callback. */
static void
lookup_abandon(struct lookup *lk, struct evdns_getaddrinfo_request *req)
{
	double deadline = co_now() + LOOKUP_CANCEL_WAIT;

	evdns_getaddrinfo_cancel(req);
	co_shield_enter();
	while (!lk->done && co_park(deadline, -ETIMEDOUT) == 0)
		;
	co_shield_exit();
	if (!lk->done) {
		log_warnx("http: a cancelled name lookup has not ended");
		lk->abandoned = true;
		return;
	}
	if (lk->res != NULL)
		evutil_freeaddrinfo(lk->res);
	free(lk);
}

static struct evdns_getaddrinfo_request *
lookup_start(struct http_host *h, struct lookup *lk)
{
	struct evutil_addrinfo hints;
	unsigned char a[sizeof(struct in6_addr)];
	char port[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	/* Ask a name only for the families the host has an address of; an
	 * address literal is what it is, whatever the interfaces have
	 * (AI_ADDRCONFIG would refuse [::1] on a host whose only other IPv6
	 * addresses are link-local or ULA). */
	if (evutil_inet_pton(AF_INET, h->name, a) == 1 ||
	    evutil_inet_pton(AF_INET6, h->name, a) == 1)
		hints.ai_flags = EVUTIL_AI_NUMERICHOST;
	else
		hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	snprintf(port, sizeof(port), "%d", h->port);
	lk->task = co_self();
	/* NULL when answered at once (numeric, /etc/hosts): lk is done. */
	return evdns_getaddrinfo(h->pool->dns, h->name, port, &hints,
	    lookup_cb, lk);
}

static int
resolve(struct http_lease *l, char *err, size_t errlen)
{
	struct evdns_getaddrinfo_request *req;
	struct lookup *lk;
	int rc = 0;

	if ((lk = calloc(1, sizeof(*lk))) == NULL)
		return -ENOMEM;
	req = lookup_start(l->host, lk);
	while (!lk->done && req != NULL)
		if ((rc = co_park(CO_FOREVER, 0)) < 0) {
			lookup_abandon(lk, req);
			return rc;
		}
	if (!lk->done || lk->result != 0 || lk->res == NULL) {
		snprintf(err, errlen, "resolve %s: %s", l->host->name,
		    lk->done && lk->result != 0 ?
		    evutil_gai_strerror(lk->result) : "no address");
		rc = -EHOSTUNREACH;
	}
	l->addrs = l->addr = lk->res;
	free(lk);
	return rc;
}

/* ---- TLS ----------------------------------------------------------------- */

/* Making the TLS context loads the CA store: 30 to 150 ms and over 4 MiB,
 * so it is done at the first https request, not at start, and on a thread
 * of its own, not on the loop. */
struct tls_make {
	SSL_CTX *ctx;
	char err[160];
};

static void *
tls_make(void *arg)
{
	struct tls_make *m = arg;
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_default_verify_paths(ctx) != 1) {
		ERR_error_string_n(ERR_get_error(), m->err, sizeof(m->err));
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);   /* idle ones */
	m->ctx = ctx;
	return m;
}

/* A cancelled task left it to us. */
static void
tls_abandoned(void *arg, void *result)
{
	struct tls_make *m = arg;

	SSL_CTX_free(m->ctx);
	free(m);
}

static int
tls_load(struct http_pool *p, char *err, size_t errlen)
{
	struct tls_make *m;
	int rc;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return -ENOMEM;
	if (p->tls_thread == NULL &&
	    (p->tls_thread = co_pool_new(co_current_rt(), 1)) == NULL)
		rc = -errno;
	else
		rc = co_pool_run(p->tls_thread, tls_make, m, tls_abandoned,
		    NULL);
	if (rc == -ECANCELED || rc == -ETIMEDOUT)
		return rc;      /* m is the executor's now */
	if (rc < 0) {
		snprintf(err, errlen, "https is not available: %s",
		    strerror(-rc));
		free(m);
		return rc;
	}
	co_pool_free(p->tls_thread);    /* idle: joins at once */
	p->tls_thread = NULL;
	if ((p->tls = m->ctx) == NULL) {
		log_warnx("http: cannot set up TLS: %s", m->err);
		snprintf(err, errlen, "https is not available: %s", m->err);
		rc = -EIO;
	}
	free(m);
	return rc;
}

/* The TLS context, made by the first task that needs it while the
 * others wait for it. */
static int
tls_get(struct http_pool *p, char *err, size_t errlen)
{
	int rc;

	while (p->tls == NULL) {
		if (p->tls_loading) {
			if ((rc = co_waitq_wait(&p->tls_wait, CO_FOREVER,
			    NULL)) < 0)
				return rc;
			continue;
		}
		p->tls_loading = true;
		rc = tls_load(p, err, errlen);
		p->tls_loading = false;
		co_waitq_wake_all(&p->tls_wait, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- the pool ------------------------------------------------------------ */

/* The resolver of /etc/resolv.conf and /etc/hosts; it lets the loop end
 * while no lookup is running. */
static struct evdns_base *
dns_base(struct event_base *base)
{
	struct evdns_base *dns;

	dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (dns != NULL)
		return dns;
	log_warnx("http: cannot read /etc/resolv.conf: only /etc/hosts and "
	    "addresses will resolve");
	if ((dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE)) !=
	    NULL)
		(void)evdns_base_load_hosts(dns, NULL);
	return dns;
}

int
http_pool_new(struct event_base *base, int per_host, struct http_pool **out)
{
	struct http_pool *p;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -ENOMEM;
	p->base = base;
	p->per_host = per_host > 0 ? (unsigned)per_host : 1;
	TAILQ_INIT(&p->idle);
	for (size_t i = 0; i < HOST_BUCKETS; i++)
		LIST_INIT(&p->hosts[i]);
	co_waitq_init(&p->tls_wait);
	if ((p->dns = dns_base(base)) == NULL) {
		log_warnx("http: cannot set up the resolver");
		http_pool_free(p);
		return -EIO;
	}
	*out = p;
	return 0;
}

void
http_pool_free(struct http_pool *p)
{
	struct http_conn *c;

	if (p == NULL)
		return;
	while ((c = TAILQ_FIRST(&p->idle)) != NULL)
		conn_free(c);   /* and with the last one, its host */
	if (p->st.hosts != 0)
		log_warnx("http: pool freed with %zu hosts in use",
		    p->st.hosts);
	if (p->dns != NULL)
		evdns_base_free(p->dns, 0);
	co_pool_free(p->tls_thread);
	SSL_CTX_free(p->tls);
	free(p);
}

void
http_pool_policy(struct http_pool *p, const struct netacl *allow,
    const struct netacl *deny)
{
	p->allow = allow;
	p->deny = deny;
}

void
http_pool_stats(const struct http_pool *p, struct http_pool_stats *st)
{
	*st = p->st;
}

int
http_pool_acquire(struct http_pool *p, const struct http_target *t,
    struct http_lease *l)
{
	struct http_host *h;
	int rc;

	memset(l, 0, sizeof(*l));
	if ((h = host_get(p, t)) == NULL)
		return -ENOMEM;
	h->users++;
	if ((rc = co_sem_acquire(h->permits)) < 0) {
		h->users--;
		host_put(h);
		return rc;
	}
	l->host = h;
	return 0;
}

void
http_pool_release(struct http_lease *l)
{
	struct http_host *h = l->host;

	if (l->addrs != NULL)
		evutil_freeaddrinfo(l->addrs);
	co_sem_release(h->permits);
	h->users--;
	host_put(h);
	memset(l, 0, sizeof(*l));
}

/* Move the lease past the addresses the lists deny: 0 at one allowed,
 * or -EACCES with err naming the first one denied. */
static int
lease_allowed(struct http_lease *l, char *err, size_t errlen)
{
	char why[512];
	bool first = true;

	while (policy_check(l->host, l->addr->ai_addr, first ? err : why,
	    first ? errlen : sizeof(why)) < 0) {
		first = false;
		if (!http_lease_next(l))
			return -EACCES;
	}
	return 0;
}

int
http_pool_conn(struct http_lease *l, bool idle_ok, struct http_conn **out,
    char *err, size_t errlen)
{
	struct http_conn *c;
	int rc;

	*out = NULL;
	if (idle_ok && (c = idle_take(l->host)) != NULL) {
		l->host->pool->st.reused++;
		*out = c;
		return 0;
	}
	if (l->addrs == NULL && (rc = resolve(l, err, errlen)) < 0)
		return rc;
	if ((rc = lease_allowed(l, err, errlen)) < 0)
		return rc;
	if (l->host->tls && (rc = tls_get(l->host->pool, err, errlen)) < 0) {
		if (rc == -ENOMEM)
			snprintf(err, errlen, "out of memory");
		return rc;
	}
	if ((rc = conn_new(l->host, l->addr, out)) < 0)
		snprintf(err, errlen, "out of memory");
	return rc;
}

bool
http_lease_next(struct http_lease *l)
{
	if (l->addr == NULL || l->addr->ai_next == NULL ||
	    ++l->tried >= HTTP_ADDRS_MAX)
		return false;
	l->addr = l->addr->ai_next;
	return true;
}

void
http_pool_done(struct http_conn *c, bool keep)
{
	struct http_host *h = c->host;
	struct http_pool *p = h->pool;
	struct timeval tv = { HTTP_IDLE_TIMEOUT, 0 };

	if (!keep || c->closed || !c->connected) {
		conn_free(c);
		return;
	}
	c->idle = true;
	TAILQ_INSERT_TAIL(&h->idle, c, hlink);
	TAILQ_INSERT_TAIL(&p->idle, c, plink);
	p->st.idle++;
	evtimer_add(c->timer, &tv);
	if (p->st.idle > HTTP_IDLE_MAX)
		conn_free(TAILQ_FIRST(&p->idle));
}

int
http_conn_request(struct http_conn *c, struct evhttp_request *req,
    enum evhttp_cmd_type type, const char *uri)
{
	c->served++;
	if (evhttp_make_request(c->evcon, req, type, uri) < 0)
		return -ENOMEM;
	if (!c->connected)
		conn_watch(c);
	return 0;
}

bool
http_conn_reused(const struct http_conn *c)
{
	return c->served > 1;
}

bool
http_conn_connected(const struct http_conn *c)
{
	return c->connected;
}

const char *
http_conn_name(const struct http_conn *c)
{
	return c->name;
}

const char *
http_conn_failure(const struct http_conn *c, char *buf, size_t len)
{
	char where[sizeof(c->name) + sizeof(c->addr) + 4];
	long v = c->ssl != NULL ? SSL_get_verify_result(c->ssl) : X509_V_OK;
	const char *why;

	if (strcmp(c->name, c->addr) == 0)
		snprintf(where, sizeof(where), "%s", c->addr);
	else
		snprintf(where, sizeof(where), "%s (%s)", c->name, c->addr);
	if (v != X509_V_OK)
		snprintf(buf, len, "TLS handshake with %s: certificate verify "
		    "failed: %s", where, X509_verify_cert_error_string(v));
	else if (c->tls_err != 0 && (why = ERR_reason_error_string(
	    c->tls_err)) != NULL)
		snprintf(buf, len, "TLS handshake with %s: %s", where, why);
	else if (c->what & BEV_EVENT_TIMEOUT)
		snprintf(buf, len, "connect to %s: no answer within %d s",
		    where, HTTP_IO_TIMEOUT);
	else if (c->sock_err != 0)
		snprintf(buf, len, "connect to %s: %s", where,
		    strerror(c->sock_err));
	else
		snprintf(buf, len, "%s to %s failed", c->ssl != NULL ?
		    "TLS handshake" : "connect", where);
	return buf;
}
