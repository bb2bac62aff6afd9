/*
 * tu_pg.h — a throwaway PostgreSQL cluster for the suites that test the
 * postgresql store (ctest names containing "postgres").
 *
 * tu_pg_start() runs initdb and pg_ctl on a fresh directory under /tmp,
 * listening on a Unix socket in that directory only (no TCP), trust auth,
 * fsync off (the cluster is thrown away; what the tests kill is jobd, not
 * PostgreSQL).  As root the server runs as the user "postgres" (else
 * "nobody"): PostgreSQL refuses to run as root.  A watchdog process stops
 * the cluster and removes the directory when the test process ends, even
 * by SIGKILL.  These suites never skip: if PostgreSQL cannot be found or
 * started, tu_pg_start fails with the reason (initdb's or the server's log).
 */
#ifndef JOBD_TU_PG_H
#define JOBD_TU_PG_H

#include <stdbool.h>
#include <stddef.h>

/* Do the integration suites run against the postgresql store?  The one
 * parameter: JOBD_TEST_STORE=postgresql (ctest's *_postgres suites set
 * it).  tu_main then starts the cluster before the suite and stops it
 * after, and tu_jobd.c gives each test's jobd a fresh database of it. */
bool tu_pg_wanted(void);

/* Start the cluster, once per process (later calls are no-ops).  0, or -1
 * with the reason printed on stderr. */
int tu_pg_start(void);
/* Stop it now and remove its directory (also done when the process ends). */
void tu_pg_stop(void);
/* The directory holding the server's socket ("" before tu_pg_start). */
const char *tu_pg_sockdir(void);
/* Create a fresh, empty database and write its libpq conninfo ("host=...
 * dbname=... user=jobd") into buf.  Fails the test if it cannot. */
void tu_pg_newdb(char *buf, size_t len);
/* Run one SQL command (no result) on the database of conninfo; fails the
 * test on error. */
void tu_pg_exec(const char *conninfo, const char *sql);
/* The first column of the first row of sql as an integer (-1: no row). */
long long tu_pg_int(const char *conninfo, const char *sql);
/* Every row of sql as the sqlite3 shell prints it: fields joined by '|',
 * rows by '\n' (none after the last), NULL as nothing; malloc'ed.  NULL
 * and the server's message in err on an error. */
char *tu_pg_rows(const char *conninfo, const char *sql, char *err,
    size_t errlen);

#endif
