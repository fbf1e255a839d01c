/*
 * Integration tests of streaming: the watch op, jobctl watch and jobctl
 * logs, against a real jobd per test.
 *
 * Jobs are paced by the test, never by sleeps: a paced job reads its lines
 * from a pipe whose write end the test holds (passed as the job's stdin)
 * and echoes each one, so the test knows what each output event must hold
 * and when it may come. Every read from jobd or from jobctl is bounded.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"
#include "jobd-protocol.h"

#define TEST_TIMEOUT	30
#define CTL_MS		20000		/* bound on any one jobctl run */
#define IO_MS		10000		/* bound on any one read or write */
#define FLOOD		PROGS_DIR "/flood"
#define MAX_WATCHES	64

/* Echo each line read: to stderr those that begin with "err". */
#define ECHO_SCRIPT \
	"while IFS= read -r l; do case $l in " \
	"err*) printf '%s\\n' \"$l\" >&2;; " \
	"*) printf '%s\\n' \"$l\";; esac; done"

/* A job whose stdin is a pipe the test writes. */
struct paced {
	long long	id;
	long long	pid;
	int		in;		/* the write end; -1 once closed */
};

/* What a job has captured so far, for a bounded poll on status. */
struct captured {
	struct jobd_client	*c;
	long long		 id;
	const char		*out;
	const char		*err;
};

Suite		*stream_suite(void);

static const char *sget(json_object *, const char *);
static void	run_paced(struct jobd_client *, const char *, const char *,
		    struct paced *);
static void	feed(struct paced *, const char *);
static void	finish(struct paced *);
static void	send_watch(struct jobd_client *, const char *, long long,
		    int);
static void	expect_watch_ok(struct jobd_client *, const char *, long long);
static json_object *expect_event(struct jobd_client *, const char *,
		    long long, const char *);
static void	expect_event_put(struct jobd_client *, const char *, long long,
		    const char *);
static void	expect_output(struct jobd_client *, const char *, long long,
		    const char *, const void *, size_t);
static void	expect_text(struct jobd_client *, const char *, long long,
		    const char *, const char *);
static json_object *expect_done(struct jobd_client *, const char *,
		    long long, const char *);
static void	expect_nothing_more(struct jobd_client *);
static int	stream_is(json_object *, const char *, const char *);
static int	has_captured(void *);
static void	wait_captured(struct jobd_client *, long long, const char *,
		    const char *);
static pid_t	spawn_ctl(const char *const [], int, int);
static char	*slurp(int, size_t *, const char *);
static void	open_file(const char *, int *, char *, size_t);
static void	add(Suite *, const char *, const TTest *);

static struct jobd_inst	J;
static int		seq;

/* A string member, or "" when there is none: for messages and checks. */
static const char *
sget(json_object *o, const char *key)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return ("");
	return (json_object_get_string(v));
}

/*
 * Start sh -c script with a pipe as its stdin; extra, if not NULL, is more
 * fields of the run request ("\"timeout\":1", say).
 */
static void
run_paced(struct jobd_client *c, const char *script, const char *extra,
    struct paced *p)
{
	json_object	*req, *r;
	char		 fields[512];
	int		 fds[2];

	cloexec_pipe(fds);
	snprintf(fields, sizeof(fields), "{\"fds\":[\"stdin\"],\"tag\":\"run\""
	    "%s%s}", extra != NULL ? "," : "", extra != NULL ? extra : "");
	req = run_req(jargv("sh", "-c", script, NULL), "%s", fields);
	ck_assert_msg(jobd_send_fds(c, req, &fds[0], 1) == 0,
	    "jobd_send_fds: %s", strerror(errno));
	json_object_put(req);
	close(fds[0]);
	r = recv_resp(c);
	expect_ok(r);
	ck_assert_str_eq(jstr(r, "tag"), "run");
	ck_assert_str_eq(jstr(r, "state"), "running");
	p->id = jint(r, "id");
	p->pid = jint(r, "pid");
	p->in = fds[1];
	json_object_put(r);
}

static void
feed(struct paced *p, const char *line)
{
	ck_assert_msg(write_all_within(p->in, line, strlen(line), IO_MS),
	    "feeding job %lld: %s", p->id, strerror(errno));
}

/* EOF on the job's stdin: a paced job then exits 0. */
static void
finish(struct paced *p)
{
	ck_assert_int_eq(close(p->in), 0);
	p->in = -1;
}

/* output: 1 or 0 to send "output", -1 to leave it out; id 0: all jobs. */
static void
send_watch(struct jobd_client *c, const char *tag, long long id, int output)
{
	json_object	*req = json_object_new_object();

	json_object_object_add(req, "op", json_object_new_string("watch"));
	json_object_object_add(req, "tag", json_object_new_string(tag));
	if (id != 0)
		json_object_object_add(req, "id", json_object_new_int64(id));
	if (output != -1)
		json_object_object_add(req, "output",
		    json_object_new_boolean(output));
	send_req(c, req);
}

static void
expect_watch_ok(struct jobd_client *c, const char *tag, long long id)
{
	json_object	*r = recv_resp(c);

	expect_ok(r);
	ck_assert_msg(strcmp(sget(r, "tag"), tag) == 0, "expected the answer "
	    "to watch %s, got %s", tag, json_object_to_json_string(r));
	if (id != 0)
		ck_assert_int_eq(jint(r, "watch"), id);
	else
		ck_assert_str_eq(jstr(r, "watch"), "all");
	ck_assert(!json_object_object_get_ex(r, "event", NULL));
	json_object_put(r);
}

/* The next line is the event name of job id, tagged tag. */
static json_object *
expect_event(struct jobd_client *c, const char *tag, long long id,
    const char *name)
{
	json_object	*r = recv_resp(c), *v;

	ck_assert_msg(json_object_object_get_ex(r, "id", &v) &&
	    json_object_get_int64(v) == id &&
	    strcmp(sget(r, "tag"), tag) == 0 &&
	    strcmp(sget(r, "event"), name) == 0,
	    "expected event %s of job %lld tagged %s, got %s", name, id, tag,
	    json_object_to_json_string(r));
	expect_ok(r);
	if (strcmp(name, "queued") == 0 || strcmp(name, "terminating") == 0 ||
	    strcmp(name, "done") == 0)
		ck_assert_int_eq(jint(jget(r, "job"), "id"), id);
	return (r);
}

