/*
 * The limits of issue 6, each against a real jobd: what a request may ask,
 * what a job gets (rlimits, nice), what one user may hold (running and
 * queued jobs, connections), and what a slow, stuck or greedy client
 * costs: an error naming the limit, a log line naming uid and limit, and
 * never jobd itself. docs/security.md names the case for each limit.
 *
 * CK_RUN_CASE=name runs one case; names are those passed to add() below.
 */
#include <sys/types.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/fuse.h>

#include "e2e.h"
#include "jobd-protocol.h"

#define TEST_TIMEOUT	60
#define IO_MS		10000		/* bound on any one read or write */
#define NCONNS		1000

static struct jobd_inst	J;

/* An error response with that code and error.limit; r is consumed. */
static void
expect_limit(json_object *r, const char *code, const char *limit)
{
	json_object	*e;

	ck_assert_msg(!jbool(r, "ok"), "expected error %s (%s), got %s",
	    code, limit, json_object_to_json_string(r));
	e = jget(r, "error");
	ck_assert_msg(strcmp(jstr(e, "code"), code) == 0 &&
	    strcmp(jstr(e, "limit"), limit) == 0,
	    "expected error %s naming %s, got %s", code, limit,
	    json_object_to_json_string(r));
	json_object_put(r);
}

/* jobd's log says that uid hit that limit. */
static void
expect_logged(const char *limit)
{
	char	*log, want[128];

	snprintf(want, sizeof(want), "uid %lu: limit %s",
	    (unsigned long)geteuid(), limit);
	ck_assert_ptr_nonnull(log = read_text(J.log, NULL));
	ck_assert_msg(strstr(log, want) != NULL, "jobd's log lacks \"%s\"",
	    want);
	free(log);
}

struct log_has {
	const char	*path;
	const char	*text;
};

static int
log_has(void *arg)
{
	struct log_has	*l = arg;
	char		*log;
	int		 found;

	if ((log = read_text(l->path, NULL)) == NULL)
		return (0);
	found = strstr(log, l->text) != NULL;
	free(log);
	return (found);
}

static void
wait_log(const char *text, int ms)
{
	struct log_has	l = { J.log, text };

	ck_assert_msg(wait_until(log_has, &l, ms),
	    "jobd's log did not say \"%s\" within %d ms", text, ms);
}

/* A plain connection, for the cases that hold many or send raw bytes. */
static int
raw_connect(const char *path, int nonblock)
{
	struct sockaddr_un	sun;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0);
	ck_assert_msg(fd != -1, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		ck_assert_msg(nonblock && errno == EAGAIN, "connect: %s",
		    strerror(errno));
		close(fd);
		return (-1);
	}
	return (fd);
}

static void
raw_send(int fd, const char *s)
{
	ck_assert_msg(write_all_within(fd, s, strlen(s), IO_MS) == 1,
	    "could not send \"%s\"", s);
}

/* One line from fd within ms, into buf (NUL-terminated); 0 on EOF/time. */
static int
raw_line(int fd, char *buf, size_t cap, int ms)
{
	size_t	len = 0;

	if (!read_until(fd, buf, cap, &len, "\n", ms))
		return (0);
	return (1);
}

/*
 * The connection is closed by jobd within ms (after what it sent). A close
 * with our bytes unread shows as ECONNRESET on a UNIX socket.
 */
static int
raw_eof(int fd, int ms)
{
	char		buf[4096];
	double		deadline = now_mono() + ms / 1000.0;
	struct pollfd	pfd;
	ssize_t		n;

	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) == -1 && errno != EINTR)
			return (0);
		if (pfd.revents != 0) {
			n = read(fd, buf, sizeof(buf));
			if (n == 0 || (n == -1 && errno == ECONNRESET))
				return (1);
			if (n == -1 && errno != EINTR && errno != EAGAIN)
				return (0);
		}
		if (now_mono() >= deadline)
			return (0);
	}
}

/* Wait until jobd has freed connection number id (its debug log). */
static void
wait_conn_freed(unsigned long id)
{
	char	text[64];

	snprintf(text, sizeof(text), "conn %lu: freed", id);
	wait_log(text, IO_MS);
}

/*
 * 1. A line over max_line: too_large naming max_line, and the connection
 * goes on.
 */
START_TEST(test_long_line)
{
	struct jobd_client	*c;
	char			*line;
	size_t			 n = 3000;

	start_jobd(&J, "max_line = 1024\n");
	c = e2e_connect(&J);
	ck_assert_ptr_nonnull(line = malloc(n + 64));
	memset(line, ' ', n);
	memcpy(line, "{\"op\":\"ping\",\"pad\":\"", 20);
	strcpy(line + n, "\"}\n");
	send_str(c, line);
	free(line);
	expect_limit(recv_resp(c), JOBD_E_TOO_LARGE, "max_line");
	expect_ping(c);
	expect_logged("max_line");
}
END_TEST

/*
 * 2. argv and env count and bytes, and max_output above its ceiling: each
 * a too_large naming the option, and a request within them runs.
 */
