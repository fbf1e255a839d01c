/*
 * Lifecycle tests: the run queue (max_running, priorities, max_queued,
 * start_by, cancel of a queued job), idempotency keys, what every job finds
 * in its environment, the warning before a deadline, and the durable store:
 * jobd killed with SIGKILL in every phase of a job's life and started again
 * on the same state directory, a clean restart, two jobds on one directory,
 * a corrupt or unwritable store, and the in-memory store.
 *
 * Each test runs a real jobd and checks what it says (responses, job
 * objects) against what really happened: files the jobs write, in the order
 * they write them, and /proc. Every process a job starts inherits
 * JOBD_TEST_MARK from the job's environment, so a test finds all of them in
 * /proc whatever their pid or session (as check_contain does).
 */
#include <sys/types.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"

#define TEST_TIMEOUT	30
#define LONG_TIMEOUT	120
#define MARK_VAR	"JOBD_TEST_MARK"
#define JOB_PATH	PROGS_DIR ":/usr/local/bin:/usr/bin:/bin"
#define MAX_MARKED	4096
#define ENV_MAX		65536

#define BURST_JOBS	5000
#define BURST_CONNS	4
#define BURST_WINDOW	64
#define WAIT_WINDOW	512	/* below the 1,024 waits a connection may have */
#define FINISH_JOBS	400
#define INFLIGHT_JOBS	2000
#define INFLIGHT_KILL	1000	/* acknowledgements before the SIGKILL */

/* A jobd the test runs with arguments of its own (-M, -S, ...). */
struct xjobd {
	char	sock[PATH_MAX];
	char	log[PATH_MAX];
	char	state[PATH_MAX];	/* -S; "" for none */
	char	conf[PATH_MAX];		/* -f; "" for none */
	int	memory;			/* -M */
	int	ro_state;		/* state read-only, in a mount namespace */
	pid_t	pid;
	int	status;
};

struct state_cond {
	struct jobd_client	*c;
	long long		 id;
	const char		*want;
};

struct marked_cond {
	const char	*mark;
	int		 min;
};

struct up_cond {
	struct xjobd	*x;
	int		 exited;
};

/* A request made for pipelining: index i of n. */
typedef json_object *(*mk_fn)(int, void *);
/* A response to request i. */
typedef void	(*resp_fn)(json_object *, int, void *);

Suite		*lifecycle_suite(void);

static void	 new_mark(char *, size_t);
static int	 has_mark(const char *, size_t, const char *, int);
static int	 count_marked(const char *, pid_t *, int);
static int	 none_marked(void *);
static int	 marked_enough(void *);
static const char *describe_marked(const char *);
static int	 file_exists(void *);
static json_object *job_req(json_object *, const char *, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	 lc_start(const char *);
static void	 record_cgroup(struct jobd_client *);
static void	 lc_sweep(void);
static void	 lc_teardown(void);
static json_object *ping(struct jobd_client *);
static long long first_resp(json_object *, const char *, int);
static long long submit(struct jobd_client *, json_object *, const char *);
static json_object *try_status(struct jobd_client *, long long);
static json_object *job_of(struct jobd_client *, long long);
static json_object *wait_job(struct jobd_client *, long long);
static void	 expect_state(json_object *, const char *);
static void	 cancel_ok(struct jobd_client *, long long);
static void	 expect_never_started(json_object *);
static void	 pipeline(struct jobd_client **, int, int, int, mk_fn, void *,
		    resp_fn, void *);
static void	 wait_all(struct jobd_client *, const long long *, int,
		    resp_fn, void *);
static void	 kill9_jobd(void);
static char	*store_dir(struct jobd_client *, char *, size_t);
static void	 xjobd_init(struct xjobd *, const char *);
static void	 xjobd_spawn(struct xjobd *);
static int	 xjobd_up(struct xjobd *, int);
static int	 xjobd_exit(struct xjobd *, int);
static void	 xjobd_stop(struct xjobd *);
static int	 ro_mount_works(const char *);
static int	 log_has(const char *, const char *);
static int	 dir_entries(const char *);
static char	**read_lines(const char *, int *);
static void	 free_lines(char **, int);

static struct jobd_inst	 J;
static double		 slow = 1.0;	/* CK_TIMEOUT_MULTIPLIER */
static unsigned int	 nmarks;
static char		 cg_list[64];	/* every jobd cgroup, for the runner */
static pid_t		 found[MAX_MARKED];

static int
ms(double secs)
{
	return ((int)(secs * slow * 1000));
}

static double
now_wall(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/*
 * Marks: "<test pid>.<n>." is a group; each job of the group is marked with
 * it and a suffix, so the group finds all of them.
 */
static void
new_mark(char *buf, size_t len)
{
	snprintf(buf, len, "%ld.%u.", (long)getpid(), ++nmarks);
}

static int
has_mark(const char *env, size_t len, const char *mark, int prefix)
{
	char		 needle[96];
	const char	*p, *end = env + len;
	size_t		 n;

	n = (size_t)snprintf(needle, sizeof(needle), MARK_VAR "=%s", mark);
	for (p = env; p < end; p += strlen(p) + 1)
		if (strncmp(p, needle, n) == 0 && (prefix || p[n] == '\0'))
			return (1);
	return (0);
}

/* Live processes marked mark (a mark ending in '.': every mark under it). */
static int
count_marked(const char *mark, pid_t *pids, int max)
{
	static char	 env[ENV_MAX + 1];
	DIR		*d;
	struct dirent	*de;
	char		 path[64];
	size_t		 mlen = strlen(mark);
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
		if (!has_mark(env, (size_t)n, mark, mlen > 0 &&
		    mark[mlen - 1] == '.') || !pid_alive(pid))
			continue;
		if (pids != NULL && count < max)
			pids[count] = pid;
		count++;
	}
	closedir(d);
	return (count);
}

static int
none_marked(void *arg)
{
	return (count_marked(arg, NULL, 0) == 0);
}

static int
marked_enough(void *arg)
{
	struct marked_cond	*mc = arg;

	return (count_marked(mc->mark, NULL, 0) >= mc->min);
}

static const char *
describe_marked(const char *mark)
{
	static char	buf[256];
	size_t		len = 0;
	int		n, i;

	n = count_marked(mark, found, MAX_MARKED);
	buf[0] = '\0';
	for (i = 0; i < n && i < 8 && len < sizeof(buf) - 32; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
		    " %ld(%c)", (long)found[i], proc_state(found[i]));
	return (buf);
}

/* SIGKILL whatever carries the mark (a documented hole let it live). */
static int
kill_marked_step(void *arg)
{
	int	n, i;

	n = count_marked(arg, found, MAX_MARKED);
	for (i = 0; i < n && i < MAX_MARKED; i++)
		kill(found[i], SIGKILL);
	return (n == 0);
}

static int
file_exists(void *arg)
{
	return (access(arg, F_OK) == 0);
}

/* The non-empty lines of a file; NULL (and *n 0) if there is none. */
static char **
read_lines(const char *path, int *np)
{
	char	*text, *line, *save, **v = NULL;
	int	 n = 0;

	*np = 0;
	if ((text = read_text(path, NULL)) == NULL)
		return (NULL);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		v = realloc(v, sizeof(*v) * (size_t)(n + 1));
		ck_assert_ptr_nonnull(v);
		v[n] = strdup(line);
		ck_assert_ptr_nonnull(v[n]);
		n++;
	}
	free(text);
	*np = n;
	return (v);
}

static void
free_lines(char **v, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * A job request: runs in the test directory, PATH and the mark in its
 * environment (mark NULL: none), plus the fields fmt gives (no braces).
 */
static json_object *
job_req(json_object *argv, const char *mark, const char *fmt, ...)
{
	char	extra[1024], obj[2048], markenv[128] = "";
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(extra, sizeof(extra), fmt, ap);
	va_end(ap);
	ck_assert(n >= 0 && (size_t)n < sizeof(extra));
	if (mark != NULL)
		snprintf(markenv, sizeof(markenv), ",\"" MARK_VAR "\":\"%s\"",
		    mark);
	n = snprintf(obj, sizeof(obj), "{\"cwd\":\"%s\",\"env\":{\"PATH\":"
	    "\"%s\"%s}%s%s}", J.dir, JOB_PATH, markenv,
	    extra[0] != '\0' ? "," : "", extra);
	ck_assert(n > 0 && (size_t)n < sizeof(obj));
	return (run_req(argv, "%s", obj));
}

/*
 * Harness additions.
 */

/*
 * A jobd that the runner's sweep kills (after a failed test, or one this
 * suite killed itself and did not restart) cannot remove its cgroups: the
 * runner does, from the list every start appends to.
 */
static void
record_cgroup(struct jobd_client *c)
{
	json_object	*r, *v;
	FILE		*f;

	r = ping(c);
	if (json_object_object_get_ex(r, "cgroup", &v) &&
	    json_object_is_type(v, json_type_string)) {
		ck_assert_msg((f = fopen(cg_list, "ae")) != NULL, "%s: %s",
		    cg_list, strerror(errno));
		fprintf(f, "%s\n", json_object_get_string(v));
		ck_assert_int_eq(fclose(f), 0);
	}
	json_object_put(r);
}

static void
remove_cgroup(const char *dir)
{
	DIR		*d;
	struct dirent	*de;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_type == DT_DIR && strncmp(de->d_name, "job-", 4) == 0)
			(void)unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
	closedir(d);
	(void)rmdir(dir);
}

/* Unchecked teardown, in the runner. */
static void
lc_sweep(void)
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
		fprintf(stderr, "lifecycle: truncate %s: %s\n", cg_list,
		    strerror(errno));
}

/* Checked teardown: nothing a test's jobs started outlives it. */
static void
lc_teardown(void)
{
	char	prefix[32];

	snprintf(prefix, sizeof(prefix), "%ld.", (long)getpid());
	if (!wait_until(kill_marked_step, prefix, 20000))
		fprintf(stderr, "teardown: processes marked %s* still alive\n",
		    prefix);
	e2e_teardown();
}

static void
lc_start(const char *conf)
{
	struct jobd_client	*c;

	start_jobd(&J, conf);
	c = e2e_connect(&J);
	record_cgroup(c);
	e2e_close(c);
}

static json_object *
ping(struct jobd_client *c)
{
	json_object	*r;

	r = callf(c, "{\"op\":\"ping\"}");
	expect_ok(r);
	return (r);
}

/*
 * The first response of a run: ok, an id, the state wanted (NULL: any),
 * "existing" as wanted, and a pid exactly when the job runs.
 */
static long long
first_resp(json_object *r, const char *want, int existing)
{
	const char	*state;
	long long	 id;

	expect_ok(r);
	id = jint(r, "id");
	ck_assert_int_gt(id, 0);
	state = jstr(r, "state");
	if (want != NULL)
		ck_assert_msg(strcmp(state, want) == 0, "state %s, not %s: %s",
		    state, want, json_object_to_json_string(r));
	ck_assert_msg(jbool(r, "existing") == existing,
	    "\"existing\" should be %s: %s", existing ? "true" : "false",
	    json_object_to_json_string(r));
	if (strcmp(state, "queued") == 0)
		ck_assert_msg(jis_null(r, "pid"), "a queued job has a pid: %s",
		    json_object_to_json_string(r));
	else if (strcmp(state, "running") == 0)
		ck_assert_msg(jint(r, "pid") > 1, "%s",
		    json_object_to_json_string(r));
	return (id);
}

/* Send req (consumed): a new job, in the state wanted (NULL: any). */
static long long
submit(struct jobd_client *c, json_object *req, const char *want)
{
	json_object	*r;
	long long	 id;

	r = call(c, req);
	id = first_resp(r, want, 0);
	json_object_put(r);
	return (id);
}

/* The status response, whatever it says. */
static json_object *
try_status(struct jobd_client *c, long long id)
{
	return (callf(c, "{\"op\":\"status\",\"id\":%lld}", id));
}

/* The job object now (a new reference). */
static json_object *
job_of(struct jobd_client *c, long long id)
{
	json_object	*r, *job;

	r = try_status(c, id);
	ck_assert_msg(jbool(r, "ok"), "status of job %lld: %s", id,
	    json_object_to_json_string(r));
	job = json_object_get(jget(r, "job"));
	json_object_put(r);
	ck_assert_int_eq(jint(job, "id"), id);
	return (job);
}

/* The final job object (a new reference). */
static json_object *
wait_job(struct jobd_client *c, long long id)
{
	json_object	*r, *job;

	r = callf(c, "{\"op\":\"wait\",\"id\":%lld}", id);
	ck_assert_msg(jbool(r, "ok"), "wait for job %lld: %s", id,
	    json_object_to_json_string(r));
	job = json_object_get(jget(r, "job"));
	json_object_put(r);
	ck_assert_int_eq(jint(job, "id"), id);
	return (job);
}

static void
expect_state(json_object *job, const char *want)
{
	ck_assert_msg(strcmp(jstr(job, "state"), want) == 0,
	    "job %lld is %s, expected %s: %s", jint(job, "id"),
	    jstr(job, "state"), want, json_object_to_json_string(job));
}

/* cancel, answered ok. */
static void
cancel_ok(struct jobd_client *c, long long id)
{
	json_object	*r;

	r = callf(c, "{\"op\":\"cancel\",\"id\":%lld}", id);
	expect_ok(r);
	json_object_put(r);
}

/* A job that never started: no pid, no start time. */
static void
expect_never_started(json_object *job)
{
	ck_assert_msg(jis_null(job, "pid") && jis_null(job, "started_at"),
	    "job %lld never started, yet has a pid or started_at: %s",
	    jint(job, "id"), json_object_to_json_string(job));
}

/*
 * Send n requests (mk makes request i; its tag is i) over nc connections,
 * with at most window unanswered on each, and hand each response to cb.
 * Responses may come in any order: they are matched by tag.
 */