static void
expect_event_put(struct jobd_client *c, const char *tag, long long id,
    const char *name)
{
	json_object_put(expect_event(c, tag, id, name));
}

/*
 * Output events of job id on stream until len bytes have come, which must
 * be want: the concatenation is the stream, however jobd chunked it.
 */
static void
expect_output(struct jobd_client *c, const char *tag, long long id,
    const char *stream, const void *want, size_t len)
{
	json_object	*r;
	unsigned char	*buf, *got;
	size_t		 n, have = 0;

	ck_assert_ptr_nonnull(got = malloc(len + 1));
	while (have < len) {
		r = expect_event(c, tag, id, "output");
		ck_assert_str_eq(jstr(r, "stream"), stream);
		buf = jobd_job_output(r, "data", &n);
		ck_assert_msg(buf != NULL && n > 0 && have + n <= len,
		    "unexpected output event %s after %zu of %zu bytes",
		    json_object_to_json_string(r), have, len);
		memcpy(got + have, buf, n);
		have += n;
		free(buf);
		json_object_put(r);
	}
	ck_assert_int_eq(memcmp(got, want, len), 0);
	free(got);
}

static void
expect_text(struct jobd_client *c, const char *tag, long long id,
    const char *stream, const char *text)
{
	expect_output(c, tag, id, stream, text, strlen(text));
}

/* The done event, in state; returns its job object (a new reference). */
static json_object *
expect_done(struct jobd_client *c, const char *tag, long long id,
    const char *state)
{
	json_object	*r, *job;

	r = expect_event(c, tag, id, "done");
	job = json_object_get(jget(r, "job"));
	json_object_put(r);
	ck_assert_str_eq(jstr(job, "state"), state);
	/* The full object, as wait sends it. */
	ck_assert(json_object_object_get_ex(job, "stdout", NULL));
	ck_assert(json_object_object_get_ex(job, "exit_code", NULL));
	return (job);
}

/* A ping answered next: no line of an ended watch was left to come. */
static void
expect_nothing_more(struct jobd_client *c)
{
	json_object	*r;

	r = callf(c, "{\"op\":\"ping\",\"tag\":\"after\"}");
	ck_assert_msg(strcmp(sget(r, "tag"), "after") == 0 &&
	    !json_object_object_get_ex(r, "event", NULL),
	    "expected the ping's answer, got %s",
	    json_object_to_json_string(r));
	json_object_put(r);
}

/* The job object's stream is exactly want. */
static int
stream_is(json_object *job, const char *stream, const char *want)
{
	unsigned char	*buf;
	size_t		 len;
	int		 same;

	if ((buf = jobd_job_output(job, stream, &len)) == NULL)
		return (0);
	same = len == strlen(want) && memcmp(buf, want, len) == 0;
	free(buf);
	return (same);
}

static int
has_captured(void *arg)
{
	struct captured	*cap = arg;
	json_object	*r;
	int		 done;

	r = callf(cap->c, "{\"op\":\"status\",\"id\":%lld}", cap->id);
	expect_ok(r);
	done = stream_is(jget(r, "job"), "stdout", cap->out) &&
	    stream_is(jget(r, "job"), "stderr", cap->err);
	json_object_put(r);
	return (done);
}

/* Bounded poll until jobd has captured exactly out and err of job id. */
static void
wait_captured(struct jobd_client *c, long long id, const char *out,
    const char *err)
{
	struct captured	cap = { c, id, out, err };

	ck_assert_msg(wait_until(has_captured, &cap, IO_MS),
	    "job %lld did not write \"%s\" and \"%s\" in time", id, out, err);
}

/* jobctl with argv, stdout and stderr as given (-1: /dev/null). */
static pid_t
spawn_ctl(const char *const argv[], int out, int err)
{
	struct proc_spec	ps;

	proc_spec_init(&ps);
	ps.fd[1] = out;
	ps.fd[2] = err;
	return (spawn_proc(&J, &ps, argv));
}

/* All of fd to EOF (bounded), NUL-terminated; fails the test if not. */
static char *
slurp(int fd, size_t *lenp, const char *what)
{
	size_t	 cap = 1024 * 1024, len = 0;
	char	*buf;

	ck_assert_ptr_nonnull(buf = malloc(cap));
	ck_assert_msg(read_to_eof(fd, buf, cap, &len, IO_MS),
	    "%s: no EOF in time (%zu bytes: %.200s)", what, len, buf);
	if (lenp != NULL)
		*lenp = len;
	return (buf);
}

/* A new file in the test's directory, open for writing. */
static void
open_file(const char *stem, int *fd, char *path, size_t len)
{
	char	name[32];

	snprintf(name, sizeof(name), "%s.%d", stem, ++seq);
	path_in(&J, name, path, len);
	*fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_msg(*fd != -1, "open %s: %s", path, strerror(errno));
}

/*
 * 1. One job from submission to its end, seen live by a watch of every job
 * and by a watch of the job itself: the events in order, one output event
 * per burst the job writes, the final object last, and nothing after.
 */
START_TEST(event_order)
{
	struct jobd_client	*w, *r, *o;
	struct paced		 p;
	json_object		*ev, *job;
	const char		*bursts[] = { "one\n", "err two\n", "three\n" };
	size_t			 i;

	start_jobd(&J, NULL);
	w = e2e_connect(&J);
	r = e2e_connect(&J);
	o = e2e_connect(&J);
	send_watch(w, "all", 0, -1);
	expect_watch_ok(w, "all", 0);

	run_paced(r, ECHO_SCRIPT, NULL, &p);
	ev = expect_event(w, "all", p.id, "queued");
	ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(
	    jget(jget(ev, "job"), "argv"), 2)), ECHO_SCRIPT);
	json_object_put(ev);
	ev = expect_event(w, "all", p.id, "started");
	ck_assert_int_eq(jint(ev, "pid"), p.pid);
	json_object_put(ev);

	/* Joining late: what happened so far first, then live. */
	send_watch(o, "one", p.id, -1);
	expect_watch_ok(o, "one", p.id);
	expect_event_put(o, "one", p.id, "queued");
	ev = expect_event(o, "one", p.id, "started");
	ck_assert_int_eq(jint(ev, "pid"), p.pid);
	json_object_put(ev);

	for (i = 0; i < sizeof(bursts) / sizeof(bursts[0]); i++) {
		feed(&p, bursts[i]);
		expect_text(w, "all", p.id, i == 1 ? "stderr" : "stdout",
		    bursts[i]);
		expect_text(o, "one", p.id, i == 1 ? "stderr" : "stdout",
		    bursts[i]);
	}
	finish(&p);
	job = expect_done(w, "all", p.id, "exited");
	ck_assert_int_eq(jint(job, "exit_code"), 0);
	ck_assert(stream_is(job, "stdout", "one\nthree\n"));
	ck_assert(stream_is(job, "stderr", "err two\n"));
	json_object_put(job);
	job = expect_done(o, "one", p.id, "exited");
	ck_assert(stream_is(job, "stdout", "one\nthree\n"));
	json_object_put(job);
	expect_nothing_more(o);
	expect_nothing_more(w);
}
END_TEST

