/*
 * What each uid has in jobd: connections, jobs queued and running, and the
 * queue entries set aside while it runs all that max_running_per_user lets
 * it. A record lives while any of that is non-zero; few uids use a jobd, so
 * a red-black tree by uid is plenty.
 */
#include <sys/tree.h>

#include <stdlib.h>

#include "jobd.h"
#include "xmalloc.h"

struct user {
	uid_t			 uid;
	unsigned int		 conns, queued, running;
	struct queue_entry	*parked, *parked_last;	/* in queue order */
	RB_ENTRY(user)		 node;
};

static int
user_cmp(struct user *a, struct user *b)
{
	return (a->uid < b->uid ? -1 : a->uid > b->uid);
}

RB_HEAD(users, user);
RB_PROTOTYPE(users, user, node, user_cmp)
RB_GENERATE(users, user, node, user_cmp)

static struct users	all = RB_INITIALIZER(&all);

static struct user *
user_find(uid_t uid, int create)
{
	struct user	k, *u;

	k.uid = uid;
	if ((u = RB_FIND(users, &all, &k)) != NULL || !create)
		return (u);
	u = xcalloc(1, sizeof(*u));
	u->uid = uid;
	RB_INSERT(users, &all, u);
	return (u);
}

static void
user_gc(struct user *u)
{
	if (u->conns == 0 && u->queued == 0 && u->running == 0 &&
	    u->parked == NULL) {
		RB_REMOVE(users, &all, u);
		free(u);
	}
}

static void
user_count(uid_t uid, unsigned int *(*field)(struct user *), int delta)
{
	struct user	*u = user_find(uid, delta > 0);
	unsigned int	*n;

	if (u == NULL)
		return;
	n = field(u);
	if (delta < 0 && *n < (unsigned int)-delta)
		*n = 0;
	else
		*n += (unsigned int)delta;
	user_gc(u);
}

static unsigned int *f_conns(struct user *u) { return (&u->conns); }
static unsigned int *f_queued(struct user *u) { return (&u->queued); }
static unsigned int *f_running(struct user *u) { return (&u->running); }

unsigned int
user_conns(uid_t uid)
{
	struct user	*u = user_find(uid, 0);

	return (u != NULL ? u->conns : 0);
}

void user_conn_add(uid_t uid) { user_count(uid, f_conns, 1); }
void user_conn_del(uid_t uid) { user_count(uid, f_conns, -1); }

unsigned int
user_queued(uid_t uid)
{
	struct user	*u = user_find(uid, 0);

	return (u != NULL ? u->queued : 0);
}

void user_queued_add(uid_t uid, int d) { user_count(uid, f_queued, d); }

unsigned int
user_running(uid_t uid)
{
	struct user	*u = user_find(uid, 0);

	return (u != NULL ? u->running : 0);
}

void user_running_add(uid_t uid, int d) { user_count(uid, f_running, d); }

struct queue_entry *
user_parked_first(uid_t uid)
{
	struct user	*u = user_find(uid, 0);

	return (u != NULL ? u->parked : NULL);
}

/* Kept in queue order: usually the new entry goes last. */
void
user_park(struct queue_entry *e)
{
	struct user		*u = user_find(e->uid, 1);
	struct queue_entry	*at = u->parked_last;

	while (at != NULL && (at->priority < e->priority ||
	    (at->priority == e->priority && at->seq > e->seq)))
		at = at->park_prev;
	e->park_prev = at;
	e->park_next = at != NULL ? at->park_next : u->parked;
	if (e->park_next != NULL)
		e->park_next->park_prev = e;
	else
		u->parked_last = e;
	if (at != NULL)
		at->park_next = e;
	else
		u->parked = e;
}

void
user_unpark(struct queue_entry *e)
{
	struct user	*u = user_find(e->uid, 0);

	if (u == NULL)
		return;
	if (e->park_prev != NULL)
		e->park_prev->park_next = e->park_next;
	else
		u->parked = e->park_next;
	if (e->park_next != NULL)
		e->park_next->park_prev = e->park_prev;
	else
		u->parked_last = e->park_prev;
	e->park_next = e->park_prev = NULL;
	user_gc(u);
}

void
users_free(void)
{
	struct user	*u;

	while ((u = RB_MIN(users, &all)) != NULL) {
		RB_REMOVE(users, &all, u);
		free(u);
	}
}

/* fn(uid) for every uid with parked entries; fn may unpark them all. */
void
users_each_parked(void (*fn)(uid_t))
{
	struct user	*u, *next;

	RB_FOREACH_SAFE(u, users, &all, next)
		if (u->parked != NULL)
			fn(u->uid);
}
