/*
 * conf_type.h — the key table's row and the value types of config keys.
 * Internal to lib/conf: callers use conf.h.
 *
 * A type turns a value's text into its field (parse), spells a field back
 * as a config file would (print), and says what a value may be (allowed),
 * which is what errors, conf_key_info() and the docs show.
 */
#ifndef JOBD_CONF_TYPE_H
#define JOBD_CONF_TYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/un.h>

#define CONF_KIB 1024LL
#define CONF_MIB (1024LL * 1024)
/* Longest socket path: sun_path less its terminator. */
#define CONF_SUN_PATH_MAX \
	((long long)sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
/* Characters of a queue or group name. */
#define CONF_NAMECHARS \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

enum conf_sect {
	CONF_SECT_NONE,
	CONF_SECT_DAEMON,
	CONF_SECT_QUEUE,
	CONF_SECT_SCHEDULE,     /* keys of its own: conf_sched.c */
};

enum conf_type {
	CONF_T_INT,     /* int: strict decimal */
	CONF_T_SECONDS, /* double: decimal with an optional fraction */
	CONF_T_SIZE,    /* size_t: decimal, optional K/M/G (KiB/MiB/GiB) */
	CONF_T_BOOL,    /* bool: yes/no/true/false/on/off/1/0 */
	CONF_T_ENUM,    /* int: the value of one of key->ev */
	CONF_T_PATH,    /* char *: resolved against the file's directory */
	CONF_T_DATABASE, /* char *: a path (resolved), or a libpq connection
	                  * string or URI (kept as written) */
	CONF_T_MODE,    /* mode_t: octal */
	CONF_T_GROUP,   /* struct conf_group: an existing group, or empty */
	CONF_T_ADDR,    /* char *: "HOST:PORT", "[V6]:PORT", or empty */
	CONF_T_ACL,     /* struct netacl *: addresses, blocks, host names */
	CONF_T_DURATION, /* double: seconds or 30s 15m 12h 7d (duration.h);
			  * lo < 0: empty allowed, meaning "inherit" (-1) */
};

/* Is v a libpq connection string rather than a file: a URI
 * (postgresql://, postgres://) or key=value pairs (an '=' before any '/')? */
bool conf_is_conninfo(const char *v);

struct conf_enumval {
	const char *name;
	int value;
	/* Non-NULL: a value jobd knows but refuses, and why ("not built
	 * yet"); left out of what the key allows. */
	const char *refused;
};

/* One row per key.  lo/hi bound the value (CONF_T_PATH: hi = longest
 * length once resolved); def is parsed like a value from the file. */
struct conf_key {
	const char *name;
	enum conf_sect sect;
	size_t off; /* of the field in struct conf_daemon / conf_queue */
	enum conf_type type;
	long long lo, hi;
	const char *def;
	const struct conf_enumval *ev; /* CONF_T_ENUM: NULL-terminated */
	const char *help;
};

struct conf_type_ops {
	const char *name;
	/* Parse v into field f (written only on success): 0; -EINVAL with
	 * msg "" when v is not allowed (the caller then says "must be
	 * ALLOWED, not V"); or a negative errno with msg set to the whole
	 * message.  dir: the config file's directory ("" for none). */
	int (*parse)(const struct conf_key *k, const char *v, void *f,
	    const char *dir, char *msg, size_t msglen);
	void (*print)(char *b, size_t len, const struct conf_key *k,
	    const void *f);
	void (*allowed)(char *b, size_t len, const struct conf_key *k);
};

/* Indexed by enum conf_type. */
extern const struct conf_type_ops conf_types[];

#endif /* JOBD_CONF_TYPE_H */
