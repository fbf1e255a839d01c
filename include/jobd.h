/*
 * jobd internal interfaces, one section per file (as tmux.h). Structures
 * private to one file are defined there and reached through accessors.
 */
#ifndef JOBD_H
#define JOBD_H

#include <sys/types.h>
#include <sys/resource.h>

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "jobd-protocol.h"

#define JOBD_VERSION	PACKAGE_VERSION

struct conn;
struct job;
struct queue_entry;
struct spawn_req;
struct store_rec;

/* config.c */
struct jobd_config {
	char		*socket_path;		/* NULL: the default */
	size_t		 max_line;		/* request line bound */
	size_t		 max_output;		/* capture default per stream */
	size_t		 max_output_limit;	/* ceiling for max_output */
	double		 kill_after;		/* default grace, seconds */
	double		 retention;		/* keep ended jobs, seconds */
	unsigned int	 max_retained;		/* keep at most this many */
	size_t		 max_retained_output;	/* their output, bytes */
	size_t		 max_reply_buffer;	/* per connection, bytes */
	unsigned int	 job_umask;
	double		 shutdown_grace;	/* bound for flushing replies */
	double		 unkillable_after;	/* after SIGKILL */
	char		*containment;		/* see contain.c */
	unsigned int	 max_running;		/* 0: unlimited */
	unsigned int	 max_queued;
	size_t		 max_output_file;	/* per stream, in a file */
	size_t		 max_output_files;	/* all files together */
	char		*state_dir;		/* NULL: the default */
	int		 store_memory;		/* no store on disk */
	/* Limits (docs/security.md); 0: unlimited where it says so. */
	unsigned int	 max_args;		/* argv strings of a run */
	size_t		 max_args_bytes;	/* ... and their bytes */
	unsigned int	 max_env;		/* env entries of a run */
	size_t		 max_env_bytes;		/* ... and their bytes */
	unsigned int	 max_running_per_user;	/* 0: unlimited */
	unsigned int	 max_queued_per_user;	/* 0: unlimited */
	unsigned int	 max_conns;		/* 0: unlimited */
	unsigned int	 max_conns_per_user;	/* 0: unlimited */
	double		 client_idle_timeout;	/* 0: none */
	uint64_t	 rlimit[6];		/* JOBD_RLIM_*; RLIM_INFINITY */
	int		 nice;			/* of every job, at least */
	unsigned int	 log_to;		/* LOG_TO_STDERR, _SYSLOG */
	unsigned int	 log_level;		/* LOG_LVL_* */
	char		*allow_users;		/* names or uids; NULL: none */
	char		*allow_groups;		/* group names; NULL: none */
	char		*admin_groups;		/* see every job; NULL: none */
	double		 spawn_timeout;		/* a job's exec, at most */
};
extern struct jobd_config cfg;
void		 config_defaults(struct jobd_config *);
void		 config_free(struct jobd_config *);
/* Returns the number of errors, each printed as "file:line: message". */
int		 config_load(struct jobd_config *, const char *path, int quiet);
void		 config_print(const struct jobd_config *, FILE *);
int		 config_option(size_t, const char **, const char **);
extern const char *config_path;
int		 config_reload(struct jobd_config *);

/* rlimits.c: the per-job resource limits, by name. */
enum {
	JOBD_RLIM_CPU, JOBD_RLIM_AS, JOBD_RLIM_NOFILE, JOBD_RLIM_NPROC,
	JOBD_RLIM_FSIZE, JOBD_RLIM_CORE, JOBD_NRLIMITS
};
struct jobd_rlimit {
	const char	*name;		/* "cpu": the request's key */
	const char	*option;	/* "rlimit_cpu": jobd.conf's */
	int		 resource;	/* RLIMIT_CPU */
	const char	*unit;		/* "seconds", "bytes", ... */
};
extern const struct jobd_rlimit jobd_rlimits[JOBD_NRLIMITS];
int		 rlimit_find(const char *name);
/* jobd's own soft RLIMIT_NOFILE at start (it raises its own). */
void		 rlimit_raise_nofile(void);
rlim_t		 rlimit_nofile_orig(void);

