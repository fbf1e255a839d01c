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
};
extern struct jobd_config cfg;
void		 config_defaults(struct jobd_config *);
void		 config_free(struct jobd_config *);
/* Returns the number of errors, each printed as "file:line: message". */
int		 config_load(struct jobd_config *, const char *path, int quiet);
void		 config_print(const struct jobd_config *, FILE *);
extern const char *config_path;
int		 config_reload(struct jobd_config *);

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
};
struct proto_err {
	const char	*code;
	char		 msg[256];
};
json_object	*proto_parse_line(const char *, size_t, struct proto_err *);
const char	*proto_op(json_object *, struct proto_err *);
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
};
struct spawn_err {
	int		 err;		/* errno */
	const char	*step;		/* "chdir", "execve", ... */
	char		 msg[512];
};
void		 spawn_init(void);
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
json_object	*job_list_json(void);
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
};
void		 queue_push(struct queue_entry *);
struct queue_entry *queue_peek(void);
struct queue_entry *queue_pop(void);
void		 queue_remove(struct queue_entry *);
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
void		 conn_accept(int fd, uid_t, pid_t);
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

/* ops.c */
void		 ops_dispatch(struct conn *, json_object *req);
int		 ops_decode(json_object *req, struct proto_err *);
void		 ops_set_draining(int);
int		 ops_draining(void);

/* control.c */
int		 control_listen(const char *path);
void		 control_close(void);
const char	*control_path(void);

/* server.c */
void		 server_signals_init(void);
void		 server_free(void);
void		 jobd_maybe_exit(void);

#endif /* JOBD_H */
