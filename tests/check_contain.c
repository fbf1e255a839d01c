/*
 * Containment tests. Whatever a job starts is dead when its result comes,
 * however it tried to get away (setsid, a double fork, a runaway chain of
 * setsid()s, a fork storm, a process group of its own that ignores SIGTERM,
 * SIGSTOP, a frozen cgroup), in every tier jobd offers; where the pgid tier
 * documents a hole, the hole is really there, so the documentation stays
 * true. Then what containment must also survive: leftovers, 200 jobs ending
 * at the same instant, jobd killed with SIGKILL and restarted, a clean
 * stop, and a soak of escaping jobs.
 *
 * Every process a job starts inherits JOBD_TEST_MARK from the job's
 * environment, so a test finds all of them in /proc whatever their pid,
 * session, process group or PID namespace. Each test runs once per tier
 * (cgroup2, pidns, subreaper, pgid); a tier this jobd or this machine does
 * not offer is a skip, with jobd's reason, never a silent pass.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"

#define TEST_TIMEOUT	30
#define SOAK_TIMEOUT	90
#define TOLERANCE	1.5	/* s past timeout + kill_after, times slow */
#define KILL_AFTER	1.0
#define MARK_VAR	"JOBD_TEST_MARK"
#define JOB_PATH	PROGS_DIR ":/usr/local/bin:/usr/bin:/bin"
#define MAX_MARKED	4096
#define ENV_MAX		65536

#define NSAME		200	/* jobs ending at the same instant */
#define SOAK_JOBS	1000
#define SOAK_WARMUP	100
#define SOAK_WINDOW	32
#ifdef __SANITIZE_ADDRESS__
#define RSS_SLACK_KB	(4 * 1024)	/* shadow, allocator caches */
#else
#define RSS_SLACK_KB	1024
#endif

/* One job that must be dead at its deadline (or, in pgid, leave some). */
struct run;
struct tcase {
	const char	*script;	/* sh, run in the test directory */
	int		 live;		/* marked processes once set up, at least */
	int		 ready;		/* lines the script appends to "ready" */
	int		 survivors;	/* still alive after the result in pgid */
	double		 timeout;	/* s, before scaling */
	int		 killed;	/* "killed" where contained; -1: any */
	int		 pgid_killed;	/* "killed" in pgid; -1: any */
	void		(*setup)(struct run *);	/* before the deadline */
};

struct run {
	const struct tcase	*tc;
	const char		*tier;
	struct jobd_client	*c;
	char			 mark[32];
	long long		 id;
	double			 t0, timeout;
};

struct scan {
	const char	*mark;
	int		 prefix;	/* any mark starting with mark */
	int		 kill;		/* SIGKILL each one as it is found */
	pid_t		*pids;		/* NULL, or room for max */
	int		 max;
};

struct marked_cond {
	const char	*mark;
	int		 min;
	int		 stopped;	/* count only stopped ones */
};

struct fd_want {
	pid_t	pid;
	int	n;
};

Suite		*contain_suite(void);

static struct jobd_inst	 J;
static char		 cg_dir[PATH_MAX];	/* ping's "cgroup" */
static char		 cg_list[64];		/* every cg_dir, for the runner */
static double		 slow = 1.0;		/* CK_TIMEOUT_MULTIPLIER */
static unsigned int	 nmarks;
static pid_t		 found[MAX_MARKED];

/*
 * The processes of a job as seen once it was set up, by pid and start time.
 * A process that is still dying (its memory being unmapped) has no
 * environment left to show its mark, but its pid and start time still say
 * it is there.
 */
struct seen {
	pid_t			pid;
	unsigned long long	start;
};
static struct seen	 seen[MAX_MARKED];
static int		 nseen;

static const char *const tiers[] = { "cgroup2", "pidns", "subreaper",
    "pgid" };
#define NTIERS	((int)(sizeof(tiers) / sizeof(tiers[0])))

static int
contained(const char *tier)
{
	return (strcmp(tier, "pgid") != 0);
}

static int
ms(double secs)
{
	return ((int)(secs * 1000));
}

/*
 * Marks. A mark is "<test pid>.<n>", unique to one job (or to the jobs of
 * one check); a group "<test pid>.<n>." prefixes the marks of its jobs, and
 * "<test pid>." finds everything the test started.
 */

static void
new_mark(char *buf, size_t len)
{
	snprintf(buf, len, "%ld.%u", (long)getpid(), ++nmarks);
}

/* A group: each of its jobs is marked with it and a suffix. */
static void
new_group(char *buf, size_t len)
{
	snprintf(buf, len, "%ld.%u.", (long)getpid(), ++nmarks);
}

static int
has_mark(const char *env, size_t len, const char *mark, int prefix)
{
	char		 needle[64];
	const char	*p, *end = env + len;
	size_t		 n;

	n = (size_t)snprintf(needle, sizeof(needle), MARK_VAR "=%s", mark);
	/* environ: "NAME=value" strings, each ended by a NUL. */
	for (p = env; p < end; p += strlen(p) + 1)
		if (strncmp(p, needle, n) == 0 && (prefix || p[n] == '\0'))
			return (1);
	return (0);
}

/*
 * Live processes that carry the mark. Killing as each is found, rather than
 * after the scan, keeps up with a runaway chain: its pids grow, as /proc is
 * read.
 */
static int
scan_marked(const struct scan *s)
{
	static char	 env[ENV_MAX + 1];
	DIR		*d;
	struct dirent	*de;
	char		 path[64];
	ssize_t		 n;
	pid_t		 pid;
	int		 fd, count = 0;

	ck_assert((d = opendir("/proc")) != NULL);
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)atol(de->d_name);
		snprintf(path, sizeof(path), "/proc/%ld/environ", (long)pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		n = read(fd, env, ENV_MAX);
		close(fd);
		/* A zombie has no environment left: it reads empty. */
		if (n <= 0)
			continue;
		env[n] = '\0';
		if (!has_mark(env, (size_t)n, s->mark, s->prefix) ||
		    !pid_alive(pid))
			continue;
		if (s->kill)
			kill(pid, SIGKILL);
		if (s->pids != NULL && count < s->max)
			s->pids[count] = pid;
		count++;
	}
	closedir(d);
	return (count);
}

/* A mark that ends in '.' stands for every mark that starts with it. */
static int
count_marked(const char *mark, pid_t *pids, int max)
{
	size_t		len = strlen(mark);
	struct scan	s = { mark, len > 0 && mark[len - 1] == '.', 0, pids,
			    max };

	return (scan_marked(&s));
}

static int
marked_enough(void *arg)
{
	struct marked_cond	*mc = arg;
	int			 n, i, stopped = 0;

	n = count_marked(mc->mark, found, MAX_MARKED);
	if (!mc->stopped)
		return (n >= mc->min);
	for (i = 0; i < n && i < MAX_MARKED; i++)
		if (proc_state(found[i]) == 'T' || proc_state(found[i]) == 't')
			stopped++;
	return (stopped >= mc->min);
}

