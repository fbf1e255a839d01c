/*
 * Observability against a real jobd: the stats op's counters after a known
 * sequence of jobs, jobctl stats --json and --prometheus (every line of the
 * exposition format checked), the user scope, and the log: syslog lines
 * reaching a test-owned /dev/log, and hostile argv escaped in one line.
 */
#include <sys/types.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"
#include "jobd-protocol.h"

#define TEST_TIMEOUT	60
#define ESCAPE		PROGS_DIR "/escape"
#define FLOOD		PROGS_DIR "/flood"
#define NOBODY		65534
#define MAX_FAMILIES	64
#define MAX_BUCKETS	64

Suite		*stats_suite(void);

static struct jobd_inst	J;

/* The stats op's reply, checked ok. */
static json_object *
get_stats(struct jobd_client *c)
{
	json_object	*r = callf(c, "{\"op\":\"stats\"}");

	expect_ok(r);
	return (r);
}

static long long
counter(json_object *st, const char *name)
{
	return (jint(jget(st, "counters"), name));
}

static json_object *
wait_job(struct jobd_client *c, long long id)
{
	json_object	*r, *job;

	r = callf(c, "{\"op\":\"wait\",\"id\":%lld}", id);
	expect_ok(r);
	job = json_object_get(jget(r, "job"));
	json_object_put(r);
	return (job);
}

/* What the job's streams dropped, and how many leftovers it had killed. */
static void
tally(json_object *job, long long *dropped, long long *leftovers)
{
	*dropped += jint(job, "stdout_dropped") + jint(job, "stderr_dropped");
	*leftovers += jint(job, "leftovers");
}

static char *
jobctl_out(const char *opt)
{
	char	 path[PATH_MAX], *text;
	size_t	 len;
	int	 rc;

	path_in(&J, "jobctl.out", path, sizeof(path));
	unlink(path);
	rc = run_jobctl(&J, NULL, "stats", opt, NULL);	/* opt NULL: none */
	text = read_text(path, &len);
	ck_assert_msg(rc == 0, "jobctl stats %s: exit %d: %s",
	    opt != NULL ? opt : "", rc,
	    text != NULL ? text : "");
	ck_assert_ptr_nonnull(text);
	unlink(path);
	return (text);
}

/*
 * The Prometheus text format, line by line: HELP and TYPE before each
 * family's samples, every sample well-formed, histograms cumulative.
 */
struct family {
	char	name[128];
	char	type[16];
	int	help;
	/* Histograms: buckets in order, then _count. */
	double	le[MAX_BUCKETS];
	double	n[MAX_BUCKETS];
	int	nb;
	double	count;
	int	has_sum, has_count;
};

static struct family *
family_find(struct family *f, int nf, const char *name)
{
	int	i;

	for (i = 0; i < nf; i++)
		if (strcmp(f[i].name, name) == 0)
			return (&f[i]);
	return (NULL);
}

/* The family of a sample: a histogram's _bucket, _sum, _count, or itself. */
static struct family *
sample_family(struct family *f, int nf, const char *name, const char **part)
{
	static const char *const sfx[] = { "_bucket", "_sum", "_count" };
	struct family	*x;
	char		 base[128];
	size_t		 i, n = strlen(name), m;

	*part = "";
	for (i = 0; i < 3; i++) {
		m = strlen(sfx[i]);
		if (n <= m || strcmp(name + n - m, sfx[i]) != 0 ||
		    n - m >= sizeof(base))
			continue;
		memcpy(base, name, n - m);
		base[n - m] = '\0';
		if ((x = family_find(f, nf, base)) != NULL &&
		    strcmp(x->type, "histogram") == 0) {
			*part = sfx[i];
			return (x);
		}
	}
	return (family_find(f, nf, name));
}

static double
prom_number(const char *s)
{
	if (strcmp(s, "+Inf") == 0)
		return (INFINITY);
	if (strcmp(s, "-Inf") == 0)
		return (-INFINITY);
	return (strtod(s, NULL));
}