/*
 * 2. The snapshot of a running job (output so far, per stream) and of a
 * terminating one (terminating last), then live events to the end.
 */
START_TEST(snapshot_running)
{
	struct jobd_client	*r, *o;
	struct paced		 p;
	json_object		*ev, *job;

	start_jobd(&J, NULL);
	r = e2e_connect(&J);
	o = e2e_connect(&J);

	run_paced(r, ECHO_SCRIPT, NULL, &p);
	feed(&p, "before\n");
	feed(&p, "err e1\n");
	feed(&p, "again\n");
	wait_captured(r, p.id, "before\nagain\n", "err e1\n");
	send_watch(o, "w", p.id, -1);
	expect_watch_ok(o, "w", p.id);
	ev = expect_event(o, "w", p.id, "queued");
	ck_assert_str_eq(jstr(jget(ev, "job"), "state"), "running");
	json_object_put(ev);
	expect_event_put(o, "w", p.id, "started");
	expect_text(o, "w", p.id, "stdout", "before\nagain\n");
	expect_text(o, "w", p.id, "stderr", "err e1\n");
	feed(&p, "after\n");
	expect_text(o, "w", p.id, "stdout", "after\n");
	finish(&p);
	json_object_put(expect_done(o, "w", p.id, "exited"));
	expect_nothing_more(o);

	/* Terminating: the job ignores SIGTERM and waits for its stdin. */
	run_paced(r, "trap '' TERM; echo ready; read x; exit 0",
	    "\"kill_after\":60", &p);
	wait_captured(r, p.id, "ready\n", "");
	ev = callf(r, "{\"op\":\"cancel\",\"id\":%lld}", p.id);
	expect_ok(ev);
	ck_assert_str_eq(jstr(ev, "state"), "terminating");
	json_object_put(ev);
	send_watch(o, "t", p.id, -1);
	expect_watch_ok(o, "t", p.id);
	expect_event_put(o, "t", p.id, "queued");
	expect_event_put(o, "t", p.id, "started");
	expect_text(o, "t", p.id, "stdout", "ready\n");
	ev = expect_event(o, "t", p.id, "terminating");
	ck_assert_str_eq(jstr(jget(ev, "job"), "state"), "terminating");
	json_object_put(ev);
	finish(&p);
	job = expect_done(o, "t", p.id, "cancelled");
	ck_assert(jbool(job, "cancelled"));
	ck_assert_int_eq(jint(job, "exit_code"), 0);
	json_object_put(job);
	expect_nothing_more(o);
}
END_TEST

/*
 * 3. A job that has ended: the whole story at once, done last, and the
 * watch is over. A job that could not start was never started.
 */
START_TEST(snapshot_ended)
{
	struct jobd_client	*c;
	json_object		*job, *ev;
	long long		 id, pid;

	start_jobd(&J, NULL);
	c = e2e_connect(&J);

	job = run_wait(c, run_req(jargv("sh", "-c",
	    "printf out; printf '\\377err' >&2; exit 3", NULL), "{}"), &id);
	pid = jint(job, "pid");
	json_object_put(job);
	send_watch(c, "e", id, -1);
	expect_watch_ok(c, "e", id);
	ev = expect_event(c, "e", id, "queued");
	ck_assert_str_eq(jstr(jget(ev, "job"), "state"), "exited");
	json_object_put(ev);
	ev = expect_event(c, "e", id, "started");
	ck_assert_int_eq(jint(ev, "pid"), pid);
	json_object_put(ev);
	expect_text(c, "e", id, "stdout", "out");
	expect_text(c, "e", id, "stderr", "\377err");
	job = expect_done(c, "e", id, "exited");
	ck_assert_int_eq(jint(job, "exit_code"), 3);
	json_object_put(job);
	expect_nothing_more(c);

	/* No output at all: no output event. */
	job = run_wait(c, run_req(jargv("true", NULL), "{}"), &id);
	json_object_put(job);
	send_watch(c, "t", id, -1);
	expect_watch_ok(c, "t", id);
	expect_event_put(c, "t", id, "queued");
	expect_event_put(c, "t", id, "started");
	json_object_put(expect_done(c, "t", id, "exited"));
	expect_nothing_more(c);

	if (e2e_wrapped()) {
		e2e_skip("snapshot_ended: a spawn failure's events, under "
		    "JOBD_WRAPPER (valgrind runs jobd's vfork-style clone as "
		    "a fork)");
		return;
	}
	job = run_wait(c, run_req(jargv("/nonexistent/prog", NULL), "{}"),
	    &id);
	json_object_put(job);
	send_watch(c, "f", id, -1);
	expect_watch_ok(c, "f", id);
	ev = expect_event(c, "f", id, "queued");
	ck_assert(jis_null(jget(ev, "job"), "pid"));
	json_object_put(ev);
	job = expect_done(c, "f", id, "failed");
	ck_assert_str_eq(jstr(job, "error"), "ENOENT");
	json_object_put(job);
	expect_nothing_more(c);
}
END_TEST

