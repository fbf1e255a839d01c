/*
 * bench_deadline: how late after its deadline a job is signalled, and how
 * late its result says it was dead, with K jobs whose deadlines fall 1 ms
 * apart (job i: timeout = T + i * step; T = 1 s, step = 1 ms by default, so
 * K = 1000 spreads them over one second).
 *
 * jobd is not trusted to say when it signalled. Each job is this program
 * again, as "bench_deadline --victim": it waits for SIGTERM and prints its
 * pid and the CLOCK_REALTIME at which it got the signal. jobd's result gives
 * started_at (wall clock, taken just before the spawn) and ended_at, both
 * CLOCK_REALTIME too, on the same machine, so
 *
 *	deadline        = started_at + timeout
 *	late(signal)    = t_sigterm - deadline
 *	late(dead)      = ended_at - deadline
 *
 * t_sigterm includes the victim's own wake-up, i.e. what a job experiences.
 * kill_after is large, so no SIGKILL muddles the picture. A negative lateness
 * would mean the job was signalled before its deadline.
 *
 * "spawn" is t_main - started_at: from jobd's start stamp to the victim's
 * main() running (pipes, clone, exec, dynamic loader).
 *
 * Before each jobd run, the same K victims are run by a raw loop (spawn,
 * clock_nanosleep to each deadline, killpg): the floor that the machine's
 * timers and scheduler allow, without jobd.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "jobd/client.h"
#include "bench.h"

#define VICTIM_ARG	"--victim"
#define KILL_AFTER	60.0
#define MAX_K		10

struct victim_rec {
	pid_t		 pid;
	double		 spawned;	/* CLOCK_REALTIME, s */
	double		 deadline;	/* CLOCK_REALTIME, s */
	double		 tstart;	/* the victim's main() began, s */
	double		 tsig;		/* it got SIGTERM, s */
};

/* What the raw loop's victims write to their shared stdout pipe. */
struct raw_run {
	int		 fd;
	char		*buf;
	size_t		 len, size;
};

static void __attribute__((noreturn))
		 usage(void);
static void __attribute__((noreturn))
		 victim(const struct timespec *);
static double	 parse_secs(const char *, const char *);
static int	 parse_victim(const char *, pid_t *, double *, double *);
static double	 num_field(json_object *, const char *, int64_t);
static void	 report(const char *, double *, int);
static int	 cmp_pid(const void *, const void *);
static void	 raw_read(struct raw_run *);
static void	 raw_parse(struct raw_run *, struct victim_rec *, int);
static void	 run_raw(const char *, int, double, double);
static void	 run_jobd(const char *, const char *, int, double, double);

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: bench_deadline [-R] [-j jobd] [-k jobs]... "
	    "[-s socket] [-t timeout] [-w step]\n");
	exit(1);
}

/*
 * The job. SIGTERM is blocked and taken with sigwaitinfo, so there is no
 * handler: the time is read as soon as the process runs after the signal.
 * It also reports when its main() began (after exec and the dynamic loader),
 * which tells how long the spawn took. One short write: atomic even on the
 * pipe shared by all the raw victims.
 */
static void __attribute__((noreturn))
victim(const struct timespec *t0)
{
	struct timespec	ts;
	sigset_t	set;
	char		buf[96];
	int		len;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		err(2, "sigprocmask");
	while (sigwaitinfo(&set, NULL) == -1)
		if (errno != EINTR)
			err(2, "sigwaitinfo");
	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		err(2, "clock_gettime");
	len = snprintf(buf, sizeof(buf), "%ld %lld.%09ld %lld.%09ld\n",
	    (long)getpid(), (long long)t0->tv_sec, t0->tv_nsec,
	    (long long)ts.tv_sec, ts.tv_nsec);
	if (write(STDOUT_FILENO, buf, len) != len)
		_exit(2);
	_exit(0);
}

static double
parse_secs(const char *s, const char *what)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || v < 0 || v > 3600)
		errx(1, "%s %s: seconds in 0..3600 expected", what, s);
	return (v);
}

/* "PID START SIGNAL\n" from a victim, times as SECONDS.NANOSECONDS. */
static int
parse_victim(const char *s, pid_t *pid, double *tstart, double *tsig)
{
	char	*end;
	long	 p;

	errno = 0;
	p = strtol(s, &end, 10);
	if (end == s || *end != ' ' || errno != 0 || p <= 0)
		return (-1);
	s = end + 1;
	*tstart = strtod(s, &end);
	if (end == s || *end != ' ' || errno != 0)
		return (-1);
	s = end + 1;
	*tsig = strtod(s, &end);
	if (end == s || *end != '\n' || errno != 0)
		return (-1);
	*pid = (pid_t)p;
	return (0);
}

