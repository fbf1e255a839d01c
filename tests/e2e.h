/*
 * Integration test harness: a real jobd per test in its own mkdtemp
 * directory, a client over the wire protocol, bounded waits, and /proc
 * helpers to check that the processes a job started are really gone.
 */
#ifndef E2E_H
#define E2E_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>

#include <check.h>
#include <json-c/json.h>

#include "jobd/client.h"

#ifndef JOBD_BIN
#error "JOBD_BIN must name the jobd binary under test"
#endif
#ifndef JOBCTL_BIN
#error "JOBCTL_BIN must name the jobctl binary under test"
#endif
#ifndef PROGS_DIR
#error "PROGS_DIR must name the directory of the helper programs"
#endif

/* Every bounded wait and every read from jobd gives up after this long. */
/* Longer by CK_TIMEOUT_MULTIPLIER under JOBD_WRAPPER (valgrind). */
#define E2E_RECV_TIMEOUT_MS	(15000 * e2e_slowdown())
#define E2E_START_TIMEOUT_MS	(10000 * e2e_slowdown())
#define E2E_STOP_TIMEOUT_MS	(10000 * e2e_slowdown())

struct jobd_inst {
	char	dir[PATH_MAX];		/* mkdtemp, removed by stop_jobd */
	char	sock[PATH_MAX];		/* dir/jobd.sock */
	char	log[PATH_MAX];		/* dir/jobd.log: jobd's stderr */
	char	conf[PATH_MAX];		/* dir/jobd.conf, if any */
	pid_t	pid;			/* -1 once reaped */
	int	status;			/* wait status once reaped */
};

typedef int	(*cond_fn)(void *);

/* Harness lifetime: main() and the per-test sweeper. */
void		 e2e_global_init(void);
void		 e2e_global_fini(void);
void		 e2e_sweep(void);
void		 e2e_teardown(void);

/*
 * A test that needs something this machine lacks calls this and returns: it
 * prints "SKIP: why" (tests/run-all counts those lines, so a skipped test is
 * never reported as passed).
 */
void		 e2e_skip(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
/*
 * jobd runs under JOBD_WRAPPER (make check-valgrind): a test that needs
 * what the wrapper changes skips, saying so (e2e_skip).
 */
int		 e2e_wrapped(void);
int		 e2e_slowdown(void);

/* Clocks and waits. */
double		 now_mono(void);
int		 wait_until(cond_fn, void *, int timeout_ms);

/* Daemons. */
void		 start_jobd(struct jobd_inst *, const char *conf_text);
/* start_jobd's directory, paths and config, for a test to start jobd its
 * own way (setting ji->pid); stop_jobd and the sweeper clean up as usual. */
void		 new_inst(struct jobd_inst *, const char *conf_text);
void		 restart_jobd(struct jobd_inst *);
pid_t		 spawn_jobd(struct jobd_inst *, const char *errfile);
int		 reap_jobd(struct jobd_inst *, int timeout_ms);
void		 stop_jobd(struct jobd_inst *);
void		 path_in(const struct jobd_inst *, const char *, char *,
		    size_t);

/* Processes the test must kill in teardown, whatever happens. */
void		 track_pid(pid_t);

/* Talking to jobd. */
struct jobd_client *e2e_connect(const struct jobd_inst *);
void		 e2e_close(struct jobd_client *);
void		 set_recv_timeout(struct jobd_client *, int timeout_ms);
json_object	*jparse(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));
json_object	*jargv(const char *, ...) __attribute__((sentinel));
json_object	*run_req(json_object *argv, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
json_object	*call(struct jobd_client *, json_object *req);
json_object	*callf(struct jobd_client *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
json_object	*recv_resp(struct jobd_client *);
void		 send_req(struct jobd_client *, json_object *req);
void		 send_raw(struct jobd_client *, const void *, size_t);
void		 send_str(struct jobd_client *, const char *);
/* Send req (consumed), expect ok: the new job's id. */
long long	 run_id(struct jobd_client *, json_object *req);
/* Whether job id is in state now; wait (bounded) until it is. */
int		 job_state_is(struct jobd_client *, long long id,
		    const char *state);
void		 wait_job_state(struct jobd_client *, long long id,
		    const char *state, int timeout_ms);
json_object	*run_wait(struct jobd_client *, json_object *req,
		    long long *id);
void		 expect_ok(json_object *);
void		 expect_error(json_object *, const char *code);
void		 expect_ping(struct jobd_client *);

/* Fields of a response or job object; a missing field fails the test. */
json_object	*jget(json_object *, const char *);
long long	 jint(json_object *, const char *);
double		 jdouble(json_object *, const char *);
int		 jbool(json_object *, const char *);
const char	*jstr(json_object *, const char *);
int		 jis_null(json_object *, const char *);

/* jobctl. */
int		 run_jobctl(const struct jobd_inst *, double *elapsed,
		    const char *, ...) __attribute__((sentinel));

/*
 * Any program (jobctl by default) with the stdio the test chooses: the
 * child's signal dispositions and mask are reset, JOBD_SOCKET names ji's
 * socket (unless ji is NULL), and the pid is tracked until reaped.
 */
struct proc_spec {
	const char	*path;		/* executable; NULL: JOBCTL_BIN */
	const char	*cwd;		/* NULL: the test's */
	int		 fd[3];		/* stdin, stdout, stderr; -1: /dev/null */
	const char	*env[8];	/* NAME=VALUE to set, NULL-terminated */
};

void		 proc_spec_init(struct proc_spec *);
pid_t		 spawn_proc(const struct jobd_inst *, const struct proc_spec *,
		    const char *const argv[]);
int		 reap_within(pid_t, int *status, int timeout_ms);
int		 reap_or_kill(pid_t, int timeout_ms, const char *what);
int		 norm_status(int status);
void		 untrack_pid(pid_t);
void		 cloexec_pipe(int fds[2]);
int		 read_until(int fd, char *buf, size_t cap, size_t *len,
		    const char *needle, int timeout_ms);
int		 read_to_eof(int fd, char *buf, size_t cap, size_t *len,
		    int timeout_ms);
int		 write_all_within(int fd, const void *, size_t, int timeout_ms);
int		 fd_readable(int fd);

/* Processes, from /proc: zombies count as dead. */
char		 proc_state(pid_t);
int		 pid_alive(pid_t);
int		 count_group(pid_t pgid_or_sid);
int		 count_zombie_children(pid_t ppid);
int		 read_pids(const char *path, pid_t *, int max);
pid_t		 read_pid(const char *path);

/* Files. */
void		 write_file(const char *path, const char *text, mode_t);
char		*read_text(const char *path, size_t *len);
/* Conditions for wait_until(). A file with at least min lines: */
struct file_lines {
	const char	*path;
	int		 min;
};
int		 has_lines(void *);	/* struct file_lines * */
int		 path_gone(void *);	/* const char *: ENOENT */

#endif /* E2E_H */