/* 4. "output": false leaves out output events, live and in the snapshot. */
START_TEST(output_false)
{
	struct jobd_client	*w, *r, *o;
	struct paced		 p;
	json_object		*job;

	start_jobd(&J, NULL);
	w = e2e_connect(&J);
	r = e2e_connect(&J);
	o = e2e_connect(&J);
	send_watch(w, "all", 0, 0);
	expect_watch_ok(w, "all", 0);

	run_paced(r, ECHO_SCRIPT, NULL, &p);
	feed(&p, "early\n");
	wait_captured(r, p.id, "early\n", "");
	send_watch(o, "one", p.id, 0);
	expect_watch_ok(o, "one", p.id);
	expect_event_put(o, "one", p.id, "queued");
	expect_event_put(o, "one", p.id, "started");
	feed(&p, "late\n");
	feed(&p, "err late\n");
	wait_captured(r, p.id, "early\nlate\n", "err late\n");
	finish(&p);

	/* The next event after started is done: no output in between. */
	job = expect_done(o, "one", p.id, "exited");
	ck_assert(stream_is(job, "stdout", "early\nlate\n"));
	json_object_put(job);
	expect_event_put(w, "all", p.id, "queued");
	expect_event_put(w, "all", p.id, "started");
	job = expect_done(w, "all", p.id, "exited");
	ck_assert(stream_is(job, "stderr", "err late\n"));
	json_object_put(job);
	expect_nothing_more(o);
	expect_nothing_more(w);
}
END_TEST

/* 5. A watch of every job sees the events of two jobs, as they happen. */
START_TEST(all_jobs)
{
	struct jobd_client	*w, *r;
	struct paced		 a, b;

	start_jobd(&J, NULL);
	w = e2e_connect(&J);
	r = e2e_connect(&J);
	send_watch(w, "all", 0, 1);
	expect_watch_ok(w, "all", 0);

	run_paced(r, ECHO_SCRIPT, NULL, &a);
	run_paced(r, ECHO_SCRIPT, NULL, &b);
	ck_assert_int_ne(a.id, b.id);
	expect_event_put(w, "all", a.id, "queued");
	expect_event_put(w, "all", a.id, "started");
	expect_event_put(w, "all", b.id, "queued");
	expect_event_put(w, "all", b.id, "started");
	feed(&a, "a1\n");
	expect_text(w, "all", a.id, "stdout", "a1\n");
	feed(&b, "err b1\n");
	expect_text(w, "all", b.id, "stderr", "err b1\n");
	finish(&a);
	json_object_put(expect_done(w, "all", a.id, "exited"));
	feed(&b, "b2\n");
	expect_text(w, "all", b.id, "stdout", "b2\n");
	finish(&b);
	json_object_put(expect_done(w, "all", b.id, "exited"));
	expect_nothing_more(w);
}
END_TEST

/*
 * 6. A watch does not hold up its connection: other requests on it are
 * answered while the watch is open, and its events come in between.
 */
START_TEST(no_block)
{
	struct jobd_client	*c;
	struct paced		 p;
	json_object		*resp;

	start_jobd(&J, NULL);
	c = e2e_connect(&J);

	run_paced(c, ECHO_SCRIPT, NULL, &p);
	send_watch(c, "w", p.id, -1);
	expect_watch_ok(c, "w", p.id);
	expect_event_put(c, "w", p.id, "queued");
	expect_event_put(c, "w", p.id, "started");

	resp = callf(c, "{\"op\":\"status\",\"id\":%lld,\"tag\":\"s\"}",
	    p.id);
	expect_ok(resp);
	ck_assert_str_eq(jstr(resp, "tag"), "s");
	ck_assert_str_eq(jstr(jget(resp, "job"), "state"), "running");
	json_object_put(resp);
	resp = callf(c, "{\"op\":\"list\",\"tag\":\"l\"}");
	ck_assert_str_eq(jstr(resp, "tag"), "l");
	json_object_put(resp);
	expect_ping(c);

	feed(&p, "hi\n");
	expect_text(c, "w", p.id, "stdout", "hi\n");
	/* Another job, run and waited for on the same connection. */
	resp = run_wait(c, run_req(jargv("echo", "other", NULL),
	    "{\"tag\":\"r2\"}"), NULL);
	ck_assert(stream_is(resp, "stdout", "other\n"));
	json_object_put(resp);
	expect_ping(c);

	finish(&p);
	json_object_put(expect_done(c, "w", p.id, "exited"));
	expect_nothing_more(c);
}
END_TEST

/*
 * 7. A client that half-closes after its watch request (nc -N) still gets
 * the stream to its end, then the connection closes.
 */
START_TEST(half_close)
{
	struct jobd_client	*r, *h;
	struct paced		 p;

	start_jobd(&J, NULL);
	r = e2e_connect(&J);
	h = e2e_connect(&J);

	run_paced(r, ECHO_SCRIPT, NULL, &p);
	send_watch(h, "h", p.id, -1);
	ck_assert_int_eq(shutdown(jobd_client_fd(h), SHUT_WR), 0);
	expect_watch_ok(h, "h", p.id);
	expect_event_put(h, "h", p.id, "queued");
	expect_event_put(h, "h", p.id, "started");
	feed(&p, "still here\n");
	expect_text(h, "h", p.id, "stdout", "still here\n");
	finish(&p);
	json_object_put(expect_done(h, "h", p.id, "exited"));
	errno = 0;
	ck_assert_msg(jobd_recv(h) == NULL && errno == 0,
	    "expected EOF after the last event");
}
END_TEST

/*
 * 8. At most 64 watches per connection; a watch of an ended job is over at
 * once and does not count; the bound frees as watches end.
 */
