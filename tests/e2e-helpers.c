/*
 * Integration test harness. Each test starts its own jobd in a mkdtemp
 * directory under one base directory, speaks the wire protocol through the
 * client library, and waits only with bounded waits.
 *
 * Cleanup has two tiers. The checked teardown (in the test's process) kills
 * the pids the test tracked, closes its connections and stops its jobds
 * gracefully, asserting a clean exit. But a failed assertion in fork mode
 * ends the test process at once, without teardown. So the runner process is
 * a child subreaper: whatever a dead test left behind (jobd, its jobs, their
 * escapees) is reparented to it, and the unchecked teardown, run in the
 * runner after every test, kills and reaps all of it, prints the logs of the
 * failed test and removes its directory.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define MAX_INSTS	8
#define MAX_TRACKED	64
#define MAX_CLIENTS	64
#define POLL_MS		5
#define LOG_TAIL	8192

static char			 basedir[64];
static struct jobd_inst		*insts[MAX_INSTS];
static pid_t			 tracked[MAX_TRACKED];
static struct jobd_client	*clients[MAX_CLIENTS];

static void	rm_rf(const char *);
static int	sweep_step(void *);
static void	rm_rf(const char *);
static void	dump_file(const char *, const char *);
static void	register_inst(struct jobd_inst *);
static void	unregister_inst(struct jobd_inst *);
static int	jobd_answers(void *);
static void	launch(struct jobd_inst *);
static int	jobd_reaped(void *);
static void	track_client(struct jobd_client *);
static void	untrack_client(struct jobd_client *);
static json_object *vjparse(const char *, va_list)
		    __attribute__((format(printf, 1, 0)));
static int	child_reaped(void *);
static int	proc_stat(pid_t, char *, long *, long *, long *);

/*
 * Clocks and waits.
 */

