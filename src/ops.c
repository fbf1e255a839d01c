/*
 * Operations, dispatched from a table. A bad field or an unknown op fails
 * that request only, with a stable code; the connection goes on.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"
#include "log.h"
#include "xmalloc.h"

#define OP_WHILE_DRAINING	0x1
/* The most one output reply carries: 1 MiB, base64 at worst 1.4 MB. */
#define OPS_OUTPUT_MAX		(1024 * 1024)

struct op {
	const char		*name;
	void			(*fn)(struct conn *, json_object *,
				    json_object *);
	int			 flags;
	const char *const	*fields;	/* allowed besides op, tag */
};

static void	op_ping(struct conn *, json_object *, json_object *);
static void	op_run(struct conn *, json_object *, json_object *);
static void	op_wait(struct conn *, json_object *, json_object *);
static void	op_status(struct conn *, json_object *, json_object *);
static void	op_list(struct conn *, json_object *, json_object *);
static void	op_cancel(struct conn *, json_object *, json_object *);
static void	op_signal(struct conn *, json_object *, json_object *);
static void	op_output(struct conn *, json_object *, json_object *);
static void	op_stats(struct conn *, json_object *, json_object *);
static int	output_args(json_object *, int *, int64_t *, int64_t *,
		    struct proto_err *);

static const char *const no_fields[] = { NULL };
static const char *const id_fields[] = { "id", NULL };
static const char *const cancel_fields[] = { "id", "signal", NULL };
static const char *const output_fields[] = { "id", "stream", "offset", "max",
    NULL };

/* run's fields are checked by proto_decode_run(), with its decoding. */
static const struct op ops[] = {
	{ "ping",	op_ping,	OP_WHILE_DRAINING,	no_fields },
	{ "run",	op_run,		0,			NULL },
	{ "wait",	op_wait,	OP_WHILE_DRAINING,	id_fields },
	{ "status",	op_status,	OP_WHILE_DRAINING,	id_fields },
	{ "list",	op_list,	OP_WHILE_DRAINING,	no_fields },
	{ "cancel",	op_cancel,	OP_WHILE_DRAINING,	cancel_fields },
	{ "signal",	op_signal,	OP_WHILE_DRAINING,	cancel_fields },
	{ "output",	op_output,	OP_WHILE_DRAINING,	output_fields },
	/* watch checks its own fields, with their types. */
	{ "watch",	watch_op,	OP_WHILE_DRAINING,	NULL },
	{ "stats",	op_stats,	OP_WHILE_DRAINING,	no_fields },
};
#define NOPS	(sizeof(ops) / sizeof(ops[0]))

/* Requests by op since start, for stats; the last one: unknown ops. */
static uint64_t	requests[NOPS + 1];

static int	draining;

void
ops_set_draining(int d)
{
	draining = d;
}

int
ops_draining(void)
{
	return (draining);
}

static void
reply(struct conn *c, json_object *resp)
{
	conn_send(c, resp);
	json_object_put(resp);
}

static void
reply_err(struct conn *c, json_object *tag, const struct proto_err *e)
{
	if (e->limit != NULL)
		log_warnx("uid %lu: limit %s: %s", (unsigned long)conn_uid(c),
		    e->limit, e->msg);
	reply(c, proto_error_limit(tag, e->code, e->limit, e->msg));
}

/* The op a request names: NULL and e filled if none. */
static const struct op *
ops_find(json_object *req, struct proto_err *e)
{
	const char	*name;
	size_t		 i;

	if ((name = proto_op(req, e)) == NULL)
		return (NULL);
	for (i = 0; i < NOPS; i++)
		if (strcmp(ops[i].name, name) == 0)
			return (&ops[i]);
	e->code = JOBD_E_UNKNOWN_OP;
	e->limit = NULL;
	snprintf(e->msg, sizeof(e->msg), "unknown op \"%.*s\"",
	    (int)utf8_prefix(name, 64), name);
	return (NULL);
}