START_TEST(test_request_sizes)
{
	struct jobd_client	*c;
	json_object		*job;
	char			 big[200];

	start_jobd(&J, "max_args = 4\nmax_args_bytes = 100\nmax_env = 2\n"
	    "max_env_bytes = 64\nmax_output_limit = 10k\nmax_output = 1k\n"
	    "max_reply_buffer = 64k\n");
	c = e2e_connect(&J);
	expect_limit(call(c, run_req(jargv("echo", "1", "2", "3", "4", NULL),
	    "{}")), JOBD_E_TOO_LARGE, "max_args");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect_limit(call(c, run_req(jargv("echo", big, NULL), "{}")),
	    JOBD_E_TOO_LARGE, "max_args_bytes");
	expect_limit(call(c, run_req(jargv("true", NULL),
	    "{\"env\":{\"A\":\"1\",\"B\":\"2\",\"C\":\"3\"}}")),
	    JOBD_E_TOO_LARGE, "max_env");
	expect_limit(call(c, run_req(jargv("true", NULL),
	    "{\"env\":{\"A\":\"%s\"}}", big + 100)), JOBD_E_TOO_LARGE,
	    "max_env_bytes");
	expect_limit(call(c, run_req(jargv("true", NULL),
	    "{\"max_output\":20000}")), JOBD_E_TOO_LARGE, "max_output_limit");
	expect_logged("max_args");
	expect_logged("max_env_bytes");
	/* At the bounds: accepted. */
	job = run_wait(c, run_req(jargv("echo", "a", "b", NULL),
	    "{\"env\":{\"PATH\":\"/usr/bin:/bin\"},\"max_output\":10240}"),
	    NULL);
	ck_assert_str_eq(jstr(job, "state"), "exited");
	json_object_put(job);
	expect_ping(c);
}
END_TEST

#define LIMITS_SCRIPT \
	"ulimit -n; ulimit -c; ulimit -t; " \
	"awk '/^Max processes/ {print $3} /^Max file size/ {print $4} " \
	"/^Max address space/ {print $4}' /proc/self/limits; " \
	"read -r _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ n _ < /proc/self/stat; " \
	"echo $n"

/* The job's stdout: nofile, core, cpu, fsize, nproc, as, nice. */
static void
expect_limits(struct jobd_client *c, const char *extra, const char *want)
{
	json_object	*job;
	unsigned char	*out;
	size_t		 len;

	job = run_wait(c, run_req(jargv("/bin/sh", "-c", LIMITS_SCRIPT,
	    NULL), "%s", extra), NULL);
	ck_assert_str_eq(jstr(job, "state"), "exited");
	ck_assert_ptr_nonnull(out = jobd_job_output(job, "stdout", &len));
	ck_assert_msg(len == strlen(want) && memcmp(out, want, len) == 0,
	    "job's limits: \"%.*s\", expected \"%s\"", (int)len, out, want);
	free(out);
	json_object_put(job);
}

/*
 * 3. rlimits and nice: jobd's ceilings by default, lower on request, never
 * higher (an error naming the option), in the vfork tier (pgid), in a shim
 * tier (subreaper: the job sets itself up behind the gate) and in the
 * strongest tier this machine has.
 */
START_TEST(test_rlimits)
{
	static const char *const tiers[] = { "pgid", "subreaper", "auto" };
	struct jobd_client	*c;
	json_object		*r;
	char			 conf[512];
	size_t			 i;

	for (i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++) {
		snprintf(conf, sizeof(conf), "containment = %s\n"
		    "rlimit_nofile = 200\nrlimit_cpu = 100\nrlimit_nproc = "
		    "5000\nrlimit_fsize = 1M\nrlimit_as = 4G\nnice = 2\n",
		    tiers[i]);
		start_jobd(&J, conf);
		c = e2e_connect(&J);
		r = callf(c, "{\"op\":\"ping\"}");
		printf("rlimits: containment %s\n", jstr(r, "containment"));
		json_object_put(r);
		/* rlimit_core's default is 0. */
		expect_limits(c, "{}", "200\n0\n100\n1048576\n5000\n"
		    "4294967296\n2\n");
		expect_limits(c, "{\"rlimits\":{\"nofile\":64,\"cpu\":5,"
		    "\"nproc\":100,\"fsize\":4096,\"as\":1073741824},"
		    "\"nice\":7}", "64\n0\n5\n4096\n100\n1073741824\n7\n");
		expect_limit(call(c, run_req(jargv("true", NULL),
		    "{\"rlimits\":{\"nofile\":300}}")), JOBD_E_LIMIT,
		    "rlimit_nofile");
		expect_limit(call(c, run_req(jargv("true", NULL),
		    "{\"rlimits\":{\"core\":1}}")), JOBD_E_LIMIT, "rlimit_core");
		expect_limit(call(c, run_req(jargv("true", NULL),
		    "{\"nice\":1}")), JOBD_E_LIMIT, "nice");
		expect_error(call(c, run_req(jargv("true", NULL),
		    "{\"rlimits\":{\"stack\":1}}")), JOBD_E_BAD_REQUEST);
		expect_logged("rlimit_nofile");
		expect_logged("nice");
		e2e_close(c);
		stop_jobd(&J);
	}
}
END_TEST

/* 3b. jobctl's --rlimit and --nice reach the job; above a ceiling fails. */
START_TEST(test_jobctl_limits)
{
	char	 out[PATH_MAX], *text;
	int	 st;

	start_jobd(&J, "rlimit_nofile = 200\nnice = 1\n");
	path_in(&J, "jobctl.out", out, sizeof(out));
	st = run_jobctl(&J, NULL, "run", "--rlimit", "nofile=64", "--rlimit",
	    "cpu=7", "--rlimit", "fsize=8192", "--nice", "4", "--",
	    "/bin/sh", "-c", LIMITS_SCRIPT, NULL);
	ck_assert_ptr_nonnull(text = read_text(out, NULL));
	ck_assert_msg(st == 0 && strncmp(text, "64\n0\n7\n8192\n", 12) == 0 &&
	    strstr(text, "\n4\n") != NULL, "jobctl run: status %d, \"%s\"",
	    st, text);
	free(text);
	ck_assert_int_eq(unlink(out), 0);
	st = run_jobctl(&J, NULL, "submit", "--rlimit", "nofile=999", "--",
	    "true", NULL);
	ck_assert_ptr_nonnull(text = read_text(out, NULL));
	ck_assert_msg(st != 0 && strstr(text, "rlimit_nofile") != NULL,
	    "jobctl submit above the ceiling: status %d, \"%s\"", st, text);
	free(text);
	ck_assert_int_eq(unlink(out), 0);
	st = run_jobctl(&J, NULL, "submit", "--rlimit", "stack", "--", "true",
	    NULL);
	ck_assert_int_ne(st, 0);
}
END_TEST