static double
num_field(json_object *job, const char *name, int64_t tag)
{
	json_object	*o;

	if (!json_object_object_get_ex(job, name, &o) ||
	    (!json_object_is_type(o, json_type_double) &&
	    !json_object_is_type(o, json_type_int)))
		errx(1, "tag %lld: no number \"%s\" in %s", (long long)tag,
		    name, json_object_to_json_string(job));
	return (json_object_get_double(o));
}

/* v in seconds, sorted in place; printed in milliseconds. */
static void
report(const char *what, double *v, int k)
{
	qsort(v, k, sizeof(*v), bench_cmp_double);
	printf("  %-12s min %8.3f  p50 %8.3f  p99 %8.3f  max %8.3f ms\n",
	    what, v[0] * 1e3, bench_pct(v, k, 50) * 1e3,
	    bench_pct(v, k, 99) * 1e3, v[k - 1] * 1e3);
}

static int
cmp_pid(const void *a, const void *b)
{
	const struct victim_rec	*x = a, *y = b;

	return (x->pid < y->pid ? -1 : x->pid > y->pid);
}

/* Append what the raw victims wrote to the shared pipe (non-blocking). */
static void
raw_read(struct raw_run *rr)
{
	ssize_t	n;

	for (;;) {
		if (rr->len == rr->size) {
			rr->size = rr->size == 0 ? 65536 : rr->size * 2;
			if ((rr->buf = realloc(rr->buf, rr->size)) == NULL)
				err(1, "realloc");
		}
		n = read(rr->fd, rr->buf + rr->len, rr->size - rr->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1)
			err(1, "read victims");
		if (n == 0)
			return;
		rr->len += (size_t)n;
	}
}

/* Every victim has exited: match each line to its victim (v by pid). */
static void
raw_parse(struct raw_run *rr, struct victim_rec *v, int k)
{
	struct victim_rec	 key, *r;
	char			*p, *nl, *end;
	int			 lines = 0;

	raw_read(rr);
	p = rr->buf;
	end = rr->buf + rr->len;
	while (p < end && (nl = memchr(p, '\n', end - p)) != NULL) {
		if (parse_victim(p, &key.pid, &key.tstart, &key.tsig) == -1 ||
		    (r = bsearch(&key, v, k, sizeof(*v), cmp_pid)) == NULL)
			errx(1, "victim said \"%.*s\"", (int)(nl - p), p);
		r->tstart = key.tstart;
		r->tsig = key.tsig;
		lines++;
		p = nl + 1;
	}
	if (lines != k || p != end)
		errx(1, "raw: %d of %d victims reported", lines, k);
}

/*
 * The floor: the same victims and deadlines with no jobd, and, as jobd does,
 * spawning goes on between deadlines: a deadline due is served first (the
 * signal and SIGCONT to the group), else the next victim is spawned, else we
 * sleep until the next deadline.
 */
