/*
 * conf.h — jobd's configuration file: load, validate, read.
 *
 * The file is INI, parsed by inih: one [daemon] section and one
 * [queue.NAME] section per queue; queue "default" always exists.  A single
 * table in conf.c names every key with its section, type, bounds, default
 * and a one-line help; it drives parsing, validation, defaults, conf_dump()
 * and conf_key_info(), and the tests check conf/jobd.conf and
 * docs/CONFIG.md against it.  docs/CONFIG.md is the user's reference.
 *
 * Every problem is refused whole, with one message "FILE:LINE: message"
 * naming the key and what is allowed.  A struct conf never changes once
 * loaded: a reload (SIGHUP) is a new conf_load(), swapped in by the daemon
 * only if it succeeded, the running one kept otherwise.
 *
 * Values are read through const public structs (conf_daemon(),
 * conf_queue()) rather than one getter per key: the fields are typed and
 * checked by the compiler, the table fills them by offsetof so the struct
 * and the table cannot disagree, and a new key is one table row plus one
 * field.  struct conf itself stays opaque; it owns every string the value
 * structs point to, so all of them live exactly until conf_free().
 */
#ifndef JOBD_CONF_H
#define JOBD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct conf;
struct netacl;

/* A good size for conf_load()'s err buffer: longer messages are cut. */
#define CONF_ERRLEN 1024

/* Ceilings on what a config file may hold (each refused with FILE:LINE or
 * FILE: when passed). */
#define CONF_MAX_FILE       (1024 * 1024) /* bytes in the file */
#define CONF_MAX_LINE       197           /* bytes in a key or section line */
#define CONF_MAX_QUEUES     1024 /* [queue.NAME] sections, "default" too */
#define CONF_QUEUE_NAME_MAX 64   /* a queue name: 1..64 of [A-Za-z0-9_.-] */

/* [daemon] sync: SQLite's PRAGMA synchronous for the job database. */
enum conf_sync {
	CONF_SYNC_FULL,   /* fsync at every commit: survives power loss */
	CONF_SYNC_NORMAL, /* WAL fsynced at checkpoints: survives a crash */
};

/* [daemon] run_as: whose uid, gid and groups an exec job runs with. */
enum conf_run_as {
	CONF_RUN_AS_AUTO,       /* submitter when jobd is root, else daemon */
	CONF_RUN_AS_SUBMITTER,  /* the peer that submitted it (root: jobd's) */
	CONF_RUN_AS_DAEMON,     /* jobd's own */
};

/* [daemon] cgroup: whether each exec job gets a cgroup v2 of its own
 * (lib/kinds/exec_iso.h). */
enum conf_cgroup {
	CONF_CGROUP_AUTO,       /* when jobd's cgroup is delegated to it */
	CONF_CGROUP_YES,        /* always; jobd does not start without one */
	CONF_CGROUP_NO,         /* never: a subreaper sweep instead */
};

/* [daemon] store: the job store's backend (store.h: store_opts.backend,
 * by the same name). */
enum conf_store {
	CONF_STORE_SQLITE,     /* "sqlite" */
	CONF_STORE_POSTGRESQL, /* "postgresql": database is a conninfo */
};

/* [daemon] visibility: whose jobs a client sees (docs/SECURITY.md). */
enum conf_visibility {
	CONF_VIS_OWN,          /* "own": its uid's; root, admin_group: all */
	CONF_VIS_ALL,          /* "all": every job, to every client */
};

/* [daemon] http_loopback. */
enum conf_loopback {
	CONF_LOOPBACK_AUTO, /* yes when allow_exec, else no */
	CONF_LOOPBACK_YES,
	CONF_LOOPBACK_NO,
};

/* A group key: the name as written, and its gid resolved at load. */
struct conf_group {
	const char *name; /* "" when not set */
	gid_t gid;        /* (gid_t)-1 when not set */
};