static void
pipeline(struct jobd_client **cs, int nc, int n, int window, mk_fn mk,
    void *mkarg, resp_fn cb, void *cbarg)
{
	json_object	*req, *r;
	int		 out[16] = { 0 }, next = 0, done = 0, k, want, tag;

	ck_assert(nc > 0 && nc <= 16 && window > 1);
	while (done < n) {
		for (k = 0; k < nc; k++) {
			while (out[k] < window && next < n) {
				req = mk(next, mkarg);
				json_object_object_add(req, "tag",
				    json_object_new_int(next));
				send_req(cs[k], req);
				out[k]++;
				next++;
			}
		}
		for (k = 0; k < nc; k++) {
			/* Keep half a window in flight while others fill. */
			want = next < n ? out[k] - window / 2 : out[k];
			if (want < 1 && out[k] > 0)
				want = 1;
			for (; want > 0; want--) {
				r = recv_resp(cs[k]);
				tag = (int)jint(r, "tag");
				ck_assert_msg(tag >= 0 && tag < n, "tag %d", tag);
				cb(r, tag, cbarg);
				json_object_put(r);
				out[k]--;
				done++;
			}
		}
	}
}

struct wait_arg {
	const long long	*ids;
	resp_fn		 cb;
	void		*cbarg;
};

static json_object *
mk_wait(int i, void *arg)
{
	struct wait_arg	*wa = arg;

	return (jparse("{\"op\":\"wait\",\"id\":%lld}", wa->ids[i]));
}

static void
got_wait(json_object *r, int i, void *arg)
{
	struct wait_arg	*wa = arg;
	json_object	*job;

	ck_assert_msg(jbool(r, "ok"), "wait for job %lld: %s", wa->ids[i],
	    json_object_to_json_string(r));
	job = jget(r, "job");
	ck_assert_int_eq(jint(job, "id"), wa->ids[i]);
	wa->cb(job, i, wa->cbarg);
}

/* Wait for every job of ids; cb gets each final job object. */
static void
wait_all(struct jobd_client *c, const long long *ids, int n, resp_fn cb,
    void *arg)
{
	struct wait_arg	wa = { ids, cb, arg };

	pipeline(&c, 1, n, WAIT_WINDOW, mk_wait, &wa, got_wait, &wa);
}

static void
kill9_jobd(void)
{
	ck_assert_int_eq(kill(J.pid, SIGKILL), 0);
	ck_assert_msg(reap_jobd(&J, 10000), "jobd not reaped after SIGKILL");
	ck_assert(WIFSIGNALED(J.status) && WTERMSIG(J.status) == SIGKILL);
}

/* The directory of ping's "store" (the database file). */
static char *
store_dir(struct jobd_client *c, char *buf, size_t len)
{
	json_object	*r;
	char		 path[PATH_MAX];
	const char	*store;

	r = ping(c);
	store = jstr(r, "store");
	ck_assert_msg(store[0] == '/', "ping's store is not a path: %s",
	    json_object_to_json_string(r));
	strlcpy(path, store, sizeof(path));
	strlcpy(buf, dirname(path), len);
	json_object_put(r);
	return (buf);
}

/* Lines of a file (a log) that contain needle, ignoring case. */
static int
log_has(const char *path, const char *needle)
{
	char	*text;
	int	 yes;

	if ((text = read_text(path, NULL)) == NULL)
		return (0);
	yes = strcasestr(text, needle) != NULL;
	free(text);
	return (yes);
}

/* Entries of a directory besides . and ..; -1 if it does not exist. */
static int
dir_entries(const char *path)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir(path)) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return (n);
}

/*
 * Our own jobds: socket, log and state directory named in J's test
 * directory, arguments chosen by the test.
 */
static void
xjobd_init(struct xjobd *x, const char *name)
{
	char	buf[64];

	memset(x, 0, sizeof(*x));
	x->pid = -1;
	snprintf(buf, sizeof(buf), "%s.sock", name);
	path_in(&J, buf, x->sock, sizeof(x->sock));
	snprintf(buf, sizeof(buf), "%s.log", name);
	path_in(&J, buf, x->log, sizeof(x->log));
}

/* In a child: make dir read-only in a mount namespace of its own. */
static int
ro_bind(const char *dir)
{
	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
	    mount(dir, dir, NULL, MS_BIND, NULL) == -1 ||
	    mount(NULL, dir, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY,
	    NULL) == -1)
		return (-1);
	return (0);
}

static void
xjobd_spawn(struct xjobd *x)
{
	const char	*argv[12];
	sigset_t	 none;
	int		 fd, i = 0;

	argv[i++] = "jobd";
	argv[i++] = "-d";
	argv[i++] = "-s";
	argv[i++] = x->sock;
	if (x->conf[0] != '\0') {
		argv[i++] = "-f";
		argv[i++] = x->conf;
	}
	if (x->state[0] != '\0') {
		argv[i++] = "-S";
		argv[i++] = x->state;
	}
	if (x->memory)
		argv[i++] = "-M";
	argv[i] = NULL;

	x->pid = fork();
	ck_assert_msg(x->pid != -1, "fork: %s", strerror(errno));
	if (x->pid == 0) {
		fd = open(x->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd == -1 || dup2(fd, STDOUT_FILENO) == -1 ||
		    dup2(fd, STDERR_FILENO) == -1)
			_exit(126);
		if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
		    dup2(fd, STDIN_FILENO) == -1)
			_exit(126);
		closefrom(STDERR_FILENO + 1);
		if (x->ro_state && ro_bind(x->state) == -1)
			_exit(125);
		for (i = 1; i < NSIG; i++)
			signal(i, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(JOBD_BIN, (char *const *)argv);
		_exit(127);
	}
	track_pid(x->pid);
}

