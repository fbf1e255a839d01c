/*
 * Integration tests: a real jobd per test, driven over its socket and through
 * jobctl. Each test checks what a user sees (results, exit codes) and what
 * the system holds afterwards (no process of a job left, no zombie).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"
#include "jobd-protocol.h"

#define TEST_TIMEOUT	30

struct pid_state {
	pid_t	pid;
	char	want;
};

Suite		*e2e_suite(void);

static int	state_is(void *);
static int	no_zombie_children(void *);
static pid_t	job_pid(json_object *);
static void	assert_all_dead(const pid_t *, int);
static void	check_capped(json_object *, const char *);
static void	bad_requests(struct jobd_client *);
static void	expect_done(struct jobd_client *, const char *);
static unsigned long long status_mask(const char *, const char *);
static void	add(Suite *, const char *, const TTest *);

static struct jobd_inst	J;

static int
state_is(void *arg)
{
	struct pid_state	*ps = arg;

	return (proc_state(ps->pid) == ps->want);
}

static int
no_zombie_children(void *arg)
{
	return (count_zombie_children(*(pid_t *)arg) == 0);
}

/* The leader's pid, from a job object. */
static pid_t
job_pid(json_object *job)
{
	long long	pid = jint(job, "pid");

	ck_assert_int_gt(pid, 1);
	return ((pid_t)pid);
}

static void
assert_all_dead(const pid_t *pids, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		ck_assert_msg(!pid_alive(pids[i]),
		    "pid %ld (state %c) still alive after the result",
		    (long)pids[i], proc_state(pids[i]));
}

/*
 * 1. The leader's exit code comes back unchanged: over the protocol (run,
 * then a separate wait) and as jobctl's exit status.
 */
START_TEST(exit_codes_pass_through)
{
	static const int	 codes[] = { 0, 3, 255 };
	struct jobd_client	*c;
	json_object		*r, *job;
	long long		 id;
	char			 cmd[32];
	size_t			 i;

	start_jobd(&J, NULL);
	c = e2e_connect(&J);
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		snprintf(cmd, sizeof(cmd), "exit %d", codes[i]);
		r = call(c, run_req(jargv("sh", "-c", cmd, NULL), "{}"));
		expect_ok(r);
		id = jint(r, "id");
		json_object_put(r);

		r = callf(c, "{\"op\":\"wait\",\"id\":%lld}", id);
		expect_ok(r);
		job = jget(r, "job");
		ck_assert_int_eq(jint(job, "id"), id);
		ck_assert_str_eq(jstr(job, "state"), "exited");
		ck_assert_int_eq(jint(job, "exit_code"), codes[i]);
		ck_assert(jis_null(job, "signal"));
		ck_assert(!jbool(job, "timed_out"));
		json_object_put(r);

		ck_assert_int_eq(run_jobctl(&J, NULL, "run", "--", "sh", "-c",
		    cmd, NULL), codes[i]);
	}
	e2e_close(c);
}
END_TEST

/*
 * 2. jobctl run -t: exit 124 after about the timeout, and nothing of the
 * job's session is left once jobctl has its answer.
 */
START_TEST(jobctl_timeout_exits_124)
{
	char	pidfile[PATH_MAX], cmd[PATH_MAX + 64];
	double	elapsed;
	pid_t	leader;
	int	st;

	start_jobd(&J, NULL);
	path_in(&J, "leader.pid", pidfile, sizeof(pidfile));
	snprintf(cmd, sizeof(cmd),
	    "echo $$ > %s; sleep 100 & sleep 100 & wait", pidfile);
	st = run_jobctl(&J, &elapsed, "run", "-t", "2s", "--", "sh", "-c",
	    cmd, NULL);
	ck_assert_int_eq(st, 124);
	ck_assert_msg(elapsed >= 1.5 && elapsed <= 8.0,
	    "jobctl took %.2f s for a 2 s timeout", elapsed);
	leader = read_pid(pidfile);
	ck_assert_int_eq(count_group(leader), 0);
}
END_TEST

/*
 * 3. At a deadline, children and grandchildren all die, and the result only
 * comes once they have: so check right away, without waiting.
 */
START_TEST(timeout_kills_descendants)
{
	struct jobd_client	*c;
	json_object		*job;
	char			 path[PATH_MAX];
	pid_t			 pids[32];
	int			 n;

	start_jobd(&J, NULL);
	path_in(&J, "outer.sh", path, sizeof(path));
	write_file(path,
	    "echo $$ >> pids\n"
	    "sh inner.sh &\n"
	    "echo $! >> pids\n"
	    "sleep 100 &\n"
	    "echo $! >> pids\n"
	    "wait\n", 0644);
	path_in(&J, "inner.sh", path, sizeof(path));
	write_file(path,
	    "sleep 100 &\n"
	    "echo $! >> pids\n"
	    "sh -c 'echo $$ >> pids; exec sleep 100' &\n"
	    "(sleep 100 & echo $! >> pids; wait) &\n"
	    "echo $! >> pids\n"
	    "wait\n", 0644);

	c = e2e_connect(&J);
	job = run_wait(c, run_req(jargv("sh", "outer.sh", NULL),
	    "{\"cwd\":\"%s\",\"timeout\":1.5}", J.dir), NULL);
	ck_assert_str_eq(jstr(job, "state"), "timed_out");
	ck_assert(jbool(job, "timed_out"));

	path_in(&J, "pids", path, sizeof(path));
	n = read_pids(path, pids, 32);
	/* outer, inner, 2 sleeps, the exec'd sleep, the subshell, its sleep */
	ck_assert_msg(n == 7, "the job recorded %d pids before its deadline, "
	    "not 7", n);
	assert_all_dead(pids, n);
	ck_assert_int_eq(count_group(job_pid(job)), 0);
	json_object_put(job);
	e2e_close(c);
}
END_TEST

/*
 * 4. A job that ignores SIGTERM is killed with SIGKILL after kill_after.
 */
START_TEST(term_ignored_needs_sigkill)
{
	struct jobd_client	*c;
	json_object		*job;
	double			 t0, elapsed;
	int			 st;

	start_jobd(&J, NULL);
	c = e2e_connect(&J);
	t0 = now_mono();
	job = run_wait(c, run_req(jargv("sh", "-c",
	    "trap '' TERM; sleep 100; sleep 100", NULL),
	    "{\"timeout\":0.5,\"kill_after\":0.5}"), NULL);
	elapsed = now_mono() - t0;
	ck_assert_str_eq(jstr(job, "state"), "timed_out");
	ck_assert(jbool(job, "timed_out"));
	ck_assert(jbool(job, "killed"));
	ck_assert_int_eq(jint(job, "signal"), SIGKILL);
	ck_assert_msg(jdouble(job, "duration") >= 0.9,
	    "duration %.3f s, expected timeout + kill_after = 1 s",
	    jdouble(job, "duration"));
	ck_assert_msg(elapsed >= 0.9 && elapsed < 6.0,
	    "result after %.2f s, expected about 1 s", elapsed);
	ck_assert_int_eq(count_group(job_pid(job)), 0);
	json_object_put(job);
	e2e_close(c);

	st = run_jobctl(&J, NULL, "run", "-t", "0.5", "-k", "0.5", "--",
	    "sh", "-c", "trap '' TERM; sleep 100; sleep 100", NULL);
	ck_assert_int_eq(st, 137);
}
END_TEST