/*
 * A job that notes its start and end in file (one line each, appended by
 * one write) and, between them, waits until gate exists (bounded).
 */
static json_object *
marked_job(const char *file, const char *name, const char *gate)
{
	char	script[PATH_MAX * 3];
	int	n;

	n = snprintf(script, sizeof(script),
	    "echo \"%s start $(date +%%s.%%N)\" >> %s; "
	    "i=0; while [ ! -e %s ] && [ $i -lt 200 ]; do sleep 0.05; "
	    "i=$((i+1)); done; "
	    "echo \"%s end $(date +%%s.%%N)\" >> %s",
	    name, file, gate, name, file);
	ck_assert(n > 0 && (size_t)n < sizeof(script));
	return (run_req(jargv("/bin/sh", "-c", script, NULL), "{}"));
}

/* The names and times of file's lines, in order: "A start 12.3". */
static int
read_marks(const char *file, char names[][40], double *t, int max)
{
	char	*text, *line, *save = NULL, what[16], name[16];
	int	 n = 0;

	ck_assert_ptr_nonnull(text = read_text(file, NULL));
	for (line = strtok_r(text, "\n", &save); line != NULL && n < max;
	    line = strtok_r(NULL, "\n", &save)) {
		ck_assert_msg(sscanf(line, "%15s %15s %lf", name, what,
		    &t[n]) == 3, "bad mark \"%s\"", line);
		snprintf(names[n], 40, "%s %s", name, what);
		n++;
	}
	free(text);
	return (n);
}

/*
 * 4. max_running_per_user = 1: two jobs of this uid run one after the
 * other, in submission order, though slots are free; their own marks say
 * so (the second starts after the first ended).
 */
START_TEST(test_running_per_user)
{
	struct jobd_client	*c;
	char			 file[PATH_MAX], gate[PATH_MAX];
	char			 names[8][40];
	double			 t[8];
	long long		 a, b;

	start_jobd(&J, "max_running = 4\nmax_running_per_user = 1\n");
	path_in(&J, "marks", file, sizeof(file));
	path_in(&J, "gate", gate, sizeof(gate));
	c = e2e_connect(&J);
	a = run_id(c, marked_job(file, "A", gate));
	b = run_id(c, marked_job(file, "B", gate));
	wait_job_state(c, a, "running", IO_MS);
	ck_assert(job_state_is(c, b, "queued"));
	write_file(gate, "", 0644);
	wait_job_state(c, b, "exited", IO_MS);
	ck_assert_int_eq(read_marks(file, names, t, 8), 4);
	ck_assert_str_eq(names[0], "A start");
	ck_assert_str_eq(names[1], "A end");
	ck_assert_str_eq(names[2], "B start");
	ck_assert_str_eq(names[3], "B end");
	ck_assert_msg(t[2] >= t[1], "B started (%f) before A ended (%f)",
	    t[2], t[1]);
}
END_TEST

/*
 * A throwaway user for the cases that need a second uid (root only), named
 * for the runner's pid: a failed test exits without its checked teardown,
 * so the runner's own (unchecked) teardown removes it by that name.
 */
static char	 tmp_user[32];
static pid_t	 runner_pid;

static void
user_remove(void)
{
	char	cmd[96];

	snprintf(tmp_user, sizeof(tmp_user), "jobdlim%ld", (long)runner_pid);
	if (getpwnam(tmp_user) == NULL) {
		tmp_user[0] = '\0';
		return;
	}
	/* -f: even if a job of its own outlived a failed test. */
	snprintf(cmd, sizeof(cmd), "userdel -f %s >/dev/null 2>&1", tmp_user);
	if (system(cmd) != 0)
		fprintf(stderr, "userdel %s failed\n", tmp_user);
	tmp_user[0] = '\0';
}

