/*
 * test_netacl.c — the http destination lists (netacl.h): what the built-in
 * blocks deny (every spelling of the loopback, "this host", link-local, the
 * metadata addresses, IPv4-mapped IPv6), what an entry opens or closes,
 * which entry wins (most specific, deny on a tie, names over blocks), and
 * the texts that parse and those refused.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "netacl.h"
#include "testutil.h"

static struct netacl *
list(const char *text)
{
	struct netacl *l;
	char msg[256];

	ck_assert_msg(netacl_parse(text, &l, msg, sizeof(msg)) == 0,
	    "netacl_parse(\"%s\"): %s", text, msg);
	return l;
}

/* The verdict for address text (v4 or v6) reached through name. */
static struct netacl_verdict
check(const struct netacl *allow, const struct netacl *deny,
    const char *name, const char *addr)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct netacl_verdict v;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1)
		in->sin_family = AF_INET;
	else {
		ck_assert_int_eq(inet_pton(AF_INET6, addr, &in6->sin6_addr),
		    1);
		in6->sin6_family = AF_INET6;
	}
	netacl_check(allow, deny, name, (struct sockaddr *)&ss, &v);
	return v;
}

#define DENIED(allow, deny, name, addr, from_)                               \
	do {                                                                 \
		struct netacl_verdict v_ = check(allow, deny, name, addr);   \
		ck_assert_msg(!v_.allowed && v_.from == (from_),            \
		    "%s via %s: allowed %d from %d (%s)", addr,             \
		    name ? name : "-", v_.allowed, v_.from, v_.why);        \
	} while (0)
#define ALLOWED(allow, deny, name, addr)                                     \
	do {                                                                 \
		struct netacl_verdict v_ = check(allow, deny, name, addr);   \
		ck_assert_msg(v_.allowed, "%s via %s: denied (%s)", addr,   \
		    name ? name : "-", v_.why);                             \
	} while (0)

START_TEST(test_builtin_blocks)
{
	static const char *const denied[] = {
		"127.0.0.1", "127.255.255.254", "0.0.0.0", "0.1.2.3",
		"169.254.169.254", "169.254.0.1", "100.100.100.200", "::",
		"::1", "fe80::1", "febf::ffff", "fd00:ec2::254",
		"::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0",
	};
	static const char *const allowed[] = {
		"192.0.2.1", "10.0.0.1", "172.16.0.1", "192.168.1.1",
		"100.100.100.201", "fd00::2", "fd00:ec2::253", "fec0::1",
		"2001:db8::1", "::ffff:192.0.2.1", "128.0.0.1", "1.0.0.0",
	};
	struct netacl_verdict v;

	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		DENIED(NULL, NULL, "example.com", denied[i], NETACL_BUILTIN);
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		ALLOWED(NULL, NULL, "example.com", allowed[i]);
	v = check(NULL, NULL, NULL, "::ffff:127.0.0.1");
	ck_assert_str_eq(v.addr, "127.0.0.1");
	ck_assert_str_eq(v.why, "loopback (127.0.0.0/8)");
	v = check(NULL, NULL, NULL, "169.254.169.254");
	ck_assert_str_eq(v.why, "cloud metadata (169.254.169.254/32)");
	v = check(NULL, NULL, NULL, "fd00:ec2::254");
	ck_assert_str_eq(v.why, "cloud metadata (fd00:ec2::254/128)");
}
END_TEST

START_TEST(test_allow_opens_deny_closes)
{
	struct netacl *allow = list("127.0.0.0/8 ::1");
	struct netacl *deny = list("10.0.0.0/8, 192.0.2.7");

	ALLOWED(allow, deny, NULL, "127.0.0.1");
	ALLOWED(allow, deny, NULL, "::ffff:127.0.0.2");
	ALLOWED(allow, deny, NULL, "::1");
	DENIED(allow, deny, NULL, "169.254.169.254", NETACL_BUILTIN);
	DENIED(allow, deny, NULL, "0.0.0.0", NETACL_BUILTIN);
	DENIED(allow, deny, NULL, "10.9.9.9", NETACL_DENY);
	DENIED(allow, deny, NULL, "::ffff:10.9.9.9", NETACL_DENY);
	DENIED(allow, deny, NULL, "192.0.2.7", NETACL_DENY);
	ALLOWED(allow, deny, NULL, "192.0.2.8");
	netacl_free(allow);
	netacl_free(deny);
}
END_TEST