START_TEST(watch_limit)
{
	struct jobd_client	*c, *d;
	struct paced		 p;
	json_object		*job, *r;
	char			 tag[16];
	long long		 ended;
	int			 i;

	start_jobd(&J, NULL);
	c = e2e_connect(&J);
	d = e2e_connect(&J);

	run_paced(d, ECHO_SCRIPT, NULL, &p);
	for (i = 0; i < MAX_WATCHES; i++) {
		snprintf(tag, sizeof(tag), "w%d", i);
		send_watch(c, tag, p.id, 0);
		expect_watch_ok(c, tag, p.id);
		expect_event_put(c, tag, p.id, "queued");
		expect_event_put(c, tag, p.id, "started");
	}
	send_watch(c, "over", p.id, 0);
	r = recv_resp(c);
	ck_assert_str_eq(jstr(r, "tag"), "over");
	expect_error(r, JOBD_E_LIMIT);
	send_watch(c, "all", 0, -1);
	expect_error(recv_resp(c), JOBD_E_LIMIT);
	expect_ping(c);

	/* Another connection has its own bound. */
	send_watch(d, "d", p.id, 0);
	expect_watch_ok(d, "d", p.id);
	expect_event_put(d, "d", p.id, "queued");
	expect_event_put(d, "d", p.id, "started");

	job = run_wait(d, run_req(jargv("true", NULL), "{}"), &ended);
	json_object_put(job);
	send_watch(c, "ended", ended, 0);
	expect_watch_ok(c, "ended", ended);
	expect_event_put(c, "ended", ended, "queued");
	expect_event_put(c, "ended", ended, "started");
	json_object_put(expect_done(c, "ended", ended, "exited"));

	finish(&p);
	for (i = 0; i < MAX_WATCHES; i++) {
		snprintf(tag, sizeof(tag), "w%d", i);
		json_object_put(expect_done(c, tag, p.id, "exited"));
	}
	json_object_put(expect_done(d, "d", p.id, "exited"));
	send_watch(c, "all", 0, -1);
	expect_watch_ok(c, "all", 0);
	expect_nothing_more(c);
}
END_TEST

/* 9. Bad requests cost only themselves; the connection goes on. */
START_TEST(bad_requests)
{
	static const struct {
		const char	*req;
		const char	*code;
	} cases[] = {
		{ "{\"op\":\"watch\",\"id\":\"1\"}", JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"watch\",\"id\":0}", JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"watch\",\"id\":-3}", JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"watch\",\"id\":1.5}", JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"watch\",\"id\":null}", JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"watch\",\"output\":1}", JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"watch\",\"output\":\"no\"}", JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"watch\",\"output\":null}", JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"watch\",\"follow\":true}", JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"watch\",\"id\":1,\"signal\":9}",
		    JOBD_E_BAD_REQUEST },
		{ "{\"op\":\"watch\",\"id\":12345}", JOBD_E_NOT_FOUND },
		{ "{\"op\":\"watch\",\"id\":2,\"output\":false}",
		    JOBD_E_NOT_FOUND },
	};
	struct jobd_client	*c;
	json_object		*req, *r;
	size_t			 i;

	start_jobd(&J, NULL);
	c = e2e_connect(&J);
	json_object_put(run_wait(c, run_req(jargv("true", NULL), "{}"),
	    NULL));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		req = jparse("%s", cases[i].req);
		json_object_object_add(req, "tag", json_object_new_int((int)i));
		r = call(c, req);
		ck_assert_msg(jint(r, "tag") == (long long)i,
		    "%s: tag not echoed: %s", cases[i].req,
		    json_object_to_json_string(r));
		expect_error(r, cases[i].code);
	}
	expect_nothing_more(c);
}
END_TEST

/*
 * 10. Output beyond max_output is dropped, and not streamed either: the
 * events add up to what was captured.
 */
START_TEST(output_capped)
{
	struct jobd_client	*r, *o;
	struct paced		 p;
	json_object		*job;
	char			 want[1000];

	start_jobd(&J, "max_output = 1000\n");
	r = e2e_connect(&J);
	o = e2e_connect(&J);

	run_paced(r, "read x; exec " FLOOD " -o -n 50000", NULL, &p);
	send_watch(o, "w", p.id, 1);
	expect_watch_ok(o, "w", p.id);
	expect_event_put(o, "w", p.id, "queued");
	expect_event_put(o, "w", p.id, "started");
	feed(&p, "go\n");
	memset(want, 'x', sizeof(want));
	expect_output(o, "w", p.id, "stdout", want, sizeof(want));
	job = expect_done(o, "w", p.id, "exited");
	ck_assert_int_eq(jint(job, "stdout_dropped"), 50000 - 1000);
	json_object_put(job);
	finish(&p);
	expect_nothing_more(o);
}
END_TEST

/*
 * 11. jobctl logs: stdout to stdout, stderr to stderr, byte for byte
 * (binary too); an unknown job is an error.
 */
START_TEST(ctl_logs)
{
	struct jobd_client	*c;
	json_object		*job;
	const char		*argv[] = { "jobctl", "logs", NULL, NULL };
	char			 id[32], opath[PATH_MAX], epath[PATH_MAX];
	char			*out, *err;
	size_t			 olen, elen;
	long long		 n;
	int			 ofd, efd;

	start_jobd(&J, NULL);
	c = e2e_connect(&J);
	job = run_wait(c, run_req(jargv("sh", "-c",
	    "printf 'text\\n\\000\\001\\377bin'; printf 'E\\n\\033[1m' >&2",
	    NULL), "{}"), &n);
	json_object_put(job);

	snprintf(id, sizeof(id), "%lld", n);
	argv[2] = id;
	open_file("out", &ofd, opath, sizeof(opath));
	open_file("err", &efd, epath, sizeof(epath));
	ck_assert_int_eq(reap_or_kill(spawn_ctl(argv, ofd, efd), CTL_MS,
	    "jobctl logs"), 0);
	close(ofd);
	close(efd);
	ck_assert_ptr_nonnull(out = read_text(opath, &olen));
	ck_assert_ptr_nonnull(err = read_text(epath, &elen));
	ck_assert_uint_eq(olen, 11);
	ck_assert_int_eq(memcmp(out, "text\n\000\001\377bin", 11), 0);
	ck_assert_uint_eq(elen, 6);
	ck_assert_int_eq(memcmp(err, "E\n\033[1m", 6), 0);
	free(out);
	free(err);

	argv[2] = "999";
	open_file("err", &efd, epath, sizeof(epath));
	ck_assert_int_eq(reap_or_kill(spawn_ctl(argv, -1, efd), CTL_MS,
	    "jobctl logs"), 1);
	close(efd);
	ck_assert_ptr_nonnull(err = read_text(epath, NULL));
	ck_assert_msg(strstr(err, "not_found") != NULL, "stderr: %s", err);
	free(err);
}
END_TEST

/*
 * 12. jobctl logs -f: what was captured, then the job's output as it
 * comes, to the right descriptor; exit 0 when the job ends.
 */