static int
user_create(uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;
	char		 cmd[160];

	snprintf(tmp_user, sizeof(tmp_user), "jobdlim%ld", (long)runner_pid);
	snprintf(cmd, sizeof(cmd), "useradd -r -M -s /bin/sh %s "
	    ">/dev/null 2>&1", tmp_user);
	if (system(cmd) != 0) {
		tmp_user[0] = '\0';
		return (-1);
	}
	if ((pw = getpwnam(tmp_user)) == NULL) {
		user_remove();
		return (-1);
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return (0);
}

static void
chown_tree(const char *dir, uid_t uid, gid_t gid)
{
	char	cmd[PATH_MAX + 64];

	snprintf(cmd, sizeof(cmd), "chown -R %lu:%lu '%s'",
	    (unsigned long)uid, (unsigned long)gid, dir);
	ck_assert_int_eq(system(cmd), 0);
}

static int
jobd_up(void *arg)
{
	struct jobd_inst	*ji = arg;
	struct jobd_client	*c;
	char			 err[256];
	json_object		*req, *r;
	int			 ok = 0;

	if ((c = jobd_connect(ji->sock, err, sizeof(err))) == NULL)
		return (0);
	set_recv_timeout(c, 1000);
	req = json_tokener_parse("{\"op\":\"ping\"}");
	r = jobd_call(c, req);
	json_object_put(req);
	if (r != NULL) {
		ok = 1;
		json_object_put(r);
	}
	jobd_close(c);
	return (ok);
}

/* Connect as uid: SO_PEERCRED takes the effective uid at connect(). */
static struct jobd_client *
connect_as(uid_t uid, gid_t gid)
{
	struct jobd_client	*c;

	ck_assert_int_eq(setresgid(gid, gid, 0), 0);
	ck_assert_int_eq(setresuid(uid, uid, 0), 0);
	c = e2e_connect(&J);
	ck_assert_int_eq(setresuid(0, 0, 0), 0);
	ck_assert_int_eq(setresgid(0, 0, 0), 0);
	return (c);
}

/*
 * 4b. A second uid's job is not held up by a first uid at its cap: root's
 * second job waits, the other user's runs meanwhile. jobd runs as the other
 * user (a jobd serves root and its own uid), so root is the first uid.
 */
START_TEST(test_running_per_user_two)
{
	struct jobd_client	*c, *u;
	char			 file[PATH_MAX], gate[PATH_MAX], names[8][40];
	double			 t[8];
	uid_t			 uid;
	gid_t			 gid;
	long long		 r1, r2, u1;
	int			 n, i, u_start = -1, u_end = -1;

	if (geteuid() != 0) {
		e2e_skip("max_running_per_user across users: needs root to "
		    "create a second user");
		return;
	}
	if (user_create(&uid, &gid) == -1) {
		e2e_skip("max_running_per_user across users: useradd failed");
		return;
	}
	/* A jobd made the directory, then stopped... */
	start_jobd(&J, "max_running = 4\nmax_running_per_user = 1\n"
	    "containment = subreaper\n");
	ck_assert_int_eq(kill(J.pid, SIGTERM), 0);
	ck_assert(reap_jobd(&J, E2E_STOP_TIMEOUT_MS));
	/* ...and started again as the other user, in a tree it owns. */
	chown_tree(J.dir, uid, gid);
	{
		char	parent[PATH_MAX], *slash;

		strlcpy(parent, J.dir, sizeof(parent));
		if ((slash = strrchr(parent, '/')) != NULL)
			*slash = '\0';
		ck_assert_int_eq(chmod(parent, 0711), 0);
	}
	ck_assert_int_eq(setresgid(gid, gid, 0), 0);
	ck_assert_int_eq(setresuid(uid, uid, 0), 0);
	J.pid = spawn_jobd(&J, J.log);
	ck_assert_int_eq(setresuid(0, 0, 0), 0);
	ck_assert_int_eq(setresgid(0, 0, 0), 0);
	ck_assert_msg(wait_until(jobd_up, &J, E2E_START_TIMEOUT_MS),
	    "jobd as %s did not answer", tmp_user);

	path_in(&J, "marks", file, sizeof(file));
	path_in(&J, "gate", gate, sizeof(gate));
	c = e2e_connect(&J);
	u = connect_as(uid, gid);
	r1 = run_id(c, marked_job(file, "R1", gate));
	r2 = run_id(c, marked_job(file, "R2", gate));
	wait_job_state(c, r1, "running", IO_MS);
	ck_assert(wait_until(has_lines, &(struct file_lines){ file, 1 },
	    IO_MS));
	/* The other user's job goes past root's waiting one, and ends. */
	u1 = run_id(u, run_req(jargv("/bin/sh", "-c", "echo \"U1 start "
	    "$(date +%s.%N)\" >> marks; echo \"U1 end $(date +%s.%N)\" >> "
	    "marks", NULL), "{\"cwd\":\"%s\"}", J.dir));
	wait_job_state(c, u1, "exited", IO_MS);
	ck_assert(job_state_is(c, r2, "queued"));
	write_file(gate, "", 0644);
	wait_job_state(c, r2, "exited", IO_MS);

	n = read_marks(file, names, t, 8);
	ck_assert_int_eq(n, 6);
	ck_assert_str_eq(names[0], "R1 start");
	for (i = 0; i < n; i++) {
		if (strcmp(names[i], "U1 start") == 0)
			u_start = i;
		if (strcmp(names[i], "U1 end") == 0)
			u_end = i;
	}
	/* U1 ran whole while R1 ran and R2 waited. */
	ck_assert_int_eq(u_start, 1);
	ck_assert_int_eq(u_end, 2);
	ck_assert_str_eq(names[3], "R1 end");
	ck_assert_str_eq(names[4], "R2 start");
	ck_assert_msg(t[4] >= t[3], "R2 started before R1 ended");
	e2e_close(u);
	e2e_close(c);
	stop_jobd(&J);
	user_remove();
}
END_TEST

/*
 * A reload that lifts max_running_per_user starts the user's parked jobs
 * at once, not when one of their running jobs ends.
 */
START_TEST(test_running_per_user_reload)
{
	struct jobd_client	*c;
	long long		 a, b;

	start_jobd(&J, "max_running_per_user = 1\n");
	c = e2e_connect(&J);
	a = run_id(c, run_req(jargv("sleep", "60", NULL), "{}"));
	b = run_id(c, run_req(jargv("sleep", "60", NULL), "{}"));
	wait_job_state(c, a, "running", IO_MS);
	wait_job_state(c, b, "queued", IO_MS);
	write_file(J.conf, "max_running_per_user = 0\n", 0644);
	ck_assert_int_eq(kill(J.pid, SIGHUP), 0);
	wait_job_state(c, b, "running", IO_MS);
	wait_job_state(c, a, "running", IO_MS);
}
END_TEST

/* 5. max_queued_per_user: the run beyond it fails with queue_full. */
START_TEST(test_queued_per_user)
{
	struct jobd_client	*c;
	char			 gate[PATH_MAX], file[PATH_MAX];
	long long		 a, b;

	start_jobd(&J, "max_running = 1\nmax_queued_per_user = 1\n");
	path_in(&J, "gate", gate, sizeof(gate));
	path_in(&J, "marks", file, sizeof(file));
	c = e2e_connect(&J);
	a = run_id(c, marked_job(file, "A", gate));
	b = run_id(c, marked_job(file, "B", gate));
	wait_job_state(c, a, "running", IO_MS);
	expect_limit(call(c, marked_job(file, "C", gate)),
	    JOBD_E_QUEUE_FULL, "max_queued_per_user");
	expect_logged("max_queued_per_user");
	write_file(gate, "", 0644);
	wait_job_state(c, b, "exited", IO_MS);
	/* Room again. */
	b = run_id(c, marked_job(file, "D", gate));
	wait_job_state(c, b, "exited", IO_MS);
}
END_TEST

/*
 * Open connections until one is refused; each accepted one answers a ping.
 * Returns how many were accepted; the refusal's line is checked.
 */
static int
fill_conns(int *fds, int max, const char *limit)
{
	char	line[1024], want[64];
	int	n;

	snprintf(want, sizeof(want), "\"limit\":\"%s\"", limit);
	for (n = 0; n < max; n++) {
		fds[n] = raw_connect(J.sock, 0);
		/*
		 * A refused connection may be closed before the ping goes
		 * out (EPIPE); its refusal line is still there to read.
		 */
		(void)write_all_within(fds[n], "{\"op\":\"ping\"}\n", 14,
		    IO_MS);
		ck_assert_msg(raw_line(fds[n], line, sizeof(line), IO_MS),
		    "connection %d: no answer", n);
		if (strstr(line, "\"ok\":true") != NULL)
			continue;
		ck_assert_msg(strstr(line, want) != NULL &&
		    strstr(line, "\"code\":\"limit\"") != NULL,
		    "refusal without limit %s: %s", limit, line);
		ck_assert_msg(raw_eof(fds[n], IO_MS), "refused connection "
		    "left open");
		close(fds[n]);
		return (n);
	}
	ck_abort_msg("no connection refused");
	return (-1);
}

/* A new connection is served: its fd in *arg (else -1, closed). */
static int
ping_ok(void *arg)
{
	int	*fd = arg;
	char	 line[1024];

	*fd = raw_connect(J.sock, 0);
	raw_send(*fd, "{\"op\":\"ping\"}\n");
	if (raw_line(*fd, line, sizeof(line), IO_MS) &&
	    strstr(line, "\"ok\":true") != NULL)
		return (1);
	close(*fd);
	*fd = -1;
	return (0);
}

/*
 * 6. max_conns_per_user and max_conns: the connection beyond is refused
 * with one error line naming the limit, and one that closes makes room.
 */
START_TEST(test_conn_caps)
{
	static const char *const limits[] = { "max_conns_per_user",
	    "max_conns" };
	int		fds[16], n, i, k;

	for (k = 0; k < 2; k++) {
		start_jobd(&J, k == 0 ? "max_conns_per_user = 3\n" :
		    "max_conns = 3\nmax_conns_per_user = 0\n");
		/* The start's own ping connection is gone first. */
		wait_conn_freed(1);
		n = fill_conns(fds, 16, limits[k]);
		ck_assert_int_eq(n, 3);
		expect_logged(limits[k]);
		close(fds[0]);
		/* Room once jobd has seen it close: bounded retries. */
		ck_assert_msg(wait_until(ping_ok, &fds[0], IO_MS),
		    "not served after a connection closed");
		for (i = 0; i < n; i++)
			if (fds[i] != -1)
				close(fds[i]);
		stop_jobd(&J);
	}
}
END_TEST

/*
 * 7. Slow-loris: half a line, then nothing. Cut with one error line after
 * client_idle_timeout, within a bound; its job with on_disconnect cancel
 * is cancelled; meanwhile another client is served, and one that waits
 * for a result longer than the timeout, between whole lines, is not cut.
 */
START_TEST(test_slow_loris)
{
	struct jobd_client	*c, *w;
	json_object		*r, *job;
	char			 line[1024];
	double			 t0, dt;
	long long		 id;
	int			 fd;

	start_jobd(&J, "client_idle_timeout = 1s\n");
	c = e2e_connect(&J);
	w = e2e_connect(&J);
	/* The waiter: a result 2.5 s away, no bytes in between. */
	send_req(w, run_req(jargv("sleep", "2.5", NULL),
	    "{\"wait\":true}"));
	r = recv_resp(w);
	expect_ok(r);
	json_object_put(r);

	fd = raw_connect(J.sock, 0);
	raw_send(fd, "{\"op\":\"run\",\"argv\":[\"sleep\",\"30\"],"
	    "\"on_disconnect\":\"cancel\"}\n");
	ck_assert(raw_line(fd, line, sizeof(line), IO_MS));
	ck_assert_msg(strstr(line, "\"id\":") != NULL &&
	    sscanf(strstr(line, "\"id\":") + 5, "%lld", &id) == 1,
	    "no id in %s", line);
	t0 = now_mono();
	raw_send(fd, "{\"op\":\"pi");
	/* Served meanwhile. */
	expect_ping(c);
	ck_assert_msg(raw_line(fd, line, sizeof(line), 5000),
	    "no error line for the half-sent line");
	dt = now_mono() - t0;
	ck_assert_msg(strstr(line, "\"limit\":\"client_idle_timeout\"") !=
	    NULL, "not the idle limit: %s", line);
	ck_assert_msg(dt >= 0.9 && dt < 4.0, "cut after %.2f s, not about "
	    "1 s", dt);
	ck_assert_msg(raw_eof(fd, IO_MS), "not disconnected");
	close(fd);
	expect_logged("client_idle_timeout");
	wait_job_state(c, id, "cancelled", IO_MS);

	/* The waiter was not cut: its result comes. */
	r = recv_resp(w);
	expect_ok(r);
	job = jget(r, "job");
	ck_assert_str_eq(jstr(job, "state"), "exited");
	json_object_put(r);
	expect_ping(w);
}
END_TEST

/*
 * A client that half-closes after a partial line still waits for its
 * result: the line cut by EOF is dropped, and the idle clock with it.
 */
START_TEST(test_halfclose_partial)
{
	char	buf[4096];
	size_t	len = 0;
	int	fd;

	start_jobd(&J, "client_idle_timeout = 1s\n");
	fd = raw_connect(J.sock, 0);
	raw_send(fd, "{\"op\":\"run\",\"argv\":[\"sleep\",\"2.5\"],"
	    "\"wait\":true}\n{\"op\":\"pi");
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_msg(read_until(fd, buf, sizeof(buf), &len,
	    "\"state\":\"exited\"", 10000),
	    "no result after the half-close: %s", buf);
	ck_assert_msg(strstr(buf, "client_idle_timeout") == NULL,
	    "a half-closed waiter was cut: %s", buf);
	close(fd);
}
END_TEST

/*
 * A reload that makes max_line smaller than a line already half-read: the
 * line is refused as too long and the connection goes on, rather than
 * stalling with its reading stopped.
 */
START_TEST(test_max_line_shrinks)
{
	char	buf[4096], *big;
	size_t	len = 0;
	int	fd;

	start_jobd(&J, "max_line = 64k\nclient_idle_timeout = 0\n");
	fd = raw_connect(J.sock, 0);
	big = malloc(10001);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 10000);
	big[10000] = '\0';
	memcpy(big, "{\"op\":\"ping\",\"tag\":\"", 20);
	raw_send(fd, big);
	write_file(J.conf, "max_line = 1k\nclient_idle_timeout = 0\n", 0644);
	ck_assert_int_eq(kill(J.pid, SIGHUP), 0);
	wait_log("max_line changed", 10000);
	raw_send(fd, "\"}\n{\"op\":\"ping\",\"tag\":\"after\"}\n");
	ck_assert_msg(read_until(fd, buf, sizeof(buf), &len, "\"after\"",
	    10000), "no answer after max_line shrank: %s", buf);
	ck_assert_msg(strstr(buf, "\"too_large\"") != NULL,
	    "the long line was not refused: %s", buf);
	free(big);
	close(fd);
}
END_TEST