/* users.c: what each uid has: connections, queued and running jobs. */
unsigned int	 user_conns(uid_t);
void		 user_conn_add(uid_t);
void		 user_conn_del(uid_t);
unsigned int	 user_queued(uid_t);
void		 user_queued_add(uid_t, int);
unsigned int	 user_running(uid_t);
void		 user_running_add(uid_t, int);
/* A capped user's queue entries set aside, in queue order. */
struct queue_entry *user_parked_first(uid_t);
void		 user_park(struct queue_entry *);
void		 user_unpark(struct queue_entry *);
void		 users_each_parked(void (*)(uid_t));
void		 users_free(void);

/* util.c */
uint64_t	 mono_ns(void);
double		 wall_now(void);
struct timeval	 tv_from_secs(double);
const char	*errno_name(int);
int		 fd_set_nonblock(int);
int		 fd_set_cloexec(int);
int		 utf8_valid(const char *, size_t);
size_t		 utf8_prefix(const char *, size_t max);

/* proto.c */
struct run_req {
	char		**argv;		/* NULL-terminated */
	char		**envp;		/* "K=V", NULL-terminated */
	char		 *cwd;
	double		  timeout;	/* 0: none */
	double		  kill_after;	/* < 0: the configured default */
	int		  sig;
	char		 *stdin_data;	/* NULL: /dev/null */
	size_t		  stdin_len;
	size_t		  max_output;
	int		  wait;
	int		  events;	/* signal events to the waiter */
	int		  cancel_on_disconnect;
	int		  nfds;		/* descriptors the request passes */
	int		  fd_slot[3];	/* their stdio slots, in order */
	int		  fd[3];	/* per slot: passed fd, or -1 */
	int		  priority;	/* higher starts first */
	double		  start_by;	/* 0: may wait forever */
	char		 *key;		/* idempotency key, or NULL */
	double		  warn_before;	/* 0: no warning */
	int		  warn_sig;
	int		  output_file;	/* captured streams to files */
	rlim_t		  rlim[JOBD_NRLIMITS];	/* RLIM_INFINITY: not asked */
	int		  nice;		/* INT_MIN: not asked */
	char		 *user;		/* "user" as a name, or NULL */
	int64_t		  user_uid;	/* "user" as a uid; -1: none */
};
struct proto_err {
	const char	*code;
	const char	*limit;		/* the option a limit hit names */
	char		 msg[256];
};
json_object	*proto_parse_line(const char *, size_t, struct proto_err *);
const char	*proto_op(json_object *, struct proto_err *);
const char	*proto_word(json_object *);
int		 proto_get_id(json_object *, uint64_t *, struct proto_err *);
int		 proto_get_signal(json_object *, const char *, int *,
		     struct proto_err *);
int		 proto_get_int(json_object *, const char *op, const char *field,
		     int64_t min, int64_t max, int64_t def, int64_t *,
		     struct proto_err *);
int		 proto_check_fields(json_object *, const char *const *,
		     struct proto_err *);
int		 proto_decode_run(json_object *, struct run_req *,
		     struct proto_err *);
void		 proto_free_run(struct run_req *);
json_object	*proto_ok(json_object *tag);
json_object	*proto_error(json_object *tag, const char *code,
		     const char *msg);
/* An error for a limit hit: "limit" names the option. */
json_object	*proto_error_limit(json_object *tag, const char *code,
		     const char *limit, const char *msg);
char		*proto_frame(json_object *, size_t *len);
void		 proto_add_output(json_object *, const char *name,
		     const char *buf, size_t len);

/* output.c */
struct output;
struct output	*output_new(int fd, size_t cap);
struct output	*output_new_file(int fd, int file_fd, uint64_t cap);
void		 output_set_sink(struct output *,
		     void (*)(void *, const char *, size_t), void *);