START_TEST(ctl_logs_follow)
{
	struct jobd_client	*c;
	struct paced		 p;
	const char		*argv[] = { "jobctl", "logs", "-f", NULL,
				    NULL };
	char			 id[32], epath[PATH_MAX], buf[256], *err, *rest;
	size_t			 len = 0;
	pid_t			 pid;
	int			 out[2], efd;

	start_jobd(&J, NULL);
	c = e2e_connect(&J);
	run_paced(c, ECHO_SCRIPT, NULL, &p);
	feed(&p, "pre\n");
	wait_captured(c, p.id, "pre\n", "");

	snprintf(id, sizeof(id), "%lld", p.id);
	argv[3] = id;
	cloexec_pipe(out);
	open_file("err", &efd, epath, sizeof(epath));
	pid = spawn_ctl(argv, out[1], efd);
	close(out[1]);
	close(efd);
	ck_assert_msg(read_until(out[0], buf, sizeof(buf), &len, "pre\n",
	    IO_MS), "no snapshot from jobctl logs -f: \"%s\"", buf);
	feed(&p, "a\n");
	ck_assert_msg(read_until(out[0], buf, sizeof(buf), &len, "pre\na\n",
	    IO_MS), "jobctl logs -f did not follow: \"%s\"", buf);
	feed(&p, "err b\n");
	feed(&p, "c\n");
	ck_assert_msg(read_until(out[0], buf, sizeof(buf), &len,
	    "pre\na\nc\n", IO_MS), "jobctl logs -f did not follow: \"%s\"",
	    buf);
	finish(&p);
	ck_assert_int_eq(reap_or_kill(pid, CTL_MS, "jobctl logs -f"), 0);
	rest = slurp(out[0], NULL, "jobctl logs -f");
	ck_assert_str_eq(rest, "");
	free(rest);
	ck_assert_str_eq(buf, "pre\na\nc\n");
	close(out[0]);
	ck_assert_ptr_nonnull(err = read_text(epath, NULL));
	ck_assert_str_eq(err, "err b\n");
	free(err);
}
END_TEST

/* One piece of a job's output file, decoded; eof through *eof. */
static char *
output_piece(struct jobd_client *c, long long id, const char *stream,
    long long off, long long max, size_t *len, int *eof)
{
	json_object	*r;
	char		*data;

	r = callf(c, "{\"op\":\"output\",\"id\":%lld,\"stream\":\"%s\","
	    "\"offset\":%lld,\"max\":%lld}", id, stream, off, max);
	expect_ok(r);
	ck_assert_int_eq(jint(r, "offset"), off);
	data = (char *)jobd_job_output(r, "data", len);
	ck_assert_ptr_nonnull(data);
	*eof = jbool(r, "eof");
	json_object_put(r);
	return (data);
}

/*
 * 12b. output_file: the streams go to files in the state directory,
 * bounded by max_output_file (the rest counted as dropped); the output op
 * reads them in pieces; watch streams them live; jobctl logs and logs -f
 * read them; a restart keeps them; pruning the job removes them.
 */
START_TEST(output_files)
{
	struct jobd_client	*c;
	struct paced		 p;
	json_object		*job, *r;
	const char		*argv[] = { "jobctl", "logs", "-f", NULL,
				    NULL };
	char			 id[32], path[PATH_MAX + 64], buf[256], *data;
	char			 conf[128];
	size_t			 len = 0;
	long long		 n;
	int			 eof, out[2];
	pid_t			 pid;

	/* Retention 2 s, longer when jobd runs slower (valgrind). */
	snprintf(conf, sizeof(conf), "max_output_file = 1000\n"
	    "retention = %ds\n", 2 * e2e_slowdown());
	start_jobd(&J, conf);
	c = e2e_connect(&J);
	job = run_wait(c, run_req(jargv("sh", "-c", "head -c 3000 /dev/zero | "
	    "tr '\\0' x; printf 'E' >&2", NULL), "{\"output_file\":true}"),
	    &n);
	ck_assert_msg(strcmp(jstr(job, "stdout_encoding"), "file") == 0 &&
	    jint(job, "stdout_bytes") == 1000 &&
	    jint(job, "stdout_dropped") == 2000 &&
	    jint(job, "stderr_bytes") == 1 && strcmp(jstr(job, "stdout"),
	    "") == 0 && jbool(job, "output_file"), "%s",
	    json_object_to_json_string(job));
	json_object_put(job);
	snprintf(path, sizeof(path), "%s/state/output/%lld.stdout", J.dir, n);
	ck_assert_msg(access(path, F_OK) == 0, "%s: %s", path, strerror(errno));

	/* In pieces: 600 bytes, then the 400 left, with eof. */
	data = output_piece(c, n, "stdout", 0, 600, &len, &eof);
	ck_assert_msg(len == 600 && !eof && strspn(data, "x") == 600,
	    "first piece: %zu bytes, eof %d", len, eof);
	free(data);
	data = output_piece(c, n, "stdout", 600, 1000, &len, &eof);
	ck_assert_msg(len == 400 && eof, "second piece: %zu, eof %d", len,
	    eof);
	free(data);
	data = output_piece(c, n, "stderr", 0, 1000, &len, &eof);
	ck_assert_msg(len == 1 && data[0] == 'E' && eof, "stderr");
	free(data);
	expect_error(callf(c, "{\"op\":\"output\",\"id\":%lld,"
	    "\"stream\":\"stdin\"}", n), "bad_request");

	/* A job of a running paced script: watch, logs -f and the files. */
	run_paced(c, ECHO_SCRIPT, "\"output_file\":true", &p);
	snprintf(id, sizeof(id), "%lld", p.id);
	argv[3] = id;
	cloexec_pipe(out);
	pid = spawn_ctl(argv, out[1], -1);
	close(out[1]);
	feed(&p, "one\n");
	ck_assert_msg(read_until(out[0], buf, sizeof(buf), &len, "one\n",
	    IO_MS), "jobctl logs -f (file): \"%s\"", buf);
	feed(&p, "two\n");
	ck_assert_msg(read_until(out[0], buf, sizeof(buf), &len,
	    "one\ntwo\n", IO_MS), "jobctl logs -f (file): \"%s\"", buf);
	finish(&p);
	ck_assert_int_eq(reap_or_kill(pid, CTL_MS, "jobctl logs -f"), 0);
	close(out[0]);

	/* A restart keeps the result and the file. */
	e2e_close(c);
	ck_assert_int_eq(kill(J.pid, SIGTERM), 0);
	ck_assert(reap_jobd(&J, E2E_STOP_TIMEOUT_MS));
	restart_jobd(&J);
	c = e2e_connect(&J);
	data = output_piece(c, p.id, "stdout", 0, 1000, &len, &eof);
	ck_assert_msg(len == 8 && memcmp(data, "one\ntwo\n", 8) == 0 && eof,
	    "after a restart: %zu bytes", len);
	free(data);

	/* Pruned (retention 2 s): the job and its files go. */
	ck_assert_msg(wait_until(path_gone, path, 10000 * e2e_slowdown()),
	    "%s still there after retention", path);
	r = callf(c, "{\"op\":\"status\",\"id\":%lld}", n);
	expect_error(r, "not_found");
	e2e_close(c);
}
END_TEST