/*
 * 8. A reader that never reads: past max_reply_buffer it is disconnected;
 * jobd serves others all along.
 */
START_TEST(test_never_reads)
{
	struct jobd_client	*c;
	static const char	 req[] = "{\"op\":\"list\"}\n";
	double			 deadline;
	size_t			 sent = 0;
	ssize_t			 n;
	int			 fd, cut = 0, i;

	start_jobd(&J, "max_reply_buffer = 64k\nmax_output_limit = 10k\n"
	    "max_output = 1k\n");
	c = e2e_connect(&J);
	/* Some jobs, so that each list answer is a few kB. */
	for (i = 0; i < 20; i++)
		json_object_put(run_wait(c, run_req(jargv("true", NULL),
		    "{}"), NULL));
	fd = raw_connect(J.sock, 1);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	deadline = now_mono() + IO_MS / 1000.0;
	while (!cut && now_mono() < deadline) {
		n = send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL);
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			cut = 1;
		else if (n == -1 && errno == EAGAIN) {
			struct pollfd	pfd = { fd, POLLOUT, 0 };

			(void)poll(&pfd, 1, 50);
			if (pfd.revents & (POLLHUP | POLLERR))
				cut = 1;
		} else {
			ck_assert_msg(n > 0, "send: %s", strerror(errno));
			sent += (size_t)n;
		}
	}
	ck_assert_msg(cut, "a client that never reads was not cut (%zu bytes "
	    "of requests sent)", sent);
	expect_logged("max_reply_buffer");
	close(fd);
	expect_ping(c);
}
END_TEST

