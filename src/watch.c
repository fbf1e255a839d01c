/*
 * Streams of job events: the watch op (docs/protocol.md, "watch").
 *
 * A watch follows one job, or every job its connection's uid may see. job.c
 * reports what happens (watch_event, watch_output) and each event goes to
 * every matching watch as one line through conn_send, so a watch never
 * blocks the other requests of its connection, and a watcher that stops
 * reading is cut off by conn.c's bound on unread replies like any client.
 *
 * Watches are kept in one tree ordered by job id, all-jobs watches (id 0)
 * first, so an event finds its watches without a scan. An event's body is
 * built once, and only when some watch wants it: a done event holds the
 * whole result, output and all.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>
#include <sys/tree.h>

#include "jobd.h"
#include "log.h"
#include "xmalloc.h"

/* Watches one connection may hold; more is a limit error. */
#define WATCH_MAX_PER_CONN	64

struct watch {
	struct conn		*conn;
	uint64_t		 job_id;	/* 0: every job */
	uint64_t		 seq;		/* creation order */
	json_object		*tag;
	int			 output;	/* wants output events */
	RB_ENTRY(watch)		 node;
};

/* An event being sent: its body is made on first use. */
struct watch_ev {
	struct job		*job;
	const char		*name;
	int			 stream;	/* output events only */
	const char		*buf;
	size_t			 len;
	json_object		*body;
};

static int		 watch_cmp(struct watch *, struct watch *);
static json_object	*watch_body(struct watch_ev *);
static void		 watch_send(struct watch *, struct watch_ev *);
static void		 watch_send_event(struct watch *, struct job *,
			    const char *);
static void		 watch_snapshot(struct watch *, struct job *);
static void		 watch_dispatch(struct watch_ev *, int);
static void		 watch_free(struct watch *, int);
static unsigned int	 watch_count(struct conn *);
static int		 watch_parse(json_object *, struct watch *,
			    struct proto_err *);
static void		 watch_reply(struct conn *, json_object *);
static void		 watch_reply_ok(struct conn *, json_object *, uint64_t);
static int		 watch_reserve(struct conn *, struct proto_err *);

RB_HEAD(watches, watch);
RB_PROTOTYPE(watches, watch, node, watch_cmp)
RB_GENERATE(watches, watch, node, watch_cmp)

static struct watches	all_watches = RB_INITIALIZER(&all_watches);
static uint64_t		next_seq;

static const char *const watch_fields[] = { "id", "output", NULL };

static int
watch_cmp(struct watch *a, struct watch *b)
{
	if (a->job_id != b->job_id)
		return (a->job_id < b->job_id ? -1 : 1);
	return (a->seq < b->seq ? -1 : a->seq > b->seq);
}

static json_object *
watch_body(struct watch_ev *ev)
{
	static const char *const	 streams[2] = { "stdout", "stderr" };
	json_object			*o;

	if (ev->body != NULL)
		return (ev->body);
	o = json_object_new_object();
	json_object_object_add(o, "event", json_object_new_string(ev->name));
	json_object_object_add(o, "id",
	    json_object_new_int64((int64_t)job_id(ev->job)));
	if (strcmp(ev->name, "output") == 0) {
		json_object_object_add(o, "stream",
		    json_object_new_string(streams[ev->stream]));
		proto_add_output(o, "data", ev->buf, ev->len);
	} else if (strcmp(ev->name, "started") == 0)
		json_object_object_add(o, "pid",
		    json_object_new_int(job_pid(ev->job)));
	else
		json_object_object_add(o, "job", job_to_json(ev->job,
		    strcmp(ev->name, "done") == 0));
	ev->body = o;
	return (o);
}

/* One line to w: its tag, then the body's fields, shared, not copied. */
static void
watch_send(struct watch *w, struct watch_ev *ev)
{
	json_object	*resp;

	if (conn_dead(w->conn))
		return;
	resp = proto_ok(w->tag);
	json_object_object_foreach(watch_body(ev), key, val)
		json_object_object_add(resp, key, json_object_get(val));
	conn_send(w->conn, resp);
	json_object_put(resp);
}

