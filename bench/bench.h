/*
 * Helpers shared by the jobd benchmarks: clocks, statistics, and a private
 * jobd started on a socket in a fresh temporary directory.
 *
 * Makefile.am gives each benchmark one .c file and this header, so the
 * helpers are static inline here: a program that does not use one of them
 * gets neither code nor an unused-function warning.
 */
#ifndef JOBD_BENCH_H
#define JOBD_BENCH_H

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
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

/* What a job gets when its request has no "env": the raw loop uses it too. */
#define BENCH_PATH_ENV	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:" \
			    "/usr/bin:/sbin:/bin"

struct bench_jobd {
	pid_t		 pid;		/* ours, or 0 for an external jobd */
	pid_t		 server_pid;	/* from ping: for /proc/PID/status */
	char		 dir[PATH_MAX];
	char		 sock[PATH_MAX];
	char		 log[PATH_MAX];
};

static inline uint64_t
bench_ns(clockid_t clk)
{
	struct timespec	ts;

	if (clock_gettime(clk, &ts) == -1)
		err(1, "clock_gettime");
	return ((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
}

static inline int
bench_cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

/* Sorts v. Median of an even count is the mean of the middle two. */
static inline double
bench_median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), bench_cmp_double);
	if (n % 2 == 1)
		return (v[n / 2]);
	return ((v[n / 2 - 1] + v[n / 2]) / 2);
}

/* Nearest-rank percentile of a sorted vector: p99 of 100 is the 99th. */
static inline double
bench_pct(const double *v, size_t n, double p)
{
	size_t	rank;

	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (v[rank - 1]);
}

static inline const char *
bench_errstr(json_object *resp)
{
	json_object	*e, *m;

	if (json_object_object_get_ex(resp, "error", &e) &&
	    json_object_object_get_ex(e, "message", &m))
		return (json_object_get_string(m));
	return (json_object_to_json_string(resp));
}

/* VmRSS of pid in KiB, or -1 if /proc does not tell (another uid...). */
static inline long
bench_rss_kb(pid_t pid)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 kb = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return (kb);
}

/* The next response, which must be ok; dies otherwise. */
static inline json_object *
bench_recv_ok(struct jobd_client *jc)
{
	json_object	*resp, *ok;

	if ((resp = jobd_recv(jc)) == NULL) {
		if (errno == 0)
			errx(1, "jobd closed the connection");
		err(1, "jobd_recv");
	}
	if (!json_object_object_get_ex(resp, "ok", &ok) ||
	    !json_object_get_boolean(ok))
		errx(1, "jobd: %s", bench_errstr(resp));
	return (resp);
}

/* One request, one response that must be ok; dies otherwise. */
static inline json_object *
bench_call(struct jobd_client *jc, json_object *req)
{
	if (jobd_send(jc, req) == -1)
		err(1, "jobd_send");
	return (bench_recv_ok(jc));
}

/* Ping; returns jobd's pid. */
static inline pid_t
bench_ping(struct jobd_client *jc)
{
	json_object	*req, *resp, *pid;
	pid_t		 p;

	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("ping"));
	resp = bench_call(jc, req);
	if (!json_object_object_get_ex(resp, "pid", &pid))
		errx(1, "ping: no pid in %s", json_object_to_json_string(resp));
	p = (pid_t)json_object_get_int(pid);
	json_object_put(resp);
	json_object_put(req);
	return (p);
}

/* Jobs jobd still knows (running or retained), from "list". */
static inline size_t
bench_list_count(struct jobd_client *jc)
{
	json_object	*req, *resp, *jobs;
	size_t		 n;

	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("list"));
	resp = bench_call(jc, req);
	if (!json_object_object_get_ex(resp, "jobs", &jobs))
		errx(1, "list: no jobs array");
	n = json_object_array_length(jobs);
	json_object_put(resp);
	json_object_put(req);
	return (n);
}

static inline struct jobd_client *
bench_connect(const char *sock)
{
	struct jobd_client	*jc;
	char			 msg[512];

	if ((jc = jobd_connect(sock, msg, sizeof(msg))) == NULL)
		errx(1, "%s", msg);
	return (jc);
}

/* Dump our jobd's log: it is the only clue when it fails to start or stop. */
static inline void
bench_jobd_showlog(const struct bench_jobd *bj)
{
	char	 buf[4096];
	size_t	 n;
	FILE	*f;

	if (bj->log[0] == '\0' || (f = fopen(bj->log, "re")) == NULL)
		return;
	fprintf(stderr, "--- %s ---\n", bj->log);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(f);
}

/* Our jobd, for bench_jobd_atexit. */
static struct bench_jobd	*bench_jobd_current;

/*
 * A benchmark that dies with err(3) must not leave its jobd (and the jobs
 * that jobd runs) behind: jobd is not in our process group's way once we are
 * gone, so it would run forever.
 */
static inline void
bench_jobd_atexit(void)
{
	struct bench_jobd	*bj = bench_jobd_current;

	if (bj == NULL || bj->pid == 0)
		return;
	(void)kill(bj->pid, SIGTERM);
	(void)waitpid(bj->pid, NULL, 0);
	fprintf(stderr, "jobd stopped; its log: %s\n", bj->log);
}

/* Start jobd with its job store in memory (-M), not on disk. */
static int	bench_jobd_memory;