/* [daemon]: see docs/CONFIG.md for what each key does. */
struct conf_daemon {
	const char *socket;    /* resolved; strlen < sizeof(sun_path) */
	const char *database;  /* resolved path of the SQLite file, or
	                        * (store = postgresql) a libpq conninfo */
	int sync;              /* enum conf_sync */
	double busy_timeout;   /* seconds, 0..3600: a lock held elsewhere */
	double lease;          /* seconds: a daemon's lease (postgresql) */
	size_t max_line;       /* bytes in a request line, 1 KiB..64 MiB */
	double shutdown_grace; /* seconds, 0..3600 */
	int max_connections;   /* 1..65536 */
	int log_level;         /* enum log_level (log.h) */
	size_t max_output;     /* bytes per captured stream, 0..64 MiB */
	double kill_grace;     /* seconds from SIGTERM to SIGKILL, 0..3600 */
	int exec_concurrency;  /* 0..65536; 0 = number of CPUs */
	int http_per_host;     /* 1..65536 */
	mode_t socket_mode;    /* 0..0777 */
	struct conf_group socket_group;
	int max_queued_per_user; /* 0..10000000; 0 = no limit */
	struct conf_group admin_group;
	int visibility;        /* enum conf_visibility */
	bool allow_exec;
	bool allow_http;
	int run_as;            /* enum conf_run_as */
	bool allow_world_readable_db;
	int cgroup;            /* enum conf_cgroup; read at start */
	size_t client_memory;  /* bytes buffered for all clients, 16M..64G */
	double line_timeout;   /* seconds for one request line, 1..3600 */
	const char *http_listen; /* "HOST:PORT" of the HTTP listener; "": off */
	int max_connections_per_user; /* 0..65536; 0 = no limit */
	struct netacl *http_allow; /* never NULL; may be empty */
	struct netacl *http_deny;  /* never NULL; may be empty */
	int http_loopback;     /* enum conf_loopback */
	struct netacl *http_reach; /* http_allow + loopback if http_loopback
	                            * resolves to yes: what kinds check */
	double http_max_time;  /* seconds for one http request, 1..86400 */
	int store;             /* enum conf_store */
	double retain_succeeded; /* seconds an ended job is kept; 0 = */
	double retain_failed;    /* forever (failed, timed_out, cancelled) */
	double prune_interval; /* seconds between the pruner's rounds */
	double sched_window;   /* s: scheduled jobs due within it in memory */
	int sched_window_jobs; /* ... about this many at most, 16..10^6 */
};

/* [queue.NAME] */
struct conf_queue {
	const char *name; /* 1..64 of [A-Za-z0-9_.-] */
	int workers;      /* 1..100000 */
	int capacity;     /* 1..10000000 */
	double timeout;   /* seconds, 0..31536000; 0 = none */
	int max_attempts; /* 1..100 */
	int priority;     /* 0..9: a submit's default */
	int retries;      /* 0..100: a submit's default */
	double retry_delay;     /* seconds, 1..DUR_MAX */
	double retry_max_delay; /* seconds, 1..DUR_MAX */
	int retry_backoff;      /* enum conf_backoff */
	int max_pending;        /* 1..100000000: scheduled + waiting */
	double retain_succeeded; /* -1: the [daemon] value */
	double retain_failed;
	/* Per exec job limits (its cgroup's pids.max, memory.max, cpu.max):
	 * the default and the most a submit may ask for; 0 = none. */
	int exec_pids_max;        /* 0..4194304 */
	size_t exec_memory_max;   /* bytes */
	double exec_cpu_max;      /* CPUs, 0..4096 */
};

enum conf_backoff { CONF_BACKOFF_EXPONENTIAL, CONF_BACKOFF_FIXED };

/* [schedule.NAME]: a cron schedule making one job per slot
 * (docs/SCHEDULES.md).  At most CONF_MAX_SCHEDULES sections. */
#define CONF_MAX_SCHEDULES  1024
#define CONF_SCHEDULE_NAME_MAX 64 /* 1..64 of [A-Za-z0-9_.-] */

