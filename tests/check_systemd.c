/*
 * jobd under systemd: the units pass systemd-analyze verify, jobd serves a
 * socket passed by systemd-socket-activate, and it tells a NOTIFY_SOCKET
 * READY=1, STATUS=, WATCHDOG=1, RELOADING=1 and STOPPING=1 when it should.
 * What this machine lacks (systemd's tools, or a jobd built without
 * libsystemd) is a SKIP, never a pass.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "e2e.h"

#ifndef TEST_UNITS_DIR
#error "TEST_UNITS_DIR must name the directory of the test copies of the units"
#endif

#define TEST_TIMEOUT	60

static struct jobd_inst	J;

Suite		*systemd_suite(void);

/* prog in PATH, or 0. */
static int
find_prog(const char *prog, char *buf, size_t len)
{
	const char	*path = getenv("PATH");
	char		*copy, *dir, *save = NULL;
	int		 found = 0;

	copy = strdup(path != NULL ? path : "/usr/bin:/bin");
	ck_assert(copy != NULL);
	for (dir = strtok_r(copy, ":", &save); dir != NULL && !found;
	    dir = strtok_r(NULL, ":", &save)) {
		snprintf(buf, len, "%s/%s", dir, prog);
		found = access(buf, X_OK) == 0;
	}
	free(copy);
	return (found);
}

#ifdef HAVE_LIBSYSTEMD
struct log_text {
	const char	*path;
	const char	*text;
};

static int
log_says(void *arg)
{
	struct log_text	*lt = arg;
	char		*log = read_text(lt->path, NULL);
	int		 found = log != NULL && strstr(log, lt->text) != NULL;

	free(log);
	return (found);
}
#endif

/*
 * systemd-analyze verify, on the test copies of the units (ExecStart= names
 * the build's jobd): exit 0 and not a word, since warnings do not change
 * its exit status.
 */
static void
verify_units(const char *sub, int user)
{
	char		 prog[PATH_MAX], out[PATH_MAX], svc[PATH_MAX];
	char		 sock[PATH_MAX], env[PATH_MAX + 32], *text;
	const char	*argv[8];
	struct proc_spec ps;
	size_t		 len = 0;
	int		 fd, i = 0;

	if (!find_prog("systemd-analyze", prog, sizeof(prog))) {
		e2e_skip("systemd-analyze not installed (Debian: systemd)");
		return;
	}
	new_inst(&J, NULL);
	path_in(&J, "verify.out", out, sizeof(out));
	snprintf(svc, sizeof(svc), "%s%s/jobd.service", TEST_UNITS_DIR, sub);
	snprintf(sock, sizeof(sock), "%s%s/jobd.socket", TEST_UNITS_DIR, sub);
	ck_assert_msg(access(svc, R_OK) == 0 && access(sock, R_OK) == 0,
	    "no %s or %s: make check builds them", svc, sock);
	fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_msg(fd != -1, "open %s: %s", out, strerror(errno));
	proc_spec_init(&ps);
	ps.path = prog;
	ps.fd[1] = ps.fd[2] = fd;
	/* A user manager's paths come from XDG_RUNTIME_DIR. */
	snprintf(env, sizeof(env), "XDG_RUNTIME_DIR=%s", J.dir);
	if (user)
		ps.env[0] = env;
	argv[i++] = "systemd-analyze";
	if (user)
		argv[i++] = "--user";
	argv[i++] = "verify";
	argv[i++] = "--man=no";		/* jobd(8) is not installed yet */
	argv[i++] = svc;
	argv[i++] = sock;
	argv[i] = NULL;
	i = reap_or_kill(spawn_proc(NULL, &ps, argv), 30000,
	    "systemd-analyze verify");
	close(fd);
	text = read_text(out, &len);
	ck_assert_msg(i == 0 && len == 0, "systemd-analyze%s verify: exit %d:"
	    "\n%s", user ? " --user" : "", i, text != NULL ? text : "");
	free(text);
}