/*
 * 5. A stopped job still dies at its deadline (the signal goes with
 * SIGCONT): one stops itself, one is stopped from outside.
 */
START_TEST(stopped_job_times_out)
{
	struct jobd_client	*c1, *c2;
	struct pid_state	 ps;
	json_object		*r, *job;
	pid_t			 pid;

	start_jobd(&J, NULL);
	c1 = e2e_connect(&J);
	c2 = e2e_connect(&J);

	send_req(c1, run_req(jargv("sh", "-c", "kill -STOP $$; echo resumed",
	    NULL), "{\"timeout\":0.5,\"wait\":true}"));
	r = call(c2, run_req(jargv("sleep", "100", NULL),
	    "{\"timeout\":2,\"wait\":true}"));
	expect_ok(r);
	pid = (pid_t)jint(r, "pid");
	json_object_put(r);
	ck_assert_int_eq(kill(pid, SIGSTOP), 0);
	ps.pid = pid;
	ps.want = 'T';
	ck_assert_msg(wait_until(state_is, &ps, 2000),
	    "pid %ld did not stop", (long)pid);

	r = recv_resp(c1);		/* the id */
	expect_ok(r);
	json_object_put(r);
	r = recv_resp(c1);		/* the result */
	job = jget(r, "job");
	ck_assert_str_eq(jstr(job, "state"), "timed_out");
	ck_assert(jbool(job, "timed_out"));
	ck_assert_str_eq(jstr(job, "stdout"), "");
	json_object_put(r);

	r = recv_resp(c2);
	job = jget(r, "job");
	ck_assert_str_eq(jstr(job, "state"), "timed_out");
	ck_assert(jbool(job, "timed_out"));
	ck_assert_int_eq(jint(job, "signal"), SIGTERM);
	ck_assert(!jbool(job, "killed"));
	ck_assert(!pid_alive(pid));
	json_object_put(r);
	e2e_close(c1);
	e2e_close(c2);
}
END_TEST

/*
 * 6. Spawn failures are reported by errno name, never as exit 127/126
 * guessed from a status; jobctl maps them to 127 and 126.
 */
START_TEST(spawn_failures)
{
	struct jobd_client	*c;
	json_object		*job;
	char			 noexec[PATH_MAX];

	if (e2e_wrapped()) {
		/* The child reports in memory it shares with jobd, and only
		 * until it execs: valgrind makes that clone a fork. */
		e2e_skip("spawn_failures: under JOBD_WRAPPER (valgrind runs "
		    "clone(CLONE_VM|CLONE_VFORK) as a fork)");
		return;
	}
	start_jobd(&J, NULL);
	c = e2e_connect(&J);

	job = run_wait(c, run_req(jargv("/nonexistent/prog", NULL), "{}"),
	    NULL);
	ck_assert_str_eq(jstr(job, "state"), "failed");
	ck_assert_str_eq(jstr(job, "error"), "ENOENT");
	ck_assert(jis_null(job, "exit_code"));
	json_object_put(job);
	ck_assert_int_eq(run_jobctl(&J, NULL, "run", "--",
	    "/nonexistent/prog", NULL), 127);

	path_in(&J, "noexec", noexec, sizeof(noexec));
	write_file(noexec, "#!/bin/sh\nexit 0\n", 0644);
	job = run_wait(c, run_req(jargv(noexec, NULL), "{}"), NULL);
	ck_assert_str_eq(jstr(job, "state"), "failed");
	ck_assert_str_eq(jstr(job, "error"), "EACCES");
	json_object_put(job);
	ck_assert_int_eq(run_jobctl(&J, NULL, "run", "--", noexec, NULL),
	    126);

	job = run_wait(c, run_req(jargv("true", NULL),
	    "{\"cwd\":\"/nonexistent-jobd-e2e-dir\"}"), NULL);
	ck_assert_str_eq(jstr(job, "state"), "failed");
	ck_assert_str_eq(jstr(job, "error"), "ENOENT");
	ck_assert_msg(strncmp(jstr(job, "error_message"), "cwd /nonexistent",
	    16) == 0, "error_message does not name the cwd: %s",
	    jstr(job, "error_message"));
	json_object_put(job);
	e2e_close(c);
}
END_TEST

/*
 * 7. Output beyond max_output is read and counted, not kept; output that is
 * not UTF-8 comes back base64-encoded, byte for byte.
 */