enum conf_overlap {
	CONF_OVERLAP_SKIP,   /* no new job while the last one has not ended */
	CONF_OVERLAP_ALLOW,
};
enum conf_catch_up {
	CONF_CATCH_UP_LATEST, /* slots missed while down: one job, the newest */
	CONF_CATCH_UP_NONE,
	CONF_CATCH_UP_ALL,    /* each (at most CRON_CATCH_UP_MAX) */
};

struct conf_schedule {
	const char *name;     /* the NAME of [schedule.NAME] */
	const char *cron;     /* as written; cron_parse accepted it */
	const char *timezone; /* an IANA name tz_check accepted; NULL: local */
	int overlap;          /* enum conf_overlap */
	int catch_up;         /* enum conf_catch_up */
	bool paused;          /* key paused: listed, makes no jobs */
	/* The job of each slot: a JSON object of submit fields (kind, args
	 * and every other key of the section: queue, timeout, priority,
	 * ...) that proto_submit_parse accepted, as compact JSON text. */
	const char *submit;
	int line;             /* of the section header */
};

/* Load and validate the file at path.  Returns 0 and *out (free with
 * conf_free), or a negative errno with *out = NULL and err filled with one
 * line (no newline): -EINVAL for anything wrong in the file
 * ("FILE:LINE: message"), -ENOENT/-EACCES/-EISDIR... when it cannot be
 * read, -EFBIG past CONF_MAX_FILE ("FILE: message"), -ENOMEM.  Relative
 * paths in the file are resolved against path's directory.  err may be
 * NULL when errlen is 0.  Blocks (file I/O, group lookups through NSS)
 * and wants ~10 KiB of stack plus NSS's: call it at start and from the
 * SIGHUP callback on the loop's own stack, or in a worker thread (it is
 * thread-safe), not from a coroutine. */
int conf_load(const char *path, struct conf **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Free c and every string its value structs point to.  NULL is a no-op. */
void conf_free(struct conf *c);

/* The path c was loaded from, as passed to conf_load(). */
const char *conf_path(const struct conf *c);

/* The [daemon] values; valid until conf_free(c). */
const struct conf_daemon *conf_daemon(const struct conf *c);

/* Number of queues, at least 1. */
size_t conf_queue_count(const struct conf *c);

/* Queue i (0 <= i < count) or NULL.  Queue 0 is always "default" (declared
 * or not); the others follow in file order.  Valid until conf_free(c). */
const struct conf_queue *conf_queue(const struct conf *c, size_t i);

/* The queue called name, or NULL.  Linear: at most CONF_MAX_QUEUES. */
const struct conf_queue *conf_queue_by_name(const struct conf *c,
    const char *name);

/* Number of [schedule.NAME] sections, and schedule i (file order) or
 * NULL; valid until conf_free(c). */
size_t conf_schedule_count(const struct conf *c);
const struct conf_schedule *conf_schedule(const struct conf *c, size_t i);

/* Whether name is a legal queue name (1..64 of [A-Za-z0-9_.-]). */
bool conf_queue_name_valid(const char *name);

/* Print the effective configuration to f as a config file: every section
 * and every key with its value, one per line, in table order; loading the
 * output again gives the same values (paths are printed resolved; seconds
 * to the nanosecond). */
void conf_dump(FILE *f, const struct conf *c);

/* One key of the table, for documentation and tests. */
struct conf_keyinfo {
	const char *name;
	const char *section; /* "daemon" or "queue" (every [queue.NAME]) */
	const char *type;    /* int seconds size bool enum path mode group acl */
	const char *def;     /* default, spelled as in a config file */
	const char *help;    /* one line: what the key does */
	char allowed[192];   /* what a value may be, as errors say it */
};

/* Fill *out with key i of the table: 0, or -ENOENT when i is past the
 * last key. */
int conf_key_info(size_t i, struct conf_keyinfo *out);

#endif /* JOBD_CONF_H */