void
ops_dispatch(struct conn *c, json_object *req)
{
	struct proto_err	 e;
	json_object		*tag = NULL;
	const struct op		*op;

	json_object_object_get_ex(req, "tag", &tag);
	if ((op = ops_find(req, &e)) == NULL) {
		if (strcmp(e.code, JOBD_E_UNKNOWN_OP) == 0)
			requests[NOPS]++;
		reply_err(c, tag, &e);
		return;
	}
	requests[op - ops]++;
	if (draining && !(op->flags & OP_WHILE_DRAINING)) {
		reply(c, proto_error(tag, JOBD_E_DRAINING,
		    "jobd is shutting down"));
		return;
	}
	if (op->fields != NULL &&
	    proto_check_fields(req, op->fields, &e) == -1) {
		reply_err(c, tag, &e);
		return;
	}
	/* Only run takes descriptors. */
	if (op->fn != op_run && conn_has_fds(c)) {
		reply(c, proto_error(tag, JOBD_E_BAD_REQUEST,
		    "descriptors were passed with a request that takes none"));
		return;
	}
	op->fn(c, req, tag);
}

/*
 * Everything the ops decode from a request before they look at a job, a
 * connection or the store: the same calls, without the effects. For the
 * fuzzer (fuzz/fuzz_request.c) and the unit tests; 0 or -1 and e.
 */
int
ops_decode(json_object *req, struct proto_err *e)
{
	const struct op	*op;
	struct run_req	 r;
	uint64_t	 id;
	int64_t		 off, max;
	int		 sig = 0, stream;
	char		*text;

	if ((op = ops_find(req, e)) == NULL)
		return (-1);
	if (op->fields != NULL && proto_check_fields(req, op->fields, e) == -1)
		return (-1);
	if (op->fn == op_run) {
		if (proto_decode_run(req, &r, e) == -1)
			return (-1);
		text = sched_request_text(req);
		free(text);
		proto_free_run(&r);
		return (0);
	}
	if (op->fn == watch_op)
		return (watch_decode(req, e));
	if (op->fields == id_fields || op->fields == cancel_fields ||
	    op->fields == output_fields) {
		if (proto_get_id(req, &id, e) == -1)
			return (-1);
	}
	if (op->fields == cancel_fields &&
	    proto_get_signal(req, "signal", &sig, e) == -1)
		return (-1);
	if (op->fn == op_output &&
	    output_args(req, &stream, &off, &max, e) == -1)
		return (-1);
	return (0);
}

/* Running and queued jobs: every one for root and admins, else the own. */
static void
ping_counts(struct conn *c, json_object *resp)
{
	unsigned int	n[JOB_NSTATES];
	int64_t		running, queued;

	if (conn_sees_all(c)) {
		running = sched_running();
		queued = queue_len();
	} else {
		job_count_states(c, n);
		running = n[JOB_RUNNING] + n[JOB_TERMINATING];
		queued = n[JOB_QUEUED];
	}
	json_object_object_add(resp, "running", json_object_new_int64(running));
	json_object_object_add(resp, "queued", json_object_new_int64(queued));
}

static void
op_ping(struct conn *c, json_object *req, json_object *tag)
{
	json_object	*resp;

	resp = proto_ok(tag);
	json_object_object_add(resp, "version",
	    json_object_new_string(JOBD_VERSION));
	json_object_object_add(resp, "protocol",
	    json_object_new_int(JOBD_PROTOCOL_VERSION));
	json_object_object_add(resp, "pid", json_object_new_int(getpid()));
	json_object_object_add(resp, "containment",
	    json_object_new_string(contain_tier_name(contain_tier())));
	if (contain_cgroup_dir() != NULL)
		json_object_object_add(resp, "cgroup",
		    json_object_new_string(contain_cgroup_dir()));
	json_object_object_add(resp, "store", json_object_new_string(
	    cfg.store_memory ? "memory" : store_path()));
	ping_counts(c, resp);
	json_object_object_add(resp, "max_running",
	    json_object_new_int64(cfg.max_running));
	reply(c, resp);
}

static void
op_run(struct conn *c, json_object *req, json_object *tag)
{
	struct proto_err	 e;
	struct run_req		 r;
	int			 fds[3], n, i;

	if (proto_decode_run(req, &r, &e) == -1) {
		reply_err(c, tag, &e);
		return;
	}
	if ((n = conn_take_fds(c, fds, 3)) != r.nfds) {
		if (n > 0)
			for (i = 0; i < n; i++)
				fd_close_passed(fds[i]);
		snprintf(e.msg, sizeof(e.msg), "run: \"fds\" names %d "
		    "descriptors but %s passed with the request", r.nfds,
		    n == -1 ? "more than 3 were" : n == 1 ? "1 was" :
		    n == 0 ? "none was" : "2 were");
		proto_free_run(&r);
		reply(c, proto_error(tag, JOBD_E_BAD_REQUEST, e.msg));
		return;
	}
	for (i = 0; i < n; i++)
		r.fd[r.fd_slot[i]] = fds[i];
	if (auth_run_user(c, &r, &e) == -1) {
		proto_free_run(&r);
		reply_err(c, tag, &e);
		return;
	}
	/* The store keeps the uid, not the name: see auth_run_user(). */
	if (r.user_uid >= 0)
		json_object_object_add(req, "user",
		    json_object_new_int64(r.user_uid));
	sched_submit(c, req, tag, &r);
}

