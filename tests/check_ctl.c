/*
 * Integration tests of jobctl run and jobctl timeout (issue 3): a real jobd
 * per test, and jobctl with the stdin, stdout and stderr a user would give
 * it (pipes, files), which it passes to the job. Each test checks what the
 * user sees: the bytes, their timing, the exit status, the messages; and
 * that nothing of a job is left once it should be gone.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"
#include "jobd-protocol.h"

#define TEST_TIMEOUT	30
#define TABLE_TIMEOUT	120
#define CTL_MS		20000		/* bound on any one jobctl run */
#define TIMEOUT_BIN	"/usr/bin/timeout"

/* What a finished program left: normalised status, stdout and stderr. */
struct outcome {
	int	 status;
	double	 elapsed;
	char	*out;
	size_t	 outlen;
	char	*err;
};

Suite		*ctl_suite(void);

static void	run_files(const struct proc_spec *, const char *const argv[],
		    struct outcome *);
static void	run_ctl(const char *const argv[], struct outcome *);
static void	free_outcome(struct outcome *);
static int	open_in(const char *);
static void	fill_file(const char *, const void *, size_t);
static int	count_lines(const char *, size_t);
static int	file_exists(void *);
static int	pids_dead(void *);
static const char *last_line(char *);
static void	expect_forwarded(int, const char *);
static void	add(Suite *, const char *, const TTest *, int);

static struct jobd_inst	J;
static int		seq;

/*
 * Run a program to its end with stdout and stderr in files of the test's
 * directory (unless ps names other descriptors), and collect them.
 */
static void
run_files(const struct proc_spec *ps0, const char *const argv[],
    struct outcome *o)
{
	struct proc_spec	ps = *ps0;
	char			out[PATH_MAX], err[PATH_MAX], name[32];
	double			t0;
	pid_t			pid;
	int			ofd = -1, efd = -1;

	seq++;
	snprintf(name, sizeof(name), "out.%d", seq);
	path_in(&J, name, out, sizeof(out));
	snprintf(name, sizeof(name), "err.%d", seq);
	path_in(&J, name, err, sizeof(err));
	if (ps.fd[1] == -1) {
		ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		ck_assert_msg(ofd != -1, "open %s: %s", out, strerror(errno));
		ps.fd[1] = ofd;
	}
	if (ps.fd[2] == -1) {
		efd = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		ck_assert_msg(efd != -1, "open %s: %s", err, strerror(errno));
		ps.fd[2] = efd;
	}
	t0 = now_mono();
	pid = spawn_proc(&J, &ps, argv);
	if (ofd != -1)
		close(ofd);
	if (efd != -1)
		close(efd);
	o->status = reap_or_kill(pid, CTL_MS, argv[0]);
	o->elapsed = now_mono() - t0;
	o->out = read_text(out, &o->outlen);
	o->err = read_text(err, NULL);
	ck_assert(o->out != NULL && o->err != NULL);
}

/* jobctl with argv (argv[0] "jobctl"), stdin /dev/null. */
static void
run_ctl(const char *const argv[], struct outcome *o)
{
	struct proc_spec	ps;

	proc_spec_init(&ps);
	run_files(&ps, argv, o);
}

static void
free_outcome(struct outcome *o)
{
	free(o->out);
	free(o->err);
	o->out = o->err = NULL;
}

static int
open_in(const char *path)
{
	int	fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd != -1, "open %s: %s", path, strerror(errno));
	return (fd);
}