static int
kill_marked_step(void *arg)
{
	struct scan	s = { arg, 1, 1, NULL, 0 };

	return (scan_marked(&s) == 0);
}

/* SIGKILL what the pgid tier let survive, and see it go. */
static void
kill_marked(const char *mark)
{
	ck_assert_msg(wait_until(kill_marked_step, (void *)(uintptr_t)mark,
	    15000), "processes marked %s still alive after SIGKILL", mark);
}

/* Start time of pid (clock ticks after boot), 0 if there is none. */
static unsigned long long
proc_start(pid_t pid)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 start = 0;
	ssize_t			 n;
	int			 fd, i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (0);
	buf[n] = '\0';
	/* starttime is the 20th field after "pid (comm)". */
	if ((p = strrchr(buf, ')')) == NULL)
		return (0);
	for (i = 0; i < 20 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p != NULL)
		start = strtoull(p + 1, NULL, 10);
	return (start);
}

static int
still_there(const struct seen *sp)
{
	return (pid_alive(sp->pid) && proc_start(sp->pid) == sp->start);
}

/* Remember the processes of mark as they are now. */
static void
remember(const char *mark)
{
	int	n, i;

	n = count_marked(mark, found, MAX_MARKED);
	for (nseen = 0, i = 0; i < n && i < MAX_MARKED; i++) {
		seen[nseen].pid = found[i];
		if ((seen[nseen].start = proc_start(found[i])) != 0)
			nseen++;
	}
}

/*
 * Live processes of mark: those that still show it, and those remembered
 * that are still there (dying ones show no mark). Found in found[].
 */
static int
count_left(const char *mark)
{
	int	n, i, j;

	n = count_marked(mark, found, MAX_MARKED);
	for (i = 0; i < nseen && n < MAX_MARKED; i++) {
		if (!still_there(&seen[i]))
			continue;
		for (j = 0; j < n && found[j] != seen[i].pid; j++)
			;
		if (j == n)
			found[n++] = seen[i].pid;
	}
	return (n);
}

static int
none_left(void *arg)
{
	return (count_left(arg) == 0);
}

/* For a message: the first few of them, and their states. */
static const char *
describe_left(const char *mark)
{
	static char	buf[256];
	size_t		len = 0;
	int		n, i;

	n = count_left(mark);
	buf[0] = '\0';
	for (i = 0; i < n && i < 8 && len < sizeof(buf) - 32; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
		    " %ld(%c)", (long)found[i], proc_state(found[i]));
	return (buf);
}

/* An escape sleeper, by its name: pid numbers are not reused that fast. */
static int
escapee_alive(pid_t pid)
{
	char	path[64], buf[256];
	ssize_t	n;
	int	fd;

	if (!pid_alive(pid))
		return (0);
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (0);
	buf[n] = '\0';
	return (strstr(buf, " (escape) ") != NULL);
}

/*
 * Harness additions.
 */

/* Checked teardown: nothing a test started survives it, even a chain. */
static void
contain_teardown(void)
{
	char	prefix[32];

	snprintf(prefix, sizeof(prefix), "%ld.", (long)getpid());
	if (!wait_until(kill_marked_step, prefix, 20000))
		fprintf(stderr, "teardown: processes marked %s* still alive\n",
		    prefix);
	e2e_teardown();
}

static int
no_zombie_children(void *arg)
{
	return (count_zombie_children(*(pid_t *)arg) == 0);
}

static int
count_job_cgroups(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(cg_dir)) == NULL) {
		ck_assert_msg(errno == ENOENT, "%s: %s", cg_dir,
		    strerror(errno));
		return (0);
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_type == DT_DIR && strncmp(de->d_name, "job-", 4) == 0)
			n++;
	closedir(d);
	return (n);
}

static int
no_job_cgroups(void *arg)
{
	return (count_job_cgroups() == 0);
}

static void
job_cgroup(long long id, const char *file, char *buf, size_t len)
{
	int	n;

	n = snprintf(buf, len, "%s/job-%lld%s%s", cg_dir, id,
	    file != NULL ? "/" : "", file != NULL ? file : "");
	ck_assert(n > 0 && (size_t)n < len);
}

static int
pid_listed(const char *text, pid_t pid)
{
	const char	*p;
	char		*end;

	for (p = text; *p != '\0'; p = end) {
		if (strtol(p, &end, 10) == (long)pid)
			return (1);
		if (end == p)
			end = (char *)(uintptr_t)p + 1;
	}
	return (0);
}

/*
 * Each process of the job (found by its mark) is in the job's cgroup, or
 * already gone: a setsid() did not take it out.
 */
static void
assert_in_job_cgroup(long long id, const char *mark)
{
	char	path[PATH_MAX], *text;
	int	n, i;

	n = count_marked(mark, found, MAX_MARKED);
	job_cgroup(id, "cgroup.procs", path, sizeof(path));
	text = read_text(path, NULL);
	ck_assert_msg(text != NULL, "cannot read %s", path);
	for (i = 0; i < n && i < MAX_MARKED; i++)
		ck_assert_msg(pid_listed(text, found[i]) ||
		    !pid_alive(found[i]), "pid %ld of job %lld is not in %s",
		    (long)found[i], id, path);
	free(text);
}

static int
fd_count(pid_t pid)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[64];
	int		 n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	ck_assert_msg((d = opendir(path)) != NULL, "%s: %s", path,
	    strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return (n);
}

static int
fds_are(void *arg)
{
	struct fd_want	*fw = arg;

	return (fd_count(fw->pid) == fw->n);
}

static long
rss_kb(pid_t pid)
{
	char	path[64], *text, *p;
	long	kb;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	ck_assert_msg((text = read_text(path, NULL)) != NULL, "%s", path);
	p = strstr(text, "VmRSS:");
	ck_assert_msg(p != NULL, "no VmRSS in %s", path);
	kb = strtol(p + 6, NULL, 10);
	free(text);
	return (kb);
}

/* Lines of jobd's log from offset on that contain needle. */
static int
log_lines_with(size_t from, const char *needle)
{
	char	*text, *line, *next;
	size_t	 len;
	int	 n = 0;

	if ((text = read_text(J.log, &len)) == NULL || from > len) {
		free(text);
		return (0);
	}
	for (line = text + from; *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) == NULL)
			next = line + strlen(line);
		else
			*next++ = '\0';
		if (strstr(line, needle) != NULL)
			n++;
	}
	free(text);
	return (n);
}

static size_t
log_size(void)
{
	struct stat	st;

	return (stat(J.log, &st) == 0 ? (size_t)st.st_size : 0);
}

/*
 * A jobd killed by the runner's sweep (after a failed test) cannot remove
 * its cgroups: the runner does, from the list each test appends its
 * directory to.
 */