void		 output_files_budget(uint64_t);
void		 output_files_reclaim(void (*)(uint64_t));
uint64_t	 output_files_total(void);
void		 output_files_add(int64_t);
int		 output_is_file(struct output *);
uint64_t	 output_file_len(struct output *);
void		 output_free(struct output *);
/* Read what is there now: returns 1 at EOF or error, 0 otherwise. */
int		 output_read(struct output *);
/* Read until EOF or empty, bounded; then close the fd. */
void		 output_drain(struct output *);
int		 output_fd(struct output *);
const char	*output_data(struct output *, size_t *len);
uint64_t	 output_dropped(struct output *);

/* contain.c */
enum contain_tier {
	TIER_CGROUP2,
	TIER_PIDNS,
	TIER_SUBREAPER,
	TIER_PGID,
};
struct container;
int		 contain_parse_tier(const char *, int *);
int		 contain_init(int want, const char *ident);
void		 contain_fini(void);
enum contain_tier contain_tier(void);
const char	*contain_tier_name(enum contain_tier);
const char	*contain_cgroup_dir(void);
struct container *container_new(struct job *, uint64_t id, char *err,
		     size_t);
void		 container_spawn_req(struct container *, struct spawn_req *);
void		 container_spawned(struct container *, pid_t waitpid,
		     pid_t leader);
/* The pid jobd waited for is reaped: the leader's status, if this tier
 * hides it behind a shim (else status is left as it is). */
void		 container_reaped(struct container *, int *status,
		     struct rusage *);
void		 container_free(struct container *);
int		 container_signal(struct container *, int sig, int cont);
int		 container_kill(struct container *);
int		 container_empty(struct container *, int thorough);
void		 container_watch(struct container *);
int		 container_count(struct container *, int *escaped);

/* shim.c: what the shim tells jobd when the leader is reaped. */
#define SHIM_REPORT_MAGIC	0x6a6f6264
struct shim_report {
	int32_t		magic;
	int32_t		status;
	int32_t		leftovers, escaped;
	struct rusage	ru;
};
/* The shim's fds: its report to jobd, and the gate that lets the job run. */
#define SHIM_REPORT_FD		3
#define SHIM_GATE_FD		4
/* jobd to shim: SHIM_SIGNAL with this sigqueue data. */
#define SHIM_SIGNAL		(SIGRTMIN + 2)
#define SHIM_MAGIC		0x4a440000U
#define SHIM_MAGIC_MASK		0xffff0000U
#define SHIM_FLAGS_MASK		0x0000ff00
#define SHIM_SIG_MASK		0x000000ff
#define SHIM_CONT		0x0100	/* SIGCONT after the signal */
#define SHIM_KILL_ALL		0x0200	/* SIGKILL everything, then exit */
int		 shim_main(int, char **);

/* spawn.c */
struct spawn_req {
	char *const	*argv;
	char *const	*envp;
	const char	*cwd;
	int		 fd_in, fd_out, fd_err;
	int		 cgroup_fd;	/* cgroup.procs to join, or -1 */
	int		 tier;		/* TIER_PIDNS, TIER_SUBREAPER: a shim */
	int		 report_fd;	/* the shim's fd 3 */
	int		 exe_fd;	/* jobd's binary, for the shim */
	int		 jobd_fd;	/* jobd's pidfd: is it still there? */
	pid_t		 leader;	/* out: the job's own pid */
	mode_t		 umask;
	int		 setid;		/* become uid, gid, groups */
	uid_t		 uid;
	gid_t		 gid;
	const gid_t	*groups;
	int		 ngroups;
	const struct spawn_limits *limits;	/* NULL: jobd's own */
};
/* Set in the job before exec. */
struct spawn_limits {
	rlim_t		 rlim[JOBD_NRLIMITS];	/* RLIM_INFINITY: leave */
	rlim_t		 nofile_soft;	/* RLIM_INFINITY: leave */
	int		 nice;
};
struct spawn_err {
	int		 err;		/* errno */
	const char	*step;		/* "chdir", "execve", ... */
	char		 msg[512];
};
void		 spawn_init(void);
/* closer.c */
void		 fd_close_passed(int);
/* spawnguard.c */
void		 spawn_guard_arm(double secs, volatile pid_t *, int);
int		 spawn_guard_disarm(void);
/* Returns the pid to wait for: the job's, or its shim's. */
pid_t		 spawn_job(struct spawn_req *, struct spawn_err *);

