/*
 * Admission and the loop turn. A run request becomes a queued job at once,
 * written into the store's open transaction. At the end of the loop turn
 * (one event, made active by whatever wrote to the store or freed a slot)
 * jobd moves what the free slots allow from the queue to running, commits
 * the store once for everything the turn did, then spawns those jobs and
 * only then sends the new ids: a client never holds the id of a job that
 * is not on disk, and a crash never runs a job twice (one begun but not
 * committed as running is still queued; one committed as running but not
 * spawned is lost).
 *
 * Replies keep the order of requests: a run's answer has its place kept in
 * the connection (conn_hold), and what the connection is sent meanwhile
 * waits behind it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "jobd.h"
#include "log.h"
#include "xmalloc.h"

struct ack {
	struct job		*job;
	struct conn		*conn;
	struct conn_slot	*slot;
	json_object		*tag;
	int			 wait, events;
	int			 existing;	/* the key named an older job */
	TAILQ_ENTRY(ack)	 entry;
};

static TAILQ_HEAD(, ack)	 acks = TAILQ_HEAD_INITIALIZER(acks);
static struct event		*turn_ev;
static struct event		*retry_ev;	/* after a failed commit */
static int			 turn_pending;
static int			 in_turn;
static int			 kick_after;	/* kicked during the turn */
static int			 resync;	/* a commit failed */
/* Jobs begun this turn; jobs inserted this turn (held until it ends). */
static struct job		**starting, **fresh;
static size_t			 nstarting, starting_cap, nfresh, fresh_cap;

static void	sched_turn_cb(evutil_socket_t, short, void *);
static void	sched_retry_cb(evutil_socket_t, short, void *);

void
sched_init(void)
{
	if ((turn_ev = event_new(base, -1, 0, sched_turn_cb, NULL)) == NULL ||
	    (retry_ev = evtimer_new(base, sched_retry_cb, NULL)) == NULL)
		fatalx("%s: event_new", __func__);
}

void
sched_free(void)
{
	struct ack	*a;

	while ((a = TAILQ_FIRST(&acks)) != NULL) {
		TAILQ_REMOVE(&acks, a, entry);
		json_object_put(a->tag);
		free(a);
	}
	if (turn_ev != NULL)
		event_free(turn_ev);
	turn_ev = NULL;
	if (retry_ev != NULL)
		event_free(retry_ev);
	retry_ev = NULL;
	free(starting);
	starting = NULL;
	free(fresh);
	fresh = NULL;
	queue_free();
	users_free();
}

/* Something for the end of this turn: a write to commit, a slot to fill. */
void
sched_kick(void)
{
	/* From inside the turn (a spawn's pid, a resync): the next one. */
	if (in_turn) {
		kick_after = 1;
		return;
	}
	if (turn_pending || turn_ev == NULL)
		return;
	turn_pending = 1;
	event_active(turn_ev, EV_TIMEOUT, 0);
}

unsigned int
sched_running(void)
{
	return (job_live_count());
}

static unsigned int
sched_free_slots(void)
{
	unsigned int	live = job_live_count();

	if (cfg.max_running == 0)
		return (~0U);
	return (live < cfg.max_running ? cfg.max_running - live : 0);
}

/* What the store keeps of a request: enough to start the job again. */
char *
sched_request_text(json_object *req)
{
	json_object	*o = json_object_new_object();
	char		*text;

	json_object_object_foreach(req, k, v) {
		if (strcmp(k, "tag") == 0 || strcmp(k, "wait") == 0 ||
		    strcmp(k, "events") == 0)
			continue;
		json_object_object_add(o, k, json_object_get(v));
	}
	text = xstrdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return (text);
}

static void
sched_reply(struct conn *c, json_object *resp)
{
	conn_send(c, resp);
	json_object_put(resp);
}

static void
sched_add_ack(struct conn *c, json_object *tag, struct job *job,
    int wait, int events, int existing)
{
	struct ack	*a = xcalloc(1, sizeof(*a));

	a->job = job;
	a->conn = c;
	a->slot = conn_hold(c);
	a->tag = tag != NULL ? json_object_get(tag) : NULL;
	a->wait = wait;
	a->events = events;
	a->existing = existing;
	job_hold(job, 1);
	TAILQ_INSERT_TAIL(&acks, a, entry);
	sched_kick();
}

/* 1 if a job that cannot start at once would overflow the queue. */
static int
sched_queue_full(void)
{
	unsigned int	slots = sched_free_slots(), waiting = queue_len() + 1;

	return (waiting > slots && waiting - slots > cfg.max_queued);
}

/* The same, for one user: what they may start at once does not wait. */
static int
sched_user_queue_full(uid_t uid)
{
	unsigned int	slots = sched_free_slots(), waiting, cap, running;

	if (cfg.max_queued_per_user == 0)
		return (0);
	cap = cfg.max_running_per_user;
	running = user_running(uid);
	if (cap > 0 && (running >= cap || cap - running < slots))
		slots = running >= cap ? 0 : cap - running;
	waiting = user_queued(uid) + 1;
	return (waiting > slots && waiting - slots > cfg.max_queued_per_user);
}