static void
record_cgroup(void)
{
	FILE	*f;

	ck_assert_msg((f = fopen(cg_list, "ae")) != NULL, "%s: %s", cg_list,
	    strerror(errno));
	fprintf(f, "%s\n", cg_dir);
	ck_assert_int_eq(fclose(f), 0);
}

static void
remove_cgroup(const char *dir)
{
	DIR		*d;
	struct dirent	*de;

	if ((d = opendir(dir)) == NULL)
		return;		/* jobd removed it, as it should */
	while ((de = readdir(d)) != NULL)
		if (de->d_type == DT_DIR && strncmp(de->d_name, "job-", 4) == 0 &&
		    unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == -1)
			fprintf(stderr, "contain: rmdir %s/%s: %s\n", dir,
			    de->d_name, strerror(errno));
	closedir(d);
	if (rmdir(dir) == -1)
		fprintf(stderr, "contain: rmdir %s: %s\n", dir,
		    strerror(errno));
}

/* Unchecked teardown, in the runner: once nothing runs, no cgroup left. */
static void
contain_sweep(void)
{
	char	*text, *line, *save;

	e2e_sweep();
	if ((text = read_text(cg_list, NULL)) == NULL)
		return;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		remove_cgroup(line);
	free(text);
	if (truncate(cg_list, 0) == -1)
		fprintf(stderr, "contain: truncate %s: %s\n", cg_list,
		    strerror(errno));
}

/*
 * Starting jobd in a tier.
 */

struct start_wait {
	int	exited;
};

static int
jobd_up(void *arg)
{
	struct start_wait	*sw = arg;
	struct jobd_client	*c;
	json_object		*req, *resp, *ok;
	char			 err[256];
	int			 up = 0;

	if (waitpid(J.pid, &J.status, WNOHANG) == J.pid) {
		J.pid = -1;
		sw->exited = 1;
		return (1);
	}
	if ((c = jobd_connect(J.sock, err, sizeof(err))) == NULL)
		return (0);
	set_recv_timeout(c, 1000);
	req = jparse("{\"op\":\"ping\"}");
	if ((resp = jobd_call(c, req)) != NULL) {
		up = json_object_object_get_ex(resp, "ok", &ok) &&
		    json_object_get_boolean(ok);
		json_object_put(resp);
	}
	json_object_put(req);
	jobd_close(c);
	return (up);
}

/* What jobd said about containment before it gave up. */
static void
start_failure(char *why, size_t len)
{
	char	*text, *line, *save, *last = NULL, *any = NULL;

	snprintf(why, len, "jobd exited with status 0x%x", J.status);
	if ((text = read_text(J.log, NULL)) == NULL)
		return;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "containment") != NULL)
			last = line;
		any = line;
	}
	if (last != NULL || any != NULL)
		snprintf(why, len, "%s", last != NULL ? last : any);
	free(text);
}

/*
 * Start J with "containment = tier". start_jobd fails the test if jobd does
 * not come up, but a tier this machine (or this jobd) lacks is a skip: so
 * the directory comes from a jobd in the pgid tier, which always starts,
 * and the tier asked for is tried in it with a wait of our own. Returns 0
 * (after printing why) if the test is to be skipped.
 */
static int
start_tier(const char *tier, const char *extra)
{
	struct start_wait	 sw = { 0 };
	struct jobd_client	*c;
	json_object		*r;
	char			 conf[512], why[512];

	start_jobd(&J, "containment = pgid\n");
	ck_assert_int_eq(kill(J.pid, SIGTERM), 0);
	ck_assert_msg(reap_jobd(&J, E2E_STOP_TIMEOUT_MS),
	    "jobd did not stop");
	snprintf(conf, sizeof(conf), "containment = %s\n%s", tier,
	    extra != NULL ? extra : "");
	write_file(J.conf, conf, 0644);
	write_file(J.log, "", 0600);

	J.pid = spawn_jobd(&J, J.log);
	ck_assert_msg(wait_until(jobd_up, &sw, E2E_START_TIMEOUT_MS),
	    "jobd (containment %s) did not answer within %d ms", tier,
	    E2E_START_TIMEOUT_MS);
	if (sw.exited) {
		start_failure(why, sizeof(why));
		ck_assert_msg(WIFEXITED(J.status) && WEXITSTATUS(J.status) == 1 &&
		    strstr(why, "containment") != NULL,
		    "jobd (containment %s) died at start, status 0x%x: %s",
		    tier, J.status, why);
		e2e_skip("containment %s not available: %s", tier, why);
		return (0);
	}

	c = e2e_connect(&J);
	r = callf(c, "{\"op\":\"ping\"}");
	expect_ok(r);
	ck_assert_str_eq(jstr(r, "containment"), tier);
	cg_dir[0] = '\0';
	if (strcmp(tier, "cgroup2") == 0) {
		snprintf(cg_dir, sizeof(cg_dir), "%s", jstr(r, "cgroup"));
		ck_assert_msg(access(cg_dir, F_OK) == 0, "ping's cgroup %s: %s",
		    cg_dir, strerror(errno));
		record_cgroup();
	} else {
		ck_assert_msg(!json_object_object_get_ex(r, "cgroup", NULL),
		    "\"cgroup\" in the %s tier: %s", tier,
		    json_object_to_json_string(r));
	}
	json_object_put(r);
	e2e_close(c);
	return (1);
}

/*
 * A run request: argv in the test directory, with the mark in its
 * environment, plus the members fmt gives (no braces).
 */