/*
 * Start jobd (path) on a socket in a new private directory, its stderr to a
 * log file beside the socket, and wait until it answers ping. With sock
 * non-NULL use that jobd instead and start nothing.
 */
static inline void
bench_jobd_start(struct bench_jobd *bj, const char *path, const char *sock)
{
	posix_spawn_file_actions_t	 fa;
	posix_spawnattr_t		 at;
	struct jobd_client		*jc = NULL;
	sigset_t			 none;
	const char			*tmp;
	char				*argv[6];
	char				*envp[] = { (char *)BENCH_PATH_ENV, NULL };
	char				 msg[512];
	int				 i, status, rc;

	memset(bj, 0, sizeof(*bj));
	if (sock != NULL) {
		if (strlcpy(bj->sock, sock, sizeof(bj->sock)) >=
		    sizeof(bj->sock))
			errx(1, "%s: path too long", sock);
		jc = bench_connect(bj->sock);
		bj->server_pid = bench_ping(jc);
		jobd_close(jc);
		return;
	}

	if (access(path, X_OK) == -1)
		err(1, "%s (use -j PATH)", path);
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(bj->dir, sizeof(bj->dir), "%s/jobd-bench.XXXXXX",
	    tmp) >= sizeof(bj->dir))
		errx(1, "TMPDIR too long");
	if (mkdtemp(bj->dir) == NULL)
		err(1, "mkdtemp %s", bj->dir);
	if ((size_t)snprintf(bj->sock, sizeof(bj->sock), "%s/jobd.sock",
	    bj->dir) >= sizeof(bj->sock) ||
	    (size_t)snprintf(bj->log, sizeof(bj->log), "%s/jobd.log",
	    bj->dir) >= sizeof(bj->log))
		errx(1, "%s: path too long", bj->dir);

	/* posix_spawn opens the files in the child: nothing to leak here. */
	if ((rc = posix_spawn_file_actions_init(&fa)) != 0 ||
	    (rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null",
	    O_RDONLY, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_addopen(&fa, 1, bj->log,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(&fa, 1, 2)) != 0)
		errc(1, rc, "posix_spawn_file_actions");
	sigemptyset(&none);
	if ((rc = posix_spawnattr_init(&at)) != 0 ||
	    (rc = posix_spawnattr_setsigmask(&at, &none)) != 0 ||
	    (rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK)) != 0)
		errc(1, rc, "posix_spawnattr");
	/* A store of its own, in the directory, whatever the user; -M: in
	 * memory instead. */
	argv[0] = (char *)"jobd";
	argv[1] = (char *)"-s";
	argv[2] = bj->sock;
	argv[3] = (char *)(bench_jobd_memory ? "-M" : "-S");
	argv[4] = bench_jobd_memory ? NULL : bj->dir;
	argv[5] = NULL;
	if ((rc = posix_spawn(&bj->pid, path, &fa, &at, argv, envp)) != 0)
		errc(1, rc, "posix_spawn %s", path);
	bench_jobd_current = bj;
	if (atexit(bench_jobd_atexit) != 0)
		errx(1, "atexit");
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);

	/* It listens within milliseconds; 10 s means it will not. */
	for (i = 0; i < 1000; i++) {
		if (waitpid(bj->pid, &status, WNOHANG) == bj->pid) {
			bench_jobd_showlog(bj);
			errx(1, "%s exited at startup (status %#x)", path,
			    status);
		}
		if ((jc = jobd_connect(bj->sock, msg, sizeof(msg))) != NULL)
			break;
		usleep(10000);
	}
	if (jc == NULL) {
		bench_jobd_showlog(bj);
		errx(1, "jobd does not answer: %s", msg);
	}
	bj->server_pid = bench_ping(jc);
	jobd_close(jc);
}

/*
 * Empty and remove our private directory: the log, and whatever jobd leaves
 * beside its socket (its lock file stays on purpose).
 */
static inline void
bench_rmdir(const char *path)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(fd)) == NULL) {
		warn("%s", path);
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		/* jobd's output/ directory is empty when no job asked for
		 * output files, as here. */
		if (unlinkat(dirfd(d), de->d_name, 0) == -1 &&
		    (errno != EISDIR || unlinkat(dirfd(d), de->d_name,
		    AT_REMOVEDIR) == -1))
			warn("unlink %s/%s", path, de->d_name);
	}
	closedir(d);
	if (rmdir(path) == -1)
		warn("rmdir %s", path);
}

/* SIGTERM our jobd, wait for it (SIGKILL after 30 s), tidy the directory. */
static inline void
bench_jobd_stop(struct bench_jobd *bj)
{
	int	i, status = 0;
	pid_t	p = 0;

	if (bj->pid == 0)
		return;
	if (kill(bj->pid, SIGTERM) == -1)
		err(1, "kill jobd");
	for (i = 0; i < 3000; i++) {
		if ((p = waitpid(bj->pid, &status, WNOHANG)) == -1)
			err(1, "waitpid jobd");
		if (p == bj->pid)
			break;
		usleep(10000);
	}
	if (p != bj->pid) {
		warnx("jobd does not exit after SIGTERM: SIGKILL");
		(void)kill(bj->pid, SIGKILL);
		(void)waitpid(bj->pid, &status, 0);
	}
	bj->pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		bench_jobd_showlog(bj);
		warnx("jobd ended with status %#x; log kept in %s", status,
		    bj->log);
		return;
	}
	bench_rmdir(bj->dir);
}

#endif /* JOBD_BENCH_H */