/* The test's own soft descriptor limit up to at least want, or 0. */
static int
raise_nofile(rlim_t want)
{
	struct rlimit	rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < want)
		return (0);
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	return (1);
}

/*
 * A FUSE file system whose FLUSH, sent at every close() of one of its
 * files, is never answered: the one file "f" opens, closing it hangs.
 * Served by a child on /dev/fuse fd dev until killed.
 */
static void
fuse_reply(int dev, uint64_t unique, int err, const void *body, size_t len)
{
	char			 buf[512];
	struct fuse_out_header	 h;

	h.len = (uint32_t)(sizeof(h) + len);
	h.error = err;
	h.unique = unique;
	memcpy(buf, &h, sizeof(h));
	if (len > 0)
		memcpy(buf + sizeof(h), body, len);
	(void)write(dev, buf, h.len);
}

static void
fuse_attr_of(struct fuse_attr *a, uint64_t ino)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->mode = ino == 1 ? (S_IFDIR | 0755) : (S_IFREG | 0644);
	a->nlink = 1;
	a->blksize = 4096;
}

static void
fuse_serve(int dev)
{
	static char		 buf[1 << 17];
	struct fuse_in_header	*in = (struct fuse_in_header *)buf;
	struct fuse_init_out	 init;
	struct fuse_entry_out	 entry;
	struct fuse_attr_out	 attr;
	struct fuse_open_out	 open_out;
	ssize_t			 n;

	for (;;) {
		if ((n = read(dev, buf, sizeof(buf))) < (ssize_t)sizeof(*in))
			_exit(0);
		switch (in->opcode) {
		case FUSE_INIT:
			memset(&init, 0, sizeof(init));
			init.major = FUSE_KERNEL_VERSION;
			init.minor = FUSE_KERNEL_MINOR_VERSION;
			init.max_write = 4096;
			init.max_readahead = 4096;
			fuse_reply(dev, in->unique, 0, &init, sizeof(init));
			break;
		case FUSE_LOOKUP:
			if (strcmp(buf + sizeof(*in), "f") != 0) {
				fuse_reply(dev, in->unique, -ENOENT, NULL, 0);
				break;
			}
			memset(&entry, 0, sizeof(entry));
			entry.nodeid = 2;
			entry.entry_valid = entry.attr_valid = 60;
			fuse_attr_of(&entry.attr, 2);
			fuse_reply(dev, in->unique, 0, &entry, sizeof(entry));
			break;
		case FUSE_GETATTR:
			memset(&attr, 0, sizeof(attr));
			attr.attr_valid = 60;
			fuse_attr_of(&attr.attr, in->nodeid);
			fuse_reply(dev, in->unique, 0, &attr, sizeof(attr));
			break;
		case FUSE_OPEN:
		case FUSE_OPENDIR:
			memset(&open_out, 0, sizeof(open_out));
			open_out.fh = 1;
			fuse_reply(dev, in->unique, 0, &open_out,
			    sizeof(open_out));
			break;
		case FUSE_FLUSH:		/* never answered */
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
		case FUSE_INTERRUPT:
			break;
		case FUSE_RELEASE:
		case FUSE_RELEASEDIR:
			fuse_reply(dev, in->unique, 0, NULL, 0);
			break;
		default:
			fuse_reply(dev, in->unique, -ENOSYS, NULL, 0);
			break;
		}
	}
}