/*
 * 12c. max_output_files: a new job's output does not lose to old results;
 * the oldest ended job with files is pruned to make room.
 */
START_TEST(output_files_budget)
{
	struct jobd_client	*c;
	json_object		*job;
	long long		 old;

	start_jobd(&J, "max_output_files = 100k\n");
	c = e2e_connect(&J);
	job = run_wait(c, run_req(jargv("sh", "-c", "head -c 102400 "
	    "/dev/zero", NULL), "{\"output_file\":true}"), &old);
	ck_assert_int_eq(jint(job, "stdout_bytes"), 102400);
	json_object_put(job);
	job = run_wait(c, run_req(jargv("echo", "hello", NULL),
	    "{\"output_file\":true}"), NULL);
	ck_assert_msg(jint(job, "stdout_bytes") == 6 &&
	    jint(job, "stdout_dropped") == 0, "%s",
	    json_object_to_json_string(job));
	json_object_put(job);
	expect_error(callf(c, "{\"op\":\"status\",\"id\":%lld}", old),
	    "not_found");
	e2e_close(c);
}
END_TEST

/* A jobd whose store is in memory has no directory for output files. */
START_TEST(output_file_memory)
{
	struct jobd_client	*c;

	start_jobd(&J, "store = memory\n");
	c = e2e_connect(&J);
	expect_error(call(c, run_req(jargv("true", NULL),
	    "{\"output_file\":true}")), "bad_request");
	expect_ping(c);
	e2e_close(c);
}
END_TEST

/*
 * 13. jobctl watch ID: one stable line per event, output escaped; exit 0
 * when the job has ended, live or already.
 */
START_TEST(ctl_watch_lines)
{
	struct jobd_client	*c;
	struct paced		 p;
	json_object		*job;
	const char		*cmd = "echo hi; printf \"\\033[1m\\001\" >&2; "
				    "exit 3";
	const char		*argv[] = { "jobctl", "watch", NULL, NULL };
	char			 id[32], path[PATH_MAX], want[1024], buf[4096];
	char			*text;
	size_t			 len = 0;
	long long		 n, pid;
	pid_t			 ctl;
	int			 fd, out[2];

	start_jobd(&J, NULL);
	c = e2e_connect(&J);
	job = run_wait(c, run_req(jargv("sh", "-c", cmd, NULL), "{}"), &n);
	pid = jint(job, "pid");
	json_object_put(job);
	snprintf(id, sizeof(id), "%lld", n);
	argv[2] = id;
	open_file("out", &fd, path, sizeof(path));
	ck_assert_int_eq(reap_or_kill(spawn_ctl(argv, fd, -1), CTL_MS,
	    "jobctl watch"), 0);
	close(fd);
	ck_assert_ptr_nonnull(text = read_text(path, NULL));
	snprintf(want, sizeof(want),
	    "%lld queued sh -c '%s'\n"
	    "%lld started pid %lld\n"
	    "%lld stdout 3 bytes: hi\\n\n"
	    "%lld stderr 5 bytes: \\033[1m\\001\n"
	    "%lld exited 3\n", n, cmd, n, pid, n, n, n);
	ck_assert_str_eq(text, want);
	free(text);

	/* Live, into a pipe: each line as it happens. */
	run_paced(c, ECHO_SCRIPT, NULL, &p);
	snprintf(id, sizeof(id), "%lld", p.id);
	cloexec_pipe(out);
	ctl = spawn_ctl(argv, out[1], -1);
	close(out[1]);
	snprintf(want, sizeof(want), "%lld started pid %lld\n", p.id, p.pid);
	ck_assert_msg(read_until(out[0], buf, sizeof(buf), &len, want, IO_MS),
	    "no started line: \"%s\"", buf);
	feed(&p, "tab\there\\\n");
	snprintf(want, sizeof(want),
	    "%lld stdout 10 bytes: tab\\there\\\\\\n\n", p.id);
	ck_assert_msg(read_until(out[0], buf, sizeof(buf), &len, want, IO_MS),
	    "no output line: \"%s\"", buf);
	finish(&p);
	ck_assert_int_eq(reap_or_kill(ctl, CTL_MS, "jobctl watch"), 0);
	text = slurp(out[0], NULL, "jobctl watch");
	snprintf(want, sizeof(want), "%lld exited 0\n", p.id);
	ck_assert_str_eq(text, want);
	free(text);
	close(out[0]);

	argv[2] = "999";
	ck_assert_int_eq(reap_or_kill(spawn_ctl(argv, -1, -1), CTL_MS,
	    "jobctl watch"), 1);
}
END_TEST

/*
 * 14. jobctl watch of every job: it ends on ^C, and with status 1 and a
 * message when jobd goes away.
 */
