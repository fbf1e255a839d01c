/*
 * bench_throughput: how many short jobs per second jobd runs for one
 * pipelined client, against the floor of what the kernel allows: a raw loop
 * that posix_spawns /bin/true in a new session and waitpids it, with the same
 * number of jobs in flight.
 *
 * The two are alternated (raw, jobd, raw, jobd, ...) and the medians are
 * reported, since on a small shared machine a single run says little. jobd's
 * RSS before and after gives the memory an ended (retained) job costs.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "jobd/client.h"
#include "bench.h"

#define TRUE_PATH	"/bin/true"

struct sample {
	double		 rate;		/* jobs/s */
	double		 cpu_us;	/* bench's own CPU per job */
	double		 jobd_cpu_us;	/* jobd's CPU per job, -1 if unknown */
};

static void __attribute__((noreturn))
		 usage(void);
static long	 parse_num(const char *, const char *, long, long);
static double	 self_cpu_us(void);
static double	 proc_cpu_us(pid_t);
static void	 run_raw(int, int, pid_t, struct sample *);
static void	 run_jobd(struct jobd_client *, int, int, int64_t,
		    unsigned char *, pid_t, struct sample *);
static void	 check_result(json_object *, int64_t);

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: bench_throughput [-M] [-c concurrency] "
	    "[-j jobd] [-n jobs] [-r rounds] [-s socket]\n");
	exit(1);
}

static long
parse_num(const char *s, const char *what, long min, long max)
{
	const char	*errstr;
	long long	 v;

	v = strtonum(s, min, max, &errstr);
	if (errstr != NULL)
		errx(1, "%s %s: %s", what, s, errstr);
	return ((long)v);
}

/* Our own CPU, user + system, in microseconds. */
static double
self_cpu_us(void)
{
	struct rusage	ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		err(1, "getrusage");
	return ((double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec));
}

/*
 * CPU of another process in microseconds, from schedstat (nanoseconds; the
 * tick counts of /proc/PID/stat are too coarse for a 2 s run). -1 if unknown.
 */
static double
proc_cpu_us(pid_t pid)
{
	char			 path[64];
	unsigned long long	 ns;
	FILE			*f;
	int			 n;

	snprintf(path, sizeof(path), "/proc/%ld/schedstat", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return (-1);
	n = fscanf(f, "%llu", &ns);
	fclose(f);
	return (n == 1 ? (double)ns / 1e3 : -1);
}

/*
 * The baseline: what jobd itself cannot beat. Same program, same minimal
 * environment, same new session; no pipes, no protocol, no bookkeeping.
 */
static void
run_raw(int n, int conc, pid_t jobd_pid, struct sample *s)
{
	posix_spawnattr_t	 at;
	sigset_t		 none;
	char			*argv[] = { (char *)TRUE_PATH, NULL };
	char			*envp[] = { (char *)BENCH_PATH_ENV, NULL };
	uint64_t		 t0, t1;
	double			 c0;
	pid_t			 pid;
	int			 rc, status, started = 0, done = 0, inflight = 0;

	sigemptyset(&none);
	if ((rc = posix_spawnattr_init(&at)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(&at, &none)) != 0 ||
	    (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID |
	    POSIX_SPAWN_SETSIGMASK)) != 0)
		errc(1, rc, "posix_spawnattr");

	c0 = self_cpu_us();
	t0 = bench_ns(CLOCK_MONOTONIC);
	while (done < n) {
		while (inflight < conc && started < n) {
			if ((rc = posix_spawn(&pid, TRUE_PATH, NULL, &at,
			    argv, envp)) != 0)
				errc(1, rc, "posix_spawn %s", TRUE_PATH);
			started++;
			inflight++;
		}
		if ((pid = waitpid(-1, &status, 0)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "waitpid");
		}
		/* Our jobd is our child too: its death is not a result. */
		if (pid == jobd_pid)
			errx(1, "jobd died (status %#x)", status);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			errx(1, "%s: status %#x", TRUE_PATH, status);
		inflight--;
		done++;
	}
	t1 = bench_ns(CLOCK_MONOTONIC);
	posix_spawnattr_destroy(&at);
	s->rate = (double)n / ((double)(t1 - t0) / 1e9);
	s->cpu_us = (self_cpu_us() - c0) / n;
	s->jobd_cpu_us = -1;
}

/* A final result must be a clean exit of /bin/true. */
static void
check_result(json_object *resp, int64_t tag)
{
	json_object	*job, *state, *code;

	if (!json_object_object_get_ex(resp, "job", &job) ||
	    !json_object_object_get_ex(job, "state", &state) ||
	    !json_object_object_get_ex(job, "exit_code", &code))
		errx(1, "tag %lld: malformed result %s", (long long)tag,
		    json_object_to_json_string(resp));
	if (strcmp(json_object_get_string(state), "exited") != 0 ||
	    json_object_get_int(code) != 0)
		errx(1, "tag %lld: job did not exit 0: %s", (long long)tag,
		    json_object_to_json_string(job));
}

/*
 * n jobs on one connection, at most conc of them between our "run" and its
 * final result. Tags tag0..tag0+n-1 are distinct over the whole run, and
 * seen[] checks that each job is answered exactly once.
 */