static void
check_capped(json_object *job, const char *stream)
{
	unsigned char	*out;
	char		 key[32];
	size_t		 len, i;

	snprintf(key, sizeof(key), "%s_encoding", stream);
	ck_assert_str_eq(jstr(job, key), "utf-8");
	snprintf(key, sizeof(key), "%s_dropped", stream);
	ck_assert_int_eq(jint(job, key), 99000);
	out = jobd_job_output(job, stream, &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(len, 1000);
	for (i = 0; i < len; i++)
		ck_assert_int_eq(out[i], 'x');
	free(out);
}

START_TEST(output_capped_and_encoded)
{
	struct jobd_client	*c;
	json_object		*job;
	unsigned char		*out;
	size_t			 len;

	start_jobd(&J, "max_output = 1000\n");
	c = e2e_connect(&J);

	job = run_wait(c, run_req(jargv(PROGS_DIR "/flood", "-n", "100000",
	    NULL), "{}"), NULL);
	ck_assert_str_eq(jstr(job, "state"), "exited");
	ck_assert_int_eq(jint(job, "exit_code"), 0);
	check_capped(job, "stdout");
	ck_assert_str_eq(jstr(job, "stderr"), "");
	ck_assert_int_eq(jint(job, "stderr_dropped"), 0);
	json_object_put(job);

	job = run_wait(c, run_req(jargv(PROGS_DIR "/flood", "-o", "-e", "-n",
	    "100000", NULL), "{}"), NULL);
	ck_assert_int_eq(jint(job, "exit_code"), 0);
	check_capped(job, "stdout");
	check_capped(job, "stderr");
	json_object_put(job);

	job = run_wait(c, run_req(jargv("sh", "-c", "printf '\\377\\376'",
	    NULL), "{}"), NULL);
	ck_assert_int_eq(jint(job, "exit_code"), 0);
	ck_assert_str_eq(jstr(job, "stdout_encoding"), "base64");
	out = jobd_job_output(job, "stdout", &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(memcmp(out, "\377\376", 2), 0);
	free(out);
	ck_assert_int_eq(jint(job, "stdout_dropped"), 0);
	json_object_put(job);
	e2e_close(c);
}
END_TEST

/*
 * 8. A bad request costs that request only: the right error code, the
 * connection goes on, and jobs of this and another connection complete.
 */
static void
bad_requests(struct jobd_client *c)
{
	json_object	*r;
	char		 big[3001];

	send_str(c, "{\"op\":\n");
	expect_error(recv_resp(c), JOBD_E_BAD_JSON);
	expect_ping(c);

	send_str(c, "not json at all\n");
	expect_error(recv_resp(c), JOBD_E_BAD_JSON);
	expect_ping(c);

	send_str(c, "{\"op\":\"ping\",\"x\":\"\377\"}\n");
	expect_error(recv_resp(c), JOBD_E_BAD_JSON);
	expect_ping(c);

	r = callf(c, "{\"op\":\"frobnicate\",\"tag\":5}");
	ck_assert_int_eq(jint(r, "tag"), 5);
	expect_error(r, JOBD_E_UNKNOWN_OP);
	expect_ping(c);

	expect_error(callf(c, "{\"op\":\"status\",\"id\":\"one\"}"),
	    JOBD_E_BAD_REQUEST);
	expect_ping(c);

	/* Unknown fields are refused by every op, not silently ignored. */
	expect_error(callf(c, "{\"op\":\"ping\",\"verbose\":true}"),
	    JOBD_E_BAD_REQUEST);
	expect_error(callf(c, "{\"op\":\"wait\",\"id\":1,\"timeout\":5}"),
	    JOBD_E_BAD_REQUEST);
	expect_ping(c);

	expect_error(callf(c, "{\"op\":\"run\",\"argv\":\"true\"}"),
	    JOBD_E_BAD_REQUEST);
	expect_ping(c);

	/* Longer than max_line = 2048: refused, then skipped to the newline. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "{\"op\":\"ping\",\"tag\":\"", 20);
	memcpy(big + sizeof(big) - 3, "\"}\n", 3);
	send_raw(c, big, sizeof(big));
	expect_error(recv_resp(c), JOBD_E_TOO_LARGE);
	expect_ping(c);
}

static void
expect_done(struct jobd_client *c, const char *tag)
{
	json_object	*r, *job;

	r = recv_resp(c);
	expect_ok(r);
	ck_assert_str_eq(jstr(r, "tag"), tag);
	job = jget(r, "job");
	ck_assert_str_eq(jstr(job, "state"), "exited");
	ck_assert_int_eq(jint(job, "exit_code"), 0);
	ck_assert_str_eq(jstr(job, "stdout"), "done\n");
	json_object_put(r);
}

START_TEST(malformed_requests_isolated)
{
	struct jobd_client	*a, *b;
	json_object		*r;
	char			 go[PATH_MAX];
	static const char	*script =
	    "while [ ! -e go ]; do sleep 0.01; done; echo done";

	start_jobd(&J, "max_line = 2048\n");
	a = e2e_connect(&J);
	b = e2e_connect(&J);
	r = call(a, run_req(jargv("sh", "-c", script, NULL),
	    "{\"cwd\":\"%s\",\"timeout\":20,\"wait\":true,\"tag\":\"j1\"}",
	    J.dir));
	expect_ok(r);
	json_object_put(r);
	r = call(b, run_req(jargv("sh", "-c", script, NULL),
	    "{\"cwd\":\"%s\",\"timeout\":20,\"wait\":true,\"tag\":\"j2\"}",
	    J.dir));
	expect_ok(r);
	json_object_put(r);

	bad_requests(a);
	bad_requests(b);

	path_in(&J, "go", go, sizeof(go));
	write_file(go, "", 0644);
	expect_done(a, "j1");
	expect_done(b, "j2");
	e2e_close(a);
	e2e_close(b);
}
END_TEST

/*
 * 9. A client that goes away does not take its job along, unless it asked
 * with on_disconnect "cancel".
 */
START_TEST(client_disconnect)
{
	struct jobd_client	*a, *b;
	json_object		*r, *job;
	long long		 id;
	pid_t			 pid;

	start_jobd(&J, NULL);
	a = e2e_connect(&J);
	r = call(a, run_req(jargv("sh", "-c", "sleep 0.3; echo bye", NULL),
	    "{\"wait\":true}"));
	expect_ok(r);
	id = jint(r, "id");
	json_object_put(r);
	e2e_close(a);

	b = e2e_connect(&J);
	expect_ping(b);
	r = callf(b, "{\"op\":\"wait\",\"id\":%lld}", id);
	expect_ok(r);
	job = jget(r, "job");
	ck_assert_str_eq(jstr(job, "state"), "exited");
	ck_assert_str_eq(jstr(job, "stdout"), "bye\n");
	ck_assert(!jbool(job, "cancelled"));
	json_object_put(r);
	r = callf(b, "{\"op\":\"status\",\"id\":%lld}", id);
	expect_ok(r);
	ck_assert_str_eq(jstr(jget(r, "job"), "state"), "exited");
	json_object_put(r);

	a = e2e_connect(&J);
	r = call(a, run_req(jargv("sleep", "100", NULL),
	    "{\"wait\":true,\"on_disconnect\":\"cancel\"}"));
	expect_ok(r);
	id = jint(r, "id");
	pid = (pid_t)jint(r, "pid");
	json_object_put(r);
	ck_assert(pid_alive(pid));
	e2e_close(a);

	r = callf(b, "{\"op\":\"wait\",\"id\":%lld}", id);
	expect_ok(r);
	job = jget(r, "job");
	ck_assert_str_eq(jstr(job, "state"), "cancelled");
	ck_assert(jbool(job, "cancelled"));
	ck_assert(!pid_alive(pid));
	ck_assert_int_eq(count_group(pid), 0);
	json_object_put(r);
	e2e_close(b);
}
END_TEST

/*
 * 10. SIGTERM to jobd: every job is killed (the TERM-ignoring one with
 * SIGKILL after its kill_after), waiting clients get their results, jobd
 * exits 0 and removes its socket, and no process is left.
 */
START_TEST(shutdown_leaves_nothing)
{
	struct jobd_client	*w;
	struct file_lines	 fl;
	json_object		*r, *job;
	char			 path[PATH_MAX];
	pid_t			 pids[16];
	double			 t0;
	int			 n, i, got;

	start_jobd(&J, NULL);
	w = e2e_connect(&J);
	r = call(w, run_req(jargv("sleep", "100", NULL),
	    "{\"wait\":true,\"tag\":1}"));
	expect_ok(r);
	pids[0] = (pid_t)jint(r, "pid");
	json_object_put(r);
	r = call(w, run_req(jargv("sh", "-c", "trap '' TERM; echo $$ > t.pid; "
	    "sleep 100 & echo $! >> t.pid; wait", NULL),
	    "{\"wait\":true,\"tag\":2,\"kill_after\":1,\"cwd\":\"%s\"}", J.dir));
	expect_ok(r);
	json_object_put(r);
	r = call(w, run_req(jargv("sh", "-c", "echo $$ > n.pid; "
	    "(sleep 100 & echo $! >> n.pid; wait) & echo $! >> n.pid; wait",
	    NULL), "{\"wait\":true,\"tag\":3,\"cwd\":\"%s\"}", J.dir));
	expect_ok(r);
	json_object_put(r);

	path_in(&J, "t.pid", path, sizeof(path));
	fl.path = path;
	fl.min = 2;
	ck_assert(wait_until(has_lines, &fl, 5000));
	n = 1 + read_pids(path, pids + 1, 8);
	path_in(&J, "n.pid", path, sizeof(path));
	fl.min = 3;
	ck_assert(wait_until(has_lines, &fl, 5000));
	n += read_pids(path, pids + n, 8);
	ck_assert_int_eq(n, 6);
	for (i = 0; i < n; i++)
		ck_assert(pid_alive(pids[i]));

	t0 = now_mono();
	ck_assert_int_eq(kill(J.pid, SIGTERM), 0);
	for (got = 0; got < 3; got++) {
		r = recv_resp(w);
		expect_ok(r);
		job = jget(r, "job");
		ck_assert_str_eq(jstr(job, "state"), "cancelled");
		ck_assert(jbool(job, "cancelled"));
		if (jint(r, "tag") == 2)
			ck_assert(jbool(job, "killed"));
		json_object_put(r);
	}
	e2e_close(w);
	ck_assert_msg(reap_jobd(&J, 10000), "jobd still running 10 s after "
	    "SIGTERM");
	ck_assert_msg(now_mono() - t0 < 8.0, "shutdown took %.2f s",
	    now_mono() - t0);
	ck_assert_msg(WIFEXITED(J.status) && WEXITSTATUS(J.status) == 0,
	    "jobd exit status 0x%x", J.status);
	ck_assert_msg(access(J.sock, F_OK) == -1 && errno == ENOENT,
	    "socket file %s left behind", J.sock);
	assert_all_dead(pids, n);
}
END_TEST

/*
 * 11. The leader exits, leaving a background process in its group: that
 * leftover is killed (it dies on SIGTERM, so well before kill_after) and
 * counted, and the job still reports the leader's exit.
 */
START_TEST(leftovers_killed)
{
	struct jobd_client	*c;
	json_object		*job;
	char			 path[PATH_MAX];
	double			 t0, elapsed;
	pid_t			 sleeper;

	start_jobd(&J, NULL);
	c = e2e_connect(&J);
	t0 = now_mono();
	job = run_wait(c, run_req(jargv("sh", "-c",
	    "sleep 100 & echo $! > s.pid; echo started", NULL),
	    "{\"cwd\":\"%s\"}", J.dir), NULL);
	elapsed = now_mono() - t0;
	ck_assert_str_eq(jstr(job, "state"), "exited");
	ck_assert_int_eq(jint(job, "exit_code"), 0);
	ck_assert_int_ge(jint(job, "leftovers"), 1);
	ck_assert_str_eq(jstr(job, "stdout"), "started\n");
	ck_assert_msg(elapsed < 3.0, "result after %.2f s", elapsed);
	path_in(&J, "s.pid", path, sizeof(path));
	sleeper = read_pid(path);
	ck_assert(!pid_alive(sleeper));
	json_object_put(job);
	e2e_close(c);
}
END_TEST

/*
 * 12. Escapees. A double-forked orphan that stays in the group is caught.
 * A setsid() escapee leaves the group, which the pgid containment cannot
 * follow; it holds the job's stdout open, yet the result must not wait for
 * it. Teardown kills it.
 */
START_TEST(escapee_does_not_delay_result)
{
	struct jobd_client	*c;
	json_object		*job;
	double			 t0, elapsed;
	pid_t			 esc;
	static const char	*modes[] = { "-s", "-ds" };
	size_t			 i;

	start_jobd(&J, NULL);
	c = e2e_connect(&J);

	job = run_wait(c, run_req(jargv(PROGS_DIR "/escape", "-d", NULL),
	    "{\"kill_after\":1}"), NULL);
	esc = (pid_t)atol(jstr(job, "stdout"));
	ck_assert_int_gt(esc, 1);
	ck_assert_str_eq(jstr(job, "state"), "exited");
	ck_assert_int_ge(jint(job, "leftovers"), 1);
	ck_assert(!pid_alive(esc));
	json_object_put(job);

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		t0 = now_mono();
		job = run_wait(c, run_req(jargv(PROGS_DIR "/escape", modes[i],
		    NULL), "{\"kill_after\":1}"), NULL);
		elapsed = now_mono() - t0;
		esc = (pid_t)atol(jstr(job, "stdout"));
		ck_assert_msg(esc > 1, "no escapee pid in %s",
		    json_object_to_json_string(job));
		track_pid(esc);
		ck_assert_str_eq(jstr(job, "state"), "exited");
		ck_assert_int_eq(jint(job, "exit_code"), 0);
		/* Within the kill sequence (kill_after 1) and some slack. */
		ck_assert_msg(elapsed < 3.0, "escape %s: result after %.2f s",
		    modes[i], elapsed);
		json_object_put(job);
	}
	e2e_close(c);
}
END_TEST

/*
 * 13. One jobd per socket: a second one exits 1 and says why. A socket left
 * by a jobd killed with SIGKILL does not stop the next one.
 */
START_TEST(second_jobd_refused_stale_socket_replaced)
{
	struct jobd_client	*c;
	struct jobd_inst	 second;
	struct stat		 st;
	json_object		*job;
	char			 errlog[PATH_MAX], *text;

	start_jobd(&J, NULL);
	second = J;
	path_in(&J, "second.log", errlog, sizeof(errlog));
	second.pid = spawn_jobd(&second, errlog);
	ck_assert_msg(reap_jobd(&second, 10000), "second jobd still running");
	ck_assert_msg(WIFEXITED(second.status) &&
	    WEXITSTATUS(second.status) == 1,
	    "second jobd: status 0x%x, expected exit 1", second.status);
	text = read_text(errlog, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strstr(text, "already running") != NULL,
	    "second jobd said: %s", text);
	free(text);
	c = e2e_connect(&J);
	expect_ping(c);
	e2e_close(c);

	ck_assert_int_eq(kill(J.pid, SIGKILL), 0);
	ck_assert(reap_jobd(&J, 10000));
	ck_assert_msg(lstat(J.sock, &st) == 0 && S_ISSOCK(st.st_mode),
	    "no stale socket after SIGKILL");
	restart_jobd(&J);
	c = e2e_connect(&J);
	expect_ping(c);
	job = run_wait(c, run_req(jargv("true", NULL), "{}"), NULL);
	ck_assert_str_eq(jstr(job, "state"), "exited");
	json_object_put(job);
	e2e_close(c);
}
END_TEST

/*
 * 14. stdin: the bytes given, then EOF; a large input does not deadlock.
 */
START_TEST(stdin_fed)
{
	struct jobd_client	*c;
	json_object		*req, *job;
	char			*big;
	size_t			 bigsz = 300000;

	start_jobd(&J, NULL);
	c = e2e_connect(&J);
	job = run_wait(c, run_req(jargv("cat", NULL),
	    "{\"stdin\":\"hello\\n\"}"), NULL);
	ck_assert_str_eq(jstr(job, "state"), "exited");
	ck_assert_str_eq(jstr(job, "stdout"), "hello\n");
	json_object_put(job);

	big = malloc(bigsz);
	ck_assert_ptr_nonnull(big);
	memset(big, 'a', bigsz);
	req = run_req(jargv("wc", "-c", NULL), "{\"timeout\":10}");
	json_object_object_add(req, "stdin",
	    json_object_new_string_len(big, (int)bigsz));
	free(big);
	job = run_wait(c, req, NULL);
	ck_assert_str_eq(jstr(job, "state"), "exited");
	ck_assert_str_eq(jstr(job, "stdout"), "300000\n");
	json_object_put(job);
	e2e_close(c);
}
END_TEST

/*
 * 15. cancel: a running job ends cancelled by SIGTERM; an ended one is
 * not_running; an unknown id is not_found.
 */
START_TEST(cancel_job)
{
	struct jobd_client	*c;
	json_object		*r, *job;
	long long		 id;
	pid_t			 pid;

	start_jobd(&J, NULL);
	c = e2e_connect(&J);
	r = call(c, run_req(jargv("sleep", "100", NULL), "{}"));
	expect_ok(r);
	id = jint(r, "id");
	pid = (pid_t)jint(r, "pid");
	json_object_put(r);

	r = callf(c, "{\"op\":\"cancel\",\"id\":%lld}", id);
	expect_ok(r);
	ck_assert_str_eq(jstr(r, "state"), "terminating");
	json_object_put(r);
	r = callf(c, "{\"op\":\"wait\",\"id\":%lld}", id);
	expect_ok(r);
	job = jget(r, "job");
	ck_assert_str_eq(jstr(job, "state"), "cancelled");
	ck_assert(jbool(job, "cancelled"));
	ck_assert(!jbool(job, "timed_out"));
	ck_assert_int_eq(jint(job, "signal"), SIGTERM);
	ck_assert(!pid_alive(pid));
	json_object_put(r);

	expect_error(callf(c, "{\"op\":\"cancel\",\"id\":%lld}", id),
	    JOBD_E_NOT_RUNNING);
	expect_error(callf(c, "{\"op\":\"cancel\",\"id\":987654}"),
	    JOBD_E_NOT_FOUND);
	expect_error(callf(c, "{\"op\":\"status\",\"id\":987654}"),
	    JOBD_E_NOT_FOUND);
	e2e_close(c);
}
END_TEST

/*
 * 16. Many short jobs with a background child each: jobd reaps every
 * process handed to it, so no zombie child stays.
 */
#define NJOBS	50

START_TEST(no_zombies)
{
	struct jobd_client	*c;
	json_object		*r, *job;
	pid_t			 jobd_pid;
	int			 i, results = 0, acks = 0;

	start_jobd(&J, NULL);
	jobd_pid = J.pid;
	c = e2e_connect(&J);
	for (i = 0; i < NJOBS; i++)
		send_req(c, run_req(jargv("sh", "-c", "sleep 0.01 & exit 0",
		    NULL), "{\"wait\":true,\"tag\":%d}", i));
	while (results < NJOBS) {
		r = recv_resp(c);
		expect_ok(r);
		if (json_object_object_get_ex(r, "job", &job)) {
			ck_assert_str_eq(jstr(job, "state"), "exited");
			ck_assert_int_eq(jint(job, "exit_code"), 0);
			results++;
		} else
			acks++;
		json_object_put(r);
	}
	ck_assert_int_eq(acks, NJOBS);
	ck_assert_msg(wait_until(no_zombie_children, &jobd_pid, 5000),
	    "%d zombie children of jobd", count_zombie_children(jobd_pid));
	e2e_close(c);
}
END_TEST

/*
 * 17. What a job inherits: no blocked signal, SIGPIPE not ignored, only
 * fds 0-2, the default environment and cwd.
 */
static unsigned long long
status_mask(const char *text, const char *field)
{
	const char	*p;

	p = strstr(text, field);
	ck_assert_msg(p != NULL, "%s missing in %s", field, text);
	return (strtoull(p + strlen(field), NULL, 16));
}

START_TEST(child_hygiene)
{
	struct jobd_client	*c;
	json_object		*job;
	const char		*out;
	unsigned long long	 ign, blk;
	long long		 id;
	struct passwd		*pw;
	char			 want[1024];

	start_jobd(&J, NULL);
	c = e2e_connect(&J);

	/* grep reads its own status: nothing stands between it and jobd. */
	job = run_wait(c, run_req(jargv("grep", "-E", "^(SigIgn|SigBlk):",
	    "/proc/self/status", NULL), "{}"), NULL);
	out = jstr(job, "stdout");
	blk = status_mask(out, "SigBlk:");
	ign = status_mask(out, "SigIgn:");
	ck_assert_msg((blk & 0x7fffffffULL) == 0, "blocked signals: %llx",
	    blk);
	ck_assert_msg((ign & (1ULL << (SIGPIPE - 1))) == 0,
	    "SIGPIPE ignored: SigIgn %llx", ign);
	json_object_put(job);

	/*
	 * ls opens one fd of its own for the directory, at the lowest free
	 * number: 3 if the job got only 0-2. Any inherited fd adds an entry.
	 */
	job = run_wait(c, run_req(jargv("ls", "-1", "/proc/self/fd", NULL),
	    "{}"), NULL);
	ck_assert_str_eq(jstr(job, "stdout"), "0\n1\n2\n3\n");
	json_object_put(job);

	/*
	 * Nothing of jobd's own environment: the user's PATH, variables
	 * (from the passwd entry; jobd runs as us) and what jobd tells every
	 * job.
	 */
	job = run_wait(c, run_req(jargv("env", NULL), "{}"), &id);
	ck_assert_ptr_nonnull(pw = getpwuid(geteuid()));
	snprintf(want, sizeof(want), "PATH=%s\nHOME=%s\nUSER=%s\n"
	    "LOGNAME=%s\nSHELL=%s\nJOBD_JOB_ID=%lld\nJOBD_DEADLINE=0\n",
	    geteuid() == 0 ? JOBD_DEFAULT_PATH : JOBD_USER_PATH, pw->pw_dir,
	    pw->pw_name, pw->pw_name, *pw->pw_shell != '\0' ? pw->pw_shell :
	    "/bin/sh", id);
	ck_assert_str_eq(jstr(job, "stdout"), want);
	json_object_put(job);

	job = run_wait(c, run_req(jargv("pwd", NULL), "{}"), NULL);
	ck_assert_str_eq(jstr(job, "stdout"), "/\n");
	json_object_put(job);
	e2e_close(c);
}
END_TEST

/*
 * 19. A process SIGKILL cannot end (frozen by the v1 freezer: state D, the
 * signal pending) is reported "unkillable" in the job's status once
 * unkillable_after has passed, while the event loop goes on; when it is
 * thawed, it dies and the result says it was unkillable.
 */
#define FREEZER_DIR	"/sys/fs/cgroup/freezer"

struct unkillable_arg {
	struct jobd_client	*c;
	long long		 id;
};

static int
job_unkillable(void *arg)
{
	struct unkillable_arg	*u = arg;
	json_object		*r;
	int			 yes;

	r = callf(u->c, "{\"op\":\"status\",\"id\":%lld}", u->id);
	expect_ok(r);
	yes = jbool(jget(r, "job"), "unkillable");
	json_object_put(r);
	return (yes);
}

static int
freezer_state_is(void *arg)
{
	char	*text = read_text((const char *)arg, NULL);
	int	 frozen = text != NULL && strncmp(text, "FROZEN", 6) == 0;

	free(text);
	return (frozen);
}

static int
freezer_gone(void *arg)
{
	return (rmdir((const char *)arg) == 0 || errno == ENOENT);
}

START_TEST(unkillable_reported)
{
	struct unkillable_arg	 u;
	struct jobd_client	*c;
	json_object		*r, *job;
	char			 dir[PATH_MAX], path[PATH_MAX + 32], num[32];
	pid_t			 pid;

	snprintf(dir, sizeof(dir), FREEZER_DIR "/jobd-e2e-%ld", (long)getpid());
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		e2e_skip("unkillable: no cgroup v1 freezer to make a process "
		    "unkillable with (mkdir %s: %s)", dir, strerror(errno));
		return;
	}
	start_jobd(&J, "unkillable_after = 0.5s\n");
	c = e2e_connect(&J);
	r = call(c, run_req(jargv("sleep", "100", NULL),
	    "{\"timeout\":0.3,\"kill_after\":0.2}"));
	expect_ok(r);
	u.c = c;
	u.id = jint(r, "id");
	pid = (pid_t)jint(r, "pid");
	json_object_put(r);

	/* Into the freezer before the deadline (0.3 s): freeze it there. */
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(num, sizeof(num), "%ld\n", (long)pid);
	write_file(path, num, 0644);
	snprintf(path, sizeof(path), "%s/freezer.state", dir);
	write_file(path, "FROZEN\n", 0644);
	ck_assert_msg(wait_until(freezer_state_is, path, 5000),
	    "the job's process did not freeze");

	ck_assert_msg(wait_until(job_unkillable, &u, 10000),
	    "status never said unkillable");
	ck_assert_msg(pid_alive(pid), "the frozen process died anyway");
	expect_ping(c);		/* jobd's loop is not blocked */

	write_file(path, "THAWED\n", 0644);
	r = callf(c, "{\"op\":\"wait\",\"id\":%lld}", u.id);
	expect_ok(r);
	job = jget(r, "job");
	ck_assert_str_eq(jstr(job, "state"), "timed_out");
	ck_assert(jbool(job, "unkillable"));
	ck_assert(jbool(job, "killed"));
	/* TERM, pending and fatal when it was sent, already decided it. */
	ck_assert_msg(jint(job, "signal") == SIGTERM ||
	    jint(job, "signal") == SIGKILL, "signal %lld",
	    jint(job, "signal"));
	ck_assert(!pid_alive(pid));
	json_object_put(r);
	e2e_close(c);
	ck_assert_msg(wait_until(freezer_gone, dir, 5000), "rmdir %s", dir);
}
END_TEST

/*
 * 20. Two jobd started as "-s jobd.sock" from two directories are two
 * instances: the second must not take the first one's job cgroups for a
 * dead jobd's (their names come from the socket's real path).
 */
static int
sock_exists(void *arg)
{
	struct stat	sb;

	return (stat((const char *)arg, &sb) == 0 && S_ISSOCK(sb.st_mode));
}

static pid_t
jobd_in(const char *dir)
{
	struct proc_spec	 ps;
	const char		*argv[] = { JOBD_BIN, "-s", "jobd.sock", "-S",
				    "state", NULL };
	char			 sock[PATH_MAX];
	pid_t			 pid;

	proc_spec_init(&ps);
	ps.path = JOBD_BIN;
	ps.cwd = dir;
	pid = spawn_proc(NULL, &ps, argv);
	snprintf(sock, sizeof(sock), "%s/jobd.sock", dir);
	ck_assert_msg(wait_until(sock_exists, sock, E2E_START_TIMEOUT_MS),
	    "no jobd on %s", sock);
	return (pid);
}

START_TEST(relative_socket_paths)
{
	/* Static: the teardown stops registered instances after we return. */
	static struct jobd_inst	 A, B;
	struct jobd_client	*c;
	json_object		*r;
	long long		 id;
	pid_t			 sleeper, pa, pb;
	int			 status;

	/* Two directories of the harness's, jobd itself started by hand. */
	start_jobd(&A, NULL);
	start_jobd(&B, NULL);
	kill(A.pid, SIGTERM);
	kill(B.pid, SIGTERM);
	ck_assert(reap_jobd(&A, E2E_STOP_TIMEOUT_MS));
	ck_assert(reap_jobd(&B, E2E_STOP_TIMEOUT_MS));

	pa = jobd_in(A.dir);
	c = e2e_connect(&A);
	r = call(c, run_req(jargv("sleep", "100", NULL), "{}"));
	expect_ok(r);
	id = jint(r, "id");
	sleeper = (pid_t)jint(r, "pid");
	json_object_put(r);
	pb = jobd_in(B.dir);
	expect_ping(c);
	ck_assert_msg(pid_alive(sleeper), "A's job was killed when B started");
	r = callf(c, "{\"op\":\"status\",\"id\":%lld}", id);
	expect_ok(r);
	ck_assert_str_eq(jstr(jget(r, "job"), "state"), "running");
	json_object_put(r);
	e2e_close(c);
	kill(pb, SIGTERM);
	kill(pa, SIGTERM);
	ck_assert_msg(reap_within(pb, &status, E2E_STOP_TIMEOUT_MS), "B stop");
	ck_assert_msg(reap_within(pa, &status, E2E_STOP_TIMEOUT_MS), "A stop");
	ck_assert_msg(!pid_alive(sleeper), "A's job outlived A");
}
END_TEST

struct ping_field {
	struct jobd_client	*c;
	const char		*field;
	long long		 want;
};

static int
ping_field_is(void *arg)
{
	struct ping_field	*pf = arg;
	json_object		*r;
	long long		 v;

	r = callf(pf->c, "{\"op\":\"ping\"}");
	expect_ok(r);
	v = jint(r, pf->field);
	json_object_put(r);
	return (v == pf->want);
}

struct log_text {
	const char	*path;
	const char	*text;
};

static int
log_says(void *arg)
{
	struct log_text	*lt = arg;
	char		*t;
	int		 yes;

	if ((t = read_text(lt->path, NULL)) == NULL)
		return (0);
	yes = strstr(t, lt->text) != NULL;
	free(t);
	return (yes);
}


/* Runs "jobd -n [-v] -f conf": its exit status, stdout and stderr. */
static int
config_check(const char *conf, int verbose, char **out, char **err)
{
	struct proc_spec	 ps;
	const char		*quiet[] = { "jobd", "-n", "-f", conf, NULL };
	const char		*loud[] = { "jobd", "-n", "-v", "-f", conf, NULL };
	char			 po[PATH_MAX], pe[PATH_MAX];
	size_t			 len;
	pid_t			 pid;
	int			 st, fo, fe;

	path_in(&J, "n.out", po, sizeof(po));
	path_in(&J, "n.err", pe, sizeof(pe));
	fo = open(po, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert(fo != -1 && fe != -1);
	proc_spec_init(&ps);
	ps.path = JOBD_BIN;
	ps.fd[1] = fo;
	ps.fd[2] = fe;
	pid = spawn_proc(NULL, &ps, verbose ? loud : quiet);
	close(fo);
	close(fe);
	ck_assert_msg(reap_within(pid, &st, 10000), "jobd -n did not exit");
	*out = read_text(po, &len);
	*err = read_text(pe, &len);
	ck_assert(*out != NULL && *err != NULL);
	return (norm_status(st));
}

/*
 * jobd -n: a good file prints "configuration OK" and exits 0; a bad one
 * prints every error as file:line: message and exits non-zero; -v prints
 * every option's value. The same table drives it as the daemon's parser.
 */
START_TEST(config_check_flag)
{
	char	 good[PATH_MAX], bad[PATH_MAX], want[PATH_MAX + 32];
	char	*out, *err;

	new_inst(&J, NULL);
	path_in(&J, "good.conf", good, sizeof(good));
	path_in(&J, "bad.conf", bad, sizeof(bad));
	write_file(good, "# comment\nmax_running = 3\nkill_after = 2s\n"
	    "allow_users = root\n", 0644);
	write_file(bad, "max_running = 3\nmax_running = banana\n"
	    "no_such_option = 1\nkill_after = -1\n", 0644);

	ck_assert_int_eq(config_check(good, 0, &out, &err), 0);
	ck_assert_str_eq(out, "configuration OK\n");
	free(out);
	free(err);

	ck_assert_int_eq(config_check(good, 1, &out, &err), 0);
	ck_assert_msg(strstr(out, "max_running") != NULL &&
	    strstr(out, "3") != NULL && strstr(out, "kill_after") != NULL,
	    "jobd -n -v printed no values: %s", out);
	free(out);
	free(err);

	ck_assert_int_ne(config_check(bad, 0, &out, &err), 0);
	ck_assert_msg(strstr(out, "configuration OK") == NULL, "%s", out);
	snprintf(want, sizeof(want), "%s:2: ", bad);
	ck_assert_msg(strstr(err, want) != NULL, "no %s in: %s", want, err);
	snprintf(want, sizeof(want), "%s:3: ", bad);
	ck_assert_msg(strstr(err, want) != NULL, "no %s in: %s", want, err);
	snprintf(want, sizeof(want), "%s:4: ", bad);
	ck_assert_msg(strstr(err, want) != NULL, "no %s in: %s", want, err);
	snprintf(want, sizeof(want), "%s:1: ", bad);
	ck_assert_msg(strstr(err, want) == NULL, "line 1 is good: %s", err);
	free(out);
	free(err);

	path_in(&J, "missing.conf", bad, sizeof(bad));
	ck_assert_int_ne(config_check(bad, 0, &out, &err), 0);
	ck_assert_msg(strstr(err, "missing.conf") != NULL, "%s", err);
	free(out);
	free(err);
}
END_TEST

/*
 * 19. SIGHUP reloads the configuration: max_running grows at once, a
 * running job goes on; a file with an error changes nothing and says
 * where; an option only a restart applies (containment) waits for it.
 */
START_TEST(sighup_reload)
{
	struct jobd_client	*c;
	struct ping_field	 pf;
	struct log_text		 lt = { J.log, NULL };
	json_object		*r;
	long long		 id;
	char			 tier[32], conf[128];

	start_jobd(&J, "max_running = 1\n");
	lt.path = J.log;
	c = e2e_connect(&J);
	pf.c = c;
	pf.field = "max_running";
	pf.want = 1;
	ck_assert(ping_field_is(&pf));
	r = call(c, run_req(jargv("sleep", "100", NULL), "{}"));
	expect_ok(r);
	id = jint(r, "id");
	json_object_put(r);

	/* Another tier than the one in use (which JOBD_TEST_CONTAINMENT
	 * may have made pgid): it must wait for a restart. */
	r = callf(c, "{\"op\":\"ping\"}");
	strlcpy(tier, jstr(r, "containment"), sizeof(tier));
	json_object_put(r);
	snprintf(conf, sizeof(conf), "max_running = 3\ncontainment = %s\n",
	    strcmp(tier, "pgid") == 0 ? "subreaper" : "pgid");
	write_file(J.conf, conf, 0644);
	ck_assert_int_eq(kill(J.pid, SIGHUP), 0);
	pf.want = 3;
	ck_assert_msg(wait_until(ping_field_is, &pf, 10000),
	    "max_running did not become 3 after SIGHUP");
	r = callf(c, "{\"op\":\"ping\"}");
	ck_assert_str_eq(jstr(r, "containment"), tier);
	json_object_put(r);

	write_file(J.conf, "max_running = banana\n", 0644);
	ck_assert_int_eq(kill(J.pid, SIGHUP), 0);
	lt.text = "not valid: the configuration in use is kept";
	ck_assert_msg(wait_until(log_says, &lt, 10000), "no word of the bad "
	    "file in %s", J.log);
	lt.text = "jobd.conf:1: max_running";
	ck_assert_msg(log_says(&lt), "the error does not say where");
	ck_assert(ping_field_is(&pf));		/* still 3 */

	r = callf(c, "{\"op\":\"status\",\"id\":%lld}", id);
	expect_ok(r);
	ck_assert_str_eq(jstr(jget(r, "job"), "state"), "running");
	json_object_put(r);
	e2e_close(c);
}
END_TEST

/* A raw connection, for what the client library does not do. */
static int
raw_connect(const struct jobd_inst *ji)
{
	struct sockaddr_un	sun;
	int			fd;
	struct timeval		tv = { 10, 0 };

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(fd, -1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, ji->sock, sizeof(sun.sun_path));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	return (fd);
}

static void
send_with_fds(int s, const char *line, const int *fds, int n)
{
	struct msghdr	 msg;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 3)];
	} cm;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)(uintptr_t)line;
	iov.iov_len = strlen(line);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
	cm.hdr.cmsg_level = SOL_SOCKET;
	cm.hdr.cmsg_type = SCM_RIGHTS;
	cm.hdr.cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
	memcpy(CMSG_DATA(&cm.hdr), fds, sizeof(int) * (size_t)n);
	ck_assert_int_eq(sendmsg(s, &msg, 0), (ssize_t)strlen(line));
}