static void
fill_file(const char *path, const void *buf, size_t len)
{
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_msg(fd != -1, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, buf, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

static int
count_lines(const char *buf, size_t len)
{
	size_t	i;
	int	n = 0;

	for (i = 0; i < len; i++)
		if (buf[i] == '\n')
			n++;
	return (n);
}

static int
file_exists(void *arg)
{
	return (access((const char *)arg, F_OK) == 0);
}

struct pid_list {
	pid_t	*pids;
	int	 n;
};

static int
pids_dead(void *arg)
{
	struct pid_list	*pl = arg;
	int		 i;

	for (i = 0; i < pl->n; i++)
		if (pid_alive(pl->pids[i]))
			return (0);
	return (1);
}

/* The last non-empty line of text (modified in place). */
static const char *
last_line(char *text)
{
	char	*end = text + strlen(text), *p;

	while (end > text && end[-1] == '\n')
		end--;
	for (p = end; p > text && p[-1] != '\n'; p--)
		;
	*end = '\0';
	return (p);
}

/*
 * 1. Output is live: the job's first line reaches the reader of jobctl's
 * stdout while the job still sleeps, and jobctl is still running.
 */
START_TEST(live_output_ordering)
{
	struct proc_spec	 ps;
	const char		*argv[] = { "jobctl", "run", "--", "sh", "-c",
	    "echo first; sleep 3; echo second", NULL };
	char			 buf[256];
	size_t			 len = 0;
	double			 t0, t_first, t_second;
	pid_t			 pid;
	int			 p[2];

	start_jobd(&J, NULL);
	cloexec_pipe(p);
	proc_spec_init(&ps);
	ps.fd[1] = p[1];
	t0 = now_mono();
	pid = spawn_proc(&J, &ps, argv);
	close(p[1]);

	ck_assert_msg(read_until(p[0], buf, sizeof(buf), &len, "\n", 10000),
	    "no line from the job within 10 s (got \"%s\")", buf);
	t_first = now_mono() - t0;
	ck_assert_str_eq(buf, "first\n");
	ck_assert_msg(t_first < 2.5, "the first line took %.2f s: not live",
	    t_first);
	ck_assert_msg(!fd_readable(p[0]),
	    "more than the first line is already there");
	ck_assert_msg(reap_within(pid, NULL, 0) == 0,
	    "jobctl exited before the job's second line");

	len = 0;
	ck_assert_msg(read_until(p[0], buf, sizeof(buf), &len, "\n", 10000),
	    "no second line within 10 s (got \"%s\")", buf);
	t_second = now_mono() - t0;
	ck_assert_str_eq(buf, "second\n");
	ck_assert_msg(t_second - t_first >= 2.0,
	    "the lines came %.2f s apart; the job slept 3 s between them",
	    t_second - t_first);
	len = 0;
	ck_assert_msg(read_to_eof(p[0], buf, sizeof(buf), &len, 10000),
	    "no EOF on jobctl's stdout after the job ended");
	ck_assert_uint_eq(len, 0);
	close(p[0]);
	ck_assert_int_eq(reap_or_kill(pid, CTL_MS, "jobctl"), 0);
}
END_TEST

/*
 * 2. stdin: `jobctl run -- cat < file | (test)` and `... -- wc -l < file`.
 */
START_TEST(stdin_piping)
{
	struct proc_spec	 ps;
	struct outcome		 o;
	const char		*cat[] = { "jobctl", "run", "--", "cat", NULL };
	const char		*wc[] = { "jobctl", "run", "--", "wc", "-l",
	    NULL };
	char			 path[PATH_MAX], *text, *out;
	size_t			 len = 0, tlen = 0, big = 64 * 1024, i;
	pid_t			 pid;
	int			 p[2], in;

	start_jobd(&J, NULL);
	text = malloc(1000 * 16);
	ck_assert_ptr_nonnull(text);
	for (i = 1; i <= 1000; i++)
		tlen += (size_t)sprintf(text + tlen, "line %zu\n", i);
	path_in(&J, "lines", path, sizeof(path));
	fill_file(path, text, tlen);

	/* cat < file | (the test) */
	out = malloc(big + 1);
	ck_assert_ptr_nonnull(out);
	cloexec_pipe(p);
	proc_spec_init(&ps);
	ps.fd[0] = in = open_in(path);
	ps.fd[1] = p[1];
	pid = spawn_proc(&J, &ps, cat);
	close(in);
	close(p[1]);
	ck_assert_msg(read_to_eof(p[0], out, big + 1, &len, 15000),
	    "no EOF from jobctl run -- cat < file within 15 s");
	close(p[0]);
	ck_assert_int_eq(reap_or_kill(pid, CTL_MS, "jobctl"), 0);
	ck_assert_int_eq(count_lines(out, len), 1000);
	ck_assert_uint_eq(len, tlen);
	ck_assert(memcmp(out, text, tlen) == 0);

	/* wc -l < file */
	proc_spec_init(&ps);
	ps.fd[0] = in = open_in(path);
	run_files(&ps, wc, &o);
	close(in);
	ck_assert_int_eq(o.status, 0);
	ck_assert_str_eq(o.out, "1000\n");
	ck_assert_str_eq(o.err, "");
	free_outcome(&o);

	free(out);
	free(text);
}
END_TEST

/*
 * 2b. `(test) | jobctl run -- cat > file` with 300 KB: more than a pipe
 * holds, so the stream must flow while the job runs; it arrives whole.
 */
START_TEST(stdin_pipe_300k_content)
{
	struct proc_spec	 ps;
	const char		*cat[] = { "jobctl", "run", "--", "cat", NULL };
	char			 path[PATH_MAX], *data, *got;
	size_t			 big = 300 * 1024, len, i;
	pid_t			 pid;
	int			 p[2], ofd;

	start_jobd(&J, NULL);
	data = malloc(big);
	ck_assert_ptr_nonnull(data);
	for (i = 0; i < big; i++)
		data[i] = i % 80 == 79 ? '\n' : (char)('A' + i % 26);
	path_in(&J, "cat.out", path, sizeof(path));
	ofd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert(ofd != -1);
	cloexec_pipe(p);
	proc_spec_init(&ps);
	ps.fd[0] = p[0];
	ps.fd[1] = ofd;
	pid = spawn_proc(&J, &ps, cat);
	close(p[0]);
	close(ofd);
	ck_assert_msg(write_all_within(p[1], data, big, 15000),
	    "could not write 300 KB to jobctl's stdin within 15 s");
	close(p[1]);
	ck_assert_int_eq(reap_or_kill(pid, CTL_MS, "jobctl"), 0);
	got = read_text(path, &len);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(len, big);
	ck_assert(memcmp(got, data, big) == 0);
	free(got);
	free(data);
}
END_TEST

/*
 * 3. Binary passthrough: every byte value, 256 times over, through cat
 * from a file to a file, on stdout and on stderr, byte for byte.
 */
START_TEST(binary_passthrough)
{
	struct proc_spec	 ps;
	struct outcome		 o;
	const char		*cat[] = { "jobctl", "run", "--", "cat", NULL };
	const char		*cat2[] = { "jobctl", "run", "--", "sh", "-c",
	    "cat >&2", NULL };
	unsigned char		 data[256 * 256];
	char			 path[PATH_MAX], errpath[PATH_MAX], *got;
	char			 name[32];
	size_t			 i, len;
	int			 in;

	start_jobd(&J, NULL);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i % 256);
	path_in(&J, "bytes", path, sizeof(path));
	fill_file(path, data, sizeof(data));

	proc_spec_init(&ps);
	ps.fd[0] = in = open_in(path);
	run_files(&ps, cat, &o);
	close(in);
	ck_assert_int_eq(o.status, 0);
	ck_assert_uint_eq(o.outlen, sizeof(data));
	ck_assert_msg(memcmp(o.out, data, sizeof(data)) == 0,
	    "stdout differs from the input");
	ck_assert_str_eq(o.err, "");
	free_outcome(&o);

	proc_spec_init(&ps);
	ps.fd[0] = in = open_in(path);
	run_files(&ps, cat2, &o);
	close(in);
	ck_assert_int_eq(o.status, 0);
	ck_assert_uint_eq(o.outlen, 0);
	snprintf(name, sizeof(name), "err.%d", seq);
	path_in(&J, name, errpath, sizeof(errpath));
	got = read_text(errpath, &len);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(len, sizeof(data));
	ck_assert_msg(memcmp(got, data, sizeof(data)) == 0,
	    "stderr differs from the input");
	free(got);
	free_outcome(&o);
}
END_TEST

/*
 * 4. `jobctl run -- yes | head -c 2`: yes dies of SIGPIPE, and jobctl
 * ends as `yes` itself does on the left of such a pipe: status 141, no
 * "Broken pipe" message.
 */
struct pipe_end {
	int	status;
	char	*err;
};

static void
yes_into_closed_pipe(const char *path, const char *const argv[],
    struct pipe_end *pe)
{
	struct proc_spec	ps;
	char			buf[64], err[PATH_MAX], name[32];
	size_t			len = 0;
	pid_t			pid;
	int			p[2], efd;

	snprintf(name, sizeof(name), "yes-err.%d", ++seq);
	path_in(&J, name, err, sizeof(err));
	efd = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert(efd != -1);
	cloexec_pipe(p);
	proc_spec_init(&ps);
	ps.path = path;
	ps.fd[1] = p[1];
	ps.fd[2] = efd;
	pid = spawn_proc(&J, &ps, argv);
	close(p[1]);
	close(efd);
	ck_assert_msg(read_until(p[0], buf, sizeof(buf), &len, "y\ny\n",
	    10000), "%s: no \"y\\ny\\n\" within 10 s", argv[0]);
	close(p[0]);
	pe->status = reap_or_kill(pid, CTL_MS, argv[0]);
	pe->err = read_text(err, NULL);
	ck_assert_ptr_nonnull(pe->err);
}

START_TEST(sigpipe_like_local)
{
	const char	*ctl[] = { "jobctl", "run", "--", "yes", NULL };
	const char	*yes[] = { "yes", NULL };
	struct pipe_end	 local, remote;

	start_jobd(&J, NULL);
	yes_into_closed_pipe("/usr/bin/yes", yes, &local);
	yes_into_closed_pipe(NULL, ctl, &remote);
	ck_assert_msg(local.status == 128 + SIGPIPE,
	    "yes itself ended with %d, not 141: the harness is wrong",
	    local.status);
	ck_assert_msg(remote.status == local.status,
	    "jobctl run -- yes | head: status %d, yes | head: %d",
	    remote.status, local.status);
	ck_assert_msg(strstr(remote.err, "Broken pipe") == NULL &&
	    strcmp(remote.err, local.err) == 0,
	    "jobctl's stderr \"%s\", yes's \"%s\"", remote.err, local.err);
	free(local.err);
	free(remote.err);
}
END_TEST

/*
 * 5. Ctrl-C: SIGINT to jobctl reaches the job, whose trap prints and
 * exits 7, and jobctl exits 7. Likewise SIGTERM, SIGHUP and SIGQUIT.
 */
static void
expect_forwarded(int sig, const char *name)
{
	struct proc_spec	 ps;
	const char		*argv[] = { "jobctl", "run", "--", "sh", "-c",
	    NULL, NULL };
	char			 cmd[256], buf[256], want[64];
	size_t			 len = 0;
	pid_t			 pid;
	int			 p[2];

	snprintf(cmd, sizeof(cmd), "trap \"echo got %s; exit 7\" %s; "
	    "echo ready; while :; do sleep 0.05; done", name, name);
	argv[5] = cmd;
	cloexec_pipe(p);
	proc_spec_init(&ps);
	ps.fd[1] = p[1];
	pid = spawn_proc(&J, &ps, argv);
	close(p[1]);
	ck_assert_msg(read_until(p[0], buf, sizeof(buf), &len, "ready\n",
	    10000), "SIG%s: no \"ready\" within 10 s (got \"%s\")", name, buf);
	ck_assert_int_eq(kill(pid, sig), 0);
	snprintf(want, sizeof(want), "got %s\n", name);
	ck_assert_msg(read_until(p[0], buf, sizeof(buf), &len, want, 10000),
	    "SIG%s to jobctl: the job did not print \"got %s\" (got \"%s\")",
	    name, name, buf);
	ck_assert_msg(read_to_eof(p[0], buf, sizeof(buf), &len, 10000),
	    "SIG%s: no EOF on jobctl's stdout", name);
	close(p[0]);
	snprintf(cmd, sizeof(cmd), "ready\n%s", want);
	ck_assert_str_eq(buf, cmd);
	ck_assert_int_eq(reap_or_kill(pid, CTL_MS, "jobctl"), 7);
}

START_TEST(ctrl_c_forwarded)
{
	start_jobd(&J, NULL);
	expect_forwarded(SIGINT, "INT");
}
END_TEST

START_TEST(term_hup_quit_forwarded)
{
	start_jobd(&J, NULL);
	expect_forwarded(SIGTERM, "TERM");
	expect_forwarded(SIGHUP, "HUP");
	expect_forwarded(SIGQUIT, "QUIT");
}
END_TEST

/*
 * 6. jobctl killed with SIGKILL: the job (leader and child) is cancelled
 * and gone within a bound.
 */
START_TEST(sigkill_cancels_job)
{
	struct proc_spec	 ps;
	struct jobd_client	*c;
	struct file_lines	 fl;
	struct pid_list		 pl;
	json_object		*r, *jobs, *job;
	const char		*argv[] = { "jobctl", "run", "--", "sh", "-c",
	    NULL, NULL };
	char			 pidfile[PATH_MAX], cmd[2 * PATH_MAX + 64];
	pid_t			 pid, pids[4];
	long long		 id;
	int			 n;

	start_jobd(&J, NULL);
	path_in(&J, "pids", pidfile, sizeof(pidfile));
	snprintf(cmd, sizeof(cmd),
	    "echo $$ > %s; sleep 100 & echo $! >> %s; wait", pidfile, pidfile);
	argv[5] = cmd;
	proc_spec_init(&ps);
	pid = spawn_proc(&J, &ps, argv);
	fl.path = pidfile;
	fl.min = 2;
	ck_assert_msg(wait_until(has_lines, &fl, 10000),
	    "the job did not write its pids within 10 s");
	n = read_pids(pidfile, pids, 4);
	ck_assert_int_eq(n, 2);

	c = e2e_connect(&J);
	r = callf(c, "{\"op\":\"list\"}");
	expect_ok(r);
	jobs = jget(r, "jobs");
	ck_assert_int_eq(json_object_array_length(jobs), 1);
	id = jint(json_object_array_get_idx(jobs, 0), "id");
	json_object_put(r);

	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(reap_or_kill(pid, 5000, "jobctl"), 128 + SIGKILL);
	pl.pids = pids;
	pl.n = n;
	ck_assert_msg(wait_until(pids_dead, &pl, 15000),
	    "15 s after jobctl died, the job's pids %ld (%c) and %ld (%c) "
	    "are not both gone", (long)pids[0], proc_state(pids[0]),
	    (long)pids[1], proc_state(pids[1]));

	r = callf(c, "{\"op\":\"wait\",\"id\":%lld}", id);
	expect_ok(r);
	job = jget(r, "job");
	ck_assert_str_eq(jstr(job, "state"), "cancelled");
	ck_assert(jbool(job, "cancelled"));
	ck_assert_int_eq(count_group(pids[0]), 0);
	json_object_put(r);
	e2e_close(c);
}
END_TEST

/*
 * 7. --detach prints the id and returns while the job still runs; the
 * job completes, and `jobctl wait ID` collects it.
 */
START_TEST(detach)
{
	struct jobd_client	*c;
	struct outcome		 o;
	json_object		*r;
	const char		*argv[] = { "jobctl", "run", "--detach", "--",
	    "sh", "-c", NULL, NULL };
	char			 file[PATH_MAX], cmd[3 * PATH_MAX + 64], *end;
	char			*text;
	long long		 id;

	start_jobd(&J, NULL);
	path_in(&J, "done", file, sizeof(file));
	/* Renamed into place, so the file appears whole. */
	snprintf(cmd, sizeof(cmd), "sleep 2; echo done > %s.tmp; "
	    "mv %s.tmp %s", file, file, file);
	argv[6] = cmd;
	run_ctl(argv, &o);
	ck_assert_msg(o.status == 0, "jobctl run --detach exited %d: %s",
	    o.status, o.err);
	ck_assert_msg(o.elapsed < 1.5, "jobctl run --detach took %.2f s",
	    o.elapsed);
	ck_assert_msg(access(file, F_OK) == -1,
	    "the job finished before jobctl run --detach returned");
	id = strtoll(o.out, &end, 10);
	ck_assert_msg(id > 0 && end != o.out && strcmp(end, "\n") == 0,
	    "jobctl run --detach printed \"%s\", not an id", o.out);

	c = e2e_connect(&J);
	r = callf(c, "{\"op\":\"status\",\"id\":%lld}", id);
	expect_ok(r);
	ck_assert_str_eq(jstr(jget(r, "job"), "state"), "running");
	json_object_put(r);
	e2e_close(c);

	ck_assert_msg(wait_until(file_exists, file, 10000),
	    "the detached job did not complete within 10 s");
	text = read_text(file, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, "done\n");
	free(text);
	*end = '\0';
	ck_assert_int_eq(run_jobctl(&J, NULL, "wait", o.out, NULL), 0);
	free_outcome(&o);
}
END_TEST

/*
 * 7b. The queue's options: --key (the same id twice), --priority (the
 * order jobs leave the queue), --start-by (expired: a message, 125),
 * --warn-before/--warn-signal (the job hears it before its deadline).
 */
START_TEST(queue_options)
{
	struct jobd_client	*c;
	struct outcome		 o, o2;
	json_object		*r;
	char			 order[PATH_MAX], cmd[PATH_MAX + 64], *text;
	long long		 blocker;

	start_jobd(&J, "max_running = 1\n");
	run_ctl((const char *[]){ "jobctl", "submit", "--key", "k1", "--",
	    "sleep", "100", NULL }, &o);
	ck_assert_msg(o.status == 0, "submit: %d %s", o.status, o.err);
	run_ctl((const char *[]){ "jobctl", "submit", "--key", "k1", "--",
	    "sleep", "100", NULL }, &o2);
	ck_assert_msg(o2.status == 0 && strcmp(o.out, o2.out) == 0,
	    "the same key gave \"%s\" then \"%s\"", o.out, o2.out);
	blocker = strtoll(o.out, NULL, 10);
	free_outcome(&o2);
	free_outcome(&o);

	/* The slot is taken: these queue, and leave it by priority. */
	path_in(&J, "order", order, sizeof(order));
	snprintf(cmd, sizeof(cmd), "echo \"$1\" >> %s", order);
	run_ctl((const char *[]){ "jobctl", "submit", "--priority", "1", "--",
	    "sh", "-c", cmd, "sh", "low", NULL }, &o);
	ck_assert_int_eq(o.status, 0);
	free_outcome(&o);
	run_ctl((const char *[]){ "jobctl", "submit", "--priority", "9", "--",
	    "sh", "-c", cmd, "sh", "high", NULL }, &o);
	ck_assert_int_eq(o.status, 0);
	free_outcome(&o);
	run_ctl((const char *[]){ "jobctl", "run", "--start-by", "0.2", "--",
	    "true", NULL }, &o);
	ck_assert_msg(o.status == 125 && strstr(o.err, "start-by") != NULL,
	    "start-by: status %d, stderr %s", o.status, o.err);
	free_outcome(&o);
	run_ctl((const char *[]){ "jobctl", "run", "--priority", "5000", "--",
	    "true", NULL }, &o);
	ck_assert_msg(o.status == 125 && strstr(o.err, "priority") != NULL,
	    "priority 5000: status %d, stderr %s", o.status, o.err);
	free_outcome(&o);
	/* Usage errors found while the request is built: 125, and under
	 * ASan no leak (which would make it 86). */
	run_ctl((const char *[]){ "jobctl", "run", "--", "\377", NULL }, &o);
	ck_assert_msg(o.status == 125 && strstr(o.err, "UTF-8") != NULL,
	    "argv not UTF-8: status %d, stderr %s", o.status, o.err);
	free_outcome(&o);
	run_ctl((const char *[]){ "jobctl", "run", "--max-output", "5x", "--",
	    "true", NULL }, &o);
	ck_assert_msg(o.status == 125 && strstr(o.err, "5x") != NULL,
	    "--max-output 5x: status %d, stderr %s", o.status, o.err);
	free_outcome(&o);

	c = e2e_connect(&J);
	r = callf(c, "{\"op\":\"cancel\",\"id\":%lld}", blocker);
	expect_ok(r);
	json_object_put(r);
	e2e_close(c);
	run_ctl((const char *[]){ "jobctl", "run", "-t", "5",
	    "--warn-before", "4", "--warn-signal", "USR2", "--", "sh", "-c",
	    "trap 'echo warned; exit 0' USR2; while :; do sleep 0.05; done",
	    NULL }, &o);
	ck_assert_msg(o.status == 0 && strcmp(o.out, "warned\n") == 0,
	    "warn: status %d, out %s, err %s", o.status, o.out, o.err);
	free_outcome(&o);
	/* That job waited behind the two: they are done. */
	text = read_text(order, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, "high\nlow\n");
	free(text);
}
END_TEST

/*
 * 8. The options of jobctl run.
 */
START_TEST(options)
{
	struct proc_spec	 ps;
	struct outcome		 o;
	json_object		*job;
	char			 sub[PATH_MAX], real[PATH_MAX];
	char			 want[PATH_MAX + 2];
	char			 noexec[PATH_MAX], in[PATH_MAX];
	char			 envwant[1024];
	struct passwd		*pw;
	int			 fd, n;

	start_jobd(&J, NULL);
	path_in(&J, "sub", sub, sizeof(sub));
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	ck_assert_ptr_nonnull(realpath(sub, real));
	snprintf(want, sizeof(want), "%s\n", real);

	/* -C DIR */
	run_ctl((const char *[]){ "jobctl", "run", "-C", sub, "--", "pwd",
	    NULL }, &o);
	ck_assert_int_eq(o.status, 0);
	ck_assert_str_eq(o.out, want);
	free_outcome(&o);

	/* Default: jobctl's cwd. */
	proc_spec_init(&ps);
	ps.cwd = sub;
	run_files(&ps, (const char *[]){ "jobctl", "run", "--", "pwd", NULL },
	    &o);
	ck_assert_int_eq(o.status, 0);
	ck_assert_str_eq(o.out, want);
	free_outcome(&o);

	/* Environment: inherited, -e, --clear-env. */
	proc_spec_init(&ps);
	ps.env[0] = "JOBD_T_INHERIT=inherited";
	run_files(&ps, (const char *[]){ "jobctl", "run", "-e",
	    "JOBD_T_SET=one", "-e", "JOBD_T_SET=two", "--", "sh", "-c",
	    "echo \"$JOBD_T_INHERIT $JOBD_T_SET\"", NULL }, &o);
	ck_assert_int_eq(o.status, 0);
	ck_assert_str_eq(o.out, "inherited two\n");
	free_outcome(&o);
	proc_spec_init(&ps);
	ps.env[0] = "JOBD_T_INHERIT=inherited";
	run_files(&ps, (const char *[]){ "jobctl", "run", "--clear-env", "-e",
	    "A=1", "--", "/usr/bin/env", NULL }, &o);
	ck_assert_int_eq(o.status, 0);
	/*
	 * jobd adds PATH, the user's variables and its own two, whatever
	 * the client's environment (jobd runs as us).
	 */
	ck_assert_ptr_nonnull(pw = getpwuid(geteuid()));
	n = snprintf(envwant, sizeof(envwant), "A=1\nPATH=%s\nHOME=%s\n"
	    "USER=%s\nLOGNAME=%s\nSHELL=%s\nJOBD_JOB_ID=", geteuid() == 0 ?
	    JOBD_DEFAULT_PATH : JOBD_USER_PATH, pw->pw_dir, pw->pw_name,
	    pw->pw_name, *pw->pw_shell != '\0' ? pw->pw_shell : "/bin/sh");
	ck_assert_msg(strncmp(o.out, envwant, (size_t)n) == 0 &&
	    strlen(o.out) > (size_t)n + 17 && strcmp(o.out + strlen(o.out) -
	    17, "\nJOBD_DEADLINE=0\n") == 0 && strchr(o.out + n, '\n') ==
	    o.out + strlen(o.out) - 17, "env: %s", o.out);
	free_outcome(&o);

	/* --stdin-null, while jobctl's stdin is a file (which it passes). */
	path_in(&J, "input", in, sizeof(in));
	fill_file(in, "x\n", 2);
	proc_spec_init(&ps);
	ps.fd[0] = fd = open_in(in);
	run_files(&ps, (const char *[]){ "jobctl", "run", "--stdin-null",
	    "--", "readlink", "/proc/self/fd/0", NULL }, &o);
	ck_assert_int_eq(o.status, 0);
	ck_assert_str_eq(o.out, "/dev/null\n");
	free_outcome(&o);
	run_files(&ps, (const char *[]){ "jobctl", "run", "--", "readlink",
	    "/proc/self/fd/0", NULL }, &o);
	close(fd);
	ck_assert_int_eq(o.status, 0);
	snprintf(want, sizeof(want), "%s\n", in);
	ck_assert_str_eq(o.out, want);
	free_outcome(&o);

	/*
	 * --capture: the job writes into jobd's pipe, not into jobctl's
	 * stdout, and jobctl prints what it wrote; with --json the result
	 * holds it.
	 */
	run_ctl((const char *[]){ "jobctl", "run", "--capture", "--", "sh",
	    "-c", "readlink /proc/self/fd/1; echo err >&2", NULL }, &o);
	ck_assert_int_eq(o.status, 0);
	ck_assert_msg(strncmp(o.out, "pipe:", 5) == 0,
	    "with --capture the job's stdout is \"%s\", not jobd's pipe",
	    o.out);
	ck_assert_str_eq(o.err, "err\n");
	free_outcome(&o);
	run_ctl((const char *[]){ "jobctl", "run", "--capture", "--json", "--",
	    "sh", "-c", "echo out; exit 3", NULL }, &o);
	ck_assert_int_eq(o.status, 3);
	job = json_tokener_parse(last_line(o.out));
	ck_assert_msg(job != NULL, "--json: no JSON object at the end of "
	    "\"%s\"", o.out);
	ck_assert_str_eq(jstr(job, "stdout"), "out\n");
	ck_assert_str_eq(jstr(job, "state"), "exited");
	ck_assert_int_eq(jint(job, "exit_code"), 3);
	json_object_put(job);
	free_outcome(&o);

	/* --json alone: the final object, after the job's own output. */
	run_ctl((const char *[]){ "jobctl", "run", "--json", "--", "sh", "-c",
	    "echo live; exit 4", NULL }, &o);
	ck_assert_int_eq(o.status, 4);
	ck_assert_msg(strncmp(o.out, "live\n", 5) == 0,
	    "--json: the job's output \"live\" is not first in \"%s\"", o.out);
	job = json_tokener_parse(last_line(o.out));
	ck_assert_msg(job != NULL, "--json: no JSON object at the end of "
	    "\"%s\"", o.out);
	ck_assert_int_eq(jint(job, "exit_code"), 4);
	ck_assert_str_eq(jstr(job, "state"), "exited");
	json_object_put(job);
	free_outcome(&o);

	/* -q: jobctl's own note (dropped output) goes, the job's stays. */
	run_ctl((const char *[]){ "jobctl", "run", "--capture",
	    "--max-output", "4", "--", "sh", "-c", "printf 0123456789", NULL },
	    &o);
	ck_assert_int_eq(o.status, 0);
	ck_assert_str_eq(o.out, "0123");
	ck_assert_msg(o.err[0] != '\0', "no note about dropped output");
	free_outcome(&o);
	run_ctl((const char *[]){ "jobctl", "run", "-q", "--capture",
	    "--max-output", "4", "--", "sh", "-c",
	    "printf 0123456789; echo job-err >&2", NULL }, &o);
	ck_assert_int_eq(o.status, 0);
	ck_assert_str_eq(o.out, "0123");
	ck_assert_str_eq(o.err, "job-");
	free_outcome(&o);

	/* -t, -p, -k, -s */
	run_ctl((const char *[]){ "jobctl", "run", "-t", "0.3", "--", "sleep",
	    "10", NULL }, &o);
	ck_assert_int_eq(o.status, 124);
	ck_assert_msg(o.elapsed < 8, "-t 0.3 took %.2f s", o.elapsed);
	free_outcome(&o);
	run_ctl((const char *[]){ "jobctl", "run", "-p", "-t", "0.3", "--",
	    "sleep", "10", NULL }, &o);
	ck_assert_int_eq(o.status, 128 + SIGTERM);
	free_outcome(&o);
	run_ctl((const char *[]){ "jobctl", "run", "--preserve-status", "-t",
	    "0.3", "--", "sh", "-c", "trap 'exit 5' TERM; sleep 10 & wait",
	    NULL }, &o);
	ck_assert_int_eq(o.status, 5);
	free_outcome(&o);
	run_ctl((const char *[]){ "jobctl", "run", "-t", "0.3", "-k", "0.3",
	    "--", "sh", "-c", "trap '' TERM; sleep 10", NULL }, &o);
	ck_assert_int_eq(o.status, 137);
	ck_assert_msg(o.elapsed < 8, "-t 0.3 -k 0.3 took %.2f s", o.elapsed);
	free_outcome(&o);
	run_ctl((const char *[]){ "jobctl", "run", "-p", "-s", "INT", "-t",
	    "0.3", "--", "sleep", "10", NULL }, &o);
	ck_assert_int_eq(o.status, 128 + SIGINT);
	free_outcome(&o);

	if (e2e_wrapped()) {
		/* The report comes through memory shared until exec. */
		e2e_skip("options: 127 and 126 for spawn failures, under "
		    "JOBD_WRAPPER (valgrind runs jobd's vfork-style clone as "
		    "a fork)");
		return;
	}
	/* 127 and 126, with a message. */
	run_ctl((const char *[]){ "jobctl", "run", "--", "/nonexistent/prog",
	    NULL }, &o);
	ck_assert_int_eq(o.status, 127);
	ck_assert_msg(strstr(o.err, "/nonexistent/prog") != NULL,
	    "127 without naming the program: \"%s\"", o.err);
	free_outcome(&o);
	path_in(&J, "noexec", noexec, sizeof(noexec));
	write_file(noexec, "#!/bin/sh\nexit 0\n", 0644);
	run_ctl((const char *[]){ "jobctl", "run", "--", noexec, NULL }, &o);
	ck_assert_int_eq(o.status, 126);
	ck_assert_msg(strstr(o.err, noexec) != NULL,
	    "126 without naming the program: \"%s\"", o.err);
	free_outcome(&o);
}
END_TEST

/*
 * 9. timeout(1) compatibility: each case runs under coreutils' timeout and
 * under `jobctl timeout` (some also through a symlink named timeout), with
 * LC_ALL=C and stdin /dev/null; the exit status (128 + N for death by
 * signal N) and the stderr lines must be the same. The table goes to
 * stderr, mismatches and all, before the test fails.
 */
struct compat_case {
	const char	*args[10];	/* after "timeout" */
	int		 symlink;	/* also through a symlink */
};

static const struct compat_case compat_cases[] = {
	{ { "5", "true" }, 1 },
	{ { "5", "sh", "-c", "exit 3" }, 1 },
	{ { "0.2", "sleep", "10" }, 1 },
	{ { "-s", "KILL", "0.2", "sleep", "10" }, 0 },
	{ { "-k", "0.3", "0.2", "sh", "-c", "trap '' TERM; sleep 10" }, 0 },
	{ { "--preserve-status", "0.2", "sleep", "10" }, 0 },
	{ { "-v", "0.2", "sleep", "10" }, 1 },
	{ { "-v", "-k", "0.3", "0.2", "sh", "-c",
	    "trap '' TERM; sleep 10" }, 0 },
	{ { "-v", "-s", "KILL", "0.2", "sleep", "10" }, 0 },
	{ { "5", "sh", "-c", "kill -USR1 $$" }, 0 },
	{ { "5", "sh", "-c", "kill -KILL $$" }, 0 },
	{ { "5", "sh", "-c", "kill -TERM $$" }, 0 },
	{ { "5", "/nonexistent" }, 1 },
	{ { "5", "nosuchcommand-jobd-test" }, 0 },
	{ { "5", "/etc/passwd" }, 0 },
	{ { "x", "true" }, 1 },
	{ { "-1", "true" }, 0 },
	{ { "1x", "true" }, 0 },
	{ { "", "true" }, 0 },
	{ { "-k", "x", "1", "true" }, 0 },
	{ { NULL }, 1 },
	{ { "5" }, 0 },
	{ { "-s", "FOO", "1", "true" }, 0 },
	{ { "--bogus", "1", "true" }, 0 },
	{ { "0", "true" }, 0 },
	{ { "1e400", "true" }, 0 },
	{ { "inf", "true" }, 0 },
	{ { "--foreground", "0.2", "sleep", "10" }, 0 },
	{ { "--foreground", "-v", "0.2", "sleep", "10" }, 0 },
	{ { "1.5s", "true" }, 0 },
	{ { "0.01m", "true" }, 0 },
	{ { "0.001h", "true" }, 0 },
	{ { "1d", "true" }, 0 },
	{ { "--kill-after=0.3", "--signal=INT", "0.2", "sleep", "10" }, 0 },
	{ { "-sINT", "0.2", "sleep", "10" }, 0 },
	{ { "--preserve-status", "5", "sh", "-c", "exit 4" }, 0 },
	{ { "-k", "1", "0", "true" }, 0 },
	{ { "1", "--", "true" }, 0 },
};

#define NCASES	(sizeof(compat_cases) / sizeof(compat_cases[0]))

/* Normalised status and stderr of one run; status -1 if it hung. */
static int
compat_run(const char *path, const char *argv0, const char *sub,
    const struct compat_case *cc, char **err)
{
	struct proc_spec	 ps;
	const char		*argv[16];
	char			 errpath[PATH_MAX], name[32];
	pid_t			 pid;
	int			 n = 0, i, efd, status;

	argv[n++] = argv0;
	if (sub != NULL)
		argv[n++] = sub;
	for (i = 0; cc->args[i] != NULL; i++)
		argv[n++] = cc->args[i];
	argv[n] = NULL;
	snprintf(name, sizeof(name), "compat-err.%d", ++seq);
	path_in(&J, name, errpath, sizeof(errpath));
	efd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert(efd != -1);
	proc_spec_init(&ps);
	ps.path = path;
	ps.fd[2] = efd;
	ps.env[0] = "LC_ALL=C";
	pid = spawn_proc(&J, &ps, argv);
	close(efd);
	if (reap_within(pid, &status, 15000))
		status = norm_status(status);
	else {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		untrack_pid(pid);
		status = -1;
	}
	*err = read_text(errpath, NULL);
	ck_assert_ptr_nonnull(*err);
	return (status);
}

static void
case_name(const struct compat_case *cc, char *buf, size_t len)
{
	size_t	off;
	int	i;

	off = (size_t)snprintf(buf, len, "timeout");
	for (i = 0; cc->args[i] != NULL && off < len; i++) {
		if (strchr(cc->args[i], '\'') != NULL)
			off += (size_t)snprintf(buf + off, len - off, " \"%s\"",
			    cc->args[i]);
		else if (cc->args[i][0] == '\0' ||
		    strpbrk(cc->args[i], " $") != NULL)
			off += (size_t)snprintf(buf + off, len - off, " '%s'",
			    cc->args[i]);
		else
			off += (size_t)snprintf(buf + off, len - off, " %s",
			    cc->args[i]);
	}
}

/* stderr as one line for the table. */
static void
flat(const char *text, char *buf, size_t len)
{
	size_t	i;

	for (i = 0; i + 1 < len && text[i] != '\0'; i++)
		buf[i] = text[i];
	buf[i] = '\0';
	for (i = 0; buf[i] != '\0'; i++)
		if (buf[i] == '\n')
			buf[i] = '|';
}

START_TEST(timeout_compat)
{
	const struct compat_case	*cc;
	char				 link[PATH_MAX], name[160], e1[200];
	char				 e2[200], *gerr, *jerr, *lerr, sl[16];
	int				 gst, jst, lst, bad = 0, nskipped = 0;
	size_t				 i;

	ck_assert_msg(access(TIMEOUT_BIN, X_OK) == 0,
	    "%s is missing: the compatibility table compares jobctl with "
	    "GNU coreutils timeout(1); install coreutils", TIMEOUT_BIN);
	start_jobd(&J, NULL);
	path_in(&J, "timeout", link, sizeof(link));
	ck_assert_int_eq(symlink(JOBCTL_BIN, link), 0);

	fprintf(stderr, "\n%-58s %9s %6s %7s  %s\n", "case", "coreutils",
	    "jobctl", "symlink", "stderr (coreutils / jobctl if different)");
	for (i = 0; i < NCASES; i++) {
		cc = &compat_cases[i];
		case_name(cc, name, sizeof(name));
		gst = compat_run(TIMEOUT_BIN, "timeout", NULL, cc, &gerr);
		if (e2e_wrapped() && (gst == 126 || gst == 127)) {
			/* A spawn failure: see options. */
			fprintf(stderr, "%-58s %9d (not compared under "
			    "JOBD_WRAPPER)\n", name, gst);
			free(gerr);
			nskipped++;
			continue;
		}
		jst = compat_run(JOBCTL_BIN, "jobctl", "timeout", cc, &jerr);
		lst = -2;
		lerr = NULL;
		/*
		 * argv[0] "timeout", as a shell passes it after a PATH
		 * search: coreutils names itself by argv[0] verbatim.
		 */
		if (cc->symlink)
			lst = compat_run(link, "timeout", NULL, cc, &lerr);
		if (lst == -2)
			snprintf(sl, sizeof(sl), "-");
		else
			snprintf(sl, sizeof(sl), "%d", lst);
		flat(gerr, e1, sizeof(e1));
		flat(jerr, e2, sizeof(e2));
		if (gst != jst || strcmp(gerr, jerr) != 0 ||
		    (lerr != NULL && (lst != gst || strcmp(gerr, lerr) != 0))) {
			bad++;
			fprintf(stderr, "%-58s %9d %6d %7s  %s / %s  MISMATCH\n",
			    name, gst, jst, sl, e1, e2);
			if (lerr != NULL && strcmp(gerr, lerr) != 0) {
				flat(lerr, e2, sizeof(e2));
				fprintf(stderr, "%-58s %9s %6s %7s  symlink: "
				    "%s\n", "", "", "", "", e2);
			}
		} else
			fprintf(stderr, "%-58s %9d %6d %7s  %s\n", name, gst, jst,
			    sl, e1);
		free(gerr);
		free(jerr);
		free(lerr);
	}
	if (nskipped > 0)
		e2e_skip("timeout_compat: %d spawn-failure cases not compared "
		    "under JOBD_WRAPPER (valgrind runs jobd's vfork-style "
		    "clone as a fork)", nskipped);
	ck_assert_msg(bad == 0, "%d of %zu timeout(1) cases differ from "
	    "coreutils (table above)", bad, NCASES);
}
END_TEST

static void
add(Suite *s, const char *name, const TTest *t, int timeout)
{
	TCase	*tc = tcase_create(name);

	/* Checked: in the test's process. Unchecked: in the runner. */
	tcase_add_checked_fixture(tc, NULL, e2e_teardown);
	tcase_add_unchecked_fixture(tc, NULL, e2e_sweep);
	tcase_set_timeout(tc, timeout);
	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

Suite *
ctl_suite(void)
{
	Suite	*s = suite_create("ctl");

	add(s, "live_output", live_output_ordering, TEST_TIMEOUT);
	add(s, "stdin_piping", stdin_piping, TEST_TIMEOUT);
	add(s, "stdin_300k", stdin_pipe_300k_content, TEST_TIMEOUT);
	add(s, "binary", binary_passthrough, TEST_TIMEOUT);
	add(s, "sigpipe", sigpipe_like_local, TEST_TIMEOUT);
	add(s, "ctrl_c", ctrl_c_forwarded, TEST_TIMEOUT);
	add(s, "term_hup_quit", term_hup_quit_forwarded, TEST_TIMEOUT);
	add(s, "sigkill_cancels", sigkill_cancels_job, TEST_TIMEOUT);
	add(s, "detach", detach, TEST_TIMEOUT);
	add(s, "options", options, TEST_TIMEOUT);
	add(s, "queue_options", queue_options, TEST_TIMEOUT);
	add(s, "timeout_compat", timeout_compat, TABLE_TIMEOUT);
	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	e2e_global_init();
	sr = srunner_create(ctl_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	e2e_global_fini();
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