static json_object *
job_req(json_object *argv, const char *mark, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static json_object *
job_req(json_object *argv, const char *mark, const char *fmt, ...)
{
	char	extra[512], obj[2048];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(extra, sizeof(extra), fmt, ap);
	va_end(ap);
	ck_assert(n >= 0 && (size_t)n < sizeof(extra));
	n = snprintf(obj, sizeof(obj), "{\"cwd\":\"%s\",\"env\":{\"PATH\":"
	    "\"%s\",\"" MARK_VAR "\":\"%s\"}%s%s}", J.dir, JOB_PATH, mark,
	    extra[0] != '\0' ? "," : "", extra);
	ck_assert(n > 0 && (size_t)n < sizeof(obj));
	return (run_req(argv, "%s", obj));
}

static void
write_script(const char *name, const char *text)
{
	char	path[PATH_MAX];

	path_in(&J, name, path, sizeof(path));
	write_file(path, text, 0644);
}

static void
wait_ready(int lines, int timeout_ms)
{
	struct file_lines	fl;
	char			path[PATH_MAX];

	path_in(&J, "ready", path, sizeof(path));
	fl.path = path;
	fl.min = lines;
	ck_assert_msg(wait_until(has_lines, &fl, timeout_ms),
	    "the job did not set up within %d ms", timeout_ms);
}

/*
 * A job that must be dead at its deadline. First: start it, and see it set
 * up (and, in cgroup2, in its cgroup) before the deadline.
 */
static void
case_start(struct run *run)
{
	const struct tcase	*tc = run->tc;
	struct marked_cond	 mc = { run->mark, tc->live, 0 };
	json_object		*r;
	int			 bound = ms(run->timeout) + 2000;

	write_script("job.sh", tc->script);
	run->c = e2e_connect(&J);
	run->t0 = now_mono();
	r = call(run->c, job_req(jargv("sh", "job.sh", NULL), run->mark,
	    "\"timeout\":%g,\"kill_after\":%g,\"wait\":true", run->timeout,
	    KILL_AFTER));
	expect_ok(r);
	ck_assert_str_eq(jstr(r, "state"), "running");
	run->id = jint(r, "id");
	json_object_put(r);

	if (tc->ready > 0)
		wait_ready(tc->ready, bound);
	ck_assert_msg(wait_until(marked_enough, &mc, bound),
	    "%s: fewer than %d processes of the job running:%s", run->tier,
	    tc->live, describe_left(run->mark));
	if (cg_dir[0] != '\0')
		assert_in_job_cgroup(run->id, run->mark);
	if (tc->setup != NULL)
		tc->setup(run);
	remember(run->mark);
	ck_assert_msg(now_mono() - run->t0 < run->timeout,
	    "%s: the job was set up only %.2f s after its start, past its "
	    "%.2f s deadline: the test proves nothing", run->tier,
	    now_mono() - run->t0, run->timeout);
}

/* The result: timed out, in time, SIGKILL only if it had to be. */
static void
case_result(struct run *run, json_object *job, double elapsed)
{
	const char	*tier = run->tier;
	double		 limit;
	int		 killed;

	ck_assert_msg(strcmp(jstr(job, "state"), "timed_out") == 0 &&
	    jbool(job, "timed_out"), "%s: %s", tier,
	    json_object_to_json_string(job));
	limit = run->timeout + KILL_AFTER + TOLERANCE * slow;
	ck_assert_msg(elapsed >= run->timeout && elapsed <= limit,
	    "%s: result after %.2f s, expected %.2f to %.2f s", tier, elapsed,
	    run->timeout, limit);
	killed = contained(tier) ? run->tc->killed : run->tc->pgid_killed;
	ck_assert_msg(killed == -1 || jbool(job, "killed") == killed,
	    "%s: \"killed\" should be %s: %s", tier, killed ? "true" : "false",
	    json_object_to_json_string(job));
	if (killed == 1)
		ck_assert_msg(elapsed >= run->timeout + KILL_AFTER,
		    "%s: SIGKILL after %.2f s, before the grace period ran out",
		    tier, elapsed);
}

/* Then: the whole job dead, or in pgid just its documented survivors. */
static void
run_case(const char *tier, const struct tcase *tc)
{
	struct run	 run;
	json_object	*r;
	char		 path[PATH_MAX];
	double		 elapsed;
	int		 left;

	if (!start_tier(tier, NULL))
		return;
	memset(&run, 0, sizeof(run));
	run.tc = tc;
	run.tier = tier;
	run.timeout = tc->timeout * slow;
	new_mark(run.mark, sizeof(run.mark));
	case_start(&run);

	r = recv_resp(run.c);
	elapsed = now_mono() - run.t0;
	left = count_left(run.mark);
	expect_ok(r);
	case_result(&run, jget(r, "job"), elapsed);
	json_object_put(r);

	if (contained(tier))
		ck_assert_msg(left == 0, "%s: %d processes of the job alive "
		    "after its result:%s", tier, left,
		    describe_left(run.mark));
	else {
		ck_assert_msg(left == tc->survivors, "pgid: %d processes of "
		    "the job alive after its result, %d documented to "
		    "survive:%s", left, tc->survivors,
		    describe_left(run.mark));
		kill_marked(run.mark);
	}
	if (cg_dir[0] != '\0') {
		job_cgroup(run.id, NULL, path, sizeof(path));
		ck_assert_msg(wait_until(path_gone, path, 2000),
		    "%s still there after the result", path);
	}
	e2e_close(run.c);
}

/*
 * Setups that run between "set up" and the deadline.
 */

static void
check_forked(struct run *run)
{
	char	path[PATH_MAX], *text;

	path_in(&J, "ready", path, sizeof(path));
	text = read_text(path, NULL);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(strcmp(text, "forked 512\n") == 0,
	    "forkstorm said: %s", text);
	free(text);
}

static void
wait_stopped(struct run *run)
{
	struct marked_cond	mc = { run->mark, 3, 1 };

	ck_assert_msg(wait_until(marked_enough, &mc, ms(run->timeout)),
	    "%s: the job did not stop:%s", run->tier,
	    describe_left(run->mark));
}

static int
cgroup_frozen(void *arg)
{
	char	*text;
	int	 frozen;

	if ((text = read_text(arg, NULL)) == NULL)
		return (0);
	frozen = strstr(text, "frozen 1") != NULL;
	free(text);
	return (frozen);
}

static void
freeze_cgroup(struct run *run)
{
	char	path[PATH_MAX];

	job_cgroup(run->id, "cgroup.freeze", path, sizeof(path));
	write_file(path, "1", 0644);
	job_cgroup(run->id, "cgroup.events", path, sizeof(path));
	ck_assert_msg(wait_until(cgroup_frozen, path, ms(run->timeout)),
	    "%s never said frozen 1", path);
}

/*
 * The kill at the deadline, once per tier.
 */

/* 1. A child that calls setsid(): SIGTERM reaches it (no SIGKILL). */
static const struct tcase setsid_case = {
	"escape -s > escapee\n"
	"echo ok >> ready\n"
	"exec sleep 100\n",
	2, 1, 1, 0.5, 0, 0, NULL
};

START_TEST(setsid_child)
{
	run_case(tiers[_i], &setsid_case);
}
END_TEST

/* 2. A double fork whose grandchild calls setsid(). */
static const struct tcase double_fork_case = {
	"escape -ds > escapee\n"
	"echo ok >> ready\n"
	"exec sleep 100\n",
	2, 1, 1, 0.5, 0, 0, NULL
};

START_TEST(double_fork_setsid)
{
	run_case(tiers[_i], &double_fork_case);
}
END_TEST

/*
 * 3. A runaway chain: a new pid and a new session every millisecond, for
 * several seconds, far past the result.
 */
static const struct tcase runaway_case = {
	"runaway -n 5000 -d 1000 > runaway.out\n"
	"echo ok >> ready\n"
	"exec sleep 100\n",
	2, 1, 0, 0.5, -1, -1, NULL
};

START_TEST(runaway_chain)
{
	const char	*tier = tiers[_i];

	if (!contained(tier)) {
		e2e_skip("runaway chain in the pgid tier: not guaranteed "
		    "(each generation setsid()s into a new session, which no "
		    "process-group kill reaches)");
		return;
	}
	run_case(tier, &runaway_case);
}
END_TEST

/* 4. 512 processes, all in the job's group, all alive at the deadline. */
static const struct tcase forkstorm_case = {
	"exec forkstorm 9 > ready\n",
	512, 1, 0, 1.0, 0, 0, check_forked
};

START_TEST(fork_storm)
{
	run_case(tiers[_i], &forkstorm_case);
}
END_TEST

/*
 * 5. A child in a process group of its own that ignores SIGTERM: SIGKILL
 * after the grace period. The pgid tier cannot see it.
 */
static const struct tcase setpgid_case = {
	"perl -e '$SIG{TERM} = \"IGNORE\"; setpgrp(0, 0) or die; "
	"open(my $f, \">>\", \"ready\") or die; print $f \"ok\\n\"; "
	"close($f); sleep 100' &\n"
	"exec sleep 100\n",
	2, 1, 1, 0.5, 1, 0, NULL
};

START_TEST(own_group_ignores_term)
{
	run_case(tiers[_i], &setpgid_case);
}
END_TEST

/*
 * 6. The job stops itself and its children: SIGCONT lets SIGTERM act, so
 * no SIGKILL is needed.
 */
static const struct tcase stopped_case = {
	"sleep 100 &\n"
	"sleep 100 &\n"
	"kill -STOP 0\n"
	"wait\n",
	3, 0, 0, 0.5, 0, 0, wait_stopped
};

START_TEST(stopped_job)
{
	run_case(tiers[_i], &stopped_case);
}
END_TEST

/*
 * 6b. A process whose name looks like a /proc status field ("PPid:1",
 * which comes first in /proc/PID/status), in a session of its own: the
 * tiers that read /proc must not take its name for the field.
 */
static const struct tcase field_name_case = {
	"cp /bin/sleep ./PPid:1 && cp /bin/sleep ./NSpid:1\n"
	"setsid ./PPid:1 100 &\n"
	"./NSpid:1 100 &\n"
	"echo ok >> ready\n"
	"exec sleep 100\n",
	3, 1, 1, 0.5, 0, 0, NULL
};

START_TEST(named_like_a_field)
{
	run_case(tiers[_i], &field_name_case);
}
END_TEST

/*
 * 6c. subreaper: the job stops its shim (its parent; SIGSTOP cannot be
 * blocked). jobd continues the shim with every order it sends, so the
 * deadline still kills the job. Only there: in the other tiers $PPID is
 * jobd itself, or 0.
 */
static const struct tcase stop_shim_case = {
	"kill -STOP $PPID\n"
	"echo ok >> ready\n"
	"exec sleep 100\n",
	1, 1, 0, 0.5, 0, 0, NULL
};

START_TEST(stops_its_shim)
{
	run_case("subreaper", &stop_shim_case);
}
END_TEST

/*
 * 7. A process that takes a while to die (256 MiB to unmap, with SIGTERM
 * ignored): dead when the result comes, not merely sent SIGKILL.
 */
static const struct tcase slow_death_case = {
	"perl -e '$SIG{TERM} = \"IGNORE\"; $x = \"x\" x (256 << 20); "
	"open(my $f, \">>\", \"ready\") or die; print $f \"ok\\n\"; "
	"close($f); sleep 100' &\n"
	"exec sleep 100\n",
	2, 1, 0, 1.5, 1, 1, NULL
};

START_TEST(slow_to_die)
{
	run_case(tiers[_i], &slow_death_case);
}
END_TEST

/*
 * 8. The test freezes the job's cgroup: cgroup.kill still kills it. The
 * job ignores SIGTERM, or SIGTERM alone would do (a fatal signal ends a
 * frozen task): only SIGKILL, through cgroup.kill, can end it.
 */
static const struct tcase frozen_case = {
	"trap '' TERM\n"
	"sleep 100 &\n"
	"sleep 100 &\n"
	"echo ok >> ready\n"
	"wait\n",
	3, 1, 0, 1.0, 1, 1, freeze_cgroup
};

START_TEST(frozen_cgroup)
{
	run_case("cgroup2", &frozen_case);
}
END_TEST

/*
 * 9. The leader exits 0, leaving a setsid()'d sleeper and one in its group:
 * the result comes at once, both are counted and dead. In pgid the
 * setsid()'d one survives, and escapes are not counted.
 */
START_TEST(leftovers_counted)
{
	const char		*tier = tiers[_i];
	struct jobd_client	*c;
	json_object		*job, *esc;
	char			 mark[32], *end;
	const char		*out;
	double			 t0, elapsed;
	pid_t			 setsid_pid, group_pid;
	int			 left, setsid_alive = 0, group_alive = 0;

	if (!start_tier(tier, NULL))
		return;
	new_mark(mark, sizeof(mark));
	write_script("left.sh",
	    "escape -s -t 100\n"
	    "escape -d -t 100\n");
	c = e2e_connect(&J);
	t0 = now_mono();
	job = run_wait(c, job_req(jargv("sh", "left.sh", NULL), mark,
	    "\"timeout\":30,\"kill_after\":%g", KILL_AFTER), NULL);
	elapsed = now_mono() - t0;
	left = count_marked(mark, found, MAX_MARKED);
	out = jstr(job, "stdout");
	setsid_pid = (pid_t)strtol(out, &end, 10);
	group_pid = (pid_t)strtol(end, NULL, 10);
	ck_assert_msg(setsid_pid > 1 && group_pid > 1, "stdout: %s", out);
	/* A dying sleeper shows no mark; its pid does, but not in a pidns. */
	if (strcmp(tier, "pidns") != 0) {
		setsid_alive = escapee_alive(setsid_pid);
		group_alive = escapee_alive(group_pid);
	}

	ck_assert_msg(strcmp(jstr(job, "state"), "exited") == 0 &&
	    jint(job, "exit_code") == 0, "%s: %s", tier,
	    json_object_to_json_string(job));
	ck_assert_msg(elapsed < 3.0 * slow, "%s: result after %.2f s", tier,
	    elapsed);
	ck_assert(!jbool(job, "timed_out"));
	ck_assert(!jbool(job, "killed"));
	esc = jget(job, "escaped");
	if (strcmp(tier, "pgid") == 0) {
		ck_assert_int_eq(jint(job, "leftovers"), 1);
		ck_assert_msg(esc == NULL, "pgid cannot tell escapes: %s",
		    json_object_to_json_string(job));
	} else {
		ck_assert_msg(jint(job, "leftovers") == 2, "%s: %s", tier,
		    json_object_to_json_string(job));
		/* Only cgroup2 is required to tell; a tier that does, right. */
		if (strcmp(tier, "cgroup2") == 0 || esc != NULL)
			ck_assert_msg(jint(job, "escaped") == 1, "%s: %s",
			    tier, json_object_to_json_string(job));
	}
	json_object_put(job);

	if (contained(tier))
		ck_assert_msg(left == 0 && !setsid_alive && !group_alive,
		    "%s: left after the result:%s%s%s", tier,
		    describe_left(mark), setsid_alive ? " setsid()'d" : "",
		    group_alive ? " in-group" : "");
	else {
		ck_assert_msg(left == 1 && setsid_alive && !group_alive,
		    "pgid: setsid()'d %ld %s, in-group %ld %s, %d alive",
		    (long)setsid_pid, setsid_alive ? "alive" : "dead",
		    (long)group_pid, group_alive ? "alive" : "dead", left);
		kill_marked(mark);
	}
	e2e_close(c);
}
END_TEST

/*
 * 9b. Spawn failures, in every tier: the first response already says
 * failed, with the errno (behind a shim too: the job is set up and its
 * program looked up before the gate). A program the kernel refuses only
 * at execve (ENOEXEC) fails the spawn where jobd execs the job itself, and
 * ends the job with 127 and a message on its stderr behind a shim.
 */
static void
expect_spawn_failure(struct jobd_client *c, json_object *req,
    const char *tier, const char *err)
{
	json_object	*r, *job;

	r = call(c, req);
	expect_ok(r);
	ck_assert_msg(strcmp(jstr(r, "state"), "failed") == 0 &&
	    json_object_get_type(jget(r, "pid")) == json_type_null,
	    "%s, %s: %s", tier, err, json_object_to_json_string(r));
	json_object_put(r);
	r = recv_resp(c);
	expect_ok(r);
	job = jget(r, "job");
	ck_assert_msg(strcmp(jstr(job, "state"), "failed") == 0 &&
	    strcmp(jstr(job, "error"), err) == 0, "%s, %s: %s",
	    tier, err, json_object_to_json_string(job));
	json_object_put(r);
}

START_TEST(spawn_failures)
{
	const char		*tier = tiers[_i];
	struct jobd_client	*c;
	json_object		*job;
	char			 path[PATH_MAX], mark[32];

	if (!start_tier(tier, NULL))
		return;
	new_mark(mark, sizeof(mark));
	path_in(&J, "plain", path, sizeof(path));
	write_file(path, "not a program\n", 0644);
	path_in(&J, "garbage", path, sizeof(path));
	write_file(path, "\x01\x02\x03 not a program\n", 0755);
	c = e2e_connect(&J);
	expect_spawn_failure(c, job_req(jargv("no-such-program", NULL), mark,
	    "\"wait\":true"), tier, "ENOENT");
	expect_spawn_failure(c, job_req(jargv("./plain", NULL), mark,
	    "\"wait\":true"), tier, "EACCES");
	expect_spawn_failure(c, run_req(jargv("true", NULL),
	    "{\"cwd\":\"/no/such/dir\",\"wait\":true}"), tier, "ENOENT");
	if (strcmp(tier, "pidns") == 0 || strcmp(tier, "subreaper") == 0) {
		job = run_wait(c, job_req(jargv("./garbage", NULL), mark,
		    "\"wait\":true"), NULL);
		ck_assert_msg(strcmp(jstr(job, "state"), "exited") == 0 &&
		    jint(job, "exit_code") == 127 &&
		    strcmp(jstr(job, "stderr"),
		    "jobd: execve failed: errno 8\n") == 0,
		    "%s: %s", tier, json_object_to_json_string(job));
		json_object_put(job);
	} else
		expect_spawn_failure(c, job_req(jargv("./garbage", NULL), mark,
		    "\"wait\":true"), tier, "ENOEXEC");
	/* And the tier still runs jobs. */
	job = run_wait(c, job_req(jargv("true", NULL), mark, "\"wait\":true"),
	    NULL);
	ck_assert_str_eq(jstr(job, "state"), "exited");
	json_object_put(job);
	e2e_close(c);
}
END_TEST

/*
 * 10. 200 jobs end at the same instant: all read one pipe (passed as their
 * stdin), whose write end the test then closes. Every result comes, and
 * jobd is left with no zombie child.
 */
START_TEST(many_end_at_once)
{
	const char		*tier = tiers[_i];
	struct jobd_client	*c;
	struct marked_cond	 mc;
	json_object		*req, *r, *job;
	char			 mark[32];
	double			 t0;
	int			 p[2], i;

	/* All 200 at once: no slot limit. */
	if (!start_tier(tier, "max_running = unlimited\n"))
		return;
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	cloexec_pipe(p);
	for (i = 0; i < NSAME; i++) {
		req = job_req(jargv("cat", NULL), mark, "\"fds\":[\"stdin\"],"
		    "\"wait\":true,\"timeout\":60,\"tag\":%d", i);
		ck_assert_msg(jobd_send_fds(c, req, &p[0], 1) == 0,
		    "jobd_send_fds: %s", strerror(errno));
		json_object_put(req);
	}
	close(p[0]);
	for (i = 0; i < NSAME; i++) {
		r = recv_resp(c);
		expect_ok(r);
		ck_assert_msg(!json_object_object_get_ex(r, "job", NULL),
		    "a job ended before its stdin did: %s",
		    json_object_to_json_string(r));
		ck_assert_str_eq(jstr(r, "state"), "running");
		json_object_put(r);
	}
	mc.mark = mark;
	mc.min = NSAME;
	mc.stopped = 0;
	ck_assert_msg(wait_until(marked_enough, &mc, 10000),
	    "%s: only %d of %d jobs running", tier,
	    count_marked(mark, found, MAX_MARKED), NSAME);
	remember(mark);

	/* Every cat reads EOF at once. */
	close(p[1]);
	t0 = now_mono();
	for (i = 0; i < NSAME; i++) {
		r = recv_resp(c);
		expect_ok(r);
		job = jget(r, "job");
		ck_assert_msg(strcmp(jstr(job, "state"), "exited") == 0 &&
		    jint(job, "exit_code") == 0, "%s: %s", tier,
		    json_object_to_json_string(job));
		json_object_put(r);
	}
	ck_assert_msg(now_mono() - t0 < 10.0 * slow,
	    "%s: %d results took %.2f s", tier, NSAME, now_mono() - t0);
	ck_assert_msg(wait_until(no_zombie_children, &J.pid, 5000),
	    "%s: %d zombie children of jobd", tier,
	    count_zombie_children(J.pid));
	ck_assert_msg(count_left(mark) == 0, "%s: processes left:%s", tier,
	    describe_left(mark));
	if (cg_dir[0] != '\0')
		ck_assert_msg(wait_until(no_job_cgroups, NULL, 5000),
		    "%d job cgroups left in %s", count_job_cgroups(), cg_dir);
	e2e_close(c);
}
END_TEST

/*
 * Two jobs whose leader and escapee (setsid, double fork + setsid) ignore
 * SIGTERM; returns once both are set up. Job i is marked group + i, so
 * group (ending in '.') finds both. wait: results on c as well.
 */
static void
start_escapers(struct jobd_client *c, const char *group, int wait,
    long long ids[2])
{
	static const char	*modes[] = { "-s", "-ds" };
	struct marked_cond	 mc = { group, 4, 0 };
	json_object		*r;
	char			 mark[2][40];
	int			 i;

	write_script("esc.sh",
	    "trap '' TERM\n"
	    "escape \"$1\" > /dev/null\n"
	    "echo ok >> ready\n"
	    "exec sleep 100\n");
	for (i = 0; i < 2; i++) {
		snprintf(mark[i], sizeof(mark[i]), "%s%d", group, i);
		r = call(c, job_req(jargv("sh", "esc.sh", modes[i], NULL),
		    mark[i], "\"kill_after\":%g,\"wait\":%s,\"tag\":%d",
		    KILL_AFTER, wait ? "true" : "false", i));
		expect_ok(r);
		ids[i] = jint(r, "id");
		json_object_put(r);
	}
	wait_ready(2, 10000);
	ck_assert_msg(wait_until(marked_enough, &mc, 10000),
	    "fewer than 4 processes running:%s", describe_left(group));
	if (cg_dir[0] != '\0')
		for (i = 0; i < 2; i++)
			assert_in_job_cgroup(ids[i], mark[i]);
	remember(group);
}

/*
 * 11. jobd dies by SIGKILL with escaping jobs running. In cgroup2 the next
 * jobd on the socket kills what is left and says those jobs are lost; in
 * pidns and subreaper they die with jobd (their shim's parent-death
 * signal).
 */
START_TEST(jobd_sigkilled)
{
	const char		*tier = tiers[_i];
	struct jobd_client	*c;
	json_object		*r;
	char			 mark[32], old_cg[PATH_MAX];
	long long		 ids[2];
	size_t			 off;
	int			 lost;

	if (!contained(tier)) {
		e2e_skip("jobd killed with SIGKILL, pgid tier: no guarantee "
		    "(a setsid()'d escapee is in no group a later jobd could "
		    "find)");
		return;
	}
	if (!start_tier(tier, NULL))
		return;
	new_group(mark, sizeof(mark));
	c = e2e_connect(&J);
	start_escapers(c, mark, 0, ids);
	e2e_close(c);
	snprintf(old_cg, sizeof(old_cg), "%s", cg_dir);

	ck_assert_int_eq(kill(J.pid, SIGKILL), 0);
	ck_assert(reap_jobd(&J, 10000));
	if (cg_dir[0] == '\0')
		ck_assert_msg(wait_until(none_left, mark, ms(5.0 * slow)),
		    "%s: the jobs outlived jobd:%s", tier,
		    describe_left(mark));

	off = log_size();
	restart_jobd(&J);
	ck_assert_msg(wait_until(none_left, mark, ms(5.0 * slow)),
	    "%s: processes of the old jobd's jobs alive after the restart:%s",
	    tier, describe_left(mark));
	c = e2e_connect(&J);
	r = callf(c, "{\"op\":\"ping\"}");
	expect_ok(r);
	ck_assert_str_eq(jstr(r, "containment"), tier);
	if (old_cg[0] != '\0')
		ck_assert_str_eq(jstr(r, "cgroup"), old_cg);
	json_object_put(r);
	if (cg_dir[0] != '\0') {
		ck_assert_msg(count_job_cgroups() == 0,
		    "%d job cgroups left from before in %s",
		    count_job_cgroups(), cg_dir);
		lost = log_lines_with(off, "lost");
		ck_assert_msg(lost >= 2, "the new jobd's log has %d lines "
		    "about lost jobs, expected one per job (2)", lost);
	}
	e2e_close(c);
}
END_TEST

/*
 * 12. A clean stop (SIGTERM) with escaping jobs running: once jobd has
 * exited, nothing of them is alive, and its cgroup directory is gone. In
 * pgid the setsid()'d escapees survive, as documented.
 */
START_TEST(clean_stop)
{
	const char		*tier = tiers[_i];
	struct jobd_client	*c;
	json_object		*r, *job;
	char			 mark[32];
	long long		 ids[2];
	int			 i, left;

	if (!start_tier(tier, NULL))
		return;
	new_group(mark, sizeof(mark));
	c = e2e_connect(&J);
	start_escapers(c, mark, 1, ids);

	ck_assert_int_eq(kill(J.pid, SIGTERM), 0);
	for (i = 0; i < 2; i++) {
		r = recv_resp(c);
		expect_ok(r);
		job = jget(r, "job");
		ck_assert_str_eq(jstr(job, "state"), "cancelled");
		/* The leaders ignore SIGTERM, in every tier. */
		ck_assert(jbool(job, "killed"));
		json_object_put(r);
	}
	e2e_close(c);
	ck_assert_msg(reap_jobd(&J, ms(10.0 * slow)),
	    "jobd still running after SIGTERM");
	ck_assert_msg(WIFEXITED(J.status) && WEXITSTATUS(J.status) == 0,
	    "jobd exit status 0x%x", J.status);

	left = count_left(mark);
	if (contained(tier))
		ck_assert_msg(left == 0, "%s: %d processes alive after jobd "
		    "stopped:%s", tier, left, describe_left(mark));
	else {
		ck_assert_msg(left == 2, "pgid: %d processes alive after jobd "
		    "stopped, the 2 setsid()'d escapees documented to:%s",
		    left, describe_left(mark));
		kill_marked(mark);
	}
	if (cg_dir[0] != '\0')
		ck_assert_msg(path_gone(cg_dir), "%s left after jobd stopped",
		    cg_dir);
}
END_TEST

/*
 * 13. Soak: 1,000 escaping jobs, 32 at a time: leaders that exit leaving a
 * setsid()'d sleeper, sleepers that ignore SIGTERM, deadlines. Afterwards
 * jobd holds as many descriptors as after the first 100, about as much
 * memory, no job cgroup and no zombie.
 */
static json_object *
soak_req(int i, const char *mark)
{
	json_object	*argv;

	switch (i % 3) {
	case 0:
		argv = jargv("escape", "-s", "-t", "100", NULL);
		break;
	case 1:
		argv = jargv("sh", "-c", "trap '' TERM; exec escape -s -t 100",
		    NULL);
		break;
	default:
		argv = jargv("sh", "-c", "escape -s -t 100; exec sleep 100",
		    NULL);
		break;
	}
	return (job_req(argv, mark, "\"timeout\":0.2,\"kill_after\":0.2,"
	    "\"wait\":true,\"tag\":%d", i));
}

/*
 * The result fits the kind of job, and the escapee whose pid it printed is
 * dead. A leader that exits may still meet its deadline on a slow day; one
 * that sleeps must.
 */
static void
soak_check(const char *tier, json_object *job, int kind)
{
	const char	*state = jstr(job, "state");
	pid_t		 pid;

	ck_assert_msg(strcmp(state, "timed_out") == 0 ||
	    (kind != 2 && strcmp(state, "exited") == 0), "%s: %s", tier,
	    json_object_to_json_string(job));
	/*
	 * Only the escapee that ignores SIGTERM needs SIGKILL; unless, on
	 * a slow day, SIGTERM came before the shell's trap: then it died of
	 * it, before any escapee.
	 */
	if (kind == 1 && !jbool(job, "killed"))
		ck_assert_msg(strcmp(state, "timed_out") == 0 &&
		    jint(job, "signal") == SIGTERM && jint(job, "leftovers") ==
		    0, "%s: %s", tier, json_object_to_json_string(job));
	else
		ck_assert_msg(jbool(job, "killed") == (kind == 1), "%s: %s",
		    tier, json_object_to_json_string(job));
	/* In a pid namespace the printed pid is not ours to look up. */
	if (strcmp(tier, "pidns") == 0 ||
	    (pid = (pid_t)atol(jstr(job, "stdout"))) <= 1)
		return;
	ck_assert_msg(!escapee_alive(pid), "%s: escapee %ld (state %c) alive "
	    "after its job's result: %s", tier, (long)pid, proc_state(pid),
	    json_object_to_json_string(job));
}

static void
soak_run(const char *tier, struct jobd_client *c, const char *mark,
    int from, int to)
{
	json_object	*r, *job;
	int		 sent = from, done = from;

	while (done < to) {
		for (; sent < to && sent - done < SOAK_WINDOW; sent++)
			send_req(c, soak_req(sent, mark));
		r = recv_resp(c);
		expect_ok(r);
		if (json_object_object_get_ex(r, "job", &job)) {
			soak_check(tier, job, (int)(jint(r, "tag") % 3));
			done++;
		}
		json_object_put(r);
	}
}

/*
 * Under ASan, freed memory waits in a 256 MiB quarantine before reuse, so
 * jobd's RSS would only show the quarantine filling up: keep it small for
 * this jobd (spawn_jobd passes our environment on). Later options win.
 */
static void
small_quarantine(void)
{
#ifdef __SANITIZE_ADDRESS__
	const char	*old = getenv("ASAN_OPTIONS");
	char		 opts[1024];

	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=1",
	    old != NULL ? old : "", old != NULL && *old != '\0' ? ":" : "");
	ck_assert_int_eq(setenv("ASAN_OPTIONS", opts, 1), 0);
#endif
}