/* Read until EOF; count the lines. */
static int
count_lines_to_eof(int s, char *buf, size_t cap, size_t *len)
{
	ssize_t	n;
	size_t	i;
	int	lines = 0;

	*len = 0;
	while ((n = read(s, buf + *len, cap - 1 - *len)) > 0)
		*len += (size_t)n;
	ck_assert_msg(n == 0, "read: %s", strerror(errno));
	buf[*len] = '\0';
	for (i = 0; i < *len; i++)
		lines += buf[i] == '\n';
	return (lines);
}

/*
 * 18. Requests sent before a half-close are all answered, in order, however
 * many; descriptors passed after a pipelined request go to their own line.
 */
START_TEST(pipelined_then_half_close)
{
	static char	 buf[1 << 20];
	char		 line[256];
	size_t		 len;
	int		 s, i, p[2], n = 300;

	start_jobd(&J, NULL);
	s = raw_connect(&J);
	for (i = 0; i < n; i++) {
		snprintf(line, sizeof(line),
		    "{\"op\":\"run\",\"argv\":[\"true\"],\"tag\":%d}\n", i);
		ck_assert_int_eq(write(s, line, strlen(line)),
		    (ssize_t)strlen(line));
	}
	ck_assert_int_eq(shutdown(s, SHUT_WR), 0);
	ck_assert_int_eq(count_lines_to_eof(s, buf, sizeof(buf), &len), n);
	ck_assert_ptr_nonnull(strstr(buf, "\"tag\":299,"));
	ck_assert_ptr_null(strstr(buf, "\"ok\":false"));
	close(s);

	/* A ping, then a run whose descriptor follows in its own sendmsg. */
	s = raw_connect(&J);
	cloexec_pipe(p);
	ck_assert_int_eq(write(s, "{\"op\":\"ping\"}\n", 14), 14);
	send_with_fds(s, "{\"op\":\"run\",\"argv\":[\"echo\",\"piped\"],"
	    "\"fds\":[\"stdout\"],\"wait\":true}\n", &p[1], 1);
	close(p[1]);
	ck_assert_int_eq(shutdown(s, SHUT_WR), 0);
	ck_assert_int_eq(count_lines_to_eof(s, buf, sizeof(buf), &len), 3);
	ck_assert_msg(strstr(buf, "\"ok\":false") == NULL, "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "\"stdout_encoding\":\"passed\""));
	ck_assert_int_eq(read(p[0], line, sizeof(line)), 6);
	ck_assert_int_eq(memcmp(line, "piped\n", 6), 0);
	close(p[0]);
	close(s);

	/*
	 * The half-close read in the same loop turn as a waiting run: the
	 * run's answer waits for the end of the turn, and the result must
	 * still come after it (jobd is stopped while they are sent, so that
	 * it reads them, and the EOF, at once).
	 */
	s = raw_connect(&J);
	ck_assert_int_eq(kill(J.pid, SIGSTOP), 0);
	/* One write: 300 small ones would fill the socket's buffer with
	 * their overhead while jobd is stopped. */
	for (len = 0, i = 0; i < 300; i++, len += 14)
		memcpy(buf + len, "{\"op\":\"ping\"}\n", 14);
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "{\"op\":"
	    "\"run\",\"argv\":[\"sleep\",\"0.2\"],\"wait\":true,\"tag\":"
	    "\"w\"}\n");
	ck_assert_int_eq(write(s, buf, len), (ssize_t)len);
	ck_assert_int_eq(shutdown(s, SHUT_WR), 0);
	ck_assert_int_eq(kill(J.pid, SIGCONT), 0);
	ck_assert_int_eq(count_lines_to_eof(s, buf, sizeof(buf), &len), 302);
	ck_assert_msg(strstr(buf, "\"state\":\"exited\"") != NULL,
	    "no result after the half-close: %.300s", buf + len - 300);
	close(s);
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
e2e_suite(void)
{
	Suite	*s = suite_create("e2e");

	add(s, "exit_codes", exit_codes_pass_through);
	add(s, "jobctl_timeout", jobctl_timeout_exits_124);
	add(s, "timeout_descendants", timeout_kills_descendants);
	add(s, "term_ignored", term_ignored_needs_sigkill);
	add(s, "stopped_job", stopped_job_times_out);
	add(s, "spawn_failures", spawn_failures);
	add(s, "output", output_capped_and_encoded);
	add(s, "malformed", malformed_requests_isolated);
	add(s, "disconnect", client_disconnect);
	add(s, "shutdown", shutdown_leaves_nothing);
	add(s, "leftovers", leftovers_killed);
	add(s, "escapee", escapee_does_not_delay_result);
	add(s, "single_instance", second_jobd_refused_stale_socket_replaced);
	add(s, "stdin", stdin_fed);
	add(s, "cancel", cancel_job);
	add(s, "zombies", no_zombies);
	add(s, "hygiene", child_hygiene);
	add(s, "pipelined_half_close", pipelined_then_half_close);
	add(s, "unkillable", unkillable_reported);
	add(s, "relative_socket", relative_socket_paths);
	add(s, "sighup_reload", sighup_reload);
	add(s, "config_check", config_check_flag);
	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	e2e_global_init();
	sr = srunner_create(e2e_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	e2e_global_fini();
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