START_TEST(units_verify)
{
	verify_units("", 0);
}
END_TEST

START_TEST(user_units_verify)
{
	verify_units("/user", 1);
}
END_TEST

#ifdef HAVE_LIBSYSTEMD
/* jobd under systemd-socket-activate, its stderr to J.log. */
static pid_t
spawn_activated(const char *prog, const char *const *extra)
{
	static char	 other[PATH_MAX];
	const char	*argv[16];
	struct proc_spec ps;
	pid_t		 pid;
	int		 fd, i = 0;

	/* -s names another path: the passed socket must win. */
	path_in(&J, "other.sock", other, sizeof(other));
	argv[i++] = "systemd-socket-activate";
	argv[i++] = "-l";
	argv[i++] = J.sock;
	while (*extra != NULL)
		argv[i++] = *extra++;
	argv[i++] = JOBD_BIN;
	argv[i++] = "-M";
	argv[i++] = "-s";
	argv[i++] = other;
	argv[i] = NULL;
	fd = open(J.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	ck_assert_msg(fd != -1, "open %s: %s", J.log, strerror(errno));
	proc_spec_init(&ps);
	ps.path = prog;
	ps.fd[1] = ps.fd[2] = fd;
	pid = spawn_proc(NULL, &ps, argv);
	/* J's: teardown stops it with SIGTERM (stop_jobd), not SIGKILL. */
	untrack_pid(pid);
	close(fd);
	return (pid);
}

static int
answers(void *arg)
{
	struct jobd_client	*c;
	json_object		*req, *resp, *ok;
	char			 err[256];
	int			 good = 0;

	if ((c = jobd_connect(J.sock, err, sizeof(err))) == NULL)
		return (0);
	set_recv_timeout(c, 1000);
	req = jparse("{\"op\":\"ping\"}");
	if ((resp = jobd_call(c, req)) != NULL) {
		good = json_object_object_get_ex(resp, "ok", &ok) &&
		    json_object_get_boolean(ok);
		json_object_put(resp);
	}
	json_object_put(req);
	jobd_close(c);
	return (good);
}
#endif

/*
 * The socket systemd-socket-activate made and passed: jobd serves it, says
 * so, leaves it in place at exit; a plain jobd on the same path afterwards
 * takes it over as stale, as it always did.
 */
START_TEST(socket_activation)
{
#ifdef HAVE_LIBSYSTEMD
	const char *const	 none[] = { NULL };
	struct log_text		 lt;
	struct jobd_client	*c;
	struct stat		 sb;
	json_object		*r;
	char			 prog[PATH_MAX], other[PATH_MAX];

	if (!find_prog("systemd-socket-activate", prog, sizeof(prog))) {
		e2e_skip("systemd-socket-activate not installed "
		    "(Debian: systemd)");
		return;
	}
	new_inst(&J, NULL);
	J.pid = spawn_activated(prog, none);
	ck_assert_msg(wait_until(answers, NULL, E2E_START_TIMEOUT_MS),
	    "jobd did not answer on the passed socket %s", J.sock);
	c = e2e_connect(&J);
	r = callf(c, "{\"op\":\"ping\"}");
	expect_ok(r);
	/* systemd-socket-activate execs jobd: this is the pid to signal. */
	ck_assert_int_eq(jint(r, "pid"), J.pid);
	json_object_put(r);
	e2e_close(c);
	lt.path = J.log;
	lt.text = "socket activation: using the socket passed by the service "
	    "manager, ";
	ck_assert_msg(log_says(&lt), "jobd did not log the passed socket");
	lt.text = "created socket";
	ck_assert_msg(!log_says(&lt), "jobd created a socket of its own");
	path_in(&J, "other.sock", other, sizeof(other));
	ck_assert_msg(lstat(other, &sb) == -1 && errno == ENOENT,
	    "jobd bound -s %s as well", other);

	ck_assert_int_eq(kill(J.pid, SIGTERM), 0);
	ck_assert_int_eq(reap_or_kill(J.pid, E2E_STOP_TIMEOUT_MS, "jobd"), 0);
	J.pid = -1;
	ck_assert_msg(lstat(J.sock, &sb) == 0 && S_ISSOCK(sb.st_mode),
	    "jobd removed the socket it was passed");

	/* Without activation: the stale socket is replaced, jobd serves. */
	restart_jobd(&J);
	lt.text = "removing stale socket";
	ck_assert_msg(log_says(&lt), "the left socket was not taken as stale");
#else
	e2e_skip("jobd built without libsystemd: no socket activation");
#endif
}
END_TEST

#ifdef HAVE_LIBSYSTEMD
/* Connect and go: enough to make systemd-socket-activate start jobd. */
static int
poke(void *arg)
{
	struct sockaddr_un	 sun;
	const char		*path = arg;
	int			 fd, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_msg(fd != -1, "socket: %s", strerror(errno));
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return (rc == 0);
}
#endif

/* Two sockets passed: jobd serves exactly one, so it refuses to start. */
START_TEST(socket_activation_two)
{
#ifdef HAVE_LIBSYSTEMD
	char		 prog[PATH_MAX], second[PATH_MAX];
	const char	*extra[3] = { "-l", second, NULL };
	struct log_text	 lt;

	if (!find_prog("systemd-socket-activate", prog, sizeof(prog))) {
		e2e_skip("systemd-socket-activate not installed "
		    "(Debian: systemd)");
		return;
	}
	new_inst(&J, NULL);
	path_in(&J, "second.sock", second, sizeof(second));
	J.pid = spawn_activated(prog, extra);
	/* systemd-socket-activate runs jobd at the first connection. */
	ck_assert_msg(wait_until(poke, J.sock, E2E_START_TIMEOUT_MS),
	    "systemd-socket-activate did not listen on %s", J.sock);
	ck_assert_int_eq(reap_or_kill(J.pid, E2E_START_TIMEOUT_MS, "jobd"), 1);
	J.pid = -1;
	lt.path = J.log;
	lt.text = "socket activation: 2 sockets passed";
	ck_assert_msg(log_says(&lt), "no clear refusal in %s", J.log);
#else
	e2e_skip("jobd built without libsystemd: no socket activation");
#endif
}
END_TEST

#ifdef HAVE_LIBSYSTEMD
/* What jobd sent to the test's NOTIFY_SOCKET, one message a line. */
struct notify {
	int	fd;
	char	path[PATH_MAX];
	char	env[PATH_MAX + 16];
	char	seen[16384];
	size_t	len;
	int	watchdogs;
};

static void
notify_open(struct notify *n)
{
	struct sockaddr_un	sun;

	memset(n, 0, sizeof(*n));
	path_in(&J, "notify", n->path, sizeof(n->path));
	snprintf(n->env, sizeof(n->env), "NOTIFY_SOCKET=%s", n->path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	ck_assert(strlcpy(sun.sun_path, n->path, sizeof(sun.sun_path)) <
	    sizeof(sun.sun_path));
	n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_msg(n->fd != -1, "socket: %s", strerror(errno));
	ck_assert_msg(bind(n->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	    "bind %s: %s", n->path, strerror(errno));
}

/*
 * Read messages until one holds want (a whole line of it), within the
 * timeout; WATCHDOG=1 messages are counted, not kept, so that the watchdog's
 * pace cannot fill the record. Returns the message's offset in seen, or -1.
 */
static long
notify_wait(struct notify *n, const char *want, int timeout_ms)
{
	struct pollfd	pfd = { n->fd, POLLIN, 0 };
	double		deadline = now_mono() + timeout_ms / 1000.0;
	char		msg[4096];
	ssize_t		len;
	long		at;
	int		left;

	for (;;) {
		left = (int)((deadline - now_mono()) * 1000);
		if (left < 0 || poll(&pfd, 1, left) <= 0)
			return (-1);
		if ((len = recv(n->fd, msg, sizeof(msg) - 1, 0)) <= 0)
			continue;
		msg[len] = '\0';
		if (strcmp(msg, "WATCHDOG=1") == 0) {
			n->watchdogs++;
			if (strcmp(want, "WATCHDOG=1") == 0)
				return (0);
			continue;
		}
		at = (long)n->len;
		ck_assert_msg(n->len + (size_t)len + 2 < sizeof(n->seen),
		    "too many notify messages:\n%s", n->seen);
		memcpy(n->seen + n->len, msg, (size_t)len);
		n->len += (size_t)len;
		n->seen[n->len++] = '\n';
		n->seen[n->len] = '\0';
		if (strstr(msg, want) != NULL)
			return (at);
	}
}
#endif

/*
 * sd_notify as systemd's Type=notify with WatchdogSec= sees it: jobd runs
 * with NOTIFY_SOCKET, WATCHDOG_USEC=200000 and WATCHDOG_PID set to its own
 * pid (by a shell that then execs it, as systemd sets it for the main pid).
 */
START_TEST(notify_messages)
{
#ifdef HAVE_LIBSYSTEMD
	static struct notify	 n;
	struct jobd_client	*c;
	struct proc_spec	 ps;
	json_object		*r;
	const char		*argv[10];
	long long		 id;
	int			 fd, i;

	new_inst(&J, NULL);
	notify_open(&n);
	fd = open(J.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	ck_assert_msg(fd != -1, "open %s: %s", J.log, strerror(errno));
	proc_spec_init(&ps);
	ps.path = "/bin/sh";
	ps.fd[1] = ps.fd[2] = fd;
	ps.env[0] = n.env;
	ps.env[1] = "WATCHDOG_USEC=200000";
	i = 0;
	argv[i++] = "sh";
	argv[i++] = "-c";
	argv[i++] = "WATCHDOG_PID=$$; export WATCHDOG_PID; exec \"$0\" \"$@\"";
	argv[i++] = JOBD_BIN;
	argv[i++] = "-d";
	argv[i++] = "-M";
	argv[i++] = "-s";
	argv[i++] = J.sock;
	argv[i] = NULL;
	J.pid = spawn_proc(NULL, &ps, argv);
	untrack_pid(J.pid);
	close(fd);

	/* READY=1 only once the socket accepts: connect at once. */
	ck_assert_msg(notify_wait(&n, "READY=1", E2E_START_TIMEOUT_MS) >= 0,
	    "no READY=1; got:\n%s", n.seen);
	c = e2e_connect(&J);
	expect_ping(c);
	ck_assert_msg(notify_wait(&n, "STATUS=0 running, 0 queued",
	    E2E_RECV_TIMEOUT_MS) >= 0, "no idle STATUS=; got:\n%s", n.seen);

	/* A running job shows in STATUS= (within about a second). */
	r = call(c, run_req(jargv("sleep", "100", NULL), "{}"));
	expect_ok(r);
	id = jint(r, "id");
	json_object_put(r);
	ck_assert_msg(notify_wait(&n, "STATUS=1 running, 0 queued, 1 client",
	    E2E_RECV_TIMEOUT_MS) >= 0, "STATUS= did not count the job; "
	    "got:\n%s", n.seen);

	/* Every 100 ms (half of WATCHDOG_USEC), from the event loop. */
	while (n.watchdogs < 2)
		ck_assert_msg(notify_wait(&n, "WATCHDOG=1",
		    E2E_RECV_TIMEOUT_MS) >= 0, "%d WATCHDOG=1 within %d ms",
		    n.watchdogs, E2E_RECV_TIMEOUT_MS);

	/* SIGHUP: RELOADING=1, then READY=1 again; the job runs on. */
	ck_assert_int_eq(kill(J.pid, SIGHUP), 0);
	ck_assert_msg(notify_wait(&n, "RELOADING=1", E2E_RECV_TIMEOUT_MS) >= 0,
	    "no RELOADING=1 on SIGHUP; got:\n%s", n.seen);
	ck_assert_msg(notify_wait(&n, "READY=1", E2E_RECV_TIMEOUT_MS) >= 0,
	    "no READY=1 after the reload; got:\n%s", n.seen);
	r = callf(c, "{\"op\":\"status\",\"id\":%lld}", id);
	expect_ok(r);
	ck_assert_str_eq(jstr(jget(r, "job"), "state"), "running");
	json_object_put(r);
	e2e_close(c);

	/* SIGTERM: STOPPING=1 as the drain begins, then a clean exit. */
	ck_assert_int_eq(kill(J.pid, SIGTERM), 0);
	ck_assert_msg(notify_wait(&n, "STOPPING=1", E2E_RECV_TIMEOUT_MS) >= 0,
	    "no STOPPING=1 on SIGTERM; got:\n%s", n.seen);
	ck_assert_int_eq(reap_or_kill(J.pid, E2E_STOP_TIMEOUT_MS, "jobd"), 0);
	J.pid = -1;
	close(n.fd);
#else
	e2e_skip("jobd built without libsystemd: no sd_notify");
#endif
}
END_TEST

/* WATCHDOG_PID naming another process: that watchdog is not jobd's. */
START_TEST(notify_watchdog_other_pid)
{
#ifdef HAVE_LIBSYSTEMD
	static struct notify	 n;
	struct proc_spec	 ps;
	struct jobd_client	*c;
	const char		*argv[8];
	char			 pidenv[64];
	double			 until;
	int			 fd, i = 0;

	new_inst(&J, NULL);
	notify_open(&n);
	fd = open(J.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	ck_assert_msg(fd != -1, "open %s: %s", J.log, strerror(errno));
	snprintf(pidenv, sizeof(pidenv), "WATCHDOG_PID=%ld", (long)getpid());
	proc_spec_init(&ps);
	ps.path = JOBD_BIN;
	ps.fd[1] = ps.fd[2] = fd;
	ps.env[0] = n.env;
	ps.env[1] = "WATCHDOG_USEC=200000";
	ps.env[2] = pidenv;
	argv[i++] = "jobd";
	argv[i++] = "-M";
	argv[i++] = "-s";
	argv[i++] = J.sock;
	argv[i] = NULL;
	J.pid = spawn_proc(NULL, &ps, argv);
	untrack_pid(J.pid);
	close(fd);
	ck_assert_msg(notify_wait(&n, "READY=1", E2E_START_TIMEOUT_MS) >= 0,
	    "no READY=1; got:\n%s", n.seen);
	c = e2e_connect(&J);
	expect_ping(c);
	e2e_close(c);
	/* Five watchdog periods: long enough to see one, were it sent. */
	until = now_mono() + 0.5;
	while (now_mono() < until)
		notify_wait(&n, "no such message", 100);
	ck_assert_int_eq(n.watchdogs, 0);
	close(n.fd);
#else
	e2e_skip("jobd built without libsystemd: no sd_notify");
#endif
}
END_TEST

static void
add(Suite *s, const char *name, const TTest *t)
{
	TCase	*tc = tcase_create(name);

	tcase_add_checked_fixture(tc, NULL, e2e_teardown);
	tcase_add_unchecked_fixture(tc, NULL, e2e_sweep);
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

Suite *
systemd_suite(void)
{
	Suite	*s = suite_create("systemd");

	add(s, "units_verify", units_verify);
	add(s, "user_units_verify", user_units_verify);
	add(s, "socket_activation", socket_activation);
	add(s, "socket_activation_two", socket_activation_two);
	add(s, "notify_messages", notify_messages);
	add(s, "notify_watchdog_other_pid", notify_watchdog_other_pid);
	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	e2e_global_init();
	sr = srunner_create(systemd_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	e2e_global_fini();
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