double
now_mono(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* Poll cond every few milliseconds until it holds or timeout_ms pass. */
int
wait_until(cond_fn cond, void *arg, int timeout_ms)
{
	struct timespec	ts = { 0, POLL_MS * 1000 * 1000 };
	double		deadline = now_mono() + timeout_ms / 1000.0;

	for (;;) {
		if (cond(arg))
			return (1);
		if (now_mono() >= deadline)
			return (cond(arg));
		nanosleep(&ts, NULL);
	}
}

/*
 * Harness lifetime.
 */

void
e2e_skip(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fprintf(stderr, "SKIP: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
}

int
e2e_wrapped(void)
{
	const char	*w = getenv("JOBD_WRAPPER");

	return (w != NULL && *w != '\0');
}

/* How much slower jobd runs: CK_TIMEOUT_MULTIPLIER under a wrapper. */
int
e2e_slowdown(void)
{
	const char	*m = getenv("CK_TIMEOUT_MULTIPLIER");
	int		 n;

	if (!e2e_wrapped() || m == NULL || (n = atoi(m)) < 1)
		return (1);
	return (n > 20 ? 20 : n);
}

void
e2e_global_init(void)
{
	const char	*tmp = "/tmp";

	/* A short base: the socket path must fit in sun_path. */
	snprintf(basedir, sizeof(basedir), "%s/jobd-e2e.XXXXXX", tmp);
	if (mkdtemp(basedir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
		perror("PR_SET_CHILD_SUBREAPER");
		exit(2);
	}
	/* A write to a jobd that went away must fail, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
}

void
e2e_global_fini(void)
{
	e2e_sweep();
	rm_rf(basedir);
}

static int
sweep_step(void *arg)
{
	DIR		*d;
	struct dirent	*de;
	char		 state;
	long		 ppid, pgrp, sid;
	pid_t		 pid, me = getpid();
	int		 children = 0;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		;
	if ((d = opendir("/proc")) == NULL)
		return (1);
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atol(de->d_name);
		if (proc_stat(pid, &state, &ppid, &pgrp, &sid) == -1 ||
		    ppid != (long)me)
			continue;
		children++;
		if (state != 'Z')
			kill(pid, SIGKILL);
	}
	closedir(d);
	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0)
		;
	return (children == 0);
}

/*
 * After every test, in the runner: kill and reap whatever the test left
 * behind, show the logs of a test that did not clean up (it failed), and
 * remove its directory.
 */
void
e2e_sweep(void)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[PATH_MAX];

	if (!wait_until(sweep_step, NULL, 10000))
		fprintf(stderr, "e2e: could not reap every leftover process\n");
	memset(insts, 0, sizeof(insts));
	memset(tracked, 0, sizeof(tracked));
	memset(clients, 0, sizeof(clients));
	if (basedir[0] == '\0' || (d = opendir(basedir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", basedir, de->d_name);
		dump_file(path, "jobd.log");
		dump_file(path, "second.log");
		dump_file(path, "jobctl.out");
		rm_rf(path);
	}
	closedir(d);
}

/* Checked teardown, in the test's process. */
void
e2e_teardown(void)
{
	int	i;

	for (i = 0; i < MAX_CLIENTS; i++) {
		if (clients[i] != NULL)
			jobd_close(clients[i]);
		clients[i] = NULL;
	}
	for (i = 0; i < MAX_TRACKED; i++) {
		if (tracked[i] > 0)
			kill(tracked[i], SIGKILL);
		tracked[i] = 0;
	}
	for (i = MAX_INSTS - 1; i >= 0; i--) {
		if (insts[i] != NULL)
			stop_jobd(insts[i]);
	}
}

void
untrack_pid(pid_t pid)
{
	int	i;

	for (i = 0; i < MAX_TRACKED; i++)
		if (tracked[i] == pid)
			tracked[i] = 0;
}

void
track_pid(pid_t pid)
{
	int	i;

	for (i = 0; i < MAX_TRACKED; i++) {
		if (tracked[i] == 0) {
			tracked[i] = pid;
			return;
		}
	}
	ck_abort_msg("too many tracked pids");
}

/*
 * Files.
 */

/* Remove a test directory: shallow, so plain recursion will do. */
static void
rm_rf(const char *path)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 sub[PATH_MAX];

	if (lstat(path, &st) == -1)
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			rm_rf(sub);
		}
		closedir(d);
	}
	if (remove(path) == -1 && errno != ENOENT)
		fprintf(stderr, "e2e: remove %s: %s\n", path, strerror(errno));
}

static void
dump_file(const char *dir, const char *name)
{
	char	 path[PATH_MAX], *text, *start;
	size_t	 len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (access(path, F_OK) == -1 || (text = read_text(path, &len)) == NULL)
		return;
	start = len > LOG_TAIL ? text + len - LOG_TAIL : text;
	fprintf(stderr, "---- %s (last %zu bytes) ----\n%s---- end ----\n",
	    path, len > LOG_TAIL ? (size_t)LOG_TAIL : len, start);
	free(text);
}

void
write_file(const char *path, const char *text, mode_t mode)
{
	size_t	len = strlen(text);
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_msg(fd != -1, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

/* The whole file, NUL-terminated; NULL if it cannot be read. */
char *
read_text(const char *path, size_t *lenp)
{
	char	*buf = NULL, *nbuf;
	size_t	 len = 0, alloc = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (NULL);
	for (;;) {
		if (alloc - len < 4096) {
			alloc = alloc == 0 ? 8192 : alloc * 2;
			if ((nbuf = realloc(buf, alloc)) == NULL)
				break;
			buf = nbuf;
		}
		n = read(fd, buf + len, alloc - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (buf == NULL)
		return (NULL);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return (buf);
}

void
path_in(const struct jobd_inst *ji, const char *name, char *buf, size_t len)
{
	int	n;

	n = snprintf(buf, len, "%s/%s", ji->dir, name);
	ck_assert_msg(n > 0 && (size_t)n < len, "path too long");
}

/*
 * Daemons.
 */

static void
register_inst(struct jobd_inst *ji)
{
	int	i;

	for (i = 0; i < MAX_INSTS; i++)
		if (insts[i] == ji)
			return;
	for (i = 0; i < MAX_INSTS; i++) {
		if (insts[i] == NULL) {
			insts[i] = ji;
			return;
		}
	}
	ck_abort_msg("too many jobd instances");
}

static void
unregister_inst(struct jobd_inst *ji)
{
	int	i;

	for (i = 0; i < MAX_INSTS; i++)
		if (insts[i] == ji)
			insts[i] = NULL;
}

/*
 * JOBD_WRAPPER (words split at blanks, no quoting) goes before jobd's path:
 * "make check-valgrind" runs every jobd the tests start under valgrind.
 * Its copy lives in wbuf; returns the number of words put in argv.
 */
static int
wrapper_words(const char **argv, int max, char *wbuf, size_t len)
{
	const char	*w = getenv("JOBD_WRAPPER");
	char		*p, *word;
	int		 n = 0;

	if (w == NULL || *w == '\0')
		return (0);
	ck_assert_msg(strlcpy(wbuf, w, len) < len, "JOBD_WRAPPER too long");
	for (p = wbuf; (word = strsep(&p, " \t")) != NULL;) {
		if (*word == '\0')
			continue;
		ck_assert_msg(n < max, "JOBD_WRAPPER has too many words");
		argv[n++] = word;
	}
	return (n);
}

/*
 * Fork and exec jobd on ji's socket (and config, if any), its stderr
 * appended to errfile. Returns the pid; the caller waits for it.
 */
pid_t
spawn_jobd(struct jobd_inst *ji, const char *errfile)
{
	const char	*argv[48];
	char		 state[PATH_MAX], wbuf[4096];
	sigset_t	 all;
	pid_t		 pid;
	int		 fd, i;

	/* Each jobd its own store, which a restart finds again. */
	path_in(ji, "state", state, sizeof(state));
	i = wrapper_words(argv, 32, wbuf, sizeof(wbuf));
	argv[i] = i == 0 ? "jobd" : JOBD_BIN;
	i++;
	argv[i++] = "-d";
	argv[i++] = "-s";
	argv[i++] = ji->sock;
	argv[i++] = "-S";
	argv[i++] = state;
	if (ji->conf[0] != '\0') {
		argv[i++] = "-f";
		argv[i++] = ji->conf;
	}
	argv[i] = NULL;

	pid = fork();
	ck_assert_msg(pid != -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		fd = open(errfile, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
		    dup2(fd, STDERR_FILENO) == -1)
			_exit(126);
		if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
		    dup2(fd, STDIN_FILENO) == -1)
			_exit(126);
		closefrom(STDERR_FILENO + 1);
		/* Start jobd the way an init system would. */
		signal(SIGPIPE, SIG_DFL);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (strcmp(argv[0], "jobd") == 0)
			execv(JOBD_BIN, (char *const *)argv);
		else
			execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return (pid);
}

struct ping_arg {
	struct jobd_inst	*ji;
	int			 exited;
};

static int
jobd_answers(void *arg)
{
	struct ping_arg		*pa = arg;
	struct jobd_client	*c;
	json_object		*req, *resp;
	json_object		*ok;
	char			 err[256];
	int			 good = 0;

	if (waitpid(pa->ji->pid, &pa->ji->status, WNOHANG) == pa->ji->pid) {
		pa->ji->pid = -1;
		pa->exited = 1;
		return (1);
	}
	if ((c = jobd_connect(pa->ji->sock, err, sizeof(err))) == NULL)
		return (0);
	set_recv_timeout(c, 1000);
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("ping"));
	if ((resp = jobd_call(c, req)) != NULL) {
		good = json_object_object_get_ex(resp, "ok", &ok) &&
		    json_object_get_boolean(ok);
		json_object_put(resp);
	}
	json_object_put(req);
	jobd_close(c);
	return (good);
}

static void
launch(struct jobd_inst *ji)
{
	struct ping_arg	pa = { ji, 0 };
	int		answered;

	ji->pid = spawn_jobd(ji, ji->log);
	answered = wait_until(jobd_answers, &pa, E2E_START_TIMEOUT_MS);
	ck_assert_msg(!pa.exited, "jobd exited at start (status 0x%x)",
	    ji->status);
	ck_assert_msg(answered, "jobd did not answer a ping within %d ms",
	    E2E_START_TIMEOUT_MS);
}

void
new_inst(struct jobd_inst *ji, const char *conf_text)
{
	char		 tmpl[PATH_MAX], conf[8192];
	const char	*tier = getenv("JOBD_TEST_CONTAINMENT");

	memset(ji, 0, sizeof(*ji));
	ji->pid = -1;
	ck_assert_msg(basedir[0] != '\0', "e2e_global_init not called");
	snprintf(tmpl, sizeof(tmpl), "%s/t.XXXXXX", basedir);
	ck_assert_msg(mkdtemp(tmpl) != NULL, "mkdtemp: %s", strerror(errno));
	strlcpy(ji->dir, tmpl, sizeof(ji->dir));
	register_inst(ji);
	path_in(ji, "jobd.sock", ji->sock, sizeof(ji->sock));
	path_in(ji, "jobd.log", ji->log, sizeof(ji->log));
	if (conf_text != NULL || tier != NULL) {
		/* JOBD_TEST_CONTAINMENT runs a suite in one tier. */
		if (tier != NULL && (conf_text == NULL ||
		    strstr(conf_text, "containment") == NULL)) {
			snprintf(conf, sizeof(conf), "%scontainment = %s\n",
			    conf_text != NULL ? conf_text : "", tier);
			conf_text = conf;
		}
		path_in(ji, "jobd.conf", ji->conf, sizeof(ji->conf));
		write_file(ji->conf, conf_text, 0644);
	}
}

void
start_jobd(struct jobd_inst *ji, const char *conf_text)
{
	new_inst(ji, conf_text);
	launch(ji);
}

/* Start jobd again on the same directory, socket and config. */
void
restart_jobd(struct jobd_inst *ji)
{
	ck_assert_msg(ji->pid == -1, "jobd still running");
	register_inst(ji);
	launch(ji);
}

static int
jobd_reaped(void *arg)
{
	struct jobd_inst	*ji = arg;

	if (ji->pid == -1)
		return (1);
	if (waitpid(ji->pid, &ji->status, WNOHANG) == ji->pid) {
		ji->pid = -1;
		return (1);
	}
	return (0);
}

/* Wait (bounded) for jobd to exit; 1 if it did, status in ji->status. */
int
reap_jobd(struct jobd_inst *ji, int timeout_ms)
{
	return (wait_until(jobd_reaped, ji, timeout_ms));
}

/*
 * SIGTERM, then a bounded wait: jobd must exit 0 in time, else it is killed
 * and the test fails. The directory goes only if all went well, so the
 * sweeper can show the log of a failure.
 */
void
stop_jobd(struct jobd_inst *ji)
{
	if (ji->pid > 0) {
		kill(ji->pid, SIGTERM);
		if (!reap_jobd(ji, E2E_STOP_TIMEOUT_MS)) {
			kill(ji->pid, SIGKILL);
			reap_jobd(ji, E2E_STOP_TIMEOUT_MS);
			ck_abort_msg("jobd did not exit within %d ms of SIGTERM",
			    E2E_STOP_TIMEOUT_MS);
		}
		ck_assert_msg(WIFEXITED(ji->status) &&
		    WEXITSTATUS(ji->status) == 0,
		    "jobd did not exit 0 after SIGTERM (status 0x%x)",
		    ji->status);
	}
	unregister_inst(ji);
	rm_rf(ji->dir);
}

/*
 * Talking to jobd.
 */

static void
track_client(struct jobd_client *c)
{
	int	i;

	for (i = 0; i < MAX_CLIENTS; i++) {
		if (clients[i] == NULL) {
			clients[i] = c;
			return;
		}
	}
	ck_abort_msg("too many connections");
}

static void
untrack_client(struct jobd_client *c)
{
	int	i;

	for (i = 0; i < MAX_CLIENTS; i++)
		if (clients[i] == c)
			clients[i] = NULL;
}

struct jobd_client *
e2e_connect(const struct jobd_inst *ji)
{
	struct jobd_client	*c;
	char			 err[512];

	c = jobd_connect(ji->sock, err, sizeof(err));
	ck_assert_msg(c != NULL, "jobd_connect: %s", err);
	set_recv_timeout(c, E2E_RECV_TIMEOUT_MS);
	track_client(c);
	return (c);
}

void
e2e_close(struct jobd_client *c)
{
	untrack_client(c);
	jobd_close(c);
}

/* Bound every blocking read (and write) on the connection. */
void
set_recv_timeout(struct jobd_client *c, int timeout_ms)
{
	struct timeval	tv;
	int		fd = jobd_client_fd(c);

	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
	    sizeof(tv)), 0);
}

static json_object *
vjparse(const char *fmt, va_list ap)
{
	json_object	*o;
	va_list		 ap2;
	char		*s;
	int		 n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	ck_assert_int_ge(n, 0);
	s = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(s);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	o = json_tokener_parse(s);
	ck_assert_msg(o != NULL, "test bug: bad JSON: %s", s);
	free(s);
	return (o);
}

json_object *
jparse(const char *fmt, ...)
{
	json_object	*o;
	va_list		 ap;

	va_start(ap, fmt);
	o = vjparse(fmt, ap);
	va_end(ap);
	return (o);
}

json_object *
jargv(const char *arg, ...)
{
	json_object	*a = json_object_new_array();
	va_list		 ap;

	va_start(ap, arg);
	for (; arg != NULL; arg = va_arg(ap, const char *))
		json_object_array_add(a, json_object_new_string(arg));
	va_end(ap);
	return (a);
}

/* {"op":"run","argv":argv} plus the fields of the object fmt describes. */
json_object *
run_req(json_object *argv, const char *fmt, ...)
{
	json_object	*req, *extra;
	va_list		 ap;

	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("run"));
	json_object_object_add(req, "argv", argv);
	va_start(ap, fmt);
	extra = vjparse(fmt, ap);
	va_end(ap);
	json_object_object_foreach(extra, k, v)
		json_object_object_add(req, k, json_object_get(v));
	json_object_put(extra);
	return (req);
}

void
send_req(struct jobd_client *c, json_object *req)
{
	ck_assert_msg(jobd_send(c, req) == 0, "jobd_send: %s",
	    strerror(errno));
	json_object_put(req);
}

void
send_raw(struct jobd_client *c, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(jobd_client_fd(c), p, len);
		if (n == -1 && errno == EINTR)
			continue;
		ck_assert_msg(n > 0, "write to jobd: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

void
send_str(struct jobd_client *c, const char *s)
{
	send_raw(c, s, strlen(s));
}

json_object *
recv_resp(struct jobd_client *c)
{
	json_object	*r;

	errno = 0;
	r = jobd_recv(c);
	ck_assert_msg(r != NULL, "no response from jobd: %s",
	    errno == 0 ? "EOF" : errno == EAGAIN ? "timed out" :
	    strerror(errno));
	return (r);
}

/* Send req (consumed) and read one response. */
json_object *
call(struct jobd_client *c, json_object *req)
{
	send_req(c, req);
	return (recv_resp(c));
}

json_object *
callf(struct jobd_client *c, const char *fmt, ...)
{
	json_object	*req;
	va_list		 ap;

	va_start(ap, fmt);
	req = vjparse(fmt, ap);
	va_end(ap);
	return (call(c, req));
}

long long
run_id(struct jobd_client *c, json_object *req)
{
	json_object	*r = call(c, req);
	long long	 id;

	expect_ok(r);
	id = jint(r, "id");
	json_object_put(r);
	return (id);
}

int
job_state_is(struct jobd_client *c, long long id, const char *state)
{
	json_object	*r;
	int		 same;

	r = callf(c, "{\"op\":\"status\",\"id\":%lld}", id);
	expect_ok(r);
	same = strcmp(jstr(jget(r, "job"), "state"), state) == 0;
	json_object_put(r);
	return (same);
}

struct job_state_arg {
	struct jobd_client	*c;
	long long		 id;
	const char		*state;
};

static int
job_state_cond(void *arg)
{
	struct job_state_arg	*a = arg;

	return (job_state_is(a->c, a->id, a->state));
}

void
wait_job_state(struct jobd_client *c, long long id, const char *state,
    int timeout_ms)
{
	struct job_state_arg	a = { c, id, state };

	ck_assert_msg(wait_until(job_state_cond, &a, timeout_ms),
	    "job %lld did not become %s within %d ms", id, state, timeout_ms);
}

/*
 * A run with "wait": true: the first response carries the id, the second
 * the final job object, which is returned (a new reference).
 */
json_object *
run_wait(struct jobd_client *c, json_object *req, long long *idp)
{
	json_object	*r, *job;
	long long	 id;

	json_object_object_add(req, "wait", json_object_new_boolean(1));
	r = call(c, req);
	expect_ok(r);
	id = jint(r, "id");
	json_object_put(r);
	r = recv_resp(c);
	expect_ok(r);
	job = json_object_get(jget(r, "job"));
	json_object_put(r);
	ck_assert_int_eq(jint(job, "id"), id);
	if (idp != NULL)
		*idp = id;
	return (job);
}

void
expect_ok(json_object *r)
{
	ck_assert_msg(jbool(r, "ok"), "expected ok, got %s",
	    json_object_to_json_string(r));
}

/* r is a failed response with that error code; r is consumed. */
void
expect_error(json_object *r, const char *code)
{
	json_object	*e;

	ck_assert_msg(!jbool(r, "ok"), "expected error %s, got %s", code,
	    json_object_to_json_string(r));
	e = jget(r, "error");
	ck_assert_msg(strcmp(jstr(e, "code"), code) == 0,
	    "expected error %s, got %s", code, json_object_to_json_string(r));
	ck_assert_msg(strlen(jstr(e, "message")) > 0, "empty error message");
	json_object_put(r);
}

void
expect_ping(struct jobd_client *c)
{
	json_object	*r;

	r = callf(c, "{\"op\":\"ping\",\"tag\":\"ping\"}");
	expect_ok(r);
	ck_assert_str_eq(jstr(r, "tag"), "ping");
	ck_assert_int_eq(jint(r, "protocol"), 1);
	json_object_put(r);
}

json_object *
jget(json_object *o, const char *key)
{
	json_object	*v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, key, &v),
	    "field \"%s\" missing in %s", key, json_object_to_json_string(o));
	return (v);
}

long long
jint(json_object *o, const char *key)
{
	json_object	*v = jget(o, key);

	ck_assert_msg(json_object_is_type(v, json_type_int),
	    "field \"%s\" is not an integer in %s", key,
	    json_object_to_json_string(o));
	return ((long long)json_object_get_int64(v));
}

double
jdouble(json_object *o, const char *key)
{
	json_object	*v = jget(o, key);

	ck_assert_msg(json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int),
	    "field \"%s\" is not a number in %s", key,
	    json_object_to_json_string(o));
	return (json_object_get_double(v));
}

int
jbool(json_object *o, const char *key)
{
	json_object	*v = jget(o, key);

	ck_assert_msg(json_object_is_type(v, json_type_boolean),
	    "field \"%s\" is not a boolean in %s", key,
	    json_object_to_json_string(o));
	return (json_object_get_boolean(v));
}

const char *
jstr(json_object *o, const char *key)
{
	json_object	*v = jget(o, key);

	ck_assert_msg(json_object_is_type(v, json_type_string),
	    "field \"%s\" is not a string in %s", key,
	    json_object_to_json_string(o));
	return (json_object_get_string(v));
}

int
jis_null(json_object *o, const char *key)
{
	return (jget(o, key) == NULL);
}

/*
 * jobctl: run it against ji's socket (via JOBD_SOCKET), its output appended
 * to ji's jobctl.out; returns its exit status, or 1000 + the signal that
 * killed it. elapsed, if given, gets its run time in seconds.
 */
struct child {
	pid_t	pid;
	int	status;
};

static int
child_reaped(void *arg)
{
	struct child	*ch = arg;

	return (waitpid(ch->pid, &ch->status, WNOHANG) == ch->pid);
}

int
run_jobctl(const struct jobd_inst *ji, double *elapsed, const char *arg, ...)
{
	const char	*argv[32];
	char		 out[PATH_MAX];
	struct child	 ch;
	va_list		 ap;
	double		 t0;
	int		 n = 0, fd;

	argv[n++] = "jobctl";
	va_start(ap, arg);
	for (; arg != NULL; arg = va_arg(ap, const char *)) {
		ck_assert_int_lt(n, 31);
		argv[n++] = arg;
	}
	va_end(ap);
	argv[n] = NULL;
	path_in(ji, "jobctl.out", out, sizeof(out));

	t0 = now_mono();
	ch.pid = fork();
	ck_assert_msg(ch.pid != -1, "fork: %s", strerror(errno));
	if (ch.pid == 0) {
		fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
		    dup2(fd, STDERR_FILENO) == -1)
			_exit(120);
		if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
		    dup2(fd, STDIN_FILENO) == -1)
			_exit(120);
		closefrom(STDERR_FILENO + 1);
		if (setenv("JOBD_SOCKET", ji->sock, 1) == -1)
			_exit(120);
		execv(JOBCTL_BIN, (char *const *)argv);
		_exit(121);
	}
	if (!wait_until(child_reaped, &ch, 20000)) {
		kill(ch.pid, SIGKILL);
		waitpid(ch.pid, NULL, 0);
		ck_abort_msg("jobctl did not exit within 20 s");
	}
	if (elapsed != NULL)
		*elapsed = now_mono() - t0;
	if (WIFEXITED(ch.status))
		return (WEXITSTATUS(ch.status));
	return (1000 + WTERMSIG(ch.status));
}