/* Send line with one descriptor (SCM_RIGHTS). */
static void
send_with_fd(int sock, const char *line, int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr	 msg;
	struct iovec	 iov;
	struct cmsghdr	*c;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)line;
	iov.iov_len = strlen(line);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	ck_assert_msg(sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)iov.iov_len,
	    "sendmsg: %s", strerror(errno));
}

/*
 * 10. A client passes a descriptor of a file whose close() never returns
 * (FUSE, FLUSH unanswered; a user may serve such a file system). jobd
 * closes what it is passed off its loop (closer.c): others are served.
 */
START_TEST(test_fuse_passed_fd)
{
	struct jobd_client	*c;
	char			 mnt[PATH_MAX], file[PATH_MAX + 4], opts[128];
	char			 line[1024];
	pid_t			 server;
	int			 dev, fd, sock;

	if (geteuid() != 0) {
		e2e_skip("needs root to mount a FUSE file system");
		return;
	}
	if ((dev = open("/dev/fuse", O_RDWR | O_CLOEXEC)) == -1) {
		e2e_skip("no /dev/fuse (%s): cannot serve a FUSE file system",
		    strerror(errno));
		return;
	}
	start_jobd(&J, NULL);
	/*
	 * The mount in a namespace of the test's own (jobd, started before,
	 * stays outside; it only gets a descriptor): gone with the test's
	 * process, even one that fails half-way.
	 */
	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1) {
		close(dev);
		e2e_skip("no private mount namespace: %s", strerror(errno));
		return;
	}
	path_in(&J, "fuse", mnt, sizeof(mnt));
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,"
	    "group_id=0", dev);
	if (mount("jobd-test", mnt, "fuse", MS_NOSUID | MS_NODEV, opts) == -1) {
		close(dev);
		e2e_skip("mount fuse: %s", strerror(errno));
		return;
	}
	server = fork();
	ck_assert_msg(server != -1, "fork: %s", strerror(errno));
	if (server == 0)
		fuse_serve(dev);
	track_pid(server);
	close(dev);
	snprintf(file, sizeof(file), "%s/f", mnt);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd != -1, "open %s: %s", file, strerror(errno));

	sock = raw_connect(J.sock, 0);
	send_with_fd(sock, "{\"op\":\"ping\"}\n", fd);
	ck_assert_msg(raw_line(sock, line, sizeof(line), IO_MS),
	    "no answer to the request that passed the descriptor");
	/* jobd closed its copy, which hangs in FLUSH: others are served. */
	c = e2e_connect(&J);
	expect_ping(c);
	e2e_close(c);

	/* The server gone, the connection aborts and every close returns. */
	kill(server, SIGKILL);
	reap_or_kill(server, 5000, "the FUSE server");
	untrack_pid(server);
	ck_assert_int_eq(umount2(mnt, MNT_DETACH), 0);
	close(fd);
	close(sock);
}
END_TEST