static void
run_raw(const char *self, int k, double t, double step)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	struct raw_run			 rr;
	struct victim_rec		*v, *r;
	struct timespec			 ts;
	sigset_t			 none;
	char				*argv[3];
	char				*envp[] = { (char *)BENCH_PATH_ENV, NULL };
	double				*late, *exec;
	pid_t				 pid;
	int				 p[2], i, rc, status;
	int				 spawned = 0, killed = 0;

	memset(&rr, 0, sizeof(rr));
	if ((v = calloc(k, sizeof(*v))) == NULL ||
	    (late = calloc(k, sizeof(*late))) == NULL ||
	    (exec = calloc(k, sizeof(*exec))) == NULL)
		err(1, "calloc");
	/* Only our end is non-blocking: a victim's write must not fail. */
	if (pipe2(p, O_CLOEXEC) == -1)
		err(1, "pipe2");
	rr.fd = p[0];
	if (fcntl(rr.fd, F_SETFL, O_NONBLOCK) == -1)
		err(1, "fcntl");
	/* dup2 in the child clears CLOEXEC on its stdout only. */
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, p[1], 1)) != 0)
		errc(1, rc, "posix_spawn_file_actions");
	sigemptyset(&none);
	if ((rc = posix_spawnattr_init(&at)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(&at, &none)) != 0 ||
	    (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID |
	    POSIX_SPAWN_SETSIGMASK)) != 0)
		errc(1, rc, "posix_spawnattr");
	argv[0] = (char *)self;
	argv[1] = (char *)VICTIM_ARG;
	argv[2] = NULL;

	/* Deadlines grow with i: served in spawn order. */
	while (killed < k) {
		if (killed < spawned && (double)bench_ns(CLOCK_REALTIME) /
		    1e9 >= v[killed].deadline) {
			r = &v[killed++];
			if (killpg(r->pid, SIGTERM) == -1 ||
			    killpg(r->pid, SIGCONT) == -1)
				err(1, "killpg %ld", (long)r->pid);
			raw_read(&rr);
			continue;
		}
		if (spawned < k) {
			r = &v[spawned];
			/* Taken where jobd takes started_at: before spawn. */
			r->spawned = (double)bench_ns(CLOCK_REALTIME) / 1e9;
			r->deadline = r->spawned + t + (double)spawned * step;
			if ((rc = posix_spawn(&r->pid, self, &fa, &at, argv,
			    envp)) != 0)
				errc(1, rc, "posix_spawn %s", self);
			spawned++;
			continue;
		}
		r = &v[killed];
		ts.tv_sec = (time_t)r->deadline;
		ts.tv_nsec = (long)((r->deadline - (double)ts.tv_sec) * 1e9);
		if ((rc = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts,
		    NULL)) != 0 && rc != EINTR)
			errc(1, rc, "clock_nanosleep");
	}
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(p[1]);

	qsort(v, k, sizeof(*v), cmp_pid);
	for (i = 0; i < k; i++) {
		while ((pid = waitpid(-1, &status, 0)) == -1 && errno == EINTR)
			;
		if (pid == -1)
			err(1, "waitpid");
		if (bsearch(&(struct victim_rec){ .pid = pid }, v, k,
		    sizeof(*v), cmp_pid) == NULL)
			errx(1, "waitpid: %ld is no victim (jobd died?)",
			    (long)pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			errx(1, "victim %ld: status %#x", (long)pid, status);
		raw_read(&rr);
	}
	raw_parse(&rr, v, k);
	close(rr.fd);
	for (i = 0; i < k; i++) {
		late[i] = v[i].tsig - v[i].deadline;
		exec[i] = v[i].tstart - v[i].spawned;
	}
	report("raw signal", late, k);
	report("raw spawn", exec, k);
	free(rr.buf);
	free(v);
	free(late);
	free(exec);
}

/*
 * Send all k runs at once (pipelined on one connection, distinct tags), then
 * read the 2k responses: an ack each, then the result after the deadline.
 */