/*
 * Processes, from /proc.
 */

/* State, parent, group and session of pid; -1 if there is no such pid. */
static int
proc_stat(pid_t pid, char *state, long *ppid, long *pgrp, long *sid)
{
	char	 path[64], buf[1024], *p;
	ssize_t	 n;
	int	 fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	/* "pid (comm) state ppid pgrp session ...": comm may hold ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %c %ld %ld %ld", state, ppid, pgrp, sid) != 4)
		return (-1);
	return (0);
}

/* The state letter of pid (R, S, D, T, Z, ...), or 0 if there is none. */
char
proc_state(pid_t pid)
{
	char	state;
	long	ppid, pgrp, sid;

	if (proc_stat(pid, &state, &ppid, &pgrp, &sid) == -1)
		return (0);
	return (state);
}

/* A zombie is dead: it only waits to be reaped. */
int
pid_alive(pid_t pid)
{
	char	s = proc_state(pid);

	return (s != 0 && s != 'Z' && s != 'X');
}

/* Live processes whose process group or session is id. */
int
count_group(pid_t id)
{
	DIR		*d;
	struct dirent	*de;
	char		 state;
	long		 ppid, pgrp, sid;
	int		 count = 0;

	ck_assert_msg(id > 1, "count_group(%ld)", (long)id);
	ck_assert((d = opendir("/proc")) != NULL);
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (proc_stat((pid_t)atol(de->d_name), &state, &ppid, &pgrp,
		    &sid) == -1)
			continue;
		if ((pgrp == (long)id || sid == (long)id) && state != 'Z' &&
		    state != 'X')
			count++;
	}
	closedir(d);
	return (count);
}