/* job.c */
enum job_state {
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_TERMINATING,
	JOB_EXITED,
	JOB_SIGNALED,
	JOB_TIMED_OUT,
	JOB_CANCELLED,
	JOB_FAILED,
	JOB_EXPIRED,
	JOB_LOST,
};
#define JOB_NSTATES	(JOB_LOST + 1)
enum kill_reason {
	KILL_DEADLINE,
	KILL_CANCEL,
	KILL_LEFTOVERS,
	KILL_SHUTDOWN,
};
extern struct event_base *base;
void		 job_init(void);
/* A queued job from a decoded request (taken over); sched.c starts it. */
struct job	*job_new(struct run_req *, struct conn *);
void		 job_begin_run(struct job *);
void		 job_unbegin(struct job *);
void		 job_spawn(struct job *);
void		 job_persist_all(void);
void		 job_hold(struct job *, int);
/* A job that never started ends: cancelled, expired or lost. */
void		 job_end_unstarted(struct job *, enum job_state,
		     const char *why);
/* A new job whose id was never sent (the store failed): gone. */
void		 job_forget(struct job *);
struct job	*job_restore(const struct store_rec *, char *err, size_t);
struct job	*job_find_key(uid_t, const char *key);
struct job	*job_from_qentry(struct queue_entry *);
struct queue_entry *job_qentry(struct job *);
int		 job_has_fds(struct job *);
int		 job_output_path(uint64_t, int stream, char *, size_t);
int		 job_output_files(struct job *);	/* bit 0 stdout, 1 stderr */
/* Write the job's record into the open store transaction. */
void		 job_persist(struct job *);
int		 job_insert(struct job *, const char *request);
uint64_t	 job_next_id(void);
void		 job_note_id(uint64_t);
struct job	*job_find(uint64_t);
struct job	*job_find_pid(pid_t);
uint64_t	 job_id(struct job *);
pid_t		 job_pid(struct job *);
uid_t		 job_uid(struct job *);		/* who submitted it */
uid_t		 job_run_uid(struct job *);	/* who it runs as */
/* What was captured of stream 0 (stdout) or 1 (stderr) so far; NULL if
 * the stream was passed, not captured, or the job was restored from the
 * store without it. */
const char	*job_output(struct job *, int stream, size_t *len);
enum job_state	 job_state(struct job *);
const char	*job_state_name(enum job_state);
int		 job_done(struct job *);
int		 job_signal(struct job *);
double		 job_kill_after(struct job *);
void		 job_set_flag_killed(struct job *);
void		 job_set_leftovers(struct job *, int);
void		 job_set_unkillable(struct job *);
json_object	*job_to_json(struct job *, int full);
json_object	*job_list_json(struct conn *);	/* what it may see */
int		 job_add_waiter(struct job *, struct conn *, json_object *tag,
		     int events);
void		 job_signalled(struct job *, int sig, const char *reason);
int		 job_forward_signal(struct job *, int sig);
void		 job_conn_gone(struct conn *);
int		 job_cancel(struct job *, int sig);
void		 job_cancel_all(void);
void		 job_kill_all_now(void);
unsigned int	 job_live_count(void);
void		 job_reaped(struct job *, int status, const struct rusage *);
void		 job_leader_report(struct job *, int status,
		     const struct rusage *);