/*
 * A decoded run request (taken over). The answer comes at the end of the
 * turn, unless the request fails here.
 */
void
sched_submit(struct conn *c, json_object *req, json_object *tag,
    struct run_req *r)
{
	struct job	*job;
	char		*text, msg[256];
	int		 wait = r->wait, events = r->events;

	if (r->key != NULL &&
	    (job = job_find_key(conn_uid(c), r->key)) != NULL) {
		sched_add_ack(c, tag, job, wait, events, 1);
		proto_free_run(r);
		return;
	}
	if (sched_queue_full()) {
		snprintf(msg, sizeof(msg), "run: the queue is full "
		    "(max_queued = %u)", cfg.max_queued);
		log_warnx("uid %lu: limit max_queued: run refused (%u wait)",
		    (unsigned long)conn_uid(c), cfg.max_queued);
		sched_reply(c, proto_error_limit(tag, JOBD_E_QUEUE_FULL,
		    "max_queued", msg));
		proto_free_run(r);
		return;
	}
	if (sched_user_queue_full(conn_uid(c))) {
		snprintf(msg, sizeof(msg), "run: you have too many jobs "
		    "waiting (max_queued_per_user = %u)",
		    cfg.max_queued_per_user);
		log_warnx("uid %lu: limit max_queued_per_user: run refused "
		    "(%u wait)", (unsigned long)conn_uid(c),
		    cfg.max_queued_per_user);
		sched_reply(c, proto_error_limit(tag, JOBD_E_QUEUE_FULL,
		    "max_queued_per_user", msg));
		proto_free_run(r);
		return;
	}
	text = sched_request_text(req);
	job = job_new(r, c);
	if (job_insert(job, text) == -1) {
		snprintf(msg, sizeof(msg), "run: not accepted: %s",
		    store_errmsg());
		log_warnx("%s", msg);
		sched_reply(c, proto_error(tag, JOBD_E_INTERNAL, msg));
		job_forget(job);
	} else {
		/* Held until the turn's end: a failed commit undoes it. */
		if (nfresh == fresh_cap) {
			fresh_cap = fresh_cap == 0 ? 64 : fresh_cap * 2;
			fresh = xreallocarray(fresh, fresh_cap, sizeof(*fresh));
		}
		fresh[nfresh++] = job;
		job_hold(job, 1);
		sched_add_ack(c, tag, job, wait, events, 0);
	}
	free(text);
	proto_free_run(r);
}

/* The connection goes: its answers are not sent (the jobs stay). */
void
sched_conn_gone(struct conn *c)
{
	struct ack	*a, *next;

	TAILQ_FOREACH_SAFE(a, &acks, entry, next) {
		if (a->conn != c)
			continue;
		TAILQ_REMOVE(&acks, a, entry);
		job_hold(a->job, 0);
		json_object_put(a->tag);
		free(a);
	}
}

static void
sched_starting_add(struct job *job)
{
	if (nstarting == starting_cap) {
		starting_cap = starting_cap == 0 ? 64 : starting_cap * 2;
		starting = xreallocarray(starting, starting_cap,
		    sizeof(*starting));
	}
	starting[nstarting++] = job;
}

/* From the queue to running, as many as the slots allow; not spawned. */
static void
sched_begin(void)
{
	struct queue_entry	*e;
	unsigned int		 slots = sched_free_slots();

	if (ops_draining())
		return;
	while (slots > 0 && (e = queue_peek()) != NULL) {
		if (cfg.max_running_per_user > 0 &&
		    user_running(e->uid) >= cfg.max_running_per_user) {
			queue_park(e);
			continue;
		}
		job_begin_run(job_from_qentry(e));
		sched_starting_add(job_from_qentry(e));
		slots--;
	}
}

/*
 * A job of uid's ended: of its jobs set aside at max_running_per_user, as
 * many go back to the queue as may now run (all, if the cap was lifted).
 */
static void
sched_unpark_all(uid_t uid)
{
	queue_unpark(uid, ~0U);
}

/*
 * After a reload: every parked entry goes back into the queue, in its
 * place, and the next turn parks again those whose user is still at a
 * (perhaps new) max_running_per_user; a larger max_running may start more.
 */
void
sched_reloaded(void)
{
	users_each_parked(sched_unpark_all);
	sched_kick();
}

void
sched_user_done(uid_t uid)
{
	unsigned int	running, cap = cfg.max_running_per_user;

	user_running_add(uid, -1);
	running = user_running(uid);
	queue_unpark(uid, cap == 0 ? ~0U : running < cap ? cap - running : 0);
	sched_kick();
}