/* Common to the ops that take one job id. */
static struct job *
lookup(struct conn *c, json_object *req, json_object *tag)
{
	struct proto_err	 e;
	struct job		*job;
	uint64_t		 id;

	if (proto_get_id(req, &id, &e) == -1) {
		reply_err(c, tag, &e);
		return (NULL);
	}
	/* Another user's job: as if there were none. */
	if ((job = job_find(id)) == NULL || !conn_may_see(c, job_uid(job))) {
		job = NULL;
		snprintf(e.msg, sizeof(e.msg), "no job %llu",
		    (unsigned long long)id);
		reply(c, proto_error(tag, JOBD_E_NOT_FOUND, e.msg));
	}
	return (job);
}

static void
op_wait(struct conn *c, json_object *req, json_object *tag)
{
	struct job	*job;

	if ((job = lookup(c, req, tag)) != NULL &&
	    job_add_waiter(job, c, tag, 0) == -1)
		reply(c, proto_error(tag, JOBD_E_LIMIT,
		    "too many waits on this connection"));
}

static void
op_status(struct conn *c, json_object *req, json_object *tag)
{
	struct job	*job;
	json_object	*resp;

	if ((job = lookup(c, req, tag)) == NULL)
		return;
	resp = proto_ok(tag);
	json_object_object_add(resp, "job", job_to_json(job, 1));
	reply(c, resp);
}

static void
op_list(struct conn *c, json_object *req, json_object *tag)
{
	json_object	*resp;

	resp = proto_ok(tag);
	json_object_object_add(resp, "jobs", job_list_json(c));
	reply(c, resp);
}

static void
op_cancel(struct conn *c, json_object *req, json_object *tag)
{
	struct proto_err	 e;
	struct job		*job;
	json_object		*resp;
	int			 sig = 0;

	if ((job = lookup(c, req, tag)) == NULL)
		return;
	if (proto_get_signal(req, "signal", &sig, &e) == -1) {
		reply_err(c, tag, &e);
		return;
	}
	if (job_cancel(job, sig) == -1) {
		snprintf(e.msg, sizeof(e.msg), "job %llu has already ended",
		    (unsigned long long)job_id(job));
		reply(c, proto_error(tag, JOBD_E_NOT_RUNNING, e.msg));
		return;
	}
	job_log(job, LOG_LVL_INFO, "cancel requested by uid %lu",
	    (unsigned long)conn_uid(c));
	resp = proto_ok(tag);
	json_object_object_add(resp, "id",
	    json_object_new_int64((int64_t)job_id(job)));
	json_object_object_add(resp, "state",
	    json_object_new_string(job_state_name(job_state(job))));
	reply(c, resp);
}

static void
op_signal(struct conn *c, json_object *req, json_object *tag)
{
	struct proto_err	 e;
	struct job		*job;
	json_object		*resp, *v;
	int			 sig = 0;

	if ((job = lookup(c, req, tag)) == NULL)
		return;
	if (!json_object_object_get_ex(req, "signal", &v)) {
		reply(c, proto_error(tag, JOBD_E_BAD_REQUEST,
		    "signal: missing \"signal\""));
		return;
	}
	if (proto_get_signal(req, "signal", &sig, &e) == -1) {
		reply_err(c, tag, &e);
		return;
	}
	if (job_forward_signal(job, sig) == -1) {
		snprintf(e.msg, sizeof(e.msg), "job %llu %s",
		    (unsigned long long)job_id(job), job_state(job) ==
		    JOB_QUEUED ? "has not started: it is queued" :
		    "has already ended");
		reply(c, proto_error(tag, JOBD_E_NOT_RUNNING, e.msg));
		return;
	}
	job_log(job, LOG_LVL_INFO, "signal %d sent for uid %lu", sig,
	    (unsigned long)conn_uid(c));
	resp = proto_ok(tag);
	json_object_object_add(resp, "id",
	    json_object_new_int64((int64_t)job_id(job)));
	reply(c, resp);
}