static void
check_prometheus(char *text)
{
	static struct family	 f[MAX_FAMILIES];
	regex_t			 help, type, sample;
	regmatch_t		 m[4];
	struct family		*x;
	const char		*part;
	char			*line, *save = NULL, name[128], *val, *le;
	int			 nf = 0, i, j, lines = 0;

	memset(f, 0, sizeof(f));
	ck_assert_int_eq(regcomp(&help, "^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) "
	    "[^\n]+$", REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&type, "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) "
	    "(counter|gauge|histogram|summary|untyped)$", REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&sample, "^([a-zA-Z_:][a-zA-Z0-9_:]*)"
	    "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\""
	    "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\.)*\")*\\})? "
	    "([-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?|"
	    "[-+]Inf|NaN)$", REG_EXTENDED), 0);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		lines++;
		if (regexec(&help, line, 2, m, 0) == 0) {
			snprintf(name, sizeof(name), "%.*s",
			    (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
			ck_assert_msg(family_find(f, nf, name) == NULL,
			    "HELP %s after its family began", name);
			ck_assert_int_lt(nf, MAX_FAMILIES);
			x = &f[nf++];
			strlcpy(x->name, name, sizeof(x->name));
			x->help = 1;
			continue;
		}
		if (regexec(&type, line, 3, m, 0) == 0) {
			snprintf(name, sizeof(name), "%.*s",
			    (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
			x = family_find(f, nf, name);
			ck_assert_msg(x != NULL && x->type[0] == '\0',
			    "TYPE %s without HELP first, or twice", name);
			snprintf(x->type, sizeof(x->type), "%.*s",
			    (int)(m[2].rm_eo - m[2].rm_so), line + m[2].rm_so);
			continue;
		}
		ck_assert_msg(regexec(&sample, line, 2, m, 0) == 0,
		    "not in the exposition format: \"%s\"", line);
		snprintf(name, sizeof(name), "%.*s",
		    (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
		ck_assert_msg(strncmp(name, "jobd_", 5) == 0, "no prefix: %s",
		    line);
		x = sample_family(f, nf, name, &part);
		ck_assert_msg(x != NULL && x->help && x->type[0] != '\0',
		    "sample before its HELP and TYPE: %s", line);
		ck_assert_msg(x == &f[nf - 1], "family %s interleaved: %s",
		    x->name, line);
		if (strcmp(x->type, "counter") == 0)
			ck_assert_msg(strstr(name, "_total") != NULL,
			    "counter without _total: %s", line);
		val = strrchr(line, ' ') + 1;
		if (strcmp(part, "_bucket") == 0) {
			ck_assert_msg((le = strstr(line, "le=\"")) != NULL,
			    "bucket without le: %s", line);
			ck_assert_int_lt(x->nb, MAX_BUCKETS);
			x->le[x->nb] = prom_number(le + 4);
			x->n[x->nb++] = prom_number(val);
		} else if (strcmp(part, "_sum") == 0)
			x->has_sum = 1;
		else if (strcmp(part, "_count") == 0) {
			x->has_count = 1;
			x->count = prom_number(val);
		}
	}
	ck_assert_int_gt(lines, 10);
	for (i = 0; i < nf; i++) {
		x = &f[i];
		ck_assert_msg(x->type[0] != '\0', "%s: HELP without TYPE",
		    x->name);
		if (strcmp(x->type, "histogram") != 0)
			continue;
		ck_assert_msg(x->nb >= 2 && x->has_sum && x->has_count,
		    "%s: incomplete histogram", x->name);
		for (j = 1; j < x->nb; j++) {
			ck_assert_msg(x->le[j] > x->le[j - 1],
			    "%s: le not increasing at %d", x->name, j);
			ck_assert_msg(x->n[j] >= x->n[j - 1],
			    "%s: buckets not cumulative at %d", x->name, j);
		}
		ck_assert_msg(isinf(x->le[x->nb - 1]), "%s: no +Inf bucket",
		    x->name);
		ck_assert_msg(x->n[x->nb - 1] == x->count,
		    "%s: +Inf %g != _count %g", x->name, x->n[x->nb - 1],
		    x->count);
	}
	regfree(&help);
	regfree(&type);
	regfree(&sample);
}

/* The value of the sample named exactly so (labels included). */
static double
prom_sample(const char *text, const char *name)
{
	const char	*p = text;
	size_t		 n = strlen(name);

	while ((p = strstr(p, name)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return (prom_number(p + n + 1));
		p += n;
	}
	ck_abort_msg("no sample %s in:\n%s", name, text);
	return (0);
}

/*
 * 1. A known sequence of jobs, then every counter is exactly what it must
 * be; jobctl stats --json says the same; --prometheus parses.
 */
START_TEST(counters_exact)
{
	struct jobd_client	*c;
	json_object		*job, *st, *jobs, *h, *fromctl;
	long long		 dropped = 0, leftovers = 0, id, accepted;
	char			*text;
	int			 i;

	start_jobd(&J, NULL);
	c = e2e_connect(&J);

	/* start_jobd's own ping connected once before this client. */
	st = get_stats(c);
	ck_assert_str_eq(jstr(st, "scope"), "all");
	ck_assert_int_eq(counter(st, "spawned"), 0);
	accepted = counter(st, "connections_accepted");
	ck_assert_int_ge(accepted, 1);
	json_object_put(st);

	for (i = 0; i < 3; i++) {
		job = run_wait(c, run_req(jargv("true", NULL), "{}"), NULL);
		tally(job, &dropped, &leftovers);
		json_object_put(job);
	}
	job = run_wait(c, run_req(jargv("sh", "-c", "exit 3", NULL), "{}"),
	    NULL);
	ck_assert_int_eq(jint(job, "exit_code"), 3);
	tally(job, &dropped, &leftovers);
	json_object_put(job);
	job = run_wait(c, run_req(jargv("sh", "-c", "kill -USR1 $$", NULL),
	    "{}"), NULL);
	ck_assert_str_eq(jstr(job, "state"), "signaled");
	tally(job, &dropped, &leftovers);
	json_object_put(job);
	/* Ignores SIGTERM (its children too): SIGKILL after the grace. */
	job = run_wait(c, run_req(jargv("sh", "-c", "trap '' TERM; "
	    "while :; do sleep 0.05; done", NULL),
	    "{\"timeout\":0.2,\"kill_after\":0.2}"), NULL);
	ck_assert_str_eq(jstr(job, "state"), "timed_out");
	ck_assert_msg(jbool(job, "killed"), "%s",
	    json_object_to_json_string(job));
	tally(job, &dropped, &leftovers);
	json_object_put(job);
	/* Cancelled while it runs: SIGTERM is enough. */
	id = run_id(c, run_req(jargv("sleep", "100", NULL), "{}"));
	wait_job_state(c, id, "running", 10000);
	st = callf(c, "{\"op\":\"cancel\",\"id\":%lld}", id);
	expect_ok(st);
	json_object_put(st);
	job = wait_job(c, id);
	ck_assert_str_eq(jstr(job, "state"), "cancelled");
	tally(job, &dropped, &leftovers);
	json_object_put(job);
	/* Leaves a setsid()'d sleeper: killed as a leftover. */
	job = run_wait(c, run_req(jargv(ESCAPE, "-s", "-t", "100", NULL),
	    "{\"timeout\":30}"), NULL);
	ck_assert_str_eq(jstr(job, "state"), "exited");
	tally(job, &dropped, &leftovers);
	json_object_put(job);
	/* 100000 bytes into a 1000-byte capture. */
	job = run_wait(c, run_req(jargv(FLOOD, "-o", "-n", "100000", NULL),
	    "{\"max_output\":1000}"), NULL);
	ck_assert_int_eq(jint(job, "stdout_dropped"), 99000);
	tally(job, &dropped, &leftovers);
	json_object_put(job);
	/* Cannot be started. */
	job = run_wait(c, run_req(jargv("/nonexistent/command", NULL), "{}"),
	    NULL);
	ck_assert_str_eq(jstr(job, "state"), "failed");
	json_object_put(job);

	st = get_stats(c);
	ck_assert_int_eq(counter(st, "spawned"), 9);
	ck_assert_int_eq(counter(st, "exited"), 6);
	ck_assert_int_eq(counter(st, "signaled"), 1);
	ck_assert_int_eq(counter(st, "timed_out"), 1);
	ck_assert_int_eq(counter(st, "cancelled"), 1);
	ck_assert_int_eq(counter(st, "failed"), 1);
	ck_assert_int_eq(counter(st, "expired"), 0);
	ck_assert_int_eq(counter(st, "lost"), 0);
	ck_assert_int_eq(counter(st, "kill_escalations"), 1);
	ck_assert_int_eq(counter(st, "output_dropped_bytes"), dropped);
	ck_assert_int_eq(dropped, 99000);
	ck_assert_int_eq(counter(st, "strays_killed"), leftovers);
	ck_assert_msg(leftovers >= 1, "the escapee was not counted");
	ck_assert_int_eq(counter(st, "connections_accepted"), accepted);
	ck_assert_int_eq(counter(st, "connections_refused"), 0);
	ck_assert_int_eq(jint(st, "connections"), 1);
	jobs = jget(st, "jobs");
	ck_assert_int_eq(jint(jobs, "exited"), 6);
	ck_assert_int_eq(jint(jobs, "signaled"), 1);
	ck_assert_int_eq(jint(jobs, "timed_out"), 1);
	ck_assert_int_eq(jint(jobs, "cancelled"), 1);
	ck_assert_int_eq(jint(jobs, "failed"), 1);
	ck_assert_int_eq(jint(jobs, "running"), 0);
	ck_assert_int_eq(jint(jobs, "queued"), 0);
	ck_assert_int_eq(jint(jget(st, "requests"), "run"), 10);
	ck_assert_int_eq(jint(jget(st, "requests"), "cancel"), 1);
	h = jget(jget(st, "histograms"), "deadline_lateness");
	ck_assert_int_eq(jint(h, "count"), 1);
	ck_assert_int_eq(json_object_array_length(jget(h, "le")),
	    json_object_array_length(jget(h, "counts")));
	h = jget(jget(st, "histograms"), "spawn_latency");
	ck_assert_int_eq(jint(h, "count"), 9);
	ck_assert_msg(jdouble(h, "sum") > 0, "spawn_latency sum 0");
	json_object_put(st);

	/* --json: the op's reply as it is. */
	text = jobctl_out("--json");
	fromctl = json_tokener_parse(text);
	ck_assert_msg(fromctl != NULL, "not JSON: %s", text);
	free(text);
	st = get_stats(c);
	ck_assert(json_object_equal(jget(fromctl, "counters"),
	    jget(st, "counters")));
	ck_assert(json_object_equal(jget(fromctl, "jobs"), jget(st, "jobs")));
	ck_assert(json_object_equal(jget(fromctl, "histograms"),
	    jget(st, "histograms")));
	ck_assert_str_eq(jstr(fromctl, "version"), jstr(st, "version"));
	ck_assert_str_eq(jstr(fromctl, "scope"), "all");
	json_object_put(fromctl);
	json_object_put(st);

	text = jobctl_out("--prometheus");
	ck_assert(prom_sample(text, "jobd_jobs_spawned_total") == 9);
	ck_assert(prom_sample(text,
	    "jobd_jobs_ended_total{state=\"timed_out\"}") == 1);
	ck_assert(prom_sample(text, "jobd_jobs{state=\"exited\"}") == 6);
	ck_assert(prom_sample(text, "jobd_kill_escalations_total") == 1);
	ck_assert(prom_sample(text, "jobd_output_dropped_bytes_total") ==
	    99000);
	ck_assert(prom_sample(text, "jobd_stray_processes_killed_total") ==
	    leftovers);
	ck_assert(prom_sample(text,
	    "jobd_deadline_lateness_seconds_count") == 1);
	ck_assert(prom_sample(text, "jobd_spawn_latency_seconds_count") == 9);
	check_prometheus(text);
	free(text);

	/* The table: one line per counter, by its name. */
	text = jobctl_out(NULL);
	ck_assert_msg(strstr(text, "kill_escalations") != NULL &&
	    strstr(text, "spawn_latency") != NULL, "%s", text);
	free(text);
	e2e_close(c);
}
END_TEST

/*
 * 2. expired and lost, and what a restart does: the counters start again
 * at 0, the jobs restored already ended are held by state but not counted,
 * and a job found lost at start is.
 */
START_TEST(expired_lost_restart)
{
	struct jobd_client	*c;
	json_object		*job, *st, *r;
	long long		 a, b, id;
	pid_t			 pid;

	start_jobd(&J, "max_running = 1\n");
	c = e2e_connect(&J);
	a = run_id(c, run_req(jargv("sleep", "100", NULL), "{}"));
	wait_job_state(c, a, "running", 10000);
	b = run_id(c, run_req(jargv("true", NULL), "{\"start_by\":0.2}"));
	job = wait_job(c, b);
	ck_assert_str_eq(jstr(job, "state"), "expired");
	json_object_put(job);
	r = callf(c, "{\"op\":\"cancel\",\"id\":%lld}", a);
	expect_ok(r);
	json_object_put(r);
	job = wait_job(c, a);
	json_object_put(job);
	st = get_stats(c);
	ck_assert_int_eq(counter(st, "expired"), 1);
	ck_assert_int_eq(counter(st, "cancelled"), 1);
	ck_assert_int_eq(counter(st, "spawned"), 1);
	json_object_put(st);

	/* A running job, and jobd killed under it: lost at the restart. */
	id = run_id(c, run_req(jargv("sleep", "100", NULL), "{}"));
	wait_job_state(c, id, "running", 10000);
	r = callf(c, "{\"op\":\"status\",\"id\":%lld}", id);
	pid = (pid_t)jint(jget(r, "job"), "pid");
	json_object_put(r);
	e2e_close(c);
	ck_assert_int_eq(kill(J.pid, SIGKILL), 0);
	ck_assert(reap_jobd(&J, 10000));
	kill(pid, SIGKILL);	/* whatever the tier left */
	restart_jobd(&J);
	c = e2e_connect(&J);
	st = get_stats(c);
	ck_assert_int_eq(counter(st, "lost"), 1);
	ck_assert_int_eq(counter(st, "expired"), 0);
	ck_assert_int_eq(counter(st, "cancelled"), 0);
	ck_assert_int_eq(counter(st, "spawned"), 0);
	ck_assert_int_eq(jint(jget(st, "jobs"), "lost"), 1);
	ck_assert_int_eq(jint(jget(st, "jobs"), "expired"), 1);
	ck_assert_int_eq(jint(jget(st, "jobs"), "cancelled"), 1);
	json_object_put(st);
	e2e_close(c);
}
END_TEST

/* A child as uid nobody: dirs on the way must let it reach the socket. */
static pid_t
as_nobody(void)
{
	pid_t	pid = fork();

	ck_assert_int_ne(pid, -1);
	if (pid == 0 && (setgroups(0, NULL) == -1 ||
	    setresgid(NOBODY, NOBODY, NOBODY) == -1 ||
	    setresuid(NOBODY, NOBODY, NOBODY) == -1))
		_exit(90);
	return (pid);
}

static void
open_path_to(const char *path)
{
	char	copy[PATH_MAX], *d;

	strlcpy(copy, path, sizeof(copy));
	d = dirname(copy);
	ck_assert_int_eq(chmod(d, 0711), 0);
	d = dirname(d);
	ck_assert_int_eq(chmod(d, 0711), 0);
}

/*
 * A jobd without start_jobd's -d, which would log at the debug level
 * whatever the configuration says: in memory, stderr to log, by root or by
 * nobody. The caller reaps it.
 */
static pid_t
plain_jobd(const char *sock, const char *log, const char *conf, int nobody)
{
	pid_t	pid = nobody ? as_nobody() : fork();
	int	fd;

	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if ((fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600)) == -1 ||
		    dup2(fd, 2) == -1)
			_exit(93);
		if (conf != NULL)
			execl(JOBD_BIN, "jobd", "-M", "-s", sock, "-f", conf,
			    (char *)NULL);
		else
			execl(JOBD_BIN, "jobd", "-M", "-s", sock, (char *)NULL);
		_exit(94);
	}
	track_pid(pid);
	return (pid);
}

/* 3. A connection from a user jobd does not serve is refused, and counted. */
START_TEST(refused_counted)
{
	struct jobd_client	*c;
	json_object		*st;
	char			 buf[512];
	ssize_t			 n;
	long long		 accepted;
	pid_t			 pid;
	int			 status, fd;

	if (geteuid() != 0) {
		e2e_skip("refused_counted: needs root, to connect as nobody");
		return;
	}
	start_jobd(&J, NULL);
	open_path_to(J.sock);
	ck_assert_int_eq(chmod(J.sock, 0666), 0);
	c = e2e_connect(&J);
	st = get_stats(c);
	accepted = counter(st, "connections_accepted");
	json_object_put(st);
	pid = as_nobody();
	if (pid == 0) {
		struct sockaddr_un	sun = { .sun_family = AF_UNIX };

		strlcpy(sun.sun_path, J.sock, sizeof(sun.sun_path));
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			_exit(91);
		n = read(fd, buf, sizeof(buf) - 1);
		_exit(n > 0 && memmem(buf, (size_t)n, JOBD_E_FORBIDDEN,
		    strlen(JOBD_E_FORBIDDEN)) != NULL ? 0 : 92);
	}
	track_pid(pid);
	ck_assert_int_eq(reap_within(pid, &status, 10000), 1);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the refused child: status %#x", status);
	st = get_stats(c);
	ck_assert_int_eq(counter(st, "connections_refused"), 1);
	ck_assert_int_eq(counter(st, "connections_accepted"), accepted);
	json_object_put(st);
	e2e_close(c);
}
END_TEST

/*
 * 4. A jobd run by nobody serves nobody with scope "user": its own jobs by
 * state, no daemon-wide counters. Root, served too, sees all.
 */
START_TEST(user_scope)
{
	struct jobd_client	*c;
	json_object		*st, *o;
	char			 sock[PATH_MAX], log[PATH_MAX], buf[65536];
	size_t			 len = 0;
	pid_t			 jobd, pid;
	int			 p[2], status;

	if (geteuid() != 0) {
		e2e_skip("user_scope: needs root, to run jobd as nobody");
		return;
	}
	start_jobd(&J, NULL);	/* only for its directory */
	open_path_to(J.sock);
	ck_assert_int_eq(chown(J.dir, NOBODY, NOBODY), 0);
	path_in(&J, "nobody.sock", sock, sizeof(sock));
	path_in(&J, "nobody.log", log, sizeof(log));
	jobd = plain_jobd(sock, log, NULL, 1);
	cloexec_pipe(p);
	pid = as_nobody();
	if (pid == 0) {
		struct jobd_client	*nc;
		json_object		*r, *req;
		const char		*s;
		int			 i;

		close(p[0]);
		/* Until jobd listens: bounded by the test's own timeout. */
		for (i = 0; i < 1000 &&
		    (nc = jobd_connect(sock, NULL, 0)) == NULL; i++)
			usleep(10000);
		if (nc == NULL)
			_exit(95);
		req = json_tokener_parse("{\"op\":\"run\",\"argv\":[\"true\"],"
		    "\"wait\":true}");
		if (jobd_send(nc, req) == -1 || (r = jobd_recv(nc)) == NULL)
			_exit(96);
		json_object_put(r);
		if ((r = jobd_recv(nc)) == NULL)
			_exit(97);
		json_object_put(r);
		json_object_put(req);
		req = json_tokener_parse("{\"op\":\"stats\"}");
		if (jobd_send(nc, req) == -1 || (r = jobd_recv(nc)) == NULL)
			_exit(98);
		s = json_object_to_json_string(r);
		if (write(p[1], s, strlen(s)) != (ssize_t)strlen(s))
			_exit(99);
		_exit(0);
	}
	track_pid(pid);
	close(p[1]);
	ck_assert(read_to_eof(p[0], buf, sizeof(buf) - 1, &len, 20000));
	close(p[0]);
	buf[len] = '\0';
	ck_assert_int_eq(reap_within(pid, &status, 10000), 1);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the nobody client: status %#x", status);
	ck_assert_ptr_nonnull(st = json_tokener_parse(buf));
	expect_ok(st);
	ck_assert_str_eq(jstr(st, "scope"), "user");
	ck_assert_int_eq(jint(jget(st, "jobs"), "exited"), 1);
	ck_assert_msg(!json_object_object_get_ex(st, "counters", &o) &&
	    !json_object_object_get_ex(st, "histograms", &o) &&
	    !json_object_object_get_ex(st, "requests", &o),
	    "daemon-wide figures in the user scope: %s", buf);
	json_object_put(st);

	/* Root is served by this jobd too, and sees it all. */
	ck_assert_ptr_nonnull(c = jobd_connect(sock, NULL, 0));
	st = get_stats(c);
	ck_assert_str_eq(jstr(st, "scope"), "all");
	ck_assert_int_eq(counter(st, "spawned"), 1);
	ck_assert_int_eq(jint(jget(st, "jobs"), "exited"), 1);
	json_object_put(st);
	jobd_close(c);
	kill(jobd, SIGTERM);
	ck_assert_int_eq(reap_within(jobd, &status, 10000), 1);
}
END_TEST

/*
 * 5. Hostile bytes in argv and cwd: each event is one log line, with the
 * newline and the ESC escaped.
 */
START_TEST(log_escaped)
{
	struct jobd_client	*c;
	struct file_lines	 fl;
	json_object		*job, *req;
	char			*text, *line, *save = NULL, want[64];
	size_t			 len;
	long long		 id, id2;
	int			 n = 0;

	start_jobd(&J, NULL);
	c = e2e_connect(&J);
	job = run_wait(c, run_req(jargv("sh", "-c", "exit 0", "sh",
	    "a\nb\033c", NULL), "{}"), &id);
	json_object_put(job);
	req = run_req(jargv("true", NULL), "{}");
	json_object_object_add(req, "cwd",
	    json_object_new_string("/nonexistent\nforged: \033[2J"));
	job = run_wait(c, req, &id2);
	ck_assert_str_eq(jstr(job, "state"), "failed");
	json_object_put(job);
	e2e_close(c);
	fl.path = J.log;
	fl.min = 1;
	ck_assert(wait_until(has_lines, &fl, 5000));

	text = read_text(J.log, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(memchr(text, '\033', len) == NULL,
	    "a raw ESC in jobd's log:\n%s", text);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		ck_assert_msg(strncmp(line, "b\\", 2) != 0 &&
		    strncmp(line, "forged", 6) != 0, "a forged line: %s",
		    line);
		if (strstr(line, "\"a\\012b\\033c\"") != NULL) {
			snprintf(want, sizeof(want), "job %lld pid ", id);
			ck_assert_msg(strstr(line, want) != NULL &&
			    strstr(line, " uid 0: started: ") != NULL,
			    "start line without id, pid, uid: %s", line);
			n++;
		}
		if (strstr(line, "/nonexistent\\012forged: \\033[2J") != NULL) {
			snprintf(want, sizeof(want), "job %lld pid 0 uid 0: "
			    "spawn failed", id2);
			ck_assert_msg(strstr(line, want) != NULL,
			    "spawn failure line: %s", line);
			n++;
		}
	}
	ck_assert_msg(n == 2, "%d escaped lines, not 2", n);
	free(text);
}
END_TEST

/*
 * 6. log_level is reloaded on SIGHUP: at warning, a job's start is not
 * logged; after the reload to info, it is.
 */
struct log_has {
	const char	*path;
	const char	*text;
};

static int
log_contains(void *arg)
{
	struct log_has	*lh = arg;
	size_t		 len;
	char		*text = read_text(lh->path, &len);
	int		 yes = text != NULL && strstr(text, lh->text) != NULL;

	free(text);
	return (yes);
}

START_TEST(log_level_reload)
{
	struct jobd_client	*c = NULL;
	struct log_has		 lh;
	json_object		*job;
	char			 sock[PATH_MAX], log[PATH_MAX], conf[PATH_MAX];
	char			*text;
	size_t			 len;
	pid_t			 jobd;
	int			 i, status;

	start_jobd(&J, NULL);	/* only for its directory */
	path_in(&J, "plain.sock", sock, sizeof(sock));
	path_in(&J, "plain.log", log, sizeof(log));
	path_in(&J, "plain.conf", conf, sizeof(conf));
	write_file(conf, "log_level = warning\n", 0644);
	jobd = plain_jobd(sock, log, conf, 0);
	for (i = 0; i < 1000 && (c = jobd_connect(sock, NULL, 0)) == NULL; i++)
		usleep(10000);
	ck_assert_ptr_nonnull(c);
	job = run_wait(c, run_req(jargv("true", NULL), "{}"), NULL);
	json_object_put(job);

	write_file(conf, "log_level = info\n", 0644);
	ck_assert_int_eq(kill(jobd, SIGHUP), 0);
	lh.path = log;
	lh.text = "reloaded, 1 options changed";
	ck_assert_msg(wait_until(log_contains, &lh, 10000),
	    "no reload at the info level in %s", log);
	job = run_wait(c, run_req(jargv("true", NULL), "{}"), NULL);
	json_object_put(job);
	lh.text = "job 2 pid ";
	ck_assert_msg(wait_until(log_contains, &lh, 10000),
	    "job 2 not logged at the info level");
	text = read_text(log, &len);
	ck_assert_msg(strstr(text, "job 1 pid ") == NULL &&
	    strstr(text, "listening on") == NULL,
	    "info lines at the warning level:\n%s", text);
	free(text);
	jobd_close(c);
	kill(jobd, SIGTERM);
	ck_assert_int_eq(reap_within(jobd, &status, 10000), 1);
}
END_TEST

/*
 * 7. log = syslog: jobd's lines reach /dev/log, facility daemon, with its
 * pid. In a private mount namespace a tmpfs covers /dev, and /dev/log is
 * a datagram socket this test reads.
 */
struct syslog_ctx {
	int		 fd;
	pthread_mutex_t	 lock;
	pid_t		 jobd;		/* 0: not known yet */
	long long	 id;		/* 0: not known yet */
	int		 listening, started, stop;
	char		 lines[64][512];	/* the first ones, to keep */
	int		 nlines;
};

/*
 * jobd blocks in syslog(3) when the queue of /dev/log is full (jobd -d says
 * a lot), so a thread reads it all along, keeping the lines to check.
 */
static void *
syslog_reader(void *arg)
{
	struct syslog_ctx	*x = arg;
	struct pollfd		 pfd = { .fd = x->fd, .events = POLLIN };
	char			 buf[4096];
	ssize_t			 n;

	for (;;) {
		pthread_mutex_lock(&x->lock);
		if (x->stop) {
			pthread_mutex_unlock(&x->lock);
			return (NULL);
		}
		pthread_mutex_unlock(&x->lock);
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if ((n = recv(x->fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) <= 0)
			continue;
		buf[n] = '\0';
		/* Priority 30: LOG_DAEMON | LOG_INFO. */
		if (strncmp(buf, "<30>", 4) != 0)
			continue;
		pthread_mutex_lock(&x->lock);
		if (x->nlines < 64)
			strlcpy(x->lines[x->nlines++], buf, sizeof(x->lines[0]));
		pthread_mutex_unlock(&x->lock);
	}
}

static int
syslog_seen(void *arg)
{
	struct syslog_ctx	*x = arg;
	char			 who[64], what[64];
	int			 i;

	snprintf(who, sizeof(who), "jobd[%ld]: ", (long)x->jobd);
	snprintf(what, sizeof(what), "job %lld pid ", x->id);
	pthread_mutex_lock(&x->lock);
	for (i = 0; i < x->nlines; i++) {
		if (strstr(x->lines[i], who) == NULL)
			continue;
		if (strstr(x->lines[i], "listening on") != NULL)
			x->listening = 1;
		if (strstr(x->lines[i], what) != NULL &&
		    strstr(x->lines[i], "uid 0: started: \"true\"") != NULL)
			x->started = 1;
	}
	pthread_mutex_unlock(&x->lock);
	return (x->listening && x->started);
}

static int
private_dev(char *err, size_t len)
{
	static const char *const nodes[] = { "null", "zero", "full",
	    "random", "urandom" };
	char		 old[] = "/tmp/jobd-olddev.XXXXXX", src[PATH_MAX];
	char		 dst[PATH_MAX];
	size_t		 i;
	int		 fd, rc = -1;

	if (unshare(CLONE_NEWNS) == -1) {
		snprintf(err, len, "unshare(CLONE_NEWNS): %s", strerror(errno));
		return (-1);
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1) {
		snprintf(err, len, "make / private: %s", strerror(errno));
		return (-1);
	}
	if (mkdtemp(old) == NULL) {
		snprintf(err, len, "mkdtemp: %s", strerror(errno));
		return (-1);
	}
	if (mount("/dev", old, NULL, MS_BIND | MS_REC, NULL) == -1 ||
	    mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=0755") == -1) {
		snprintf(err, len, "mount over /dev: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		snprintf(src, sizeof(src), "%s/%s", old, nodes[i]);
		snprintf(dst, sizeof(dst), "/dev/%s", nodes[i]);
		if ((fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0666)) ==
		    -1 || close(fd) == -1 ||
		    mount(src, dst, NULL, MS_BIND, NULL) == -1) {
			snprintf(err, len, "bind /dev/%s: %s", nodes[i],
			    strerror(errno));
			goto out;
		}
	}
	if (symlink("/proc/self/fd", "/dev/fd") == -1) {
		snprintf(err, len, "symlink /dev/fd: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	umount2(old, MNT_DETACH);
	rmdir(old);
	return (rc);
}

START_TEST(syslog_lines)
{
	static struct syslog_ctx x;
	pthread_t		 reader;
	struct jobd_client	*c;
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	json_object		*job;
	const char		*fork_env = getenv("CK_FORK");
	char			 err[256], *text;
	size_t			 len;

	if (geteuid() != 0) {
		e2e_skip("syslog_lines: needs root for a mount namespace");
		return;
	}
	/* The namespace must die with the test's own process. */
	if (fork_env != NULL && strcmp(fork_env, "no") == 0) {
		e2e_skip("syslog_lines: needs CK_FORK (a process per test)");
		return;
	}
	if (private_dev(err, sizeof(err)) == -1) {
		e2e_skip("syslog_lines: no private /dev/log: %s", err);
		return;
	}
	memset(&x, 0, sizeof(x));
	pthread_mutex_init(&x.lock, NULL);
	x.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(x.fd, -1);
	strlcpy(sun.sun_path, "/dev/log", sizeof(sun.sun_path));
	ck_assert_msg(bind(x.fd, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	    "bind /dev/log: %s", strerror(errno));
	ck_assert_int_eq(pthread_create(&reader, NULL, syslog_reader, &x), 0);

	start_jobd(&J, "log = syslog\nlog_level = info\n");
	x.jobd = J.pid;
	c = e2e_connect(&J);
	job = run_wait(c, run_req(jargv("true", NULL), "{}"), &x.id);
	json_object_put(job);
	e2e_close(c);
	ck_assert_msg(wait_until(syslog_seen, &x, 10000),
	    "jobd's lines did not reach /dev/log (listening %d, started %d, "
	    "%d lines, first: %s)", x.listening, x.started, x.nlines,
	    x.nlines > 0 ? x.lines[0] : "");
	pthread_mutex_lock(&x.lock);
	x.stop = 1;
	pthread_mutex_unlock(&x.lock);
	pthread_join(reader, NULL);
	/* And not stderr: only what came before the configuration is read. */
	text = read_text(J.log, &len);
	ck_assert_msg(text == NULL || strstr(text, "started:") == NULL,
	    "a job line on stderr with log = syslog:\n%s", text);
	free(text);
	close(x.fd);
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
stats_suite(void)
{
	Suite	*s = suite_create("stats");

	add(s, "counters_exact", counters_exact);
	add(s, "expired_lost_restart", expired_lost_restart);
	add(s, "refused_counted", refused_counted);
	add(s, "user_scope", user_scope);
	add(s, "log_escaped", log_escaped);
	add(s, "log_level_reload", log_level_reload);
	add(s, "syslog_lines", syslog_lines);
	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	e2e_global_init();
	sr = srunner_create(stats_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	e2e_global_fini();
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
