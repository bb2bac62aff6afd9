/*
 * netacl.c — address and name lists, and the decision (see netacl.h).
 *
 * Addresses are kept as 16 bytes and a family; an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) becomes the IPv4 address it stands for, in a
 * list and at a check, so that no spelling of 127.0.0.1 gets past
 * 127.0.0.0/8.  Lists are short (NETACL_MAX) and checked only when a
 * connection is made, so a linear scan is all it takes.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "netacl.h"

/* Longest host name (DNS) and entry text. */
#define NAME_MAX_LEN 253
#define ENTRY_TEXT   (NAME_MAX_LEN + 3)

/* How specific a name entry is: more than any prefix (at most 128). */
#define SPEC_WILD  500          /* + the suffix's length */
#define SPEC_EXACT 1000

enum etype { E_NET, E_NAME, E_WILD };

struct addr {
	int fam;                        /* AF_INET or AF_INET6 */
	unsigned char b[16];            /* AF_INET: the first 4 */
};

struct entry {
	enum etype type;
	struct addr a;                  /* E_NET */
	int bits;                       /* E_NET: the prefix */
	char name[NAME_MAX_LEN + 2];    /* E_NAME; E_WILD: ".suffix" */
};

struct netacl {
	size_t n;
	struct entry e[NETACL_MAX];
	char *text;                     /* netacl_text */
};

/* Denied unless an entry says otherwise: what reaches this host itself,
 * its link, and the cloud metadata services (credentials, user data).
 * The more specific block first, so that it names the address. */
static const struct builtin {
	int fam;
	const char *net;
	int bits;
	const char *what;
} builtins[] = {
	{ AF_INET, "0.0.0.0", 8, "\"this host\"" },
	{ AF_INET, "127.0.0.0", 8, "loopback" },
	{ AF_INET, "169.254.169.254", 32, "cloud metadata" },
	{ AF_INET, "169.254.0.0", 16, "link-local" },
	{ AF_INET, "100.100.100.200", 32, "cloud metadata" },
	{ AF_INET6, "::", 128, "unspecified" },
	{ AF_INET6, "::1", 128, "loopback" },
	{ AF_INET6, "fd00:ec2::254", 128, "cloud metadata" },
	{ AF_INET6, "fe80::", 10, "link-local" },
};
#define NBUILTINS (sizeof(builtins) / sizeof(builtins[0]))

/* ---- addresses ------------------------------------------------------------ */

static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0xff, 0xff };

/* ::ffff:a.b.c.d is a.b.c.d; *bits (if not NULL) follows. */
static void
addr_unmap(struct addr *a, int *bits)
{
	if (a->fam != AF_INET6 || memcmp(a->b, mapped, 12) != 0 ||
	    (bits != NULL && *bits < 96))
		return;
	a->fam = AF_INET;
	memmove(a->b, a->b + 12, 4);
	memset(a->b + 4, 0, 12);
	if (bits != NULL)
		*bits -= 96;
}

/* An address literal (no brackets, no zone): 0, or -1. */
static int
addr_parse(const char *s, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->b) == 1)
		a->fam = AF_INET;
	else if (inet_pton(AF_INET6, s, a->b) == 1)
		a->fam = AF_INET6;
	else
		return -1;
	return 0;
}

static bool
addr_in(const struct addr *a, const struct addr *net, int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (a->fam != net->fam || memcmp(a->b, net->b, (size_t)whole) != 0)
		return false;
	return rest == 0 || ((a->b[whole] ^ net->b[whole]) &
	    (0xff << (8 - rest))) == 0;
}