static void
output_reply(struct conn *c, json_object *tag, struct job *job,
    const char *name, int64_t off, const char *data, size_t len, int eof)
{
	json_object	*resp = proto_ok(tag);

	json_object_object_add(resp, "id",
	    json_object_new_int64((int64_t)job_id(job)));
	json_object_object_add(resp, "stream", json_object_new_string(name));
	json_object_object_add(resp, "offset", json_object_new_int64(off));
	proto_add_output(resp, "data", data, len);
	json_object_object_add(resp, "eof", json_object_new_boolean(eof));
	reply(c, resp);
}

/* output's stream, offset and max. */
static int
output_args(json_object *req, int *stream, int64_t *off, int64_t *max,
    struct proto_err *e)
{
	json_object	*v;
	const char	*name;

	if (!json_object_object_get_ex(req, "stream", &v) ||
	    (name = proto_word(v)) == NULL)
		name = "";
	if ((*stream = strcmp(name, "stdout") == 0 ? 0 :
	    strcmp(name, "stderr") == 0 ? 1 : -1) == -1) {
		e->code = JOBD_E_BAD_REQUEST;
		e->limit = NULL;
		snprintf(e->msg, sizeof(e->msg), "output: \"stream\" must be "
		    "\"stdout\" or \"stderr\"");
		return (-1);
	}
	return (proto_get_int(req, "output", "offset", 0, INT64_MAX, 0, off,
	    e) == -1 || proto_get_int(req, "output", "max", 1, OPS_OUTPUT_MAX,
	    OPS_OUTPUT_MAX, max, e) == -1 ? -1 : 0);
}

/*
 * A piece of a job's output file (run's "output_file"): at most max bytes
 * from offset. eof once the job has ended and the piece reaches the end.
 */
static void
op_output(struct conn *c, json_object *req, json_object *tag)
{
	struct proto_err	 e;
	struct job		*job;
	const char		*name;
	char			 path[PATH_MAX], *buf;
	struct stat		 sb;
	int64_t			 off, max;
	ssize_t			 n;
	int			 stream, fd = -1;

	if ((job = lookup(c, req, tag)) == NULL)
		return;
	if (output_args(req, &stream, &off, &max, &e) == -1) {
		reply_err(c, tag, &e);
		return;
	}
	name = stream == 0 ? "stdout" : "stderr";
	if (!(job_output_files(job) & (1 << stream))) {
		snprintf(e.msg, sizeof(e.msg), "job %llu has no %s file (run "
		    "it with \"output_file\")", (unsigned long long)job_id(job),
		    name);
		reply(c, proto_error(tag, JOBD_E_BAD_REQUEST, e.msg));
		return;
	}
	if (job_output_path(job_id(job), stream, path, sizeof(path)) == 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1 &&
	    errno == ENOENT) {
		/* Not started (yet), or it could not be: nothing in it. */
		output_reply(c, tag, job, name, off, "", 0, job_done(job));
		return;
	}
	if (fd == -1) {
		snprintf(e.msg, sizeof(e.msg), "job %llu: %s file: %s",
		    (unsigned long long)job_id(job), name, strerror(errno));
		reply(c, proto_error(tag, JOBD_E_INTERNAL, e.msg));
		return;
	}
	buf = xmalloc((size_t)max);
	if (fstat(fd, &sb) == -1 ||
	    (n = pread(fd, buf, (size_t)max, (off_t)off)) == -1) {
		snprintf(e.msg, sizeof(e.msg), "job %llu: %s file: %s",
		    (unsigned long long)job_id(job), name, strerror(errno));
		reply(c, proto_error(tag, JOBD_E_INTERNAL, e.msg));
	} else
		output_reply(c, tag, job, name, off, buf, (size_t)n,
		    job_done(job) && off + n >= (int64_t)sb.st_size);
	free(buf);
	if (close(fd) == -1)
		log_warn("%s: close", __func__);
}

json_object *
ops_requests_json(void)
{
	json_object	*o = json_object_new_object();
	size_t		 i;

	for (i = 0; i < NOPS; i++)
		json_object_object_add(o, ops[i].name,
		    json_object_new_int64((int64_t)requests[i]));
	json_object_object_add(o, "unknown",
	    json_object_new_int64((int64_t)requests[NOPS]));
	return (o);
}

/* Counters and histograms (stats.c); scope by who asks. */
static void
op_stats(struct conn *c, json_object *req, json_object *tag)
{
	json_object	*resp = proto_ok(tag);

	stats_fill(c, resp);
	reply(c, resp);
}