START_TEST(test_most_specific_wins)
{
	struct netacl *allow = list("10.1.0.0/16 api.corp 0.0.0.0/0");
	struct netacl *deny = list("10.0.0.0/8 10.1.2.0/24 *.corp ::/0 "
	    "169.254.169.254");
	struct netacl *tie_a = list("192.0.2.0/24"), *tie_d =
	    list("192.0.2.0/24");
	struct netacl *all_d = list("0.0.0.0/0 ::/0");

	ALLOWED(allow, deny, NULL, "10.1.9.9");         /* /16 over /8 */
	DENIED(allow, deny, NULL, "10.1.2.3", NETACL_DENY);  /* /24 */
	DENIED(allow, deny, NULL, "10.2.0.1", NETACL_DENY);
	ALLOWED(allow, deny, NULL, "127.0.0.1");        /* 0/0 lifts them */
	DENIED(allow, deny, NULL, "169.254.169.254", NETACL_DENY);
	DENIED(allow, deny, NULL, "2001:db8::1", NETACL_DENY);
	/* Names beat blocks; an exact name beats a wildcard. */
	ALLOWED(allow, deny, "api.corp", "10.1.2.3");
	ALLOWED(allow, deny, "API.Corp.", "10.1.2.3");
	DENIED(allow, deny, "db.corp", "192.0.2.1", NETACL_DENY);
	DENIED(allow, deny, "x.api.corp", "192.0.2.1", NETACL_DENY);
	ALLOWED(allow, deny, "corp", "192.0.2.1");      /* not under *.corp */
	/* A literal is no name: "api.corp" rules do not apply to it. */
	DENIED(allow, deny, "10.1.2.3", "10.1.2.3", NETACL_DENY);
	/* A tie goes to deny. */
	DENIED(tie_a, tie_d, NULL, "192.0.2.1", NETACL_DENY);
	/* An allow-list. */
	DENIED(tie_a, all_d, NULL, "198.51.100.1", NETACL_DENY);
	ALLOWED(tie_a, all_d, NULL, "192.0.2.200");
	DENIED(tie_a, all_d, NULL, "::1", NETACL_DENY);
	netacl_free(allow);
	netacl_free(deny);
	netacl_free(tie_a);
	netacl_free(tie_d);
	netacl_free(all_d);
}
END_TEST

START_TEST(test_text_round_trip)
{
	static const char *const texts[][2] = {
		{ "", "" },
		{ " \t, ", "" },
		{ "127.0.0.1", "127.0.0.1" },
		{ "127.0.0.0/8,::1/128", "127.0.0.0/8 ::1" },
		{ "::ffff:127.0.0.1", "127.0.0.1" },
		{ "::ffff:0.0.0.0/96", "0.0.0.0/0" },
		{ "::/95", "::/95" },
		{ "FD00:0:0::/8", "fd00::/8" },
		{ "Example.COM. *.Svc.Local", "example.com *.svc.local" },
		{ "0.0.0.0/0 ::/0", "0.0.0.0/0 ::/0" },
	};
	struct netacl *l, *again;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		l = list(texts[i][0]);
		ck_assert_str_eq(netacl_text(l), texts[i][1]);
		again = list(netacl_text(l));
		ck_assert_str_eq(netacl_text(again), texts[i][1]);
		netacl_free(again);
		netacl_free(l);
	}
	ck_assert_str_eq(netacl_text(NULL), "");
}
END_TEST

START_TEST(test_refused)
{
	static const char *const bad[] = {
		"10.1.2.3/8", "127.0.0.1/33", "::/129", "1.2.3.4/", "1.2.3.4/x",
		"1.2.3.4/-1", "1.2.3.4/0008", "300.1.1.1", "1.2.3", "10.0.0.256",
		"fe80::1%eth0", "[::1]", "a..b", "-a.com", "a-.com", "*", "*.",
		"b!c", "http://x", "x/8", "*.*.com", "::1/64",
	};
	char msg[256], many[1024] = "";
	struct netacl *l = (struct netacl *)1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = '\0';
		ck_assert_msg(netacl_parse(bad[i], &l, msg, sizeof(msg)) ==
		    -EINVAL, "\"%s\" was taken", bad[i]);
		ck_assert_ptr_null(l);
		ck_assert_msg(strstr(msg, bad[i]) != NULL, "message for "
		    "\"%s\" does not name it: %s", bad[i], msg);
	}
	for (int i = 0; i <= NETACL_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
		    "10.0.%d.0/24 ", i);
	ck_assert_int_eq(netacl_parse(many, &l, msg, sizeof(msg)), -EINVAL);
	ck_assert_str_eq(msg, "more than 64 entries");
}
END_TEST

static Suite *
netacl_suite(void)
{
	Suite *s = suite_create("netacl");
	TCase *tc = tcase_create("netacl");

	tcase_add_test(tc, test_builtin_blocks);
	tcase_add_test(tc, test_allow_opens_deny_closes);
	tcase_add_test(tc, test_most_specific_wins);
	tcase_add_test(tc, test_text_round_trip);
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return tu_main(netacl_suite());
}