static void
watch_send_event(struct watch *w, struct job *job, const char *name)
{
	struct watch_ev	ev = { job, name, 0, NULL, 0, NULL };

	watch_send(w, &ev);
	json_object_put(ev.body);
}

/*
 * What already happened to the job, in the order it happened. "started"
 * is judged by the pid rather than the state, so that this holds whatever
 * states come before running.
 */
static void
watch_snapshot(struct watch *w, struct job *job)
{
	struct watch_ev	 ev;
	int		 i;

	watch_send_event(w, job, "queued");
	if (job_pid(job) > 0)
		watch_send_event(w, job, "started");
	for (i = 0; i < 2 && w->output; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.job = job;
		ev.name = "output";
		ev.stream = i;
		if ((ev.buf = job_output(job, i, &ev.len)) == NULL ||
		    ev.len == 0)
			continue;
		watch_send(w, &ev);
		json_object_put(ev.body);
	}
	if (job_state(job) == JOB_TERMINATING)
		watch_send_event(w, job, "terminating");
	if (job_done(job))
		watch_send_event(w, job, "done");
}

static void
watch_free(struct watch *w, int waited)
{
	RB_REMOVE(watches, &all_watches, w);
	if (waited)
		conn_waiter_done(w->conn);
	json_object_put(w->tag);
	free(w);
}

static unsigned int
watch_count(struct conn *c)
{
	struct watch	*w;
	unsigned int	 n = 0;

	RB_FOREACH(w, watches, &all_watches)
		if (w->conn == c)
			n++;
	return (n);
}

/* The request's fields into key; -1 with e filled if one is bad. */
static int
watch_parse(json_object *req, struct watch *key, struct proto_err *e)
{
	json_object	*v;

	if (proto_check_fields(req, watch_fields, e) == -1)
		return (-1);
	if (json_object_object_get_ex(req, "id", &v) &&
	    proto_get_id(req, &key->job_id, e) == -1)
		return (-1);
	key->output = 1;
	if (!json_object_object_get_ex(req, "output", &v))
		return (0);
	if (!json_object_is_type(v, json_type_boolean)) {
		e->code = JOBD_E_BAD_REQUEST;
		e->limit = NULL;
		strlcpy(e->msg, "watch: \"output\" must be true or false",
		    sizeof(e->msg));
		return (-1);
	}
	key->output = json_object_get_boolean(v);
	return (0);
}

/* watch's fields, decoded and forgotten: see ops_decode(). */
int
watch_decode(json_object *req, struct proto_err *e)
{
	struct watch	key;

	memset(&key, 0, sizeof(key));
	return (watch_parse(req, &key, e));
}

static void
watch_reply(struct conn *c, json_object *resp)
{
	conn_send(c, resp);
	json_object_put(resp);
}

static void
watch_reply_ok(struct conn *c, json_object *tag, uint64_t id)
{
	json_object	*resp = proto_ok(tag);

	json_object_object_add(resp, "watch", id != 0 ?
	    json_object_new_int64((int64_t)id) : json_object_new_string("all"));
	watch_reply(c, resp);
}

/*
 * A watch also holds one of its connection's waits, so that a client that
 * half-closes after the request still gets the stream, as it would a
 * result.
 */
static int
watch_reserve(struct conn *c, struct proto_err *e)
{
	e->code = JOBD_E_LIMIT;
	e->limit = NULL;
	if (watch_count(c) >= WATCH_MAX_PER_CONN) {
		snprintf(e->msg, sizeof(e->msg), "too many watches on this "
		    "connection (at most %d)", WATCH_MAX_PER_CONN);
		return (-1);
	}
	if (conn_wait_add(c) == -1) {
		strlcpy(e->msg, "too many waits and watches on this "
		    "connection", sizeof(e->msg));
		return (-1);
	}
	return (0);
}