static void
sched_answer(struct ack *a)
{
	json_object	*resp = proto_ok(a->tag);
	struct job	*job = a->job;

	json_object_object_add(resp, "id",
	    json_object_new_int64((int64_t)job_id(job)));
	json_object_object_add(resp, "state",
	    json_object_new_string(job_state_name(job_state(job))));
	json_object_object_add(resp, "pid", job_pid(job) > 0 ?
	    json_object_new_int(job_pid(job)) : NULL);
	json_object_object_add(resp, "existing",
	    json_object_new_boolean(a->existing));
	/*
	 * The wait first, then the answer: filling the place ends the
	 * connection's last wait, and a half-closed client would be closed
	 * before its result. What the wait sends queues behind the place.
	 */
	if (a->wait && job_add_waiter(job, a->conn, a->tag, a->events) == -1)
		sched_reply(a->conn, proto_error(a->tag, JOBD_E_LIMIT,
		    "too many waits on this connection; the job runs, wait "
		    "for it later"));
	conn_fill(a->conn, a->slot, resp);
	json_object_put(resp);
}

static void
sched_refuse(struct ack *a)
{
	json_object	*resp;
	char		 msg[256];

	snprintf(msg, sizeof(msg), "run: not accepted: %s", store_errmsg());
	resp = proto_error(a->tag, JOBD_E_INTERNAL, msg);
	conn_fill(a->conn, a->slot, resp);
	json_object_put(resp);
}

/* 1 if job was submitted in this turn (so a failed commit undid it). */
static int
sched_fresh(struct job *job)
{
	size_t	i;

	for (i = 0; i < nfresh; i++)
		if (fresh[i] == job)
			return (1);
	return (0);
}

/*
 * A commit failed (disk full, say): what it held is rolled back. New jobs
 * are refused, and so is every answer that names one (the same key twice
 * in a turn); jobs begun from the queue go back to it, so that none runs
 * without the store knowing. Every record is written again at the next
 * turn, which comes after a pause: the disk will not be freed at once.
 */
static void
sched_commit_failed(void)
{
	struct ack	*a, *next;
	struct timeval	 tv = { 1, 0 };
	size_t		 i;

	log_warnx("%s; retrying in 1 s", store_errmsg());
	store_rollback();
	resync = 1;
	for (i = 0; i < nstarting; i++)
		if (!sched_fresh(starting[i]))
			job_unbegin(starting[i]);
	nstarting = 0;
	TAILQ_FOREACH_SAFE(a, &acks, entry, next) {
		if (!sched_fresh(a->job))
			continue;
		TAILQ_REMOVE(&acks, a, entry);
		sched_refuse(a);
		job_hold(a->job, 0);
		json_object_put(a->tag);
		free(a);
	}
	for (i = 0; i < nfresh; i++) {
		job_hold(fresh[i], 0);
		job_forget(fresh[i]);
	}
	nfresh = 0;
	if (evtimer_add(retry_ev, &tv) == -1)
		fatalx("%s: evtimer_add", __func__);
}

static void
sched_retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	sched_kick();
}

static void
sched_turn_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct ack	*a;
	size_t		 i;
	int		 failed = 0;

	turn_pending = 0;
	in_turn = 1;
	kick_after = 0;
	nstarting = 0;
	if (resync) {
		resync = 0;
		job_persist_all();
	}
	sched_begin();
	if (store_in_txn() && store_commit() == -1) {
		sched_commit_failed();
		failed = 1;
	}
	for (i = 0; i < nfresh; i++) {
		watch_event(fresh[i], "queued");
		job_hold(fresh[i], 0);
	}
	nfresh = 0;
	for (i = 0; i < nstarting; i++)
		job_spawn(starting[i]);
	nstarting = 0;
	while ((a = TAILQ_FIRST(&acks)) != NULL) {
		TAILQ_REMOVE(&acks, a, entry);
		job_hold(a->job, 0);
		sched_answer(a);
		json_object_put(a->tag);
		free(a);
	}
	in_turn = 0;
	/* Spawning wrote pids and failures: the next turn commits them. */
	if (kick_after && !failed)
		sched_kick();
}

static int
sched_restore_cb(const struct store_rec *rec, void *arg)
{
	char	err[512], *e;

	/* err may echo the stored request: a client's text. */
	if (job_restore(rec, err, sizeof(err)) == NULL) {
		e = log_escape(err, strlen(err));
		log_warnx("store: %s; the record is left as it is", e);
		free(e);
	}
	return (0);
}

/* At start: the store's jobs back in memory, the queue resumed. */
int
sched_restore(char *err, size_t len)
{
	unsigned int	before;

	if (store_load(sched_restore_cb, NULL, err, len) == -1)
		return (-1);
	job_note_id(store_last_id());
	before = queue_len();
	if (store_in_txn() && store_commit() == -1) {
		snprintf(err, len, "%s", store_errmsg());
		return (-1);
	}
	if (before > 0)
		log_info("%u queued jobs from the store", before);
	sched_kick();
	return (0);
}