/* Does net have bits set past its prefix? */
static bool
addr_host_bits(const struct addr *net, int bits)
{
	struct addr z = *net;
	int len = net->fam == AF_INET ? 4 : 16;

	for (int i = bits; i < len * 8; i++)
		z.b[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
	return memcmp(z.b, net->b, (size_t)len) != 0;
}

static void
addr_text(const struct addr *a, char *b, size_t len)
{
	if (inet_ntop(a->fam, a->b, b, (socklen_t)len) == NULL)
		snprintf(b, len, "?");
}

/* ---- parsing -------------------------------------------------------------- */

/* "10.0.0.0/8", "fd00::/8": 0, or -EINVAL with msg. */
static int
parse_block(char *tok, char *slash, struct entry *e, char *msg, size_t len)
{
	const char *bits = slash + 1;
	int max;

	*slash = '\0';
	if (addr_parse(tok, &e->a) < 0) {
		snprintf(msg, len, "\"%s/%s\": \"%s\" is not an IPv4 or IPv6 "
		    "address", tok, bits, tok);
		return -EINVAL;
	}
	max = e->a.fam == AF_INET ? 32 : 128;
	if (*bits == '\0' || strspn(bits, "0123456789") != strlen(bits) ||
	    strlen(bits) > 3 || (e->bits = atoi(bits)) > max) {
		snprintf(msg, len, "\"%s/%s\": the prefix must be 0 to %d",
		    tok, bits, max);
		return -EINVAL;
	}
	if (addr_host_bits(&e->a, e->bits)) {
		snprintf(msg, len, "\"%s/%s\": bits set past the /%d prefix",
		    tok, bits, e->bits);
		return -EINVAL;
	}
	addr_unmap(&e->a, &e->bits);
	e->type = E_NET;
	return 0;
}

/* A host name's labels: 1 to 63 of A-Z a-z 0-9 - _, not starting or
 * ending with '-'. */
static bool
name_valid(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (s[i] == '.' || s[i] == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_')
			return false;
		if (label++ == 0 && s[i] == '-')
			return false;
	}
	return true;
}

/* "api.example.com", "*.example.com": 0, or -EINVAL with msg. */
static int
parse_name(char *tok, struct entry *e, char *msg, size_t len)
{
	bool wild = strncmp(tok, "*.", 2) == 0;
	char *s = tok + (wild ? 2 : 0);
	size_t n = strlen(s);

	if (n > 1 && s[n - 1] == '.')
		s[--n] = '\0';
	if (strspn(s, "0123456789.") == n || strchr(s, ':') != NULL) {
		snprintf(msg, len, "\"%s\": not an IPv4 or IPv6 address, nor a "
		    "host name", tok);
		return -EINVAL;
	}
	if (!name_valid(s)) {
		snprintf(msg, len, "\"%s\": not an address, a block "
		    "(10.0.0.0/8), a host name or *.name", tok);
		return -EINVAL;
	}
	e->type = wild ? E_WILD : E_NAME;
	snprintf(e->name, sizeof(e->name), "%s%s", wild ? "." : "", s);
	for (char *p = e->name; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

static int
parse_entry(char *tok, struct entry *e, char *msg, size_t len)
{
	char *slash = strchr(tok, '/');

	memset(e, 0, sizeof(*e));
	if (slash != NULL)
		return parse_block(tok, slash, e, msg, len);
	if (addr_parse(tok, &e->a) == 0) {
		e->type = E_NET;
		e->bits = e->a.fam == AF_INET ? 32 : 128;
		addr_unmap(&e->a, &e->bits);
		return 0;
	}
	return parse_name(tok, e, msg, len);
}

static void
entry_text(const struct entry *e, char *b, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (e->type == E_NAME) {
		snprintf(b, len, "%s", e->name);
		return;
	}
	if (e->type == E_WILD) {
		snprintf(b, len, "*%s", e->name);
		return;
	}
	addr_text(&e->a, a, sizeof(a));
	if (e->bits == (e->a.fam == AF_INET ? 32 : 128))
		snprintf(b, len, "%s", a);
	else
		snprintf(b, len, "%s/%d", a, e->bits);
}

/* The list as text, for netacl_text. */
static int
make_text(struct netacl *l)
{
	size_t cap = l->n * (ENTRY_TEXT + 1) + 1, off = 0;
	char one[ENTRY_TEXT + 1];

	if ((l->text = malloc(cap)) == NULL)
		return -ENOMEM;
	l->text[0] = '\0';
	for (size_t i = 0; i < l->n; i++) {
		entry_text(&l->e[i], one, sizeof(one));
		off += (size_t)snprintf(l->text + off, cap - off, "%s%s",
		    i > 0 ? " " : "", one);
	}
	return 0;
}

int
netacl_parse(const char *text, struct netacl **out, char *msg, size_t msglen)
{
	struct netacl *l;
	char *copy, *tok, *save = NULL;
	int rc = 0;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL || (copy = strdup(text)) ==
	    NULL) {
		free(l);
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	for (tok = strtok_r(copy, " \t,", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, " \t,", &save)) {
		if (l->n == NETACL_MAX) {
			snprintf(msg, msglen, "more than %d entries",
			    NETACL_MAX);
			rc = -EINVAL;
		} else if ((rc = parse_entry(tok, &l->e[l->n], msg,
		    msglen)) == 0)
			l->n++;
	}
	free(copy);
	if (rc == 0 && (rc = make_text(l)) < 0)
		snprintf(msg, msglen, "out of memory");
	if (rc < 0) {
		netacl_free(l);
		return rc;
	}
	*out = l;
	return 0;
}

void
netacl_free(struct netacl *l)
{
	if (l == NULL)
		return;
	free(l->text);
	free(l);
}

const char *
netacl_text(const struct netacl *l)
{
	return l != NULL ? l->text : "";
}

/* ---- the decision ----------------------------------------------------------- */

/* Length of a host name without its final dot. */
static size_t
name_len(const char *name)
{
	size_t n = strlen(name);

	return n > 1 && name[n - 1] == '.' ? n - 1 : n;
}

/* How specifically e matches (a, name): 0 for not at all, else higher is
 * more specific (a /0 block scores 1). */
static int
entry_match(const struct entry *e, const struct addr *a, const char *name)
{
	size_t n = name != NULL ? name_len(name) : 0, sl = strlen(e->name);

	if (e->type == E_NET)
		return addr_in(a, &e->a, e->bits) ? e->bits + 1 : 0;
	if (name == NULL)
		return 0;
	if (e->type == E_NAME)
		return sl == n && strncasecmp(e->name, name, n) == 0 ?
		    SPEC_EXACT : 0;
	/* E_WILD: e->name is ".suffix", so example.com is not under it */
	return n > sl && strncasecmp(name + n - sl, e->name, sl) == 0 ?
	    SPEC_WILD + (int)sl : 0;
}

/* The most specific entry of l matching: its score (0: none), *best. */
static int
list_match(const struct netacl *l, const struct addr *a, const char *name,
    const struct entry **best)
{
	int top = 0, s;

	*best = NULL;
	for (size_t i = 0; l != NULL && i < l->n; i++)
		if ((s = entry_match(&l->e[i], a, name)) > top) {
			top = s;
			*best = &l->e[i];
		}
	return top;
}

static const struct builtin *
builtin_match(const struct addr *a)
{
	struct addr net;

	for (size_t i = 0; i < NBUILTINS; i++) {
		memset(&net, 0, sizeof(net));
		net.fam = builtins[i].fam;
		if (inet_pton(net.fam, builtins[i].net, net.b) == 1 &&
		    addr_in(a, &net, builtins[i].bits))
			return &builtins[i];
	}
	return NULL;
}

static int
sockaddr_addr(const struct sockaddr *sa, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	a->fam = sa->sa_family;
	if (sa->sa_family == AF_INET)
		memcpy(a->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	else if (sa->sa_family == AF_INET6)
		memcpy(a->b, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		    16);
	else
		return -1;
	addr_unmap(a, NULL);
	return 0;
}

void
netacl_check(const struct netacl *allow, const struct netacl *deny,
    const char *name, const struct sockaddr *sa, struct netacl_verdict *v)
{
	const struct entry *ea, *ed;
	const struct builtin *b;
	struct addr a, lit;
	int sa_score, sd_score;

	memset(v, 0, sizeof(*v));
	if (sockaddr_addr(sa, &a) < 0) {
		snprintf(v->addr, sizeof(v->addr), "(family %d)",
		    sa->sa_family);
		snprintf(v->why, sizeof(v->why), "not an IP address");
		v->from = NETACL_BUILTIN;
		return;
	}
	addr_text(&a, v->addr, sizeof(v->addr));
	if (name != NULL && addr_parse(name, &lit) == 0)
		name = NULL;    /* a literal: only blocks apply */
	sa_score = list_match(allow, &a, name, &ea);
	sd_score = list_match(deny, &a, name, &ed);
	if (sd_score > 0 && sd_score >= sa_score) {
		v->from = NETACL_DENY;
		entry_text(ed, v->why, sizeof(v->why));
	} else if (sa_score > 0) {
		v->allowed = true;
		v->from = NETACL_ALLOW;
		entry_text(ea, v->why, sizeof(v->why));
	} else if ((b = builtin_match(&a)) != NULL) {
		v->from = NETACL_BUILTIN;
		snprintf(v->why, sizeof(v->why), "%s (%s/%d)", b->what, b->net,
		    b->bits);
	} else {
		v->allowed = true;
	}
}