void		 job_group_gone(struct job *);
void		 job_check_groups(void);
void		 job_prune(int all);
void		 job_set_state(struct job *, enum job_state);
/* One line about the job's event: "job ID pid PID uid UID: ...". */
void		 job_log(struct job *, int level, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
/* Jobs held now, by state, of those the connection may see. */
void		 job_count_states(struct conn *, unsigned int[JOB_NSTATES]);
int		 job_state_valid(enum job_state, enum job_state);

/* kill.c */
struct killer;
struct killer	*killer_new(struct job *, struct container *);
void		 killer_free(struct killer *);
/* Start the sequence: sig + SIGCONT to the job, SIGKILL after grace. */
void		 killer_start(struct killer *, int sig, double grace,
		     const char *reason);
/* SIGKILL the job now. */
void		 killer_kill_now(struct killer *, const char *reason);
/* One signal to the job, as is. */
void		 killer_send(struct killer *, int sig, const char *reason);
/* 1 if no process of the job is left. */
int		 killer_group_empty(struct killer *);
/* Watch the job until it is empty, then call job_group_gone(). */
void		 killer_watch(struct killer *);
int		 killer_active(struct killer *);

/* store.c: the durable job store, SQLite in WAL mode (see docs/design.md). */
struct store_rec {
	uint64_t	 id;
	const char	*state;		/* job_state_name() */
	int		 priority;
	const char	*key;		/* idempotency key, or NULL */
	unsigned long	 uid;		/* who submitted it */
	double		 submitted_at;	/* wall clock, seconds since the epoch */
	double		 started_at;	/* 0: not started */
	double		 ended_at;	/* 0: not ended */
	long		 pid;		/* 0: none */
	const char	*request;	/* JSON text: enough to start it again */
	const char	*result;	/* JSON text: the final job object, or NULL */
};
/* dir NULL: in memory. -1 with a message in err (never exits). */
int		 store_open(const char *dir, char *err, size_t len);
void		 store_close(void);
const char	*store_path(void);	/* the database file, or ":memory:" */
/* Every record, in id order, to cb (which returns -1 to stop). At start. */
int		 store_load(int (*cb)(const struct store_rec *, void *),
		     void *arg, char *err, size_t len);
/* Writes join one transaction, open until store_commit(). -1: failed,
 * store_errmsg() says why. */
int		 store_insert(const struct store_rec *);
int		 store_update(const struct store_rec *);	/* by id */
int		 store_delete(uint64_t id);
int		 store_commit(void);
void		 store_rollback(void);
int		 store_in_txn(void);
uint64_t	 store_last_id(void);
const char	*store_errmsg(void);

/* queue.c: jobs waiting for a slot, by priority then submission. */
struct queue_entry {
	int		 priority;
	uint64_t	 seq;		/* FIFO within a priority */
	unsigned int	 index;		/* in the heap */
	uid_t		 uid;		/* whose: max_running_per_user */
	int		 parked;	/* set aside: its user is at the cap */
	struct queue_entry *park_next, *park_prev;
};
void		 queue_push(struct queue_entry *);
struct queue_entry *queue_peek(void);
struct queue_entry *queue_pop(void);
void		 queue_remove(struct queue_entry *);
/* Set aside an entry whose user runs all they may (off the heap, still
 * counted), and put back up to n of a user's, best first. */
void		 queue_park(struct queue_entry *);
void		 queue_unpark(uid_t, unsigned int n);
unsigned int	 queue_len(void);
void		 queue_free(void);

/* watch.c: streams of job events, the watch op (docs/protocol.md). */
void		 watch_op(struct conn *, json_object *req, json_object *tag);
int		 watch_decode(json_object *req, struct proto_err *);
/* "queued", "started", "terminating", "done". */
void		 watch_event(struct job *, const char *event);
void		 watch_output(struct job *, int stream, const char *, size_t);
void		 watch_conn_gone(struct conn *);
void		 watch_job_gone(struct job *);

/* reap.c */
void		 reap_init(void);
void		 reap_drain(void);
unsigned long	 reap_orphans(void);
void		 reap_free(void);

/* conn.c */
struct conn_slot;
void		 conn_accept(int fd, uid_t, pid_t, int sees_all);
void		 conn_send(struct conn *, json_object *);
struct conn_slot *conn_hold(struct conn *);
void		 conn_fill(struct conn *, struct conn_slot *, json_object *);
void		 conn_close_all(void);
void		 conn_free_all(void);
int		 conn_wait_add(struct conn *);
void		 conn_waiter_done(struct conn *);
int		 conn_dead(struct conn *);
unsigned int	 conn_count(void);
uid_t		 conn_uid(struct conn *);
int		 conn_sees_all(struct conn *);
int		 conn_may_see(struct conn *, uid_t);
int		 conn_take_fds(struct conn *, int *, int);
int		 conn_has_fds(struct conn *);

/* sched.c: admission, the queue's slots, one store commit per loop turn. */
void		 sched_init(void);
void		 sched_free(void);
char		*sched_request_text(json_object *req);
void		 sched_submit(struct conn *, json_object *req, json_object *tag,
		     struct run_req *);
void		 sched_kick(void);
void		 sched_conn_gone(struct conn *);
int		 sched_restore(char *err, size_t len);
unsigned int	 sched_running(void);
void		 sched_user_done(uid_t);
void		 sched_reloaded(void);

/* ops.c */
void		 ops_dispatch(struct conn *, json_object *req);
json_object	*ops_requests_json(void);
int		 ops_decode(json_object *req, struct proto_err *);
void		 ops_set_draining(int);
int		 ops_draining(void);

/* stats.c: counters and histograms since start (docs/protocol.md, stats). */
enum stat_counter {
	STAT_SPAWNED,
	STAT_EXITED,
	STAT_SIGNALED,
	STAT_TIMED_OUT,
	STAT_CANCELLED,
	STAT_FAILED,
	STAT_EXPIRED,
	STAT_LOST,
	STAT_KILL_ESCALATIONS,	/* SIGKILL once the grace ran out */
	STAT_STRAYS_KILLED,	/* processes left when the leader ended */
	STAT_OUTPUT_DROPPED,	/* captured bytes beyond max_output */
	STAT_CONN_ACCEPTED,
	STAT_CONN_REFUSED,
	STAT_NCOUNTERS
};
enum stat_hist {
	STAT_DEADLINE_LATENESS,	/* deadline callback vs the deadline */
	STAT_SPAWN_LATENCY,	/* job_spawn() until the exec is done */
	STAT_NHISTS
};
#define STAT_NBUCKETS	19
extern uint64_t		 stats_counters[STAT_NCOUNTERS];
extern const uint64_t	 stats_bounds_ns[STAT_NBUCKETS];
static inline void
stats_count(enum stat_counter c, uint64_t n)
{
	stats_counters[c] += n;
}
void		 stats_init(void);
unsigned int	 stats_bucket(uint64_t ns);
void		 stats_observe(enum stat_hist, uint64_t ns);
void		 stats_job_ended(enum job_state);
void		 stats_fill(struct conn *, json_object *resp);
/* auth.c: who may connect, who sees every job, who a job may run as. */
void		 auth_apply(void);
void		 auth_free(void);
int		 auth_admit(uid_t, int *sees_all, char *why, size_t);
int		 auth_run_user(struct conn *, struct run_req *,
		     struct proto_err *);

/* runas.c: a user's identity from the passwd and group databases. */
struct runas {
	uid_t		 uid;
	gid_t		 gid;
	gid_t		*groups;	/* supplementary, from getgrouplist */
	int		 ngroups;
	char		*name, *home, *shell;
};
int		 runas_get(uid_t, struct runas *, char *err, size_t);
int		 runas_lookup(const char *name, uid_t *);
int		 runas_groups(const char *name, gid_t, gid_t **, int *);
void		 runas_free(struct runas *);

/* control.c */
int		 control_listen(const char *path);
void		 control_close(void);
const char	*control_path(void);
/* A connection went: a paused accept may go on. */
void		 control_conn_gone(void);

/* notify.c: sd_notify to the service manager (no-ops without libsystemd). */
void		 notify_init(void);
void		 notify_ready(void);
void		 notify_stopping(void);
void		 notify_reloading(void);
void		 notify_reloaded(void);
void		 notify_free(void);

/* server.c */
void		 server_signals_init(void);
void		 server_free(void);
void		 jobd_maybe_exit(void);

#endif /* JOBD_H */