static void
run_jobd(const char *sock, const char *self, int k, double t, double step)
{
	struct jobd_client	*jc;
	json_object		*req, *argv, *resp, *tag, *job, *st, *out;
	double			*sig, *dead, *exec, first = 0, last = 0;
	double			 started, ended, timeout, tstart, tsig, deadline;
	unsigned char		*seen;
	const char		*s;
	pid_t			 vpid;
	int64_t			 i;
	int			 results = 0;

	sig = calloc(k, sizeof(*sig));
	dead = calloc(k, sizeof(*dead));
	exec = calloc(k, sizeof(*exec));
	seen = calloc(k, 1);
	if (sig == NULL || dead == NULL || exec == NULL || seen == NULL)
		err(1, "calloc");
	jc = bench_connect(sock);

	req = json_object_new_object();
	argv = json_object_new_array();
	json_object_array_add(argv, json_object_new_string(self));
	json_object_array_add(argv, json_object_new_string(VICTIM_ARG));
	json_object_object_add(req, "op", json_object_new_string("run"));
	json_object_object_add(req, "argv", argv);
	json_object_object_add(req, "kill_after",
	    json_object_new_double(KILL_AFTER));
	json_object_object_add(req, "wait", json_object_new_boolean(1));
	for (i = 0; i < k; i++) {
		json_object_object_add(req, "timeout",
		    json_object_new_double(t + (double)i * step));
		json_object_object_add(req, "tag", json_object_new_int64(i));
		if (jobd_send(jc, req) == -1)
			err(1, "jobd_send");
	}
	json_object_put(req);

	while (results < k) {
		resp = bench_recv_ok(jc);
		if (!json_object_object_get_ex(resp, "tag", &tag) ||
		    (i = json_object_get_int64(tag)) < 0 || i >= k)
			errx(1, "response with a tag we did not send: %s",
			    json_object_to_json_string(resp));
		if (!json_object_object_get_ex(resp, "job", &job)) {
			json_object_put(resp);		/* the ack */
			continue;
		}
		if (seen[i]++ != 0)
			errx(1, "tag %lld answered twice", (long long)i);
		if (!json_object_object_get_ex(job, "state", &st) ||
		    strcmp(json_object_get_string(st), "timed_out") != 0)
			errx(1, "tag %lld: not timed_out: %s", (long long)i,
			    json_object_to_json_string(job));
		started = num_field(job, "started_at", i);
		ended = num_field(job, "ended_at", i);
		timeout = num_field(job, "timeout", i);
		s = NULL;
		if (!json_object_object_get_ex(job, "stdout", &out) ||
		    (s = json_object_get_string(out)) == NULL ||
		    parse_victim(s, &vpid, &tstart, &tsig) == -1 ||
		    vpid != (pid_t)num_field(job, "pid", i))
			errx(1, "tag %lld: victim said \"%s\"", (long long)i,
			    s != NULL ? s : "");
		deadline = started + timeout;
		sig[results] = tsig - deadline;
		dead[results] = ended - deadline;
		exec[results] = tstart - started;
		if (results == 0 || started < first)
			first = started;
		if (results == 0 || started > last)
			last = started;
		results++;
		json_object_put(resp);
	}
	jobd_close(jc);

	printf("  jobd spawned all %d within %.1f ms\n", k,
	    (last - first) * 1e3);
	report("jobd signal", sig, k);
	report("jobd dead", dead, k);
	report("jobd spawn", exec, k);
	printf("  jobd signal p99 target <= 2 ms: %s\n",
	    bench_pct(sig, k, 99) <= 0.002 ? "met" : "MISSED");
	free(sig);
	free(dead);
	free(exec);
	free(seen);
}

int
main(int argc, char **argv)
{
	struct bench_jobd	 bj;
	const char		*jobd_path = "./jobd", *sock = NULL;
	const char		*errstr;
	char			 self[PATH_MAX];
	ssize_t			 len;
	double			 t = 1.0, step = 0.001;
	struct timespec		 t0;
	int			 ch, i, nk = 0, ks[MAX_K], raw = 1;

	/* First thing: a victim's start time says how long its spawn took. */
	if (clock_gettime(CLOCK_REALTIME, &t0) == -1)
		err(2, "clock_gettime");
	if (argc == 2 && strcmp(argv[1], VICTIM_ARG) == 0)
		victim(&t0);

	while ((ch = getopt(argc, argv, "Rj:k:s:t:w:")) != -1) {
		switch (ch) {
		case 'R':
			raw = 0;
			break;
		case 'j':
			jobd_path = optarg;
			break;
		case 'k':
			if (nk == MAX_K)
				errx(1, "at most %d -k", MAX_K);
			ks[nk++] = (int)strtonum(optarg, 1, 100000, &errstr);
			if (errstr != NULL)
				errx(1, "jobs %s: %s", optarg, errstr);
			break;
		case 's':
			sock = optarg;
			break;
		case 't':
			t = parse_secs(optarg, "timeout");
			if (t <= 0)
				errx(1, "timeout must be > 0");
			break;
		case 'w':
			step = parse_secs(optarg, "step");
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (nk == 0) {
		ks[nk++] = 100;
		ks[nk++] = 1000;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* jobd execs the victim by absolute path: its cwd is "/". */
	if ((len = readlink("/proc/self/exe", self, sizeof(self) - 1)) == -1)
		err(1, "readlink /proc/self/exe");
	self[len] = '\0';

	bench_jobd_start(&bj, jobd_path, sock);
	printf("bench_deadline: jobd pid %ld on %s\n", (long)bj.server_pid,
	    bj.sock);
	for (i = 0; i < nk; i++) {
		printf("K=%d: timeout %.3f..%.3f s (step %.3f ms), kill_after "
		    "%.0f s\n", ks[i], t, t + (ks[i] - 1) * step, step * 1e3,
		    KILL_AFTER);
		if (raw)
			run_raw(self, ks[i], t, step);
		run_jobd(bj.sock, self, ks[i], t, step);
	}
	bench_jobd_stop(&bj);
	return (0);
}