START_TEST(soak)
{
	const char		*tier = tiers[_i];
	struct jobd_client	*c;
	struct fd_want		 fw;
	char			 mark[32];
	long			 rss0, rss;
	double			 t0;

	if (!contained(tier)) {
		e2e_skip("soak of escaping jobs, pgid tier: the escapees "
		    "survive there by design");
		return;
	}
	small_quarantine();
	if (!start_tier(tier, "max_retained = 10\n"))
		return;
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	t0 = now_mono();
	soak_run(tier, c, mark, 0, SOAK_WARMUP);
	ck_assert_msg(wait_until(none_left, mark, 2000), "%s: left:%s",
	    tier, describe_left(mark));
	fw.pid = J.pid;
	fw.n = fd_count(J.pid);
	rss0 = rss_kb(J.pid);

	soak_run(tier, c, mark, SOAK_WARMUP, SOAK_JOBS);
	ck_assert_msg(wait_until(none_left, mark, 2000), "%s: left:%s",
	    tier, describe_left(mark));
	ck_assert_msg(wait_until(fds_are, &fw, 5000),
	    "%s: jobd has %d descriptors, %d after the first %d jobs", tier,
	    fd_count(J.pid), fw.n, SOAK_WARMUP);
	rss = rss_kb(J.pid);
	ck_assert_msg(rss <= rss0 + RSS_SLACK_KB,
	    "%s: jobd's RSS grew from %ld to %ld KiB over %d jobs", tier,
	    rss0, rss, SOAK_JOBS - SOAK_WARMUP);
	ck_assert_msg(wait_until(no_zombie_children, &J.pid, 5000),
	    "%s: %d zombie children of jobd", tier,
	    count_zombie_children(J.pid));
	if (cg_dir[0] != '\0')
		ck_assert_msg(wait_until(no_job_cgroups, NULL, 5000),
		    "%d job cgroups left in %s", count_job_cgroups(), cg_dir);
	fprintf(stderr, "soak %s: %d jobs in %.1f s, %d fds, RSS %ld -> "
	    "%ld KiB\n", tier, SOAK_JOBS, now_mono() - t0, fw.n, rss0, rss);
	e2e_close(c);
}
END_TEST