START_TEST(ctl_watch_all)
{
	struct jobd_client	*c;
	json_object		*job;
	const char		*argv[] = { "jobctl", "watch", NULL };
	const char		*quiet[] = { "jobctl", "watch", "-n", NULL };
	char			 buf[4096], want[256], *err;
	size_t			 len = 0;
	long long		 n, pid;
	pid_t			 ctl;
	int			 out[2], errp[2];

	start_jobd(&J, NULL);
	c = e2e_connect(&J);

	/*
	 * jobctl is watching once a job submitted after it shows whole; keep
	 * submitting until one does, as its connection takes a moment.
	 */
	cloexec_pipe(out);
	ctl = spawn_ctl(argv, out[1], -1);
	close(out[1]);
	for (;;) {
		job = run_wait(c, run_req(jargv("echo", "x", NULL), "{}"), &n);
		pid = jint(job, "pid");
		json_object_put(job);
		snprintf(want, sizeof(want), "%lld queued echo x\n%lld started "
		    "pid %lld\n%lld stdout 2 bytes: x\\n\n%lld exited 0\n", n,
		    n, pid, n, n);
		if (read_until(out[0], buf, sizeof(buf), &len, want, 500))
			break;
		ck_assert_msg(n < 20, "jobctl watch shows no job: \"%s\"",
		    buf);
	}
	ck_assert_int_eq(kill(ctl, SIGINT), 0);
	ck_assert_int_eq(reap_or_kill(ctl, CTL_MS, "jobctl watch"),
	    128 + SIGINT);
	close(out[0]);

	cloexec_pipe(out);
	cloexec_pipe(errp);
	ctl = spawn_ctl(quiet, out[1], errp[1]);
	close(out[1]);
	close(errp[1]);
	len = 0;
	for (;;) {
		job = run_wait(c, run_req(jargv("echo", "y", NULL), "{}"), &n);
		json_object_put(job);
		snprintf(want, sizeof(want), "%lld exited 0\n", n);
		if (read_until(out[0], buf, sizeof(buf), &len, want, 200))
			break;
		ck_assert_msg(n < 200, "jobctl watch shows no job: \"%s\"",
		    buf);
	}
	ck_assert_msg(strstr(buf, "stdout") == NULL, "-n: %s", buf);
	e2e_close(c);
	ck_assert_int_eq(kill(J.pid, SIGTERM), 0);
	ck_assert_msg(reap_jobd(&J, E2E_STOP_TIMEOUT_MS), "jobd did not exit");
	ck_assert(WIFEXITED(J.status) && WEXITSTATUS(J.status) == 0);
	ck_assert_int_eq(reap_or_kill(ctl, CTL_MS, "jobctl watch"), 1);
	err = slurp(errp[0], NULL, "jobctl watch stderr");
	ck_assert_msg(strstr(err, "jobd closed the connection") != NULL,
	    "stderr: %s", err);
	free(err);
	close(out[0]);
	close(errp[0]);
}
END_TEST

/*
 * 15. A watcher that never reads while a job floods its output is cut off
 * by the reply bound; jobd, the job and everyone else are fine.
 */
START_TEST(slow_watcher)
{
	struct jobd_client	*r, *s;
	struct paced		 p;
	json_object		*job;
	char			 tag[16], *buf, *log;
	size_t			 len = 0;
	int			 i;

	start_jobd(&J, "max_output = 64k\nmax_output_limit = 64k\n"
	    "max_reply_buffer = 384k\n");
	r = e2e_connect(&J);
	s = e2e_connect(&J);

	run_paced(r, "read x; exec " FLOOD " -o -e -n 1048576", NULL, &p);
	send_watch(s, "all", 0, 1);
	expect_watch_ok(s, "all", 0);
	/* Each watch gets all of it: 8 of them are well over the bound. */
	for (i = 0; i < 8; i++) {
		snprintf(tag, sizeof(tag), "w%d", i);
		send_watch(s, tag, p.id, 1);
		expect_watch_ok(s, tag, p.id);
		expect_event_put(s, tag, p.id, "queued");
		expect_event_put(s, tag, p.id, "started");
	}
	feed(&p, "go\n");
	finish(&p);
	job = callf(r, "{\"op\":\"wait\",\"id\":%lld}", p.id);
	expect_ok(job);
	ck_assert_str_eq(jstr(jget(job, "job"), "state"), "exited");
	ck_assert_int_eq(jint(jget(job, "job"), "stdout_dropped"),
	    1048576 - 65536);
	json_object_put(job);

	/* A watch of every job never ends by itself: EOF means cut off. */
	ck_assert_ptr_nonnull(buf = malloc(32 * 1024 * 1024));
	ck_assert_msg(read_to_eof(jobd_client_fd(s), buf, 32 * 1024 * 1024,
	    &len, IO_MS), "the watcher was not disconnected (%zu bytes)", len);
	free(buf);
	ck_assert_ptr_nonnull(log = read_text(J.log, NULL));
	ck_assert_msg(strstr(log, "does not read its replies") != NULL,
	    "jobd did not say why it closed the connection");
	free(log);

	expect_ping(r);
	job = run_wait(r, run_req(jargv("echo", "fine", NULL), "{}"), NULL);
	ck_assert(stream_is(job, "stdout", "fine\n"));
	json_object_put(job);
	send_watch(r, "again", 0, 1);
	expect_watch_ok(r, "again", 0);
	expect_nothing_more(r);
}
END_TEST

static void
add(Suite *s, const char *name, const TTest *t)
{
	TCase	*tc = tcase_create(name);

	/* Checked: in the test's process. Unchecked: in the runner. */
	tcase_add_checked_fixture(tc, NULL, e2e_teardown);
	tcase_add_unchecked_fixture(tc, NULL, e2e_sweep);
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

Suite *
stream_suite(void)
{
	Suite	*s = suite_create("stream");

	add(s, "event_order", event_order);
	add(s, "snapshot_running", snapshot_running);
	add(s, "snapshot_ended", snapshot_ended);
	add(s, "output_false", output_false);
	add(s, "all_jobs", all_jobs);
	add(s, "no_block", no_block);
	add(s, "half_close", half_close);
	add(s, "watch_limit", watch_limit);
	add(s, "bad_requests", bad_requests);
	add(s, "output_capped", output_capped);
	add(s, "ctl_logs", ctl_logs);
	add(s, "ctl_logs_follow", ctl_logs_follow);
	add(s, "output_files", output_files);
	add(s, "output_file_memory", output_file_memory);
	add(s, "output_files_budget", output_files_budget);
	add(s, "ctl_watch_lines", ctl_watch_lines);
	add(s, "ctl_watch_all", ctl_watch_all);
	add(s, "slow_watcher", slow_watcher);
	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	e2e_global_init();
	sr = srunner_create(stream_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	e2e_global_fini();
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
