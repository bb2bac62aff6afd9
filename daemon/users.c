/*
 * users.c — per-user accounting and permissions: each user's queued jobs
 * counted against max_queued_per_user, and who may cancel which job
 * (its submitter, root, members of admin_group, jobd itself).  Owns
 * struct euser and e->users.
 */
#include <errno.h>
#include <stdlib.h>

#include "engine_int.h"
#include "idmap.h"

/* A user's jobs counted against max_queued_per_user: each from its submit
 * (or recovery) until it starts or ends.  In e->users under uid + 1
 * (idmap keys are > 0) while the count is not 0. */
struct euser {
	size_t queued;
};

/* Root, or a member of admin_group by primary or supplementary group. */
static bool
user_admin(const struct eng *e, const struct eng_who *who)
{
	size_t i;

	if (who->uid == 0)
		return true;
	if (e->admin_gid == (gid_t)-1)
		return false;
	if (who->gid == e->admin_gid)
		return true;
	for (i = 0; i < who->ngroups; i++)
		if (who->groups[i] == e->admin_gid)
			return true;
	return false;
}

/* One more job counted for uid (not ENG_NOBODY).  0 or -ENOMEM. */
int
user_hold(struct eng *e, uid_t uid)
{
	int64_t key = (int64_t)uid + 1;
	struct euser *u;

	if ((u = idmap_get(e->users, key)) == NULL) {
		if ((u = calloc(1, sizeof(*u))) == NULL)
			return -ENOMEM;
		if (idmap_put(e->users, key, u) < 0) {
			free(u);
			return -ENOMEM;
		}
	}
	u->queued++;
	return 0;
}

/* Count j for its submitter.  0 or -ENOMEM. */
int
user_count(struct job *j)
{
	if (j->uid == ENG_NOBODY)
		return 0;
	if (user_hold(j->e, j->uid) < 0)
		return -ENOMEM;
	j->counted = true;
	return 0;
}

/* A scheduled job paged out of memory (page.c) stays counted: its count
 * is left with its user as the row's, and j frees without it. */
void
user_detach(struct job *j)
{
	j->counted = false;
}

/* ... and paged in again: recover_job counted j anew, so the count its
 * row held goes. */
void
user_attach(struct job *j)
{
	int64_t key = (int64_t)j->uid + 1;
	struct euser *u;

	if (j->counted && (u = idmap_get(j->e->users, key)) != NULL &&
	    u->queued > 1)
		u->queued--;
}

/* j has left queued (started, ended or gone): it counts no more. */
void
user_uncount(struct job *j)
{
	int64_t key = (int64_t)j->uid + 1;
	struct euser *u;

	if (!j->counted)
		return;
	j->counted = false;
	if ((u = idmap_get(j->e->users, key)) != NULL && --u->queued == 0)
		free(idmap_del(j->e->users, key));
}

/* Refuse n more queued jobs of who past max_queued_per_user (-EAGAIN). */
int
user_limit(const struct eng *e, const struct eng_who *who, size_t n,
    struct proto_err *err)
{
	const struct euser *u;
	size_t have;

	if (who == NULL || e->max_queued == 0 || user_admin(e, who))
		return 0;
	u = idmap_get(e->users, (int64_t)who->uid + 1);
	have = u != NULL ? u->queued : 0;
	if (have + n <= (size_t)e->max_queued)
		return 0;
	if (n == 1)
		proto_err_set(err, PROTO_QUEUE_FULL, "user %u has %zu jobs "
		    "queued (max_queued_per_user = %d)", (unsigned)who->uid,
		    have, e->max_queued);
	else
		proto_err_set(err, PROTO_QUEUE_FULL, "user %u has %zu jobs "
		    "queued; %zu more would pass max_queued_per_user = %d",
		    (unsigned)who->uid, have, n, e->max_queued);
	return -EAGAIN;
}

/* May who cancel j?  Its submitter, root, admin_group and jobd itself
 * may; -EPERM with err set otherwise. */
int
user_may_cancel(const struct eng *e, const struct eng_who *who,
    const struct job *j, struct proto_err *err)
{
	return user_may_touch(e, who, j->uid, j->id, "cancel", err);
}

/* The same for any verb on job id submitted by uid (ENG_NOBODY: no
 * recorded submitter). */
int
user_may_touch(const struct eng *e, const struct eng_who *who, uid_t uid,
    int64_t id, const char *verb, struct proto_err *err)
{
	if (who == NULL || user_admin(e, who) ||
	    (uid != ENG_NOBODY && uid == who->uid))
		return 0;
	if (uid == ENG_NOBODY)
		proto_err_set(err, PROTO_FORBIDDEN, "job %lld has no recorded "
		    "submitter: only root or a member of admin_group may "
		    "%s it", (long long)id, verb);
	else
		proto_err_set(err, PROTO_FORBIDDEN, "job %lld belongs to user "
		    "%u: only that user, root or a member of admin_group may "
		    "%s it", (long long)id, (unsigned)uid, verb);
	return -EPERM;
}

/* 0 if who (NULL: jobd itself) is root or in admin_group, else -EPERM
 * with err saying that only they may do what. */
int
user_need_admin(const struct eng *e, const struct eng_who *who,
    const char *what, struct proto_err *err)
{
	if (who == NULL || user_admin(e, who))
		return 0;
	proto_err_set(err, PROTO_FORBIDDEN, "only root or a member of "
	    "admin_group may %s", what);
	return -EPERM;
}

/* May who see a job submitted by uid (ENG_NOBODY: none recorded)?  With
 * visibility = all, anyone.  With own: its submitter, root, admin_group,
 * jobd itself (who NULL), and a client running as jobd's own uid, which
 * can read the database file anyway. */
bool
user_may_see(const struct eng *e, const struct eng_who *who, uid_t uid)
{
	if (e->see_all || who == NULL || user_admin(e, who))
		return true;
	if (who->uid == ENG_NOBODY)
		return false;
	return who->uid == uid || who->uid == e->self_uid;
}

bool
eng_may_see(const struct eng *e, const struct eng_who *who,
    const struct store_submitter *by)
{
	return user_may_see(e, who, by->known ? by->uid : ENG_NOBODY);
}

bool
eng_sees_only(const struct eng *e, const struct eng_who *who, uid_t *uidp)
{
	/* No uid may be recorded as ENG_NOBODY: (uid_t)-1 is no user. */
	if (user_may_see(e, who, ENG_NOBODY))
		return false;
	*uidp = who->uid;
	return true;
}

static int
user_free_one(void *arg, int64_t id, void *val)
{
	(void)arg;
	(void)id;
	free(val);
	return 0;
}

/* eng_free's part: e->users is empty by then (the jobs took their counts
 * along), but free what is left. */
void
user_free_all(struct eng *e)
{
	if (e->users != NULL)
		idmap_each(e->users, user_free_one, NULL);
}