static int
xjobd_answers(void *arg)
{
	struct up_cond		*uc = arg;
	struct jobd_client	*c;
	json_object		*req, *resp, *ok;
	char			 err[256];
	int			 good = 0;

	if (waitpid(uc->x->pid, &uc->x->status, WNOHANG) == uc->x->pid) {
		untrack_pid(uc->x->pid);
		uc->x->pid = -1;
		uc->exited = 1;
		return (1);
	}
	if ((c = jobd_connect(uc->x->sock, err, sizeof(err))) == NULL)
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

/* 1 once x answers a ping; 0 if it exited first (status in x->status). */
static int
xjobd_up(struct xjobd *x, int timeout_ms)
{
	struct up_cond	uc = { x, 0 };

	ck_assert_msg(wait_until(xjobd_answers, &uc, timeout_ms),
	    "jobd on %s neither answered nor exited within %d ms", x->sock,
	    timeout_ms);
	return (!uc.exited);
}

/* 1 if x exited within timeout_ms (status in x->status). */
static int
xjobd_exit(struct xjobd *x, int timeout_ms)
{
	if (x->pid == -1)
		return (1);
	if (!reap_within(x->pid, &x->status, timeout_ms))
		return (0);
	x->pid = -1;
	return (1);
}

static void
xjobd_stop(struct xjobd *x)
{
	if (x->pid == -1)
		return;
	ck_assert_int_eq(kill(x->pid, SIGTERM), 0);
	ck_assert_msg(xjobd_exit(x, E2E_STOP_TIMEOUT_MS),
	    "jobd on %s did not exit after SIGTERM", x->sock);
	ck_assert_msg(WIFEXITED(x->status) && WEXITSTATUS(x->status) == 0,
	    "jobd on %s: exit status 0x%x after SIGTERM", x->sock, x->status);
}

/*
 * Whether this process may make dir read-only in a mount namespace of its
 * own (root in a container may not): a child tries, and tries to write.
 */
static int
ro_mount_works(const char *dir)
{
	char	path[PATH_MAX];
	pid_t	pid;
	int	status, fd;

	ck_assert(snprintf(path, sizeof(path), "%s/probe", dir) <
	    (int)sizeof(path));
	pid = fork();
	ck_assert(pid != -1);
	if (pid == 0) {
		if (ro_bind(dir) == -1)
			_exit(2);
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		_exit(fd == -1 && errno == EROFS ? 0 : 1);
	}
	ck_assert(reap_within(pid, &status, 10000));
	(void)unlink(path);
	return (WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * 1. max_running holds under a burst. 5,000 short jobs, pipelined on four
 * connections, all get an id and all exit 0; no more than four ever run at
 * once. The proof is the jobs' own: each appends "s" to a shared file as it
 * starts and "e" just before it ends (O_APPEND writes of a few bytes are
 * atomic and ordered), so while the file is replayed the jobs counted as
 * running really were running at once. jobd's own started_at/ended_at say
 * the same, and ping's "running" never exceeds max_running.
 */
#define BURST_SCRIPT \
	"echo \"s $JOBD_JOB_ID\" >> ev; i=0; " \
	"while [ $i -lt 1000 ]; do i=$((i+1)); done; echo \"e $JOBD_JOB_ID\" >> ev"

struct burst {
	long long		*ids;
	double			*start, *end;
	struct jobd_client	*pc;		/* for ping */
	int			 maxrun;	/* ping's "running", at most */
	int			 pings;
};

static json_object *
mk_burst(int i, void *arg)
{
	return (job_req(jargv("sh", "-c", BURST_SCRIPT, NULL), NULL, "%s",
	    ""));
}

static void
burst_ping(struct burst *b)
{
	json_object	*r;
	long long	 running;

	r = ping(b->pc);
	running = jint(r, "running");
	ck_assert_msg(running >= 0 && running <= 4,
	    "ping says %lld jobs run, max_running is 4: %s", running,
	    json_object_to_json_string(r));
	ck_assert_int_eq(jint(r, "max_running"), 4);
	ck_assert_int_ge(jint(r, "queued"), 0);
	if (running > b->maxrun)
		b->maxrun = (int)running;
	b->pings++;
	json_object_put(r);
}

static void
got_burst_ack(json_object *r, int i, void *arg)
{
	struct burst	*b = arg;
	const char	*state;

	b->ids[i] = first_resp(r, NULL, 0);
	state = jstr(r, "state");
	ck_assert_msg(strcmp(state, "queued") == 0 ||
	    strcmp(state, "running") == 0, "burst job %d: %s", i,
	    json_object_to_json_string(r));
	if (i % 500 == 0)
		burst_ping(b);
}

static void
got_burst_end(json_object *job, int i, void *arg)
{
	struct burst	*b = arg;

	ck_assert_msg(strcmp(jstr(job, "state"), "exited") == 0 &&
	    jint(job, "exit_code") == 0, "burst job %d: %s", i,
	    json_object_to_json_string(job));
	b->start[i] = jdouble(job, "started_at");
	b->end[i] = jdouble(job, "ended_at");
	ck_assert_msg(b->end[i] >= b->start[i], "ended before it started: %s",
	    json_object_to_json_string(job));
	if (i % 500 == 0)
		burst_ping(b);
}

static int
ll_cmp(const void *a, const void *b)
{
	long long	x = *(const long long *)a, y = *(const long long *)b;

	return (x < y ? -1 : x > y);
}

struct tev {
	double	t;
	int	d;	/* +1 start, -1 end */
};

static int
tev_cmp(const void *a, const void *b)
{
	const struct tev	*x = a, *y = b;

	if (x->t != y->t)
		return (x->t < y->t ? -1 : 1);
	/* At the same instant an end frees the slot a start takes. */
	return (x->d - y->d);
}

START_TEST(burst_max_running)
{
	struct jobd_client	*cs[BURST_CONNS];
	struct burst		 b;
	struct tev		*tv;
	char			 path[PATH_MAX], **lines;
	long long		*sorted;
	double			 t0;
	int			 i, n, cur, max, starts, ends;

	lc_start("max_running = 4\n");
	for (i = 0; i < BURST_CONNS; i++)
		cs[i] = e2e_connect(&J);
	memset(&b, 0, sizeof(b));
	b.ids = calloc(BURST_JOBS, sizeof(*b.ids));
	b.start = calloc(BURST_JOBS, sizeof(*b.start));
	b.end = calloc(BURST_JOBS, sizeof(*b.end));
	ck_assert(b.ids != NULL && b.start != NULL && b.end != NULL);
	b.pc = e2e_connect(&J);

	t0 = now_mono();
	pipeline(cs, BURST_CONNS, BURST_JOBS, BURST_WINDOW, mk_burst, NULL,
	    got_burst_ack, &b);
	fprintf(stderr, "burst: %d jobs submitted in %.1f s\n", BURST_JOBS,
	    now_mono() - t0);

	/* Every id distinct. */
	sorted = calloc(BURST_JOBS, sizeof(*sorted));
	ck_assert_ptr_nonnull(sorted);
	memcpy(sorted, b.ids, BURST_JOBS * sizeof(*sorted));
	qsort(sorted, BURST_JOBS, sizeof(*sorted), ll_cmp);
	for (i = 1; i < BURST_JOBS; i++)
		ck_assert_msg(sorted[i] != sorted[i - 1],
		    "two burst jobs got id %lld", sorted[i]);
	free(sorted);

	wait_all(cs[0], b.ids, BURST_JOBS, got_burst_end, &b);
	fprintf(stderr, "burst: %d jobs done in %.1f s, ping saw at most %d "
	    "running in %d pings\n", BURST_JOBS, now_mono() - t0, b.maxrun,
	    b.pings);

	/* The jobs' own account. */
	path_in(&J, "ev", path, sizeof(path));
	lines = read_lines(path, &n);
	ck_assert_msg(n == 2 * BURST_JOBS, "%s has %d lines, expected %d",
	    path, n, 2 * BURST_JOBS);
	for (cur = max = starts = ends = 0, i = 0; i < n; i++) {
		if (lines[i][0] == 's') {
			starts++;
			cur++;
		} else {
			ck_assert_msg(lines[i][0] == 'e', "line %d: %s", i,
			    lines[i]);
			ends++;
			cur--;
		}
		ck_assert_msg(cur <= 4, "%d jobs running at once (line %d of "
		    "%s: %s)", cur, i + 1, path, lines[i]);
		if (cur > max)
			max = cur;
	}
	free_lines(lines, n);
	ck_assert_int_eq(starts, BURST_JOBS);
	ck_assert_int_eq(ends, BURST_JOBS);

	/* jobd's account: no instant with more than four jobs started. */
	tv = calloc(2 * BURST_JOBS, sizeof(*tv));
	ck_assert_ptr_nonnull(tv);
	for (i = 0; i < BURST_JOBS; i++) {
		tv[2 * i].t = b.start[i];
		tv[2 * i].d = 1;
		tv[2 * i + 1].t = b.end[i];
		tv[2 * i + 1].d = -1;
	}
	qsort(tv, 2 * BURST_JOBS, sizeof(*tv), tev_cmp);
	for (cur = 0, i = 0; i < 2 * BURST_JOBS; i++) {
		cur += tv[i].d;
		ck_assert_msg(cur <= 4, "started_at/ended_at: %d jobs at once "
		    "at %.6f", cur, tv[i].t);
	}
	fprintf(stderr, "burst: at most %d jobs ran at once (jobs' own "
	    "account), %.1f s in all\n", max, now_mono() - t0);
	free(tv);
	free(b.ids);
	free(b.start);
	free(b.end);
}
END_TEST

/* Names of queued jobs and their priorities, in submission order. */
struct qjob {
	const char	*name;
	int		 prio;
};

static const struct qjob qjobs[] = {
	{ "a", 0 }, { "b", 5 }, { "c", -3 }, { "d", 5 }, { "e", 1000 },
	{ "f", 0 }, { "g", -1000 }, { "h", 5 }, { "i", 0 }, { "j", 1 },
};
#define NQJOBS	((int)(sizeof(qjobs) / sizeof(qjobs[0])))

/* The order they must start in: priority, highest first, then FIFO. */
static void
expected_order(const struct qjob *q, int n, int *order)
{
	int	i, j, t;

	for (i = 0; i < n; i++)
		order[i] = i;
	/* Insertion sort: stable. */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && q[order[j - 1]].prio < q[order[j]].prio;
		    j--) {
			t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
}

/*
 * Queue q[0..n), each appending its name to "order"; ids in ids. With a
 * key prefix, each job's key is the prefix and its name.
 */
static void
queue_named(struct jobd_client *c, const struct qjob *q, int n,
    const char *mark, long long *ids, const char *keypfx)
{
	char	cmd[64], key[64];
	int	i;

	for (i = 0; i < n; i++) {
		snprintf(cmd, sizeof(cmd), "echo %s >> order", q[i].name);
		key[0] = '\0';
		if (keypfx != NULL)
			snprintf(key, sizeof(key), ",\"key\":\"%s%s\"", keypfx,
			    q[i].name);
		ids[i] = submit(c, job_req(jargv("sh", "-c", cmd, NULL), mark,
		    "\"priority\":%d%s", q[i].prio, key), "queued");
	}
}

/* "order" holds q's names in the expected order, and nothing else. */
static void
check_order(const struct qjob *q, int n)
{
	char	 path[PATH_MAX], **lines;
	int	 order[64], nl, i;

	ck_assert(n <= 64);
	expected_order(q, n, order);
	path_in(&J, "order", path, sizeof(path));
	lines = read_lines(path, &nl);
	ck_assert_msg(nl == n, "%d jobs ran, expected %d", nl, n);
	for (i = 0; i < n; i++)
		ck_assert_msg(strcmp(lines[i], q[order[i]].name) == 0,
		    "start %d was %s, expected %s (priority %d)", i + 1,
		    lines[i], q[order[i]].name, q[order[i]].prio);
	free_lines(lines, nl);
}

/* A job that holds the only slot until it is cancelled. */
static long long
start_blocker(struct jobd_client *c, const char *mark, long long *pid)
{
	json_object	*r;
	long long	 id;

	r = call(c, job_req(jargv("sleep", "100", NULL), mark, "%s", ""));
	id = first_resp(r, "running", 0);
	if (pid != NULL)
		*pid = jint(r, "pid");
	json_object_put(r);
	return (id);
}

/*
 * 2. Priorities: one slot, held; ten jobs of mixed priorities queue behind
 * it and, once it is released, start highest priority first, FIFO within a
 * priority: in the order the jobs themselves record, and by started_at.
 * The job object shows the new fields; a priority out of range is refused.
 */
START_TEST(priorities)
{
	static const char *const bad[] = { "1001", "-1001", "1.5",
	    "\"high\"" };
	struct jobd_client	*c;
	json_object		*job;
	long long		 blocker, ids[NQJOBS];
	double			 t0, prev = 0, at;
	char			 mark[32];
	int			 order[NQJOBS], i;
	size_t			 k;

	lc_start("max_running = 1\n");
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	blocker = start_blocker(c, mark, NULL);
	t0 = now_wall();
	queue_named(c, qjobs, NQJOBS, mark, ids, NULL);

	job = job_of(c, ids[1]);
	expect_state(job, "queued");
	expect_never_started(job);
	ck_assert_int_eq(jint(job, "priority"), 5);
	ck_assert(jis_null(job, "key"));
	ck_assert_msg(jdouble(job, "submitted_at") >= t0 - 1 &&
	    jdouble(job, "submitted_at") <= now_wall() + 1,
	    "submitted_at %.3f, submitted at about %.3f",
	    jdouble(job, "submitted_at"), t0);
	ck_assert(jdouble(job, "start_by") == 0);
	json_object_put(job);

	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		expect_error(call(c, job_req(jargv("true", NULL), NULL,
		    "\"priority\":%s", bad[k])), "bad_request");
	expect_error(call(c, job_req(jargv("true", NULL), NULL,
	    "\"priority\":-1000,\"niceness\":1")), "bad_request");

	cancel_ok(c, blocker);
	job = wait_job(c, blocker);
	expect_state(job, "cancelled");
	json_object_put(job);

	expected_order(qjobs, NQJOBS, order);
	for (i = 0; i < NQJOBS; i++) {
		job = wait_job(c, ids[order[i]]);
		expect_state(job, "exited");
		ck_assert_int_eq(jint(job, "priority"), qjobs[order[i]].prio);
		at = jdouble(job, "started_at");
		ck_assert_msg(at >= prev, "%s started at %.6f, before the "
		    "job it should follow (%.6f)", qjobs[order[i]].name, at,
		    prev);
		prev = at;
		json_object_put(job);
	}
	check_order(qjobs, NQJOBS);
	e2e_close(c);
}
END_TEST

/*
 * 3. max_queued: one running and three waiting, the next run is refused
 * with queue_full; once a waiting job is cancelled, a run is accepted again.
 */
START_TEST(queue_full)
{
	struct jobd_client	*c;
	json_object		*r, *job;
	long long		 ids[4];
	char			 mark[32];
	int			 i;

	lc_start("max_running = 1\nmax_queued = 3\n");
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	start_blocker(c, mark, NULL);
	for (i = 0; i < 3; i++)
		ids[i] = submit(c, job_req(jargv("true", NULL), mark,
		    "\"key\":\"qf%d\"", i), "queued");
	r = ping(c);
	ck_assert_int_eq(jint(r, "running"), 1);
	ck_assert_int_eq(jint(r, "queued"), 3);
	ck_assert_int_eq(jint(r, "max_running"), 1);
	json_object_put(r);

	expect_error(call(c, job_req(jargv("true", NULL), mark, "%s", "")),
	    "queue_full");
	/* A higher priority does not jump a full queue. */
	expect_error(call(c, job_req(jargv("true", NULL), mark,
	    "\"priority\":1000")), "queue_full");
	/* The key of a queued job names it: no new job, so not refused. */
	r = call(c, job_req(jargv("true", NULL), mark, "\"key\":\"qf0\""));
	ck_assert_int_eq(first_resp(r, "queued", 1), ids[0]);
	json_object_put(r);

	r = callf(c, "{\"op\":\"cancel\",\"id\":%lld}", ids[1]);
	expect_ok(r);
	json_object_put(r);
	job = job_of(c, ids[1]);
	expect_state(job, "cancelled");
	expect_never_started(job);
	json_object_put(job);
	r = ping(c);
	ck_assert_int_eq(jint(r, "queued"), 2);
	json_object_put(r);

	ids[3] = submit(c, job_req(jargv("true", NULL), mark, "%s", ""),
	    "queued");
	expect_error(call(c, job_req(jargv("true", NULL), mark, "%s", "")),
	    "queue_full");
	e2e_close(c);
}
END_TEST

/*
 * 3b. max_queued is 10,000 by default: with the slot held, 10,000 runs
 * queue (pipelined) and the next one is queue_full.
 */
#define DEFAULT_MAX_QUEUED	10000

static json_object *
mk_queued(int i, void *arg)
{
	return (job_req(jargv("true", NULL), arg, "%s", ""));
}

static void
got_queued(json_object *r, int i, void *arg)
{
	first_resp(r, "queued", 0);
}

START_TEST(max_queued_default)
{
	struct jobd_client	*cs[2];
	json_object		*r;
	char			 mark[32];

	lc_start("max_running = 1\n");
	new_mark(mark, sizeof(mark));
	cs[0] = e2e_connect(&J);
	cs[1] = e2e_connect(&J);
	start_blocker(cs[0], mark, NULL);
	pipeline(cs, 2, DEFAULT_MAX_QUEUED, 128, mk_queued, mark, got_queued,
	    NULL);
	r = ping(cs[0]);
	ck_assert_int_eq(jint(r, "queued"), DEFAULT_MAX_QUEUED);
	json_object_put(r);
	expect_error(call(cs[0], job_req(jargv("true", NULL), mark, "%s", "")),
	    "queue_full");
	e2e_close(cs[0]);
	e2e_close(cs[1]);
}
END_TEST

/*
 * 3c. The first response of a run: "running" with a pid, "queued" and
 * "failed" without one; "existing" false for a new job.
 */
START_TEST(run_responses)
{
	struct jobd_client	*c;
	json_object		*r, *job;
	char			 mark[32];
	long long		 id;

	lc_start("max_running = 1\n");
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	if (e2e_wrapped())
		e2e_skip("run_responses: a spawn failure's first response, "
		    "under JOBD_WRAPPER (valgrind runs jobd's vfork-style "
		    "clone as a fork)");
	else {
		r = call(c, job_req(jargv("/nonexistent/prog", NULL), mark,
		    "%s", ""));
		id = first_resp(r, "failed", 0);
		ck_assert_msg(jis_null(r, "pid"), "a failed job has a pid: %s",
		    json_object_to_json_string(r));
		json_object_put(r);
		job = wait_job(c, id);
		expect_state(job, "failed");
		ck_assert_str_eq(jstr(job, "error"), "ENOENT");
		json_object_put(job);
	}
	start_blocker(c, mark, NULL);
	id = submit(c, job_req(jargv("/nonexistent/prog", NULL), mark, "%s",
	    ""), "queued");
	job = job_of(c, id);
	expect_state(job, "queued");
	expect_never_started(job);
	json_object_put(job);
	e2e_close(c);
}
END_TEST

/*
 * 4. start_by: a job still waiting for a slot start_by seconds after it was
 * submitted ends "expired", never started, while the job holding the slot
 * runs on; one whose start_by is not yet due starts normally.
 */
START_TEST(start_by_expires)
{
	struct jobd_client	*c;
	json_object		*job;
	long long		 blocker, id;
	char			 mark[32], path[PATH_MAX];
	double			 t0, took;

	lc_start("max_running = 1\n");
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	blocker = start_blocker(c, mark, NULL);
	expect_error(call(c, job_req(jargv("true", NULL), mark,
	    "\"start_by\":-1")), "bad_request");

	t0 = now_mono();
	id = submit(c, job_req(jargv("sh", "-c", "echo ran > ran", NULL), mark,
	    "\"start_by\":0.5"), "queued");
	job = wait_job(c, id);
	took = now_mono() - t0;
	expect_state(job, "expired");
	expect_never_started(job);
	ck_assert(jdouble(job, "start_by") == 0.5);
	ck_assert_msg(took >= 0.45 && took <= 5.0 * slow,
	    "a job with start_by 0.5 expired after %.2f s", took);
	json_object_put(job);

	job = job_of(c, blocker);
	expect_state(job, "running");
	json_object_put(job);
	path_in(&J, "ran", path, sizeof(path));
	ck_assert_msg(access(path, F_OK) == -1, "the expired job ran");

	id = submit(c, job_req(jargv("sh", "-c", "echo ran > ran", NULL), mark,
	    "\"start_by\":30"), "queued");
	cancel_ok(c, blocker);
	job = wait_job(c, id);
	expect_state(job, "exited");
	ck_assert(jdouble(job, "start_by") == 30);
	json_object_put(job);
	ck_assert_msg(access(path, F_OK) == 0, "the job did not run");
	e2e_close(c);
}
END_TEST

/* list has job id, in state want, with started_at null if queued. */
static void
expect_listed(struct jobd_client *c, long long id, const char *want)
{
	json_object	*r, *jobs, *e;
	size_t		 i;

	r = callf(c, "{\"op\":\"list\"}");
	expect_ok(r);
	jobs = jget(r, "jobs");
	for (i = 0; i < json_object_array_length(jobs); i++) {
		e = json_object_array_get_idx(jobs, i);
		if (jint(e, "id") != id)
			continue;
		expect_state(e, want);
		if (strcmp(want, "queued") == 0)
			expect_never_started(e);
		json_object_put(r);
		return;
	}
	ck_abort_msg("job %lld not in list: %s", id,
	    json_object_to_json_string(r));
}

/*
 * 5. cancel in every state: a queued job is removed and ends "cancelled"
 * without ever running (not even once the slot frees), and its waiter has
 * the result; so does one whose client leaves with on_disconnect "cancel";
 * a running one goes through the kill sequence; an ended one is
 * not_running.
 */
START_TEST(cancel_states)
{
	struct jobd_client	*c, *w, *d;
	json_object		*r, *job;
	long long		 blocker, queued, odc, after, bpid;
	char			 mark[32], path[PATH_MAX];

	lc_start("max_running = 1\n");
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	w = e2e_connect(&J);
	d = e2e_connect(&J);
	blocker = start_blocker(c, mark, &bpid);
	r = call(w, job_req(jargv("sh", "-c", "echo ran > ran", NULL), mark,
	    "\"wait\":true"));
	queued = first_resp(r, "queued", 0);
	json_object_put(r);
	odc = submit(d, job_req(jargv("sh", "-c", "echo ran > odc.ran", NULL),
	    mark, "\"on_disconnect\":\"cancel\""), "queued");
	expect_listed(c, queued, "queued");
	expect_listed(c, odc, "queued");

	/* Its client gone, a queued job with on_disconnect cancel ends. */
	e2e_close(d);
	job = wait_job(c, odc);
	expect_state(job, "cancelled");
	expect_never_started(job);
	json_object_put(job);

	expect_error(callf(c, "{\"op\":\"signal\",\"id\":%lld,"
	    "\"signal\":\"TERM\"}", queued), "not_running");
	r = callf(c, "{\"op\":\"cancel\",\"id\":%lld}", queued);
	expect_ok(r);
	ck_assert_int_eq(jint(r, "id"), queued);
	ck_assert_str_eq(jstr(r, "state"), "cancelled");
	json_object_put(r);
	/* Its waiter has the result. */
	r = recv_resp(w);
	expect_ok(r);
	expect_state(jget(r, "job"), "cancelled");
	json_object_put(r);
	job = job_of(c, queued);
	expect_state(job, "cancelled");
	expect_never_started(job);
	ck_assert(jbool(job, "cancelled"));
	json_object_put(job);
	job = wait_job(c, queued);
	expect_state(job, "cancelled");
	json_object_put(job);
	expect_error(callf(c, "{\"op\":\"cancel\",\"id\":%lld}", queued),
	    "not_running");

	r = callf(c, "{\"op\":\"cancel\",\"id\":%lld}", blocker);
	expect_ok(r);
	ck_assert_str_eq(jstr(r, "state"), "terminating");
	json_object_put(r);
	job = wait_job(c, blocker);
	expect_state(job, "cancelled");
	ck_assert_int_eq(jint(job, "pid"), bpid);
	ck_assert(!jis_null(job, "started_at"));
	json_object_put(job);
	ck_assert(!pid_alive((pid_t)bpid));
	expect_error(callf(c, "{\"op\":\"cancel\",\"id\":%lld}", blocker),
	    "not_running");

	/* FIFO: had the cancelled job stayed queued, it would run first. */
	after = submit(c, job_req(jargv("true", NULL), mark, "%s", ""), NULL);
	job = wait_job(c, after);
	expect_state(job, "exited");
	json_object_put(job);
	path_in(&J, "ran", path, sizeof(path));
	ck_assert_msg(access(path, F_OK) == -1, "a cancelled queued job ran");
	path_in(&J, "odc.ran", path, sizeof(path));
	ck_assert_msg(access(path, F_OK) == -1, "a cancelled queued job ran");
	expect_error(callf(c, "{\"op\":\"cancel\",\"id\":%lld}", after + 1000),
	    "not_found");
	e2e_close(w);
	e2e_close(c);
}
END_TEST

static int
pruned(void *arg)
{
	struct state_cond	*sc = arg;
	json_object		*r;
	int			 gone;

	r = try_status(sc->c, sc->id);
	gone = !jbool(r, "ok") &&
	    strcmp(jstr(jget(r, "error"), "code"), "not_found") == 0;
	json_object_put(r);
	return (gone);
}

struct slot_watch {
	struct jobd_client	*c;
	long long		 holder, waiter;
	int			 early;		/* waiter ran while holder had not ended */
};

static int
holder_ended(void *arg)
{
	struct slot_watch	*sw = arg;
	json_object		*h, *w;
	int			 ended;

	/*
	 * The waiter first: if it had started and the holder, read after,
	 * has still not ended, they overlapped.
	 */
	w = job_of(sw->c, sw->waiter);
	h = job_of(sw->c, sw->holder);
	ended = !jis_null(h, "ended_at");
	if (!ended && strcmp(jstr(w, "state"), "queued") != 0)
		sw->early = 1;
	json_object_put(h);
	json_object_put(w);
	return (ended || sw->early);
}

/*
 * 5b. A terminating job still holds its slot: with max_running 1, a job
 * that ignores SIGTERM is cancelled and takes kill_after to die; the job
 * queued behind it starts only once it has ended.
 */
START_TEST(terminating_holds_slot)
{
	struct jobd_client	*c;
	struct slot_watch	 sw;
	json_object		*r, *h, *w;
	char			 mark[32], path[PATH_MAX];

	lc_start("max_running = 1\n");
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	r = call(c, job_req(jargv("sh", "-c", "trap '' TERM; echo ok > ready; "
	    "while :; do sleep 1; done", NULL), mark, "\"kill_after\":2"));
	sw.holder = first_resp(r, "running", 0);
	json_object_put(r);
	sw.waiter = submit(c, job_req(jargv("true", NULL), mark, "%s", ""),
	    "queued");
	sw.c = c;
	sw.early = 0;
	path_in(&J, "ready", path, sizeof(path));
	ck_assert(wait_until(file_exists, path, ms(5)));
	r = callf(c, "{\"op\":\"cancel\",\"id\":%lld}", sw.holder);
	expect_ok(r);
	ck_assert_str_eq(jstr(r, "state"), "terminating");
	json_object_put(r);
	ck_assert(wait_until(holder_ended, &sw, ms(10)));
	ck_assert_msg(!sw.early, "job %lld started while job %lld, holding the "
	    "only slot, was still terminating", sw.waiter, sw.holder);
	h = wait_job(c, sw.holder);
	expect_state(h, "cancelled");
	ck_assert(jbool(h, "killed"));
	w = wait_job(c, sw.waiter);
	expect_state(w, "exited");
	ck_assert_msg(jdouble(w, "started_at") >= jdouble(h, "ended_at"),
	    "started_at %.6f before the terminating job's ended_at %.6f",
	    jdouble(w, "started_at"), jdouble(h, "ended_at"));
	json_object_put(h);
	json_object_put(w);
	e2e_close(c);
}
END_TEST

/*
 * 6. Idempotency keys: a second run with the key of a retained job returns
 * that job (running or ended), marked "existing", and with "wait" its
 * result follows; once the job is pruned the key starts a new one. Keys
 * are 1..256 bytes of string.
 */
START_TEST(idempotency_keys)
{
	struct jobd_client	*c, *w;
	struct state_cond	 sc;
	json_object		*r, *job;
	long long		 id, pid, id2, id3;
	char			 mark[32], key[300];
	int			 i;

	lc_start("retention = 1s\n");
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	r = call(c, job_req(jargv("sleep", "100", NULL), mark,
	    "\"key\":\"k1\""));
	id = first_resp(r, "running", 0);
	pid = jint(r, "pid");
	json_object_put(r);

	/* Another argv, same key: the same job, not a new one. */
	r = call(c, job_req(jargv("sh", "-c", "echo ran > ran", NULL), mark,
	    "\"key\":\"k1\""));
	ck_assert_int_eq(first_resp(r, "running", 1), id);
	ck_assert_int_eq(jint(r, "pid"), pid);
	json_object_put(r);
	job = job_of(c, id);
	ck_assert_str_eq(jstr(job, "key"), "k1");
	json_object_put(job);

	id2 = submit(c, job_req(jargv("true", NULL), mark, "\"key\":\"k2\""),
	    NULL);
	ck_assert_int_ne(id2, id);

	expect_error(call(c, job_req(jargv("true", NULL), mark,
	    "\"key\":\"\"")), "bad_request");
	expect_error(call(c, job_req(jargv("true", NULL), mark,
	    "\"key\":5")), "bad_request");
	memset(key, 'x', 257);
	key[257] = '\0';
	expect_error(call(c, job_req(jargv("true", NULL), mark,
	    "\"key\":\"%s\"", key)), "bad_request");
	key[256] = '\0';
	submit(c, job_req(jargv("true", NULL), mark, "\"key\":\"%s\"", key),
	    NULL);
	/* Bytes, not characters: 129 two-byte characters are too many. */
	for (i = 0; i < 129; i++)
		memcpy(key + 2 * i, "\xc3\xa9", 2);
	key[258] = '\0';
	expect_error(call(c, job_req(jargv("true", NULL), mark,
	    "\"key\":\"%s\"", key)), "bad_request");
	key[256] = '\0';
	submit(c, job_req(jargv("true", NULL), mark, "\"key\":\"%s\"", key),
	    NULL);

	/* The same key with a wait: that job's result follows. */
	w = e2e_connect(&J);
	r = call(w, job_req(jargv("true", NULL), mark,
	    "\"key\":\"k1\",\"wait\":true"));
	ck_assert_int_eq(first_resp(r, "running", 1), id);
	json_object_put(r);

	/* Ended but retained: still that job. */
	cancel_ok(c, id);
	r = recv_resp(w);
	expect_ok(r);
	ck_assert_int_eq(jint(jget(r, "job"), "id"), id);
	expect_state(jget(r, "job"), "cancelled");
	json_object_put(r);
	e2e_close(w);
	job = wait_job(c, id);
	expect_state(job, "cancelled");
	json_object_put(job);
	r = call(c, job_req(jargv("true", NULL), mark, "\"key\":\"k1\""));
	ck_assert_int_eq(first_resp(r, "cancelled", 1), id);
	ck_assert_int_eq(jint(r, "pid"), pid);
	json_object_put(r);

	/* Pruned (retention 1 s): the key is free again. */
	sc.c = c;
	sc.id = id;
	sc.want = NULL;
	ck_assert_msg(wait_until(pruned, &sc, ms(10)),
	    "job %lld not pruned 10 s after it ended (retention 1s)", id);
	r = call(c, job_req(jargv("true", NULL), mark, "\"key\":\"k1\""));
	id3 = first_resp(r, NULL, 0);
	ck_assert_msg(id3 > id, "new job %lld for a pruned key, old %lld", id3,
	    id);
	json_object_put(r);
	e2e_close(c);
}
END_TEST

/* stdout of job, "ID DEADLINE\n": both parsed. */
static void
env_values(json_object *job, long long *id, double *deadline)
{
	const char	*out = jstr(job, "stdout");
	char		*end;

	*id = strtoll(out, &end, 10);
	ck_assert_msg(end != out && *end == ' ', "stdout: %s", out);
	out = end + 1;
	*deadline = strtod(out, &end);
	ck_assert_msg(end != out && strcmp(end, "\n") == 0,
	    "JOBD_DEADLINE is not a number: stdout %s", jstr(job, "stdout"));
}

/*
 * 7. Every job finds JOBD_JOB_ID (its id) and JOBD_DEADLINE (its absolute
 * deadline, or 0 without a timeout) in its environment, set over whatever
 * the request gave.
 */
START_TEST(job_environment)
{
	static const char	*cmd = "echo \"$JOBD_JOB_ID $JOBD_DEADLINE\"";
	struct jobd_client	*c;
	json_object		*job;
	long long		 id, got;
	double			 dl, want;

	lc_start(NULL);
	c = e2e_connect(&J);
	job = run_wait(c, run_req(jargv("sh", "-c", cmd, NULL),
	    "{\"timeout\":30,\"env\":{\"PATH\":\"%s\",\"JOBD_JOB_ID\":\"999\","
	    "\"JOBD_DEADLINE\":\"1\"}}", JOB_PATH), &id);
	expect_state(job, "exited");
	env_values(job, &got, &dl);
	ck_assert_int_eq(got, id);
	want = jdouble(job, "started_at") + 30;
	ck_assert_msg(dl >= want - 1 && dl <= want + 1,
	    "JOBD_DEADLINE %.3f, started_at + timeout %.3f", dl, want);
	json_object_put(job);

	job = run_wait(c, run_req(jargv("sh", "-c", cmd, NULL), "{}"), &id);
	expect_state(job, "exited");
	env_values(job, &got, &dl);
	ck_assert_int_eq(got, id);
	ck_assert_msg(dl == 0, "JOBD_DEADLINE without a timeout: %s",
	    jstr(job, "stdout"));
	json_object_put(job);
	e2e_close(c);
}
END_TEST

/*
 * The next line on c for a run with events: an event (its reason
 * returned in buf) or the final result (buf "").
 */
static json_object *
next_event(struct jobd_client *c, char *buf, size_t len)
{
	json_object	*r, *v;

	r = recv_resp(c);
	expect_ok(r);
	if (json_object_object_get_ex(r, "event", &v))
		strlcpy(buf, jstr(r, "reason"), len);
	else
		buf[0] = '\0';
	return (r);
}

/*
 * One warned job: warn_before warn, timeout to. The leader and a child
 * (a subshell, its own process) each record the signal they catch in file.
 * The warning comes once, before the deadline, as an event line with
 * reason "warn", and every process of the job really got it.
 */
static void
warned_job(struct jobd_client *c, const char *mark, const char *sig,
    int signo, double to, double warn, const char *file)
{
	json_object	*r, *job;
	char		 script[512], path[PATH_MAX], reason[32], sigfield[64];
	char		 **lines;
	double		 t0, at;
	int		 n, i, warns = 0, leader = 0, child = 0;
	struct file_lines fl;

	snprintf(script, sizeof(script),
	    "trap 'echo leader >> %s' %s\n"
	    "(trap 'echo child >> %s' %s; echo up >> %s.up; "
	    "while :; do sleep 100 & wait; done) &\n"
	    "while :; do sleep 100 & wait; done\n", file, sig, file, sig, file);
	sigfield[0] = '\0';
	if (signo != SIGUSR1)
		snprintf(sigfield, sizeof(sigfield), ",\"warn_signal\":\"%s\"",
		    sig);
	path_in(&J, file, path, sizeof(path));
	fl.path = path;
	fl.min = 2;
	t0 = now_mono();
	r = call(c, job_req(jargv("sh", "-c", script, NULL), mark,
	    "\"timeout\":%g,\"warn_before\":%g%s,\"kill_after\":1,"
	    "\"wait\":true,\"events\":true", to, warn, sigfield));
	first_resp(r, "running", 0);
	json_object_put(r);

	for (;;) {
		r = next_event(c, reason, sizeof(reason));
		if (reason[0] == '\0')
			break;
		at = now_mono() - t0;
		if (strcmp(reason, "warn") == 0) {
			warns++;
			ck_assert_int_eq(jint(r, "signal"), signo);
			ck_assert_msg(at >= to - warn - 0.2 && at < to,
			    "warning at %.2f s; timeout %g, warn_before %g", at,
			    to, warn);
			ck_assert_msg(wait_until(has_lines, &fl, ms(2)),
			    "not every process of the job got the warning");
		} else
			ck_assert_msg(strcmp(reason, "deadline") == 0 ||
			    strcmp(reason, "grace") == 0, "event %s",
			    json_object_to_json_string(r));
		json_object_put(r);
	}
	job = jget(r, "job");
	expect_state(job, "timed_out");
	json_object_put(r);
	ck_assert_msg(warns == 1, "%d warn events", warns);
	lines = read_lines(path, &n);
	for (i = 0; i < n; i++) {
		leader += strcmp(lines[i], "leader") == 0;
		child += strcmp(lines[i], "child") == 0;
	}
	ck_assert_msg(n == 2 && leader == 1 && child == 1,
	    "%d warnings caught (leader %d, child %d), expected one each", n,
	    leader, child);
	free_lines(lines, n);
}

/*
 * 8. warn_before: warn_signal (USR1 by default) reaches every process of
 * the job warn_before seconds before its deadline, once; a waiter with
 * events sees it. The fields are checked against each other.
 */
START_TEST(warn_before_deadline)
{
	static const char *const bad[] = {
		"\"warn_signal\":\"USR2\"",
		"\"warn_signal\":\"USR2\",\"timeout\":5",
		"\"warn_before\":1",
		"\"warn_before\":3,\"timeout\":3",
		"\"warn_before\":4,\"timeout\":3",
		"\"warn_before\":1,\"timeout\":3,\"warn_signal\":\"NOPE\"",
		"\"warn_before\":-1,\"timeout\":3",
		"\"warn_before\":1,\"timeout\":3,\"warn_signal\":\"KILL\"",
		"\"warn_before\":1,\"timeout\":3,\"warn_signal\":\"STOP\"",
	};
	struct jobd_client	*c;
	char			 mark[32];
	size_t			 i;

	lc_start(NULL);
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(call(c, job_req(jargv("true", NULL), mark, "%s",
		    bad[i])), "bad_request");
	warned_job(c, mark, "USR1", SIGUSR1, 3, 2, "warned1");
	warned_job(c, mark, "USR2", SIGUSR2, 2, 1.5, "warned2");
	e2e_close(c);
}
END_TEST

/* The containment tier of the running jobd. */
static void
tier_of(struct jobd_client *c, char *buf, size_t len)
{
	json_object	*r;

	r = ping(c);
	strlcpy(buf, jstr(r, "containment"), len);
	json_object_put(r);
}

/*
 * After jobd was killed and restarted: no process of the jobs marked mark
 * (a group) is alive. The pgid tier promises nothing here (a setsid()'d
 * process is in no group a later jobd could find): that part is a skip,
 * and the test kills them itself.
 */
static void
expect_none_left(const char *tier, const char *mark, const char *what)
{
	if (strcmp(tier, "pgid") == 0) {
		e2e_skip("%s: pgid tier, no process of a lost job is "
		    "guaranteed gone after jobd was killed (not checked)",
		    what);
		ck_assert(wait_until(kill_marked_step, (void *)mark, 10000));
		return;
	}
	ck_assert_msg(wait_until(none_marked, (void *)mark, ms(5)),
	    "%s (%s): processes of lost jobs alive after the restart:%s",
	    what, tier, describe_marked(mark));
}

/* A job that ran when jobd was killed: lost, with what was known. */
static void
expect_lost(json_object *job, long long pid, double started_at)
{
	expect_state(job, "lost");
	ck_assert_msg(jint(job, "pid") == pid, "lost job: pid %lld, was "
	    "%lld: %s", jint(job, "pid"), pid, json_object_to_json_string(job));
	ck_assert_msg(jdouble(job, "started_at") > started_at - 0.001 &&
	    jdouble(job, "started_at") < started_at + 0.001,
	    "lost job: started_at %.6f, was %.6f", jdouble(job, "started_at"),
	    started_at);
}

/* The highest id jobd lists. */
static long long
max_listed(struct jobd_client *c)
{
	json_object	*r, *jobs;
	long long	 max = 0, id;
	size_t		 i;

	r = callf(c, "{\"op\":\"list\"}");
	expect_ok(r);
	jobs = jget(r, "jobs");
	for (i = 0; i < json_object_array_length(jobs); i++) {
		id = jint(json_object_array_get_idx(jobs, i), "id");
		if (id > max)
			max = id;
	}
	json_object_put(r);
	return (max);
}

/* A new job gets an id above every id jobd ever gave. */
static void
expect_ids_grow(struct jobd_client *c, long long above)
{
	json_object	*job;
	long long	 id, listed = max_listed(c);

	if (listed > above)
		above = listed;
	job = run_wait(c, job_req(jargv("true", NULL), NULL, "%s", ""), &id);
	expect_state(job, "exited");
	json_object_put(job);
	ck_assert_msg(id > above, "new job got id %lld, not above %lld", id,
	    above);
}

/*
 * 9a. jobd killed with SIGKILL while jobs wait in the queue. At the next
 * start, with the same ids: the job that ran is "lost" and nothing of it is
 * alive; the queued jobs start in priority/FIFO order; a queued job that
 * had passed descriptors cannot be started again and is "lost"; one with
 * on_disconnect "cancel" is "cancelled". None of those ran.
 */
START_TEST(crash_queued)
{
	struct jobd_client	*c;
	json_object		*r, *req, *job;
	long long		 blocker, bpid, ids[NQJOBS], fds_id, odc_id;
	long long		 maxid;
	double			 bstart;
	char			 mark[32], bmark[40], tier[32], path[PATH_MAX];
	int			 p[2], i;

	lc_start("max_running = 1\n");
	new_mark(mark, sizeof(mark));
	snprintf(bmark, sizeof(bmark), "%sblocker", mark);
	c = e2e_connect(&J);
	tier_of(c, tier, sizeof(tier));
	blocker = start_blocker(c, bmark, &bpid);
	queue_named(c, qjobs, NQJOBS, mark, ids, "q-");

	cloexec_pipe(p);
	req = job_req(jargv("sh", "-c", "echo ran > fds.ran", NULL), mark,
	    "\"fds\":[\"stdout\"]");
	ck_assert_msg(jobd_send_fds(c, req, &p[1], 1) == 0,
	    "jobd_send_fds: %s", strerror(errno));
	json_object_put(req);
	r = recv_resp(c);
	fds_id = first_resp(r, "queued", 0);
	json_object_put(r);
	odc_id = submit(c, job_req(jargv("sh", "-c", "echo ran > odc.ran",
	    NULL), mark, "\"on_disconnect\":\"cancel\""), "queued");
	job = job_of(c, blocker);
	bstart = jdouble(job, "started_at");
	json_object_put(job);
	maxid = odc_id;

	kill9_jobd();
	/* Only now: a disconnect must not be what cancels odc_id. */
	e2e_close(c);
	restart_jobd(&J);
	c = e2e_connect(&J);
	record_cgroup(c);

	job = job_of(c, blocker);
	expect_lost(job, bpid, bstart);
	json_object_put(job);
	job = wait_job(c, blocker);
	expect_state(job, "lost");
	json_object_put(job);
	expect_none_left(tier, bmark, "crash_queued");

	/* A retained job's key still names it: nothing new is queued. */
	r = call(c, job_req(jargv("true", NULL), mark, "\"key\":\"q-%s\"",
	    qjobs[0].name));
	ck_assert_int_eq(first_resp(r, NULL, 1), ids[0]);
	json_object_put(r);

	job = wait_job(c, fds_id);
	expect_state(job, "lost");
	expect_never_started(job);
	json_object_put(job);
	job = wait_job(c, odc_id);
	expect_state(job, "cancelled");
	expect_never_started(job);
	json_object_put(job);

	for (i = 0; i < NQJOBS; i++) {
		job = wait_job(c, ids[i]);
		expect_state(job, "exited");
		ck_assert_int_eq(jint(job, "priority"), qjobs[i].prio);
		json_object_put(job);
	}
	check_order(qjobs, NQJOBS);
	path_in(&J, "fds.ran", path, sizeof(path));
	ck_assert_msg(access(path, F_OK) == -1, "the fds job ran");
	path_in(&J, "odc.ran", path, sizeof(path));
	ck_assert_msg(access(path, F_OK) == -1, "the on_disconnect job ran");
	close(p[0]);
	close(p[1]);
	expect_ids_grow(c, maxid);
	e2e_close(c);
}
END_TEST

/*
 * 9b. jobd killed with SIGKILL while jobs run, one of them with a setsid()
 * escapee, one with a double-forked one. At the next start they are
 * "lost" with the pid and started_at they had, and no process of theirs is
 * alive.
 */
START_TEST(crash_running)
{
	static const char *const scripts[] = {
		"exec sleep 100",
		"escape -s >> esc.pid && echo ok >> ready; exec sleep 100",
		"escape -ds >> esc.pid && echo ok >> ready; exec sleep 100",
	};
	struct jobd_client	*c;
	struct file_lines	 fl;
	struct marked_cond	 mc;
	json_object		*r, *job;
	long long		 ids[3], pids[3];
	double			 starts[3];
	char			 mark[32], jmark[40], tier[32], path[PATH_MAX];
	pid_t			 esc[4];
	int			 i, n;

	lc_start(NULL);
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	tier_of(c, tier, sizeof(tier));
	for (i = 0; i < 3; i++) {
		snprintf(jmark, sizeof(jmark), "%s%d", mark, i);
		r = call(c, job_req(jargv("sh", "-c", scripts[i], NULL), jmark,
		    "\"key\":\"running%d\"", i));
		ids[i] = first_resp(r, "running", 0);
		pids[i] = jint(r, "pid");
		json_object_put(r);
	}
	path_in(&J, "ready", path, sizeof(path));
	fl.path = path;
	fl.min = 2;
	ck_assert_msg(wait_until(has_lines, &fl, ms(10)), "escapes not ready");
	mc.mark = mark;
	mc.min = 5;
	ck_assert_msg(wait_until(marked_enough, &mc, ms(10)),
	    "only %d processes:%s", count_marked(mark, NULL, 0),
	    describe_marked(mark));
	for (i = 0; i < 3; i++) {
		job = job_of(c, ids[i]);
		starts[i] = jdouble(job, "started_at");
		json_object_put(job);
	}
	path_in(&J, "esc.pid", path, sizeof(path));
	n = read_pids(path, esc, 4);
	ck_assert_int_eq(n, 2);

	kill9_jobd();
	e2e_close(c);
	restart_jobd(&J);
	c = e2e_connect(&J);
	record_cgroup(c);
	for (i = 0; i < 3; i++) {
		job = job_of(c, ids[i]);
		expect_lost(job, pids[i], starts[i]);
		json_object_put(job);
		job = wait_job(c, ids[i]);
		expect_lost(job, pids[i], starts[i]);
		json_object_put(job);
	}
	expect_none_left(tier, mark, "crash_running");
	/* A lost job keeps its key: the same run is not started again. */
	r = call(c, job_req(jargv("sh", "-c", scripts[0], NULL), NULL,
	    "\"key\":\"running0\""));
	ck_assert_int_eq(first_resp(r, "lost", 1), ids[0]);
	json_object_put(r);
	/* In pidns the escapees printed pids of the job's namespace. */
	if (strcmp(tier, "pgid") != 0 && strcmp(tier, "pidns") != 0)
		for (i = 0; i < n; i++)
			ck_assert_msg(!pid_alive(esc[i]), "escapee %ld alive",
			    (long)esc[i]);
	expect_ids_grow(c, ids[2]);
	e2e_close(c);
}
END_TEST

struct acks {
	long long	*ids;
	int		 n;
	const char	*mark;
};

static json_object *
mk_true(int i, void *arg)
{
	struct acks	*a = arg;

	return (job_req(jargv("true", NULL), a->mark, "%s", ""));
}

static void
got_ack(json_object *r, int i, void *arg)
{
	struct acks	*a = arg;

	a->ids[i] = first_resp(r, NULL, 0);
	a->n++;
}

struct ends {
	int	exited, lost;
};

static void
got_end(json_object *job, int i, void *arg)
{
	struct ends	*e = arg;
	const char	*state = jstr(job, "state");

	if (strcmp(state, "exited") == 0) {
		ck_assert_msg(jint(job, "exit_code") == 0, "%s",
		    json_object_to_json_string(job));
		e->exited++;
	} else {
		ck_assert_msg(strcmp(state, "lost") == 0, "a job that was "
		    "acknowledged before jobd was killed ended %s: %s", state,
		    json_object_to_json_string(job));
		/* Its pid may not have been known when jobd died. */
		ck_assert_msg(!jis_null(job, "started_at"),
		    "a lost job that never ran: %s",
		    json_object_to_json_string(job));
		e->lost++;
	}
}

/*
 * After a restart, every acknowledged job is known (never not_found), in a
 * state it may be in, and ends exited (its true exits 0) or lost; nothing
 * of the jobs is alive at the end.
 */
static void
check_acked(struct jobd_client *c, const long long *ids, int n,
    const char *tier, const char *mark, const char *what)
{
	static const char *const ok[] = { "queued", "running", "terminating",
	    "exited", "lost", NULL };
	struct ends	 e = { 0, 0 };
	json_object	*r;
	const char	*state;
	int		 i, k;

	for (i = 0; i < n; i++) {
		r = try_status(c, ids[i]);
		ck_assert_msg(jbool(r, "ok"), "%s: job %lld, acknowledged "
		    "before jobd was killed, is unknown after the restart: %s",
		    what, ids[i], json_object_to_json_string(r));
		state = jstr(jget(r, "job"), "state");
		for (k = 0; ok[k] != NULL && strcmp(ok[k], state) != 0; k++)
			;
		ck_assert_msg(ok[k] != NULL, "%s: job %lld is %s", what,
		    ids[i], state);
		json_object_put(r);
	}
	wait_all(c, ids, n, got_end, &e);
	fprintf(stderr, "%s: %d acknowledged jobs: %d exited, %d lost\n", what,
	    n, e.exited, e.lost);
	expect_none_left(tier, mark, what);
}

/*
 * 9c. jobd killed with SIGKILL while many short jobs start and end (sixteen
 * at a time, 400 in all, just submitted).
 */
START_TEST(crash_finishing)
{
	struct jobd_client	*cs[2];
	struct acks		 a;
	char			 mark[32], tier[32];
	long long		 max = 0;
	int			 i;

	lc_start("max_running = 16\n");
	new_mark(mark, sizeof(mark));
	for (i = 0; i < 2; i++)
		cs[i] = e2e_connect(&J);
	tier_of(cs[0], tier, sizeof(tier));
	a.ids = calloc(FINISH_JOBS, sizeof(*a.ids));
	ck_assert_ptr_nonnull(a.ids);
	a.n = 0;
	a.mark = mark;
	pipeline(cs, 2, FINISH_JOBS, 32, mk_true, &a, got_ack, &a);
	kill9_jobd();
	for (i = 0; i < 2; i++)
		e2e_close(cs[i]);
	for (i = 0; i < FINISH_JOBS; i++)
		if (a.ids[i] > max)
			max = a.ids[i];

	restart_jobd(&J);
	cs[0] = e2e_connect(&J);
	record_cgroup(cs[0]);
	check_acked(cs[0], a.ids, FINISH_JOBS, tier, mark, "crash_finishing");
	expect_ids_grow(cs[0], max);
	free(a.ids);
	e2e_close(cs[0]);
}
END_TEST

/*
 * The writer of 9d, in a child: every request line, then exit. Blocking
 * writes (the socket's send timeout bounds them): the descriptor is shared
 * with the reader, which must not become non-blocking.
 */
static void __attribute__((noreturn))
write_requests(int fd, const char *mark, int n)
{
	char	 line[1024], *p;
	ssize_t	 w;
	int	 i, len;

	for (i = 0; i < n; i++) {
		len = snprintf(line, sizeof(line), "{\"op\":\"run\",\"argv\":"
		    "[\"true\"],\"cwd\":\"%s\",\"env\":{\"PATH\":\"%s\",\""
		    MARK_VAR "\":\"%s\"},\"tag\":%d}\n", J.dir, JOB_PATH, mark,
		    i);
		for (p = line; len > 0;) {
			w = write(fd, p, (size_t)len);
			if (w == -1 && errno == EINTR)
				continue;
			if (w <= 0)
				_exit(1);
			p += w;
			len -= (int)w;
		}
	}
	_exit(0);
}

static void
got_inflight_ack(json_object *r, long long *ids, int *nacked, long long *max)
{
	int	tag = (int)jint(r, "tag");

	ck_assert_msg(tag >= 0 && tag < INFLIGHT_JOBS && ids[tag] == 0,
	    "tag %d", tag);
	ids[tag] = first_resp(r, NULL, 0);
	if (ids[tag] > *max)
		*max = ids[tag];
	(*nacked)++;
}

/*
 * 9d. jobd killed with SIGKILL with thousands of requests in flight: 2,000
 * runs pipelined on one connection, the kill after the 1,000th answer. Every
 * id the client received (before the kill, and those still in the socket)
 * is known after the restart.
 */
START_TEST(crash_inflight)
{
	struct jobd_client	*c;
	json_object		*r;
	long long		*ids, *acked, max = 0;
	char			 mark[32], tier[32];
	pid_t			 writer;
	int			 nacked = 0, n, i;

	lc_start("max_running = 8\n");
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	tier_of(c, tier, sizeof(tier));
	ids = calloc(INFLIGHT_JOBS, sizeof(*ids));
	acked = calloc(INFLIGHT_JOBS, sizeof(*acked));
	ck_assert(ids != NULL && acked != NULL);

	writer = fork();
	ck_assert(writer != -1);
	if (writer == 0)
		write_requests(jobd_client_fd(c), mark, INFLIGHT_JOBS);
	track_pid(writer);

	while (nacked < INFLIGHT_KILL) {
		r = recv_resp(c);
		got_inflight_ack(r, ids, &nacked, &max);
		json_object_put(r);
	}
	kill9_jobd();
	/*
	 * What jobd sent before it died is still in the socket; then EOF, or
	 * ECONNRESET since jobd left requests unread.
	 */
	for (;;) {
		errno = 0;
		if ((r = jobd_recv(c)) == NULL)
			break;
		got_inflight_ack(r, ids, &nacked, &max);
		json_object_put(r);
	}
	ck_assert_msg(errno == 0 || errno == ECONNRESET, "reading the rest: %s",
	    strerror(errno));
	(void)reap_within(writer, NULL, 10000);
	e2e_close(c);
	for (n = 0, i = 0; i < INFLIGHT_JOBS; i++)
		if (ids[i] != 0)
			acked[n++] = ids[i];
	ck_assert_int_eq(n, nacked);
	fprintf(stderr, "crash_inflight: %d of %d runs acknowledged when jobd "
	    "died\n", n, INFLIGHT_JOBS);

	restart_jobd(&J);
	c = e2e_connect(&J);
	record_cgroup(c);
	check_acked(c, acked, n, tier, mark, "crash_inflight");
	expect_ids_grow(c, max);
	free(ids);
	free(acked);
	e2e_close(c);
}
END_TEST

/*
 * 9e. A clean stop (SIGTERM): the running job is cancelled, the queued ones
 * do not run but stay queued, and at the next start they run, in order,
 * with the same ids (a queued job that had passed descriptors cannot, and
 * is "lost"); results of ended jobs are still there, and their keys still
 * name them.
 */
START_TEST(clean_restart)
{
	struct jobd_client	*c, *w;
	json_object		*r, *req, *job;
	long long		 done, blocker, ids[NQJOBS], fds_id;
	char			 mark[32], path[PATH_MAX];
	int			 i, p[2];

	lc_start("max_running = 1\n");
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	w = e2e_connect(&J);
	job = run_wait(c, job_req(jargv("sh", "-c", "echo before; exit 3",
	    NULL), mark, "\"key\":\"done\""), &done);
	expect_state(job, "exited");
	json_object_put(job);
	r = call(w, job_req(jargv("sleep", "100", NULL), mark,
	    "\"wait\":true"));
	blocker = first_resp(r, "running", 0);
	json_object_put(r);
	queue_named(c, qjobs, NQJOBS, mark, ids, NULL);
	cloexec_pipe(p);
	req = job_req(jargv("sh", "-c", "echo ran > fds.ran", NULL), mark,
	    "\"fds\":[\"stdout\"]");
	ck_assert_msg(jobd_send_fds(c, req, &p[1], 1) == 0,
	    "jobd_send_fds: %s", strerror(errno));
	json_object_put(req);
	r = recv_resp(c);
	fds_id = first_resp(r, "queued", 0);
	json_object_put(r);

	ck_assert_int_eq(kill(J.pid, SIGTERM), 0);
	r = recv_resp(w);
	expect_ok(r);
	expect_state(jget(r, "job"), "cancelled");
	json_object_put(r);
	ck_assert_msg(reap_jobd(&J, E2E_STOP_TIMEOUT_MS), "jobd did not stop");
	ck_assert_msg(WIFEXITED(J.status) && WEXITSTATUS(J.status) == 0,
	    "jobd exit status 0x%x", J.status);
	path_in(&J, "order", path, sizeof(path));
	ck_assert_msg(access(path, F_OK) == -1,
	    "queued jobs ran while jobd stopped");
	e2e_close(c);
	e2e_close(w);

	restart_jobd(&J);
	c = e2e_connect(&J);
	record_cgroup(c);
	for (i = 0; i < NQJOBS; i++) {
		job = wait_job(c, ids[i]);
		expect_state(job, "exited");
		json_object_put(job);
	}
	check_order(qjobs, NQJOBS);
	job = wait_job(c, fds_id);
	expect_state(job, "lost");
	expect_never_started(job);
	json_object_put(job);
	path_in(&J, "fds.ran", path, sizeof(path));
	ck_assert_msg(access(path, F_OK) == -1, "the fds job ran");
	close(p[0]);
	close(p[1]);

	job = job_of(c, done);
	expect_state(job, "exited");
	ck_assert_int_eq(jint(job, "exit_code"), 3);
	json_object_put(job);
	expect_listed(c, done, "exited");
	expect_listed(c, blocker, "cancelled");
	r = call(c, job_req(jargv("true", NULL), mark, "\"key\":\"done\""));
	ck_assert_int_eq(first_resp(r, "exited", 1), done);
	json_object_put(r);
	job = job_of(c, blocker);
	expect_state(job, "cancelled");
	json_object_put(job);
	expect_ids_grow(c, fds_id);
	e2e_close(c);
}
END_TEST

static int
clock_past(void *arg)
{
	return (now_wall() > *(double *)arg);
}

/*
 * 9h. start_by across a restart counts from the submission. jobd is killed
 * with one job running (the slot) and three queued: a long one (priority
 * 10), one whose start_by passes while jobd is down (priority 20: first in
 * line at the restart, were it not expired) and one whose start_by passes
 * a little after the restart (priority 0). The first never starts; the
 * second expires start_by after its submission, not after the restart.
 */
START_TEST(start_by_across_restart)
{
	struct jobd_client	*c;
	json_object		*job;
	char			 mark[32];
	long long		 blocker, longer, early, late;
	double			 submitted, until, at;

	lc_start("max_running = 1\n");
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	blocker = start_blocker(c, mark, NULL);
	longer = submit(c, job_req(jargv("sleep", "100", NULL), mark,
	    "\"priority\":10"), "queued");
	early = submit(c, job_req(jargv("sh", "-c", "echo ran > early.ran",
	    NULL), mark, "\"priority\":20,\"start_by\":1"), "queued");
	late = submit(c, job_req(jargv("sh", "-c", "echo ran > late.ran",
	    NULL), mark, "\"start_by\":3.5"), "queued");
	job = job_of(c, late);
	submitted = jdouble(job, "submitted_at");
	json_object_put(job);
	e2e_close(c);
	kill9_jobd();
	/* Down past the first start_by: a wait on the clock itself. */
	until = submitted + 1.8;
	ck_assert(wait_until(clock_past, &until, 5000));
	restart_jobd(&J);
	c = e2e_connect(&J);
	record_cgroup(c);

	job = job_of(c, blocker);
	expect_state(job, "lost");
	json_object_put(job);
	job = wait_job(c, late);
	at = now_wall();
	expect_state(job, "expired");
	expect_never_started(job);
	json_object_put(job);
	ck_assert_msg(at - submitted < 3.5 + 1.5 * slow, "start_by 3.5: "
	    "expired %.2f s after submission (counted from the restart?)",
	    at - submitted);
	job = job_of(c, longer);
	expect_state(job, "running");
	json_object_put(job);
	job = wait_job(c, early);
	ck_assert_msg(strcmp(jstr(job, "state"), "expired") == 0,
	    "start_by 1 passed while jobd was down, yet the job is %s after "
	    "the restart: %s", jstr(job, "state"),
	    json_object_to_json_string(job));
	expect_never_started(job);
	json_object_put(job);
	e2e_close(c);
}
END_TEST

/*
 * 9i. What a client was told stays true across a crash: jobd is killed
 * with SIGKILL while final results stream out; after the restart every job
 * whose final result the client received is in that same state with that
 * same exit code (never "lost", never run again), and every acknowledged
 * one is known.
 */
#define RESULT_JOBS	200
#define RESULT_KILL	100

struct told {
	long long	id;
	char		state[16];
	int		code;		/* -1: none */
};

static void
got_told(json_object *r, struct told *t, int *nfinal)
{
	json_object	*job, *v;
	int		 tag = (int)jint(r, "tag");

	expect_ok(r);
	ck_assert(tag >= 0 && tag < RESULT_JOBS);
	if (!json_object_object_get_ex(r, "job", &job)) {
		ck_assert_msg(t[tag].id == 0, "two first responses, tag %d", tag);
		t[tag].id = first_resp(r, NULL, 0);
		return;
	}
	ck_assert_int_eq(jint(job, "id"), t[tag].id);
	strlcpy(t[tag].state, jstr(job, "state"), sizeof(t[tag].state));
	t[tag].code = json_object_object_get_ex(job, "exit_code", &v) &&
	    json_object_is_type(v, json_type_int) ? json_object_get_int(v) : -1;
	(*nfinal)++;
}

START_TEST(crash_after_results)
{
	struct jobd_client	*c;
	struct told		 t[RESULT_JOBS];
	json_object		*r, *job;
	char			 mark[32], tier[32], cmd[32];
	long long		 ids[RESULT_JOBS], max = 0;
	int			 i, n, nfinal = 0, told = 0;

	memset(t, 0, sizeof(t));
	lc_start("max_running = 4\n");
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	tier_of(c, tier, sizeof(tier));
	for (i = 0; i < RESULT_JOBS; i++) {
		snprintf(cmd, sizeof(cmd), "exit %d", i % 7);
		r = job_req(jargv("sh", "-c", cmd, NULL), mark,
		    "\"wait\":true,\"tag\":%d", i);
		send_req(c, r);
	}
	while (nfinal < RESULT_KILL) {
		r = recv_resp(c);
		got_told(r, t, &nfinal);
		json_object_put(r);
	}
	kill9_jobd();
	for (;;) {
		errno = 0;
		if ((r = jobd_recv(c)) == NULL)
			break;
		got_told(r, t, &nfinal);
		json_object_put(r);
	}
	e2e_close(c);

	restart_jobd(&J);
	c = e2e_connect(&J);
	record_cgroup(c);
	for (n = 0, i = 0; i < RESULT_JOBS; i++) {
		if (t[i].id == 0)
			continue;
		if (t[i].id > max)
			max = t[i].id;
		ids[n++] = t[i].id;
		if (t[i].state[0] == '\0')
			continue;
		told++;
		job = job_of(c, t[i].id);
		ck_assert_msg(strcmp(jstr(job, "state"), t[i].state) == 0 &&
		    (t[i].code == -1 || jint(job, "exit_code") == t[i].code),
		    "job %lld was reported %s (exit %d) before the crash, and "
		    "after the restart: %s", t[i].id, t[i].state, t[i].code,
		    json_object_to_json_string(job));
		json_object_put(job);
	}
	fprintf(stderr, "crash_after_results: %d acknowledged, %d final results "
	    "received before jobd died\n", n, told);
	for (i = 0; i < n; i++) {
		job = wait_job(c, ids[i]);
		ck_assert_msg(strcmp(jstr(job, "state"), "exited") == 0 ||
		    strcmp(jstr(job, "state"), "lost") == 0, "%s",
		    json_object_to_json_string(job));
		json_object_put(job);
	}
	expect_none_left(tier, mark, "crash_after_results");
	expect_ids_grow(c, max);
	e2e_close(c);
}
END_TEST

/*
 * 9j. A queued job cancelled just before jobd is killed stays cancelled:
 * after the restart it is "cancelled" and never runs; the others run.
 */
START_TEST(cancel_then_crash)
{
	struct jobd_client	*c;
	json_object		*r, *job;
	char			 mark[32], cmd[64], path[PATH_MAX], **lines;
	long long		 ids[6];
	int			 i, nl;

	lc_start("max_running = 1\n");
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	start_blocker(c, mark, NULL);
	for (i = 0; i < 6; i++) {
		snprintf(cmd, sizeof(cmd), "echo %d >> order", i);
		ids[i] = submit(c, job_req(jargv("sh", "-c", cmd, NULL), mark,
		    "%s", ""), "queued");
	}
	for (i = 0; i < 6; i += 2) {
		r = callf(c, "{\"op\":\"cancel\",\"id\":%lld}", ids[i]);
		expect_ok(r);
		json_object_put(r);
	}
	kill9_jobd();
	e2e_close(c);
	restart_jobd(&J);
	c = e2e_connect(&J);
	record_cgroup(c);
	for (i = 0; i < 6; i++) {
		job = wait_job(c, ids[i]);
		if (i % 2 == 0) {
			ck_assert_msg(strcmp(jstr(job, "state"), "cancelled") == 0,
			    "job %lld was cancelled (ok) before the crash; after "
			    "the restart: %s", ids[i],
			    json_object_to_json_string(job));
			expect_never_started(job);
		} else
			expect_state(job, "exited");
		json_object_put(job);
	}
	path_in(&J, "order", path, sizeof(path));
	lines = read_lines(path, &nl);
	ck_assert_msg(nl == 3, "%d queued jobs ran, expected 3", nl);
	for (i = 0; i < nl; i++)
		ck_assert_msg(atoi(lines[i]) % 2 == 1, "cancelled job %s ran",
		    lines[i]);
	free_lines(lines, nl);
	e2e_close(c);
}
END_TEST

static int
is_running(void *arg)
{
	struct state_cond	*sc = arg;
	json_object		*job;
	int			 yes;

	job = job_of(sc->c, sc->id);
	yes = strcmp(jstr(job, "state"), "running") == 0;
	json_object_put(job);
	return (yes);
}

/*
 * 9k. FIFO holds across a restart: jobs queued before jobd was killed come
 * before jobs of the same priority submitted after the restart (and after
 * a higher priority submitted after it).
 */
START_TEST(fifo_across_restart)
{
	static const struct qjob after[] = { { "C", 0 }, { "D", 1 } };
	static const char *const want[] = { "D", "A", "B", "C" };
	struct jobd_client	*c;
	struct state_cond	 sc;
	json_object		*job;
	char			 mark[32], path[PATH_MAX], **lines;
	long long		 hold, ids[2], later[2];
	int			 i, nl;

	lc_start("max_running = 1\n");
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	start_blocker(c, mark, NULL);
	/* After the restart, this one holds the slot. */
	hold = submit(c, job_req(jargv("sleep", "100", NULL), mark,
	    "\"priority\":100"), "queued");
	ids[0] = submit(c, job_req(jargv("sh", "-c", "echo A >> order", NULL),
	    mark, "%s", ""), "queued");
	ids[1] = submit(c, job_req(jargv("sh", "-c", "echo B >> order", NULL),
	    mark, "%s", ""), "queued");
	e2e_close(c);
	kill9_jobd();
	restart_jobd(&J);
	c = e2e_connect(&J);
	record_cgroup(c);
	sc.c = c;
	sc.id = hold;
	sc.want = NULL;
	ck_assert_msg(wait_until(is_running, &sc, ms(5)),
	    "the restored job of priority 100 did not start");
	queue_named(c, after, 2, mark, later, NULL);
	cancel_ok(c, hold);
	for (i = 0; i < 2; i++) {
		job = wait_job(c, ids[i]);
		expect_state(job, "exited");
		json_object_put(job);
		job = wait_job(c, later[i]);
		expect_state(job, "exited");
		json_object_put(job);
	}
	path_in(&J, "order", path, sizeof(path));
	lines = read_lines(path, &nl);
	ck_assert_msg(nl == 4, "%d jobs ran, expected 4", nl);
	for (i = 0; i < 4; i++)
		ck_assert_msg(strcmp(lines[i], want[i]) == 0, "start %d was %s, "
		    "expected %s (order D A B C)", i + 1, lines[i], want[i]);
	free_lines(lines, nl);
	e2e_close(c);
}
END_TEST

/* Run a job to its end; then wait until it is pruned. Returns its id. */
static long long
run_pruned(struct jobd_client *c)
{
	struct state_cond	 sc;
	json_object		*job;
	long long		 id;

	job = run_wait(c, job_req(jargv("true", NULL), NULL, "%s", ""), &id);
	expect_state(job, "exited");
	json_object_put(job);
	sc.c = c;
	sc.id = id;
	sc.want = NULL;
	ck_assert_msg(wait_until(pruned, &sc, ms(10)),
	    "job %lld not pruned (retention 0)", id);
	return (id);
}

/*
 * 9f. Ids are never reused, even when every job before was pruned and
 * the store holds none: across a clean restart and a SIGKILL.
 */
START_TEST(ids_never_reused)
{
	struct jobd_client	*c;
	long long		 last, id;
	int			 i;

	lc_start("retention = 0\n");
	c = e2e_connect(&J);
	for (i = 0; i < 3; i++)
		last = run_pruned(c);
	e2e_close(c);
	ck_assert_int_eq(kill(J.pid, SIGTERM), 0);
	ck_assert(reap_jobd(&J, E2E_STOP_TIMEOUT_MS));
	restart_jobd(&J);
	c = e2e_connect(&J);
	record_cgroup(c);
	id = run_pruned(c);
	ck_assert_msg(id > last, "after a clean restart: id %lld again (the "
	    "last before was %lld)", id, last);
	last = id;
	e2e_close(c);
	kill9_jobd();
	restart_jobd(&J);
	c = e2e_connect(&J);
	record_cgroup(c);
	id = run_pruned(c);
	ck_assert_msg(id > last, "after SIGKILL: id %lld again (the last "
	    "before was %lld)", id, last);
	e2e_close(c);
}
END_TEST

/*
 * 9g. Retention runs on across a restart: an ended job is there after
 * jobd was killed and started again, and is pruned once retention has
 * passed since it ended.
 */
START_TEST(retention_across_restart)
{
	struct jobd_client	*c;
	struct state_cond	 sc;
	json_object		*job;
	char			 conf[64];
	long long		 id;
	double			 ended, retention = 3 * slow;

	snprintf(conf, sizeof(conf), "retention = %gs\n", retention);
	lc_start(conf);
	c = e2e_connect(&J);
	job = run_wait(c, job_req(jargv("sh", "-c", "exit 7", NULL), NULL, "%s",
	    ""), &id);
	ended = jdouble(job, "ended_at");
	json_object_put(job);
	e2e_close(c);
	kill9_jobd();
	restart_jobd(&J);
	c = e2e_connect(&J);
	record_cgroup(c);
	if (now_wall() < ended + retention - 0.5) {
		job = job_of(c, id);
		expect_state(job, "exited");
		ck_assert_int_eq(jint(job, "exit_code"), 7);
		json_object_put(job);
	} else
		e2e_skip("retention_across_restart: the restart took %.1f s, "
		    "longer than retention: the result was not checked",
		    now_wall() - ended);
	sc.c = c;
	sc.id = id;
	sc.want = NULL;
	ck_assert_msg(wait_until(pruned, &sc, ms(10)), "job %lld not pruned "
	    "%.1f s after it ended (retention %g s)", id, now_wall() - ended,
	    retention);
	ck_assert_msg(now_wall() >= ended + retention - 0.5,
	    "job %lld pruned %.1f s after it ended (retention %g s)", id,
	    now_wall() - ended, retention);
	e2e_close(c);
}
END_TEST

/*
 * 7b. A queued job's deadline counts from its start, not its submission:
 * held in the queue longer than its timeout, it still runs to its end, and
 * JOBD_DEADLINE is its start plus the timeout.
 */
START_TEST(deadline_from_start)
{
	struct jobd_client	*c;
	json_object		*job;
	char			*end;
	const char		*out;
	long long		 blocker, id;
	double			 submitted, until, started, dl;

	lc_start("max_running = 1\n");
	c = e2e_connect(&J);
	blocker = start_blocker(c, NULL, NULL);
	id = submit(c, job_req(jargv("sh", "-c", "echo \"$JOBD_DEADLINE\"",
	    NULL), NULL, "\"timeout\":1.5"), "queued");
	job = job_of(c, id);
	submitted = jdouble(job, "submitted_at");
	json_object_put(job);
	/* Hold the slot past the timeout: a wait on the clock itself. */
	until = submitted + 2.0;
	ck_assert(wait_until(clock_past, &until, 5000));
	job = job_of(c, id);
	expect_state(job, "queued");
	json_object_put(job);
	cancel_ok(c, blocker);

	job = wait_job(c, id);
	expect_state(job, "exited");
	ck_assert(!jbool(job, "timed_out"));
	started = jdouble(job, "started_at");
	ck_assert_msg(started >= submitted + 2.0, "started %.3f s after "
	    "submission", started - submitted);
	out = jstr(job, "stdout");
	dl = strtod(out, &end);
	ck_assert_msg(end != out && strcmp(end, "\n") == 0,
	    "JOBD_DEADLINE: %s", out);
	ck_assert_msg(dl >= started + 1.5 - 1 && dl <= started + 1.5 + 1,
	    "JOBD_DEADLINE %.3f, started_at + timeout %.3f", dl,
	    started + 1.5);
	json_object_put(job);
	e2e_close(c);
}
END_TEST

/*
 * 10a. A second jobd on a state directory in use (by a jobd on another
 * socket) exits 1 and says the directory is in use; the first goes on.
 */
START_TEST(two_on_one_state_dir)
{
	struct jobd_client	*c;
	struct xjobd		 x;
	json_object		*job;
	long long		 id;

	lc_start(NULL);
	c = e2e_connect(&J);
	job = run_wait(c, job_req(jargv("true", NULL), NULL, "%s", ""), &id);
	json_object_put(job);
	xjobd_init(&x, "second");
	store_dir(c, x.state, sizeof(x.state));
	if (J.conf[0] != '\0')
		strlcpy(x.conf, J.conf, sizeof(x.conf));
	xjobd_spawn(&x);
	ck_assert_msg(!xjobd_up(&x, ms(10)),
	    "a second jobd on state directory %s answered", x.state);
	ck_assert_msg(WIFEXITED(x.status) && WEXITSTATUS(x.status) == 1,
	    "second jobd: status 0x%x, expected exit 1", x.status);
	ck_assert_msg(log_has(x.log, "in use"), "the second jobd does not "
	    "say the state directory is in use (see %s)", x.log);
	expect_ping(c);
	job = job_of(c, id);
	expect_state(job, "exited");
	json_object_put(job);
	e2e_close(c);
}
END_TEST

/* Overwrite path from offset keep on with garbage, to its length (8 KiB
 * at least). */
static void
spoil(const char *path, off_t keep)
{
	struct stat	 st;
	char		 buf[8192];
	off_t		 len;
	size_t		 i;
	int		 fd;

	ck_assert_msg(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
	len = st.st_size > (off_t)sizeof(buf) ? st.st_size : (off_t)sizeof(buf);
	srandom(12345);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(random() & 0xff);
	memcpy(buf, "this is not a database", 22);
	ck_assert((fd = open(path, O_WRONLY | O_CLOEXEC)) != -1);
	ck_assert(lseek(fd, keep, SEEK_SET) == keep);
	for (; keep < len; keep += (off_t)sizeof(buf))
		ck_assert(write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf));
	ck_assert_int_eq(close(fd), 0);
}

/*
 * 10b. A corrupt jobs.db: garbage throughout, and garbage after an intact
 * SQLite header. jobd exits 1 at start, naming the file; it never crashes.
 */
START_TEST(corrupt_store)
{
	struct jobd_client	*c;
	struct xjobd		 x;
	json_object		*job;
	char			 dir[PATH_MAX], db[PATH_MAX + 16];
	char			 side[PATH_MAX + 16];
	off_t			 keep[] = { 0, 100 };
	size_t			 k;

	lc_start(NULL);
	c = e2e_connect(&J);
	job = run_wait(c, job_req(jargv("true", NULL), NULL, "%s", ""), NULL);
	json_object_put(job);
	store_dir(c, dir, sizeof(dir));
	e2e_close(c);
	ck_assert_int_eq(kill(J.pid, SIGTERM), 0);
	ck_assert(reap_jobd(&J, E2E_STOP_TIMEOUT_MS));
	ck_assert(WIFEXITED(J.status) && WEXITSTATUS(J.status) == 0);

	snprintf(db, sizeof(db), "%s/jobs.db", dir);
	for (k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
		ck_assert(snprintf(side, sizeof(side), "%s-wal", db) <
		    (int)sizeof(side));
		(void)unlink(side);
		ck_assert(snprintf(side, sizeof(side), "%s-shm", db) <
		    (int)sizeof(side));
		(void)unlink(side);
		spoil(db, keep[k]);
		xjobd_init(&x, k == 0 ? "garbage" : "badpages");
		strlcpy(x.state, dir, sizeof(x.state));
		if (J.conf[0] != '\0')
			strlcpy(x.conf, J.conf, sizeof(x.conf));
		xjobd_spawn(&x);
		ck_assert_msg(!xjobd_up(&x, ms(10)),
		    "jobd started on a corrupt %s", db);
		ck_assert_msg(WIFEXITED(x.status) && WEXITSTATUS(x.status) == 1,
		    "jobd on a corrupt store: status 0x%x, expected exit 1%s",
		    x.status, WIFSIGNALED(x.status) ? " (it crashed)" : "");
		ck_assert_msg(log_has(x.log, db), "jobd's message does not "
		    "name %s (see %s)", db, x.log);
	}
}
END_TEST

/*
 * 10c. A state directory jobd cannot write: jobd exits 1 at start, naming
 * it. Root ignores permissions: the directory is made read-only in a mount
 * namespace of jobd's own.
 */
START_TEST(unwritable_state_dir)
{
	struct xjobd	x;

	lc_start(NULL);
	xjobd_init(&x, "ro");
	path_in(&J, "ro-state", x.state, sizeof(x.state));
	ck_assert_int_eq(mkdir(x.state, 0700), 0);
	if (geteuid() != 0)
		ck_assert_int_eq(chmod(x.state, 0500), 0);
	else if (ro_mount_works(x.state))
		x.ro_state = 1;
	else {
		e2e_skip("unwritable state directory: running as root, and "
		    "cannot make a read-only bind mount in a private mount "
		    "namespace here");
		return;
	}
	if (J.conf[0] != '\0')
		strlcpy(x.conf, J.conf, sizeof(x.conf));
	xjobd_spawn(&x);
	ck_assert_msg(!xjobd_up(&x, ms(10)),
	    "jobd started on read-only state directory %s", x.state);
	ck_assert_msg(x.status != (125 << 8), "could not set up the mount");
	ck_assert_msg(WIFEXITED(x.status) && WEXITSTATUS(x.status) == 1,
	    "jobd on a read-only state directory: status 0x%x, expected exit "
	    "1", x.status);
	ck_assert_msg(log_has(x.log, x.state), "jobd's message does not name "
	    "%s (see %s)", x.state, x.log);
	(void)chmod(x.state, 0700);
}
END_TEST

/* Lines of the file that contain needle. */
static int
log_count(const char *path, const char *needle)
{
	char	*text, *p;
	int	 n = 0;

	if ((text = read_text(path, NULL)) == NULL)
		return (0);
	for (p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	free(text);
	return (n);
}

/* Write zeros to path until the file system is full. */
static void
fill_up(const char *path)
{
	static char	zero[4096];
	int		fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_msg(fd != -1, "%s: %s", path, strerror(errno));
	while (write(fd, zero, sizeof(zero)) > 0)
		;
	ck_assert_msg(errno == ENOSPC, "filling %s: %s", path,
	    strerror(errno));
	close(fd);
}

/*
 * 10b. The disk fills while jobd runs (its state directory on a 256 KiB
 * tmpfs in this test's own mount namespace). A run whose write or commit
 * fails is refused with internal, nothing else: jobd goes on answering,
 * retries its commit about once a second (it used to spin, and stop
 * answering), and a client that cancelled the refused job in that same
 * turn does not make it fall over (ASan checks the exit). Once there is
 * room again, runs are accepted and committed.
 */
START_TEST(disk_full)
{
	struct xjobd		 x;
	struct jobd_client	*c, *c2;
	json_object		*r, *job;
	char			 dir[PATH_MAX], filler[PATH_MAX + 16], err[256];
	char			 env[256];
	long long		 next;
	int			 i, lines;

	if (geteuid() != 0) {
		e2e_skip("disk full: needs root for a tmpfs in a mount "
		    "namespace");
		return;
	}
	lc_start(NULL);
	path_in(&J, "small", dir, sizeof(dir));
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	/* Check forks each test: the namespace is this test's alone. */
	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1 ||
	    mount("tmpfs", dir, "tmpfs", 0, "size=256k") == -1) {
		e2e_skip("disk full: cannot mount a tmpfs in a private mount "
		    "namespace here: %s", strerror(errno));
		return;
	}
	xjobd_init(&x, "full");
	strlcpy(x.state, dir, sizeof(x.state));
	xjobd_spawn(&x);
	ck_assert_msg(xjobd_up(&x, E2E_START_TIMEOUT_MS), "jobd on a tmpfs: "
	    "status 0x%x (see %s)", x.status, x.log);
	ck_assert_ptr_nonnull(c = jobd_connect(x.sock, err, sizeof(err)));
	ck_assert_ptr_nonnull(c2 = jobd_connect(x.sock, err, sizeof(err)));
	set_recv_timeout(c, E2E_RECV_TIMEOUT_MS);
	set_recv_timeout(c2, E2E_RECV_TIMEOUT_MS);
	job = run_wait(c, run_req(jargv("true", NULL), "{}"), &next);
	expect_state(job, "exited");
	json_object_put(job);

	snprintf(filler, sizeof(filler), "%s/filler", dir);
	fill_up(filler);
	/* Stopped, so that the run and a cancel of its id (the next one)
	 * are read in one loop turn. */
	ck_assert_int_eq(kill(x.pid, SIGSTOP), 0);
	send_req(c, run_req(jargv("true", NULL), "{}"));
	snprintf(env, sizeof(env), "{\"op\":\"cancel\",\"id\":%lld}\n",
	    next + 1);
	send_str(c2, env);
	ck_assert_int_eq(kill(x.pid, SIGCONT), 0);
	r = recv_resp(c);
	ck_assert_msg(!jbool(r, "ok") && strcmp(jstr(jget(r, "error"), "code"),
	    "internal") == 0 && strstr(jstr(jget(r, "error"), "message"),
	    "not accepted") != NULL, "run on a full disk: %s",
	    json_object_to_json_string(r));
	json_object_put(r);
	json_object_put(recv_resp(c2));	/* the cancel's answer, whatever */

	/* Still answering, and not busy retrying: a second of pings. */
	for (i = 0; i < 10; i++) {
		json_object_put(ping(c2));
		usleep(100 * 1000);
	}
	lines = log_count(x.log, "retrying in 1 s");
	ck_assert_msg(lines >= 1 && lines <= 4, "%d commit retries logged in "
	    "about a second (see %s)", lines, x.log);

	ck_assert_int_eq(unlink(filler), 0);
	job = run_wait(c, run_req(jargv("true", NULL), "{}"), NULL);
	expect_state(job, "exited");
	json_object_put(job);
	jobd_close(c);
	jobd_close(c2);
	xjobd_stop(&x);
}
END_TEST

/* One in-memory jobd: ping says so, jobs run, nothing lands in state. */
static void
memory_jobd(struct xjobd *x)
{
	struct jobd_client	*c;
	json_object		*r, *job;
	char			 err[256];

	ck_assert_int_eq(mkdir(x->state, 0700), 0);
	xjobd_spawn(x);
	ck_assert_msg(xjobd_up(x, E2E_START_TIMEOUT_MS),
	    "in-memory jobd exited at start, status 0x%x (see %s)", x->status,
	    x->log);
	c = jobd_connect(x->sock, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	set_recv_timeout(c, E2E_RECV_TIMEOUT_MS);
	record_cgroup(c);
	r = ping(c);
	ck_assert_msg(strcmp(jstr(r, "store"), "memory") == 0,
	    "ping's store: %s", json_object_to_json_string(r));
	json_object_put(r);
	job = run_wait(c, job_req(jargv("sh", "-c", "echo hi", NULL), NULL,
	    "%s", ""), NULL);
	expect_state(job, "exited");
	ck_assert_str_eq(jstr(job, "stdout"), "hi\n");
	json_object_put(job);
	jobd_close(c);
	xjobd_stop(x);
	ck_assert_msg(dir_entries(x->state) == 0,
	    "an in-memory jobd wrote %d files in %s", dir_entries(x->state),
	    x->state);
}

/* The containment line of JOBD_TEST_CONTAINMENT, for a config of ours. */
static const char *
tier_line(char *buf, size_t len)
{
	const char	*tier = getenv("JOBD_TEST_CONTAINMENT");

	buf[0] = '\0';
	if (tier != NULL)
		snprintf(buf, len, "containment = %s\n", tier);
	return (buf);
}

/*
 * 10d. The in-memory store, by -M and by "store = memory": ping says
 * "memory" and nothing is written to the state directory. A disk store
 * says where its database is, in the directory -S or state_dir names.
 */
START_TEST(memory_store)
{
	struct jobd_client	*c;
	struct xjobd		 x;
	json_object		*r;
	const char		*store;
	char			 text[PATH_MAX + 128], tl[64], want[PATH_MAX + 16];
	char			 err[256];

	lc_start(NULL);
	c = e2e_connect(&J);
	r = ping(c);
	store = jstr(r, "store");
	ck_assert_msg(store[0] == '/' && strlen(store) > 8 &&
	    strcmp(store + strlen(store) - 8, "/jobs.db") == 0,
	    "disk store: ping's store %s", store);
	ck_assert_msg(access(store, F_OK) == 0, "no %s", store);
	json_object_put(r);
	e2e_close(c);

	xjobd_init(&x, "mem1");
	path_in(&J, "mem1-state", x.state, sizeof(x.state));
	x.memory = 1;
	memory_jobd(&x);

	xjobd_init(&x, "mem2");
	path_in(&J, "mem2-state", x.state, sizeof(x.state));
	path_in(&J, "mem2.conf", x.conf, sizeof(x.conf));
	snprintf(text, sizeof(text), "store = memory\n%s",
	    tier_line(tl, sizeof(tl)));
	write_file(x.conf, text, 0644);
	memory_jobd(&x);

	/* state_dir in the config, no -S. */
	xjobd_init(&x, "cfg");
	path_in(&J, "cfg.conf", x.conf, sizeof(x.conf));
	path_in(&J, "cfg-state", want, sizeof(want));
	ck_assert_int_eq(mkdir(want, 0700), 0);
	snprintf(text, sizeof(text), "store = disk\nstate_dir = %s\n%s", want,
	    tier_line(tl, sizeof(tl)));
	write_file(x.conf, text, 0644);
	strlcat(want, "/jobs.db", sizeof(want));
	xjobd_spawn(&x);
	ck_assert_msg(xjobd_up(&x, E2E_START_TIMEOUT_MS),
	    "jobd with state_dir exited at start, status 0x%x (see %s)",
	    x.status, x.log);
	c = jobd_connect(x.sock, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	set_recv_timeout(c, E2E_RECV_TIMEOUT_MS);
	record_cgroup(c);
	r = ping(c);
	ck_assert_msg(strcmp(jstr(r, "store"), want) == 0,
	    "state_dir: ping's store %s, expected %s", jstr(r, "store"), want);
	json_object_put(r);
	jobd_close(c);
	xjobd_stop(&x);
	ck_assert_msg(access(want, F_OK) == 0, "no %s", want);
}
END_TEST

/*
 * 10e. ping's counters and max_running: by default 4 per online CPU; 0 is
 * unlimited, and then more jobs than that run at once.
 */
START_TEST(ping_counters)
{
	struct jobd_client	*c;
	json_object		*r;
	long			 ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char			 mark[32];
	int			 i, n;

	ck_assert(ncpu > 0);
	lc_start(NULL);
	c = e2e_connect(&J);
	r = ping(c);
	ck_assert_int_eq(jint(r, "max_running"), 4 * ncpu);
	ck_assert_int_eq(jint(r, "running"), 0);
	ck_assert_int_eq(jint(r, "queued"), 0);
	json_object_put(r);
	e2e_close(c);
	stop_jobd(&J);

	lc_start("max_running = 0\n");
	new_mark(mark, sizeof(mark));
	c = e2e_connect(&J);
	n = (int)(4 * ncpu + 2);
	for (i = 0; i < n; i++)
		submit(c, job_req(jargv("sleep", "100", NULL), mark, "%s", ""),
		    "running");
	r = ping(c);
	ck_assert_int_eq(jint(r, "max_running"), 0);
	ck_assert_int_eq(jint(r, "running"), n);
	ck_assert_int_eq(jint(r, "queued"), 0);
	json_object_put(r);
	e2e_close(c);
}
END_TEST

static void
add(Suite *s, const char *name, const TTest *t, int timeout)
{
	TCase	*tc = tcase_create(name);

	/* Checked: in the test's process. Unchecked: in the runner. */
	tcase_add_checked_fixture(tc, NULL, lc_teardown);
	tcase_add_unchecked_fixture(tc, NULL, lc_sweep);
	tcase_set_timeout(tc, timeout);
	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

Suite *
lifecycle_suite(void)
{
	Suite	*s = suite_create("lifecycle");

	add(s, "burst_max_running", burst_max_running, LONG_TIMEOUT);
	add(s, "priorities", priorities, TEST_TIMEOUT);
	add(s, "queue_full", queue_full, TEST_TIMEOUT);
	add(s, "max_queued_default", max_queued_default, LONG_TIMEOUT);
	add(s, "run_responses", run_responses, TEST_TIMEOUT);
	add(s, "start_by", start_by_expires, TEST_TIMEOUT);
	add(s, "cancel_states", cancel_states, TEST_TIMEOUT);
	add(s, "terminating_holds_slot", terminating_holds_slot,
	    TEST_TIMEOUT);
	add(s, "idempotency_keys", idempotency_keys, TEST_TIMEOUT);
	add(s, "job_environment", job_environment, TEST_TIMEOUT);
	add(s, "deadline_from_start", deadline_from_start, TEST_TIMEOUT);
	add(s, "warn_before", warn_before_deadline, TEST_TIMEOUT);
	add(s, "crash_queued", crash_queued, TEST_TIMEOUT);
	add(s, "crash_running", crash_running, TEST_TIMEOUT);
	add(s, "crash_finishing", crash_finishing, LONG_TIMEOUT);
	add(s, "crash_inflight", crash_inflight, LONG_TIMEOUT);
	add(s, "clean_restart", clean_restart, TEST_TIMEOUT);
	add(s, "ids_never_reused", ids_never_reused, TEST_TIMEOUT);
	add(s, "retention_across_restart", retention_across_restart,
	    TEST_TIMEOUT);
	add(s, "start_by_across_restart", start_by_across_restart,
	    TEST_TIMEOUT);
	add(s, "crash_after_results", crash_after_results, TEST_TIMEOUT);
	add(s, "cancel_then_crash", cancel_then_crash, TEST_TIMEOUT);
	add(s, "fifo_across_restart", fifo_across_restart, TEST_TIMEOUT);
	add(s, "two_on_one_state_dir", two_on_one_state_dir, TEST_TIMEOUT);
	add(s, "corrupt_store", corrupt_store, TEST_TIMEOUT);
	add(s, "unwritable_state_dir", unwritable_state_dir, TEST_TIMEOUT);
	add(s, "disk_full", disk_full, TEST_TIMEOUT);
	add(s, "memory_store", memory_store, TEST_TIMEOUT);
	add(s, "ping_counters", ping_counters, TEST_TIMEOUT);
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
	snprintf(cg_list, sizeof(cg_list), "/tmp/jobd-lifecycle.XXXXXX");
	if ((fd = mkstemp(cg_list)) == -1) {
		perror("mkstemp");
		return (2);
	}
	close(fd);
	e2e_global_init();
	sr = srunner_create(lifecycle_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	e2e_global_fini();
	unlink(cg_list);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