static void
add(Suite *s, const char *name, const TTest *t, int per_tier, int timeout)
{
	TCase	*tc = tcase_create(name);

	/* Checked: in the test's process. Unchecked: in the runner. */
	tcase_add_checked_fixture(tc, NULL, contain_teardown);
	tcase_add_unchecked_fixture(tc, NULL, contain_sweep);
	tcase_set_timeout(tc, timeout);
	if (per_tier)
		tcase_add_loop_test(tc, t, 0, NTIERS);
	else
		tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

Suite *
contain_suite(void)
{
	Suite	*s = suite_create("contain");

	add(s, "setsid_child", setsid_child, 1, TEST_TIMEOUT);
	add(s, "double_fork_setsid", double_fork_setsid, 1, TEST_TIMEOUT);
	add(s, "runaway_chain", runaway_chain, 1, TEST_TIMEOUT);
	add(s, "fork_storm", fork_storm, 1, TEST_TIMEOUT);
	add(s, "own_group_ignores_term", own_group_ignores_term, 1,
	    TEST_TIMEOUT);
	add(s, "stopped_job", stopped_job, 1, TEST_TIMEOUT);
	add(s, "slow_to_die", slow_to_die, 1, TEST_TIMEOUT);
	add(s, "named_like_a_field", named_like_a_field, 1, TEST_TIMEOUT);
	add(s, "stops_its_shim", stops_its_shim, 0, TEST_TIMEOUT);
	add(s, "frozen_cgroup", frozen_cgroup, 0, TEST_TIMEOUT);
	add(s, "leftovers", leftovers_counted, 1, TEST_TIMEOUT);
	add(s, "spawn_failures", spawn_failures, 1, TEST_TIMEOUT);
	add(s, "many_end_at_once", many_end_at_once, 1, TEST_TIMEOUT);
	add(s, "jobd_sigkilled", jobd_sigkilled, 1, TEST_TIMEOUT);
	add(s, "clean_stop", clean_stop, 1, TEST_TIMEOUT);
	add(s, "soak", soak, 1, SOAK_TIMEOUT);
	return (s);
}

int
main(void)
{
	SRunner		*sr;
	const char	*mult;
	int		 failed, fd;

	/* Sanitizer runs are slower: stretch deadlines and tolerances. */
	if ((mult = getenv("CK_TIMEOUT_MULTIPLIER")) != NULL &&
	    atof(mult) > 1.0)
		slow = atof(mult);
	snprintf(cg_list, sizeof(cg_list), "/tmp/jobd-contain.XXXXXX");
	if ((fd = mkstemp(cg_list)) == -1) {
		perror("mkstemp");
		return (2);
	}
	close(fd);
	e2e_global_init();
	sr = srunner_create(contain_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	e2e_global_fini();
	unlink(cg_list);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
