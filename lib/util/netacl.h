/*
 * netacl.h — where an outgoing connection may go: lists of address blocks
 * and host names (the [daemon] keys http_allow and http_deny), and the
 * decision for one destination.
 *
 * A list is text: entries separated by blanks or commas, each an address
 * (192.0.2.7, 2001:db8::7), a block (10.0.0.0/8, fd00::/8), a host name
 * (api.example.com) or a wildcard name (*.example.com: every name under
 * it, not example.com itself).  IPv4-mapped IPv6 addresses
 * (::ffff:127.0.0.1) are IPv4 addresses, in a list and at a check alike:
 * the kernel connects to the IPv4 address.
 *
 * The decision (netacl_check) for an address reached through a name:
 *  1. the most specific entry of either list that matches wins: a name
 *     over any block, an exact name over a wildcard, a longer wildcard
 *     over a shorter one, a longer prefix over a shorter one; a tie goes
 *     to deny;
 *  2. no entry matches: the built-in blocks (loopback, "this host",
 *     link-local, the cloud metadata addresses: netacl.c) are denied,
 *     every other address is allowed.
 * So `http_allow = 127.0.0.0/8` lets jobs reach the host's own services,
 * and `http_deny = 0.0.0.0/0 ::/0` with `http_allow = 203.0.113.0/24` is an
 * allow-list.  The check is pure (no lookup, no I/O): the caller resolves,
 * checks each address it is about to connect to, and connects to that
 * very address, so no second lookup can change it (DNS rebinding).
 */
#ifndef JOBD_NETACL_H
#define JOBD_NETACL_H

#include <stdbool.h>
#include <stddef.h>

struct sockaddr;
struct netacl;

/* Entries in one list. */
#define NETACL_MAX 64

/* Longest text of one decision's reason ("loopback (127.0.0.0/8)"). */
#define NETACL_WHY_MAX 320

/* Parse text into *out (an empty or all-blank text is an empty list,
 * never NULL).  0; -EINVAL with msg naming the bad entry and why
 * ("\"10.1.2.3/8\": bits set past the /8 prefix; write 10.0.0.0/8"); or
 * -ENOMEM. */
int netacl_parse(const char *text, struct netacl **out, char *msg,
    size_t msglen) __attribute__((warn_unused_result));

/* Free l (NULL is fine). */
void netacl_free(struct netacl *l);

/* The entries as a config value: one blank between entries, each as
 * parsed (names lower-cased); parses back to the same list.  "" for an
 * empty list (and for NULL).  Valid until netacl_free(l). */
const char *netacl_text(const struct netacl *l);

/* What decided. */
enum netacl_from {
	NETACL_NONE,            /* nothing matched: allowed */
	NETACL_ALLOW,           /* an entry of the allow list */
	NETACL_DENY,            /* an entry of the deny list */
	NETACL_BUILTIN,         /* a built-in block: denied */
};

/* A decision, and why. */
struct netacl_verdict {
	bool allowed;
	enum netacl_from from;
	char why[NETACL_WHY_MAX];   /* the entry or block that decided */
	char addr[48];              /* the address checked, as text */
};

/* Decide for address sa (AF_INET or AF_INET6; another family is denied)
 * reached through host name (NULL or an address literal: names do not
 * apply).  allow and deny may be NULL (empty). */
void netacl_check(const struct netacl *allow, const struct netacl *deny,
    const char *name, const struct sockaddr *sa, struct netacl_verdict *v);

#endif /* JOBD_NETACL_H */