static void
run_jobd(struct jobd_client *jc, int n, int conc, int64_t tag0,
    unsigned char *seen, pid_t server, struct sample *s)
{
	json_object	*req, *argv, *resp, *tag;
	uint64_t	 t0, t1;
	double		 c0, j0;
	int64_t		 t;
	int		 sent = 0, done = 0, inflight = 0;

	/* One request object, only its tag replaced: json-c is not measured. */
	req = json_object_new_object();
	argv = json_object_new_array();
	json_object_array_add(argv, json_object_new_string(TRUE_PATH));
	json_object_object_add(req, "op", json_object_new_string("run"));
	json_object_object_add(req, "argv", argv);
	json_object_object_add(req, "wait", json_object_new_boolean(1));

	c0 = self_cpu_us();
	j0 = proc_cpu_us(server);
	t0 = bench_ns(CLOCK_MONOTONIC);
	while (done < n) {
		while (inflight < conc && sent < n) {
			json_object_object_add(req, "tag",
			    json_object_new_int64(tag0 + sent));
			if (jobd_send(jc, req) == -1)
				err(1, "jobd_send");
			sent++;
			inflight++;
		}
		resp = bench_recv_ok(jc);
		if (!json_object_object_get_ex(resp, "tag", &tag) ||
		    (t = json_object_get_int64(tag) - tag0) < 0 || t >= sent)
			errx(1, "response with a tag we did not send: %s",
			    json_object_to_json_string(resp));
		/* The first response ("running", with the id) frees no slot. */
		if (json_object_object_get_ex(resp, "job", NULL)) {
			check_result(resp, tag0 + t);
			if (seen[t]++ != 0)
				errx(1, "tag %lld answered twice",
				    (long long)(tag0 + t));
			inflight--;
			done++;
		}
		json_object_put(resp);
	}
	t1 = bench_ns(CLOCK_MONOTONIC);
	s->rate = (double)n / ((double)(t1 - t0) / 1e9);
	s->cpu_us = (self_cpu_us() - c0) / n;
	s->jobd_cpu_us = j0 < 0 ? -1 : (proc_cpu_us(server) - j0) / n;
	json_object_put(req);
}

int
main(int argc, char **argv)
{
	struct bench_jobd	 bj;
	struct jobd_client	*jc;
	struct sample		*raw, *jd;
	const char		*jobd_path = "./jobd", *sock = NULL;
	unsigned char		*seen;
	double			*v;
	double			 med_raw, med_jobd, med_ratio;
	long			 rss0, rss1;
	size_t			 retained;
	int			 ch, i, n = 2000, conc = 8, rounds = 3;

	while ((ch = getopt(argc, argv, "c:j:Mn:r:s:")) != -1) {
		switch (ch) {
		case 'M':
			bench_jobd_memory = 1;
			break;
		case 'c':
			conc = (int)parse_num(optarg, "concurrency", 1, 4096);
			break;
		case 'j':
			jobd_path = optarg;
			break;
		case 'n':
			n = (int)parse_num(optarg, "jobs", 1, 10000000);
			break;
		case 'r':
			rounds = (int)parse_num(optarg, "rounds", 1, 1000);
			break;
		case 's':
			sock = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* Line-buffered: a long run shows its rounds as they end. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	bench_jobd_start(&bj, jobd_path, sock);
	jc = bench_connect(bj.sock);
	rss0 = bench_rss_kb(bj.server_pid);
	printf("bench_throughput: %d x %s, %d in flight, %d rounds; "
	    "jobd pid %ld on %s\n", n, TRUE_PATH, conc, rounds,
	    (long)bj.server_pid, bj.sock);

	raw = calloc(rounds, sizeof(*raw));
	jd = calloc(rounds, sizeof(*jd));
	v = calloc(rounds, sizeof(*v));
	seen = calloc((size_t)n * rounds, 1);
	if (raw == NULL || jd == NULL || v == NULL || seen == NULL)
		err(1, "calloc");

	for (i = 0; i < rounds; i++) {
		run_raw(n, conc, bj.pid > 0 ? bj.pid : -1, &raw[i]);
		run_jobd(jc, n, conc, (int64_t)i * n, seen + (size_t)i * n,
		    bj.server_pid, &jd[i]);
		printf("round %d: raw %8.1f jobs/s (bench cpu %5.1f us/job)  "
		    "jobd %8.1f jobs/s (jobd cpu %5.1f us/job, client cpu "
		    "%5.1f us/job)  ratio %.3f\n", i + 1, raw[i].rate,
		    raw[i].cpu_us, jd[i].rate, jd[i].jobd_cpu_us, jd[i].cpu_us,
		    jd[i].rate / raw[i].rate);
	}

	for (i = 0; i < rounds; i++)
		v[i] = raw[i].rate;
	med_raw = bench_median(v, rounds);
	for (i = 0; i < rounds; i++)
		v[i] = jd[i].rate;
	med_jobd = bench_median(v, rounds);
	for (i = 0; i < rounds; i++)
		v[i] = jd[i].rate / raw[i].rate;
	med_ratio = bench_median(v, rounds);
	printf("median: raw %.1f jobs/s, jobd %.1f jobs/s, ratio jobd/raw "
	    "%.3f (target >= 0.8: %s)\n", med_raw, med_jobd, med_ratio,
	    med_ratio >= 0.8 ? "met" : "MISSED");

	/* Ended jobs are retained (retention, max_retained): they cost RSS. */
	rss1 = bench_rss_kb(bj.server_pid);
	retained = bench_list_count(jc);
	if (rss0 < 0 || rss1 < 0)
		printf("jobd RSS: unknown (no /proc/%ld/status)\n",
		    (long)bj.server_pid);
	else
		printf("jobd RSS: before %ld KiB, after %ld KiB, %zu jobs "
		    "retained (%d run): %.0f bytes per retained job\n", rss0,
		    rss1, retained, n * rounds, retained == 0 ? 0.0 :
		    (double)(rss1 - rss0) * 1024 / (double)retained);

	jobd_close(jc);
	bench_jobd_stop(&bj);
	free(raw);
	free(jd);
	free(v);
	free(seen);
	return (0);
}