/* 9. A thousand connections at once, each answered. */
START_TEST(test_thousand)
{
	static int	fds[NCONNS];
	char		line[256];
	size_t		len;
	double		deadline;
	int		i, answered = 0;

	if (!raise_nofile(NCONNS + 64)) {
		e2e_skip("%d connections: the hard RLIMIT_NOFILE is below %d",
		    NCONNS, NCONNS + 64);
		return;
	}
	start_jobd(&J, "max_conns_per_user = 2000\n");
	for (i = 0; i < NCONNS; i++) {
		fds[i] = raw_connect(J.sock, 0);
		ck_assert_int_eq(write_all_within(fds[i], "{\"op\":\"ping\"}\n",
		    14, IO_MS), 1);
	}
	deadline = now_mono() + 30;
	for (i = 0; i < NCONNS; i++) {
		len = 0;
		if (read_until(fds[i], line, sizeof(line), &len, "\n",
		    (int)((deadline - now_mono()) * 1000) + 1) &&
		    strstr(line, "\"ok\":true") != NULL)
			answered++;
	}
	for (i = 0; i < NCONNS; i++)
		close(fds[i]);
	ck_assert_int_eq(answered, NCONNS);
}
END_TEST

/* utime + stime of pid, in seconds. */
static double
cpu_seconds(pid_t pid)
{
	char		 path[64], *text, *p;
	unsigned long	 ut, st;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	ck_assert_ptr_nonnull(text = read_text(path, NULL));
	ck_assert_ptr_nonnull(p = strrchr(text, ')'));
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %lu %lu", &ut, &st), 2);
	free(text);
	return ((double)(ut + st) / (double)sysconf(_SC_CLK_TCK));
}

/*
 * 10. Descriptors run out at accept: jobd (RLIMIT_NOFILE 48) pauses
 * accepting, says so, does not spin, and serves again once connections
 * close: the ones waiting in the backlog, and a new one.
 */
START_TEST(test_emfile)
{
	struct rlimit	rl = { 48, 48 };
	int		fds[200], nfds = 0, i, fd, waiting = -1;
	char		line[256];
	size_t		len;
	double		cpu0, cpu1, t0;
	struct timespec	ts = { 0, 100 * 1000 * 1000 };

	start_jobd(&J, "max_conns_per_user = 0\nmax_conns = 0\n");
	ck_assert_msg(prlimit(J.pid, RLIMIT_NOFILE, &rl, NULL) == 0,
	    "prlimit: %s", strerror(errno));
	/* Open until jobd stops answering: the last one waits in backlog. */
	for (i = 0; i < 200 && waiting == -1; i++) {
		if ((fd = raw_connect(J.sock, 1)) == -1)
			break;
		fds[nfds++] = fd;
		ck_assert_int_eq(write_all_within(fd, "{\"op\":\"ping\"}\n", 14,
		    IO_MS), 1);
		len = 0;
		if (!read_until(fd, line, sizeof(line), &len, "\n", 1000))
			waiting = nfds - 1;
	}
	ck_assert_msg(waiting != -1, "jobd answered all %d connections", nfds);
	wait_log("pausing", IO_MS);
	/*
	 * Paused: its CPU time barely moves over two seconds. Paused, jobd
	 * uses ~0 (a retry every 100 ms); spinning, it used 0.14 s a second
	 * even on a machine loaded 7 times over: the bound tells them apart
	 * without needing the CPU to itself.
	 */
	cpu0 = cpu_seconds(J.pid);
	t0 = now_mono();
	while (now_mono() - t0 < 2.0)
		nanosleep(&ts, NULL);
	cpu1 = cpu_seconds(J.pid);
	ck_assert_msg(cpu1 - cpu0 < 0.05, "jobd used %.2f s of CPU in 2 s "
	    "while paused: it spins", cpu1 - cpu0);
	/* Room: the waiting connection is served, and so is a new one. */
	for (i = 0; i < 10 && i < waiting; i++)
		close(fds[i]);
	len = 0;
	ck_assert_msg(read_until(fds[waiting], line, sizeof(line), &len, "\n",
	    IO_MS) && strstr(line, "\"ok\":true") != NULL,
	    "the connection that waited was not served");
	for (i = 10; i < nfds; i++)
		close(fds[i]);
	wait_log("available again", IO_MS);
	{
		struct jobd_client	*c = e2e_connect(&J);

		expect_ping(c);
	}
}
END_TEST

/* jobd first: userdel refuses a user whose processes run. */
static void
teardown(void)
{
	e2e_teardown();
	user_remove();
}

/* In the runner, after each case, whatever happened in it. */
static void
sweep(void)
{
	e2e_sweep();
	user_remove();
}

static void
add(Suite *s, const char *name, const TTest *t)
{
	TCase	*tc = tcase_create(name);

	/* Checked: in the test's process. Unchecked: in the runner. */
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_unchecked_fixture(tc, NULL, sweep);
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

static Suite *
limits_suite(void)
{
	Suite	*s = suite_create("limits");

	add(s, "long_line", test_long_line);
	add(s, "request_sizes", test_request_sizes);
	add(s, "rlimits", test_rlimits);
	add(s, "jobctl_limits", test_jobctl_limits);
	add(s, "running_per_user", test_running_per_user);
	add(s, "running_per_user_two", test_running_per_user_two);
	add(s, "running_per_user_reload", test_running_per_user_reload);
	add(s, "queued_per_user", test_queued_per_user);
	add(s, "conn_caps", test_conn_caps);
	add(s, "slow_loris", test_slow_loris);
	add(s, "halfclose_partial", test_halfclose_partial);
	add(s, "max_line_shrinks", test_max_line_shrinks);
	add(s, "never_reads", test_never_reads);
	add(s, "thousand", test_thousand);
	add(s, "emfile", test_emfile);
	add(s, "fuse_passed_fd", test_fuse_passed_fd);
	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	runner_pid = getpid();
	e2e_global_init();
	sr = srunner_create(limits_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	e2e_global_fini();
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