int
count_zombie_children(pid_t parent)
{
	DIR		*d;
	struct dirent	*de;
	char		 state;
	long		 ppid, pgrp, sid;
	int		 count = 0;

	ck_assert((d = opendir("/proc")) != NULL);
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (proc_stat((pid_t)atol(de->d_name), &state, &ppid, &pgrp,
		    &sid) == -1)
			continue;
		if (ppid == (long)parent && state == 'Z')
			count++;
	}
	closedir(d);
	return (count);
}

/* Pids written by a job into a file, one per line; duplicates dropped. */
int
read_pids(const char *path, pid_t *pids, int max)
{
	char	*text, *p, *end;
	long	 v;
	int	 n = 0, i, dup;

	if ((text = read_text(path, NULL)) == NULL)
		return (0);
	for (p = text; *p != '\0' && n < max; p = end) {
		while (*p != '\0' && !isdigit((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		v = strtol(p, &end, 10);
		for (dup = 0, i = 0; i < n; i++)
			if (pids[i] == (pid_t)v)
				dup = 1;
		if (!dup && v > 1)
			pids[n++] = (pid_t)v;
	}
	free(text);
	return (n);
}

pid_t
read_pid(const char *path)
{
	pid_t	pid;

	ck_assert_msg(read_pids(path, &pid, 1) == 1, "no pid in %s", path);
	return (pid);
}

/*
 * Programs with the stdio a test chooses.
 */

void
proc_spec_init(struct proc_spec *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->fd[0] = ps->fd[1] = ps->fd[2] = -1;
}

/*
 * Fork and exec ps->path (JOBCTL_BIN by default) with argv. The child gets
 * exactly the three descriptors of ps (the others are closed), default
 * signal dispositions and an empty mask, as from a shell: the harness
 * ignores SIGPIPE, and an ignored signal would survive the exec.
 */
pid_t
spawn_proc(const struct jobd_inst *ji, const struct proc_spec *ps,
    const char *const argv[])
{
	const char	*path = ps->path != NULL ? ps->path : JOBCTL_BIN;
	sigset_t	 none;
	pid_t		 pid;
	int		 fds[3], i, src;

	pid = fork();
	ck_assert_msg(pid != -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* Out of the way of 0-2 first, so no dup2 clobbers another. */
		for (i = 0; i < 3; i++) {
			src = ps->fd[i];
			if (src == -1)
				src = open("/dev/null", i == 0 ? O_RDONLY :
				    O_WRONLY);
			if (src == -1 ||
			    (fds[i] = fcntl(src, F_DUPFD_CLOEXEC, 10)) == -1)
				_exit(120);
		}
		for (i = 0; i < 3; i++)
			if (dup2(fds[i], i) == -1)
				_exit(120);
		closefrom(3);
		for (i = 1; i < NSIG; i++)
			signal(i, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (ji != NULL && setenv("JOBD_SOCKET", ji->sock, 1) == -1)
			_exit(120);
		for (i = 0; i < 8 && ps->env[i] != NULL; i++)
			if (putenv((char *)ps->env[i]) != 0)
				_exit(120);
		if (ps->cwd != NULL && chdir(ps->cwd) == -1)
			_exit(120);
		execv(path, (char *const *)argv);
		_exit(121);
	}
	track_pid(pid);
	return (pid);
}

/* Reap pid within timeout_ms: 1 and its wait status, or 0. */
int
reap_within(pid_t pid, int *status, int timeout_ms)
{
	struct child	ch = { pid, 0 };

	if (!wait_until(child_reaped, &ch, timeout_ms))
		return (0);
	untrack_pid(pid);
	if (status != NULL)
		*status = ch.status;
	return (1);
}

/* Reap pid, normalised status; if it does not exit in time, fail. */
int
reap_or_kill(pid_t pid, int timeout_ms, const char *what)
{
	int	status;

	if (!reap_within(pid, &status, timeout_ms)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		untrack_pid(pid);
		ck_abort_msg("%s did not exit within %d ms", what, timeout_ms);
	}
	return (norm_status(status));
}

/* An exit status as a shell shows it: 128 + N for death by signal N. */
int
norm_status(int status)
{
	if (WIFEXITED(status))
		return (WEXITSTATUS(status));
	if (WIFSIGNALED(status))
		return (128 + WTERMSIG(status));
	return (-1);
}

void
cloexec_pipe(int fds[2])
{
	ck_assert_msg(pipe2(fds, O_CLOEXEC) == 0, "pipe2: %s",
	    strerror(errno));
}

/* Wait until deadline for fd to be readable (or at EOF); 0 if not. */
static int
poll_in(int fd, double deadline)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	double		left;
	int		n;

	for (;;) {
		left = deadline - now_mono();
		if (left < 0)
			left = 0;
		n = poll(&pfd, 1, (int)(left * 1000));
		if (n == -1 && errno == EINTR)
			continue;
		return (n > 0);
	}
}

/*
 * Read from fd, appending to buf (cap bytes, kept NUL-terminated) from
 * *len on, until needle has been read, EOF, a full buffer or timeout_ms.
 * 1 if buf holds needle.
 */
int
read_until(int fd, char *buf, size_t cap, size_t *len, const char *needle,
    int timeout_ms)
{
	double	deadline = now_mono() + timeout_ms / 1000.0;
	ssize_t	n;

	ck_assert(cap > 1 && *len < cap);
	buf[*len] = '\0';
	for (;;) {
		if (needle != NULL &&
		    memmem(buf, *len, needle, strlen(needle)) != NULL)
			return (1);
		if (*len + 1 >= cap || !poll_in(fd, deadline))
			return (0);
		n = read(fd, buf + *len, cap - 1 - *len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return (0);
		*len += (size_t)n;
		buf[*len] = '\0';
	}
}

/* Read fd to EOF (bounded): 1 at EOF, 0 on timeout or a full buffer. */
int
read_to_eof(int fd, char *buf, size_t cap, size_t *len, int timeout_ms)
{
	double	deadline = now_mono() + timeout_ms / 1000.0;
	ssize_t	n;

	ck_assert(cap > 1 && *len < cap);
	buf[*len] = '\0';
	for (;;) {
		if (*len + 1 >= cap || !poll_in(fd, deadline))
			return (0);
		n = read(fd, buf + *len, cap - 1 - *len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			return (1);
		if (n == -1)
			return (0);
		*len += (size_t)n;
		buf[*len] = '\0';
	}
}

/* Write all of buf to fd (made non-blocking) within timeout_ms. */
int
write_all_within(int fd, const void *buf, size_t len, int timeout_ms)
{
	struct pollfd	 pfd = { fd, POLLOUT, 0 };
	const char	*p = buf;
	double		 deadline = now_mono() + timeout_ms / 1000.0, left;
	ssize_t		 n;
	int		 fl;

	fl = fcntl(fd, F_GETFL);
	ck_assert(fl != -1 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) != -1);
	while (len > 0) {
		n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return (0);
		left = deadline - now_mono();
		if (left <= 0)
			return (0);
		if (poll(&pfd, 1, (int)(left * 1000) + 1) == -1 &&
		    errno != EINTR)
			return (0);
	}
	return (1);
}

/* Whether a read on fd would not block right now (data or EOF). */
int
fd_readable(int fd)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };

	return (poll(&pfd, 1, 0) > 0);
}

int
has_lines(void *arg)
{
	struct file_lines	*fl = arg;
	char			*text, *p;
	int			 n = 0;

	if ((text = read_text(fl->path, NULL)) == NULL)
		return (0);
	for (p = text; (p = strchr(p, '\n')) != NULL; p++)
		n++;
	free(text);
	return (n >= fl->min);
}

int
path_gone(void *arg)
{
	return (access(arg, F_OK) == -1 && errno == ENOENT);
}