void
watch_op(struct conn *c, json_object *req, json_object *tag)
{
	struct proto_err	 e;
	struct watch		*w, key;
	struct job		*job = NULL;

	memset(&key, 0, sizeof(key));
	key.conn = c;
	key.tag = tag;
	if (watch_parse(req, &key, &e) == -1) {
		watch_reply(c, proto_error(tag, e.code, e.msg));
		return;
	}
	if (key.job_id != 0 && ((job = job_find(key.job_id)) == NULL ||
	    !conn_may_see(c, job_uid(job)))) {
		snprintf(e.msg, sizeof(e.msg), "no job %llu",
		    (unsigned long long)key.job_id);
		watch_reply(c, proto_error(tag, JOBD_E_NOT_FOUND, e.msg));
		return;
	}
	if (job != NULL && job_done(job)) {
		/* Ended: the whole story at once, and nothing to keep. */
		watch_reply_ok(c, tag, key.job_id);
		watch_snapshot(&key, job);
		return;
	}
	if (watch_reserve(c, &e) == -1) {
		watch_reply(c, proto_error(tag, e.code, e.msg));
		return;
	}
	w = xmalloc(sizeof(*w));
	*w = key;
	w->seq = ++next_seq;
	w->tag = tag != NULL ? json_object_get(tag) : NULL;
	RB_INSERT(watches, &all_watches, w);
	watch_reply_ok(c, tag, key.job_id);
	if (job == NULL) {
		log_debug("watch: uid %lu watches every job",
		    (unsigned long)conn_uid(c));
		return;
	}
	log_debug("watch: uid %lu watches job %llu",
	    (unsigned long)conn_uid(c), (unsigned long long)key.job_id);
	watch_snapshot(w, job);
}

/*
 * Send ev to the watches of every job that may see it, then to those of
 * its own job; a done event ends the latter.
 */
static void
watch_dispatch(struct watch_ev *ev, int output)
{
	struct watch	*w, *next, key;
	uid_t		 uid = job_uid(ev->job);
	int		 done = strcmp(ev->name, "done") == 0;

	memset(&key, 0, sizeof(key));
	for (w = RB_MIN(watches, &all_watches); w != NULL && w->job_id == 0;
	    w = RB_NEXT(watches, &all_watches, w)) {
		if ((output && !w->output) || !conn_may_see(w->conn, uid))
			continue;
		watch_send(w, ev);
	}
	key.job_id = job_id(ev->job);
	for (w = RB_NFIND(watches, &all_watches, &key);
	    w != NULL && w->job_id == key.job_id; w = next) {
		next = RB_NEXT(watches, &all_watches, w);
		if (!output || w->output)
			watch_send(w, ev);
		if (done)
			watch_free(w, 1);
	}
	json_object_put(ev->body);
}

void
watch_event(struct job *job, const char *event)
{
	struct watch_ev	ev = { job, event, 0, NULL, 0, NULL };

	if (RB_EMPTY(&all_watches))
		return;
	watch_dispatch(&ev, 0);
}

/* Newly captured bytes; what was dropped beyond the bound never comes. */
void
watch_output(struct job *job, int stream, const char *buf, size_t len)
{
	struct watch_ev	ev = { job, "output", stream, buf, len, NULL };

	if (len == 0 || stream < 0 || stream > 1 || RB_EMPTY(&all_watches))
		return;
	watch_dispatch(&ev, 1);
}

/* The connection is going: its waits go with it, so no waiter_done. */
void
watch_conn_gone(struct conn *c)
{
	struct watch	*w, *next;

	RB_FOREACH_SAFE(w, watches, &all_watches, next)
		if (w->conn == c)
			watch_free(w, 0);
}

/*
 * The job is freed. A done event has already ended its watches; this is
 * for a job that goes without one.
 */
void
watch_job_gone(struct job *job)
{
	struct watch	*w, *next, key;

	memset(&key, 0, sizeof(key));
	key.job_id = job_id(job);
	for (w = RB_NFIND(watches, &all_watches, &key);
	    w != NULL && w->job_id == key.job_id; w = next) {
		next = RB_NEXT(watches, &all_watches, w);
		watch_free(w, 1);
	}
}
