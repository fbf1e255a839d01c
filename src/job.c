/*
 * Jobs: the table, the state machine, and the result.
 *
 * A job ends only when its leader has been reaped AND its container (a
 * cgroup, or the process group: contain.c) is empty; then its pipes are
 * drained (every writer in the job is dead, so what they wrote is in the
 * pipe) and the result is final. In the pgid tier, a grandchild that escaped
 * the group and holds a pipe open cannot delay the result: the pipe is read
 * until empty, not until EOF.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/tree.h>
#include <unistd.h>

#include "jobd.h"
#include "log.h"
#include "xmalloc.h"

struct waiter {
	struct conn		*conn;
	json_object		*tag;
	int			 events;	/* wants signal events */
	TAILQ_ENTRY(waiter)	 entry;
};

struct job {
	uint64_t		 id;
	enum job_state		 state;
	char			**argv;
	int			 priority;
	char			*key;		/* idempotency key, or NULL */
	double			 submitted_at;	/* wall clock */
	double			 start_by;	/* 0: none */
	struct queue_entry	 qe;
	int			 in_queue;
	struct event		*start_by_ev;
	struct run_req		*req;		/* until it starts */
	double			 warn_before;
	int			 warn_sig;
	struct event		*warn_ev;
	json_object		*result;	/* restored from the store */
	pid_t			 pid;		/* the leader */
	pid_t			 wait_pid;	/* the leader, or its shim */
	uid_t			 uid;		/* who submitted it */
	uid_t			 run_uid;	/* who it runs as */
	double			 timeout;
	double			 kill_after;
	int			 sig;

	uint64_t		 start_ns, end_ns;
	double			 started_at, ended_at;

	int			 started;
	int			 files;		/* 1 stdout, 2 stderr in a file */
	uint64_t		 file_bytes[2];	/* when out[] is gone or NULL */
	int			 holds;		/* job_hold() */
	size_t			 result_bytes;	/* of a restored result */
	int			 leader_done;
	int			 status;
	struct rusage		 ru;
	int			 leftovers_checked;
	int			 group_gone;
	int			 timed_out, cancelled, killed, leftovers;
	int			 escaped;	/* leftovers out of the group */
	int			 unkillable;
	int			 err;
	char			*errmsg;

	struct container	*ct;
	struct killer		*killer;
	struct event		*deadline_ev;
	struct output		*out[2];	/* NULL: passed, not captured */
	struct event		*out_ev[2];
	int			 in_fd;
	struct event		*in_ev;
	char			*in_data;
	size_t			 in_len, in_off;

	struct conn		*owner;		/* cancel if it goes */
	TAILQ_HEAD(, waiter)	 waiters;

	TAILQ_ENTRY(job)	 entry;		/* live_jobs or done_jobs */
	TAILQ_ENTRY(job)	 watch_entry;	/* leader reaped, group not */
	int			 watched;
	RB_ENTRY(job)		 id_node;
	RB_ENTRY(job)		 pid_node;
	RB_ENTRY(job)		 key_node;
	int			 in_pid_tree;
};

static int	job_cmp_id(struct job *, struct job *);
static int	job_cmp_pid(struct job *, struct job *);
static int	job_cmp_key(struct job *, struct job *);
RB_HEAD(job_ids, job);
RB_HEAD(job_pids, job);
RB_HEAD(job_keys, job);
RB_PROTOTYPE(job_ids, job, id_node, job_cmp_id)
RB_PROTOTYPE(job_pids, job, pid_node, job_cmp_pid)
RB_PROTOTYPE(job_keys, job, key_node, job_cmp_key)
RB_GENERATE(job_ids, job, id_node, job_cmp_id)
RB_GENERATE(job_pids, job, pid_node, job_cmp_pid)
RB_GENERATE(job_keys, job, key_node, job_cmp_key)

static struct job_ids		 ids = RB_INITIALIZER(&ids);
static struct job_pids		 pids = RB_INITIALIZER(&pids);
static struct job_keys		 keys = RB_INITIALIZER(&keys);
TAILQ_HEAD(job_list, job);
static struct job_list		 queued_jobs = TAILQ_HEAD_INITIALIZER(queued_jobs);
static struct job_list		 live_jobs = TAILQ_HEAD_INITIALIZER(live_jobs);
static struct job_list		 done_jobs = TAILQ_HEAD_INITIALIZER(done_jobs);
static TAILQ_HEAD(, job)	 watch_jobs = TAILQ_HEAD_INITIALIZER(watch_jobs);
static uint64_t			 next_id;
static unsigned int		 nlive, ndone;
static uint64_t			 retained_bytes;	/* output of ended jobs */
static struct event		*prune_ev;
static int			 devnull_fd = -1;	/* stdin of jobs */

static void	job_finish(struct job *);
static uint64_t	job_output_bytes(struct job *);
static void	job_free(struct job *);
static void	job_deadline_cb(evutil_socket_t, short, void *);
static void	job_warn_cb(evutil_socket_t, short, void *);
static void	job_conclude(struct job *);
static void	job_store(struct job *, json_object *);
static void	job_arm(struct job *);
static void	job_fail(struct job *, int, const char *);
static int	job_pipes(struct job *, struct run_req *, int[3]);
static void	job_close_child_fds(const struct run_req *, int[3]);
static int	job_stream_passed(const struct run_req *, int);
static void	job_log_start(struct job *);
static void	job_output_cb(evutil_socket_t, short, void *);
static int	job_read_output(struct job *, int, int);
static void	job_stdin_cb(evutil_socket_t, short, void *);
static void	job_prune_cb(evutil_socket_t, short, void *);
static void	job_reclaim_files(uint64_t);
static void	job_prune_one(struct job *, int);
static void	job_begin_kill(struct job *, int, enum kill_reason);

static const char *state_names[] = {
	[JOB_QUEUED] = "queued",
	[JOB_RUNNING] = "running",
	[JOB_TERMINATING] = "terminating",
	[JOB_EXITED] = "exited",
	[JOB_SIGNALED] = "signaled",
	[JOB_TIMED_OUT] = "timed_out",
	[JOB_CANCELLED] = "cancelled",
	[JOB_FAILED] = "failed",
	[JOB_EXPIRED] = "expired",
	[JOB_LOST] = "lost",
};

static int
job_cmp_id(struct job *a, struct job *b)
{
	return (a->id < b->id ? -1 : a->id > b->id);
}

static int
job_cmp_pid(struct job *a, struct job *b)
{
	return (a->wait_pid < b->wait_pid ? -1 : a->wait_pid > b->wait_pid);
}

/* Keys are per user: the same key of two users names two jobs. */
static int
job_cmp_key(struct job *a, struct job *b)
{
	if (a->uid != b->uid)
		return (a->uid < b->uid ? -1 : 1);
	return (strcmp(a->key, b->key));
}

void
job_init(void)
{
	struct timeval	tv = { 1, 0 };

	if ((prune_ev = event_new(base, -1, EV_PERSIST, job_prune_cb,
	    NULL)) == NULL || event_add(prune_ev, &tv) == -1)
		fatalx("%s: event", __func__);
	/* Opened once: an open() per job cost 4.5% of jobd's CPU (bench/). */
	if ((devnull_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		fatal("%s: open /dev/null", __func__);
	output_files_reclaim(job_reclaim_files);
}

const char *
job_state_name(enum job_state s)
{
	if ((size_t)s >= sizeof(state_names) / sizeof(state_names[0]))
		return ("unknown");
	return (state_names[s]);
}

/* The transitions, in one place: see the diagram in docs/protocol.md. */
int
job_state_valid(enum job_state from, enum job_state to)
{
	switch (from) {
	case JOB_QUEUED:
		return (to == JOB_RUNNING || to == JOB_CANCELLED ||
		    to == JOB_EXPIRED || to == JOB_LOST);
	case JOB_RUNNING:
		return (to == JOB_TERMINATING || to == JOB_EXITED ||
		    to == JOB_SIGNALED || to == JOB_FAILED);
	case JOB_TERMINATING:
		return (to == JOB_TIMED_OUT || to == JOB_CANCELLED ||
		    to == JOB_EXITED || to == JOB_SIGNALED);
	default:
		return (0);
	}
}

void
job_set_state(struct job *job, enum job_state to)
{
	if (!job_state_valid(job->state, to))
		fatalx("job %llu: bad transition %s -> %s",
		    (unsigned long long)job->id, job_state_name(job->state),
		    job_state_name(to));
	log_debug("job %llu: %s -> %s", (unsigned long long)job->id,
	    job_state_name(job->state), job_state_name(to));
	job->state = to;
	stats_job_ended(to);
}

int
job_done(struct job *job)
{
	return (job->state != JOB_QUEUED && job->state != JOB_RUNNING &&
	    job->state != JOB_TERMINATING);
}

uint64_t	job_id(struct job *job) { return (job->id); }
pid_t		job_pid(struct job *job) { return (job->pid); }
uid_t		job_uid(struct job *job) { return (job->uid); }
uid_t		job_run_uid(struct job *job) { return (job->run_uid); }

const char *
job_output(struct job *job, int stream, size_t *len)
{
	*len = 0;
	if (stream < 0 || stream > 1 || job->out[stream] == NULL)
		return (NULL);
	return (output_data(job->out[stream], len));
}
enum job_state	job_state(struct job *job) { return (job->state); }
int		job_signal(struct job *job) { return (job->sig); }
double		job_kill_after(struct job *job) { return (job->kill_after); }
unsigned int	job_live_count(void) { return (nlive); }

void
job_set_flag_killed(struct job *job)
{
	job->killed = 1;
}

void
job_set_leftovers(struct job *job, int n)
{
	job->leftovers = n;
}

void
job_set_unkillable(struct job *job)
{
	job->unkillable = 1;
}

struct job *
job_find(uint64_t id)
{
	struct job	key;

	key.id = id;
	return (RB_FIND(job_ids, &ids, &key));
}

struct job *
job_find_pid(pid_t pid)
{
	struct job	key;

	key.wait_pid = pid;
	return (RB_FIND(job_pids, &pids, &key));
}

/* What a stream keeps goes to the job's watchers too. */
static void
job_sink_out(void *arg, const char *data, size_t len)
{
	watch_output(arg, 0, data, len);
}

static void
job_sink_err(void *arg, const char *data, size_t len)
{
	watch_output(arg, 1, data, len);
}

static uint64_t
job_file_bytes(struct job *job, int i)
{
	if (job->out[i] != NULL && output_is_file(job->out[i]))
		return (output_file_len(job->out[i]));
	return (job->file_bytes[i]);
}

/* STATE_DIR/output/ID.stdout: the state directory is jobd's alone. */
int
job_output_path(uint64_t id, int stream, char *buf, size_t len)
{
	if ((size_t)snprintf(buf, len, "%s/output/%llu.%s", cfg.state_dir,
	    (unsigned long long)id, stream == 0 ? "stdout" : "stderr") >= len) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	return (0);
}

static int
job_open_file(struct job *job, int stream)
{
	char	path[PATH_MAX];
	int	fd;

	if (job_output_path(job->id, stream, path, sizeof(path)) == -1)
		return (-1);
	/* O_TRUNC: a file of a job whose record a crash lost is stale. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1)
		log_warn("job %llu: %s", (unsigned long long)job->id, path);
	return (fd);
}

/* The files of a job that goes, and their bytes from the budget. */
static void
job_remove_files(struct job *job)
{
	char	path[PATH_MAX];
	int	i;

	for (i = 0; i < 2; i++) {
		if (!(job->files & (1 << i)))
			continue;
		output_files_add(-(int64_t)job_file_bytes(job, i));
		if (job_output_path(job->id, i, path, sizeof(path)) == 0 &&
		    unlink(path) == -1 && errno != ENOENT)
			log_warn("job %llu: unlink %s",
			    (unsigned long long)job->id, path);
	}
}

/*
 * The child's stdio: descriptors the client passed go as they are; else
 * pipes, of which only our ends get O_NONBLOCK (the child's are inherited).
 */
static int
job_pipes(struct job *job, struct run_req *r, int child[3])
{
	int	p[2], i, f;

	child[0] = child[1] = child[2] = -1;
	for (i = 0; i < 3; i++) {
		child[i] = r->fd[i];
		r->fd[i] = -1;
	}
	if (child[0] != -1)
		;	/* passed */
	else if (job->in_data != NULL) {
		if (pipe2(p, O_CLOEXEC) == -1)
			return (-1);
		child[0] = p[0];
		job->in_fd = p[1];
		if (fd_set_nonblock(job->in_fd) == -1)
			return (-1);
	} else
		child[0] = devnull_fd;
	for (i = 0; i < 2; i++) {
		if (child[i + 1] != -1) {
			job->files &= ~(1 << i);	/* passed */
			continue;
		}
		if (pipe2(p, O_CLOEXEC) == -1)
			return (-1);
		child[i + 1] = p[1];
		if (job->files & (1 << i)) {
			if ((f = job_open_file(job, i)) == -1) {
				close(p[0]);
				return (-1);
			}
			job->out[i] = output_new_file(p[0], f,
			    cfg.max_output_file);
		} else
			job->out[i] = output_new(p[0], r->max_output);
		output_set_sink(job->out[i], i == 0 ? job_sink_out :
		    job_sink_err, job);
		if (fd_set_nonblock(p[0]) == -1)
			return (-1);
	}
	return (0);
}

static void
job_close_child_fds(const struct run_req *r, int child[3])
{
	int	i;

	for (i = 0; i < 3; i++) {
		if (child[i] == -1 || child[i] == devnull_fd)
			continue;
		if (job_stream_passed(r, i))
			fd_close_passed(child[i]);
		else if (close(child[i]) == -1)
			log_warn("%s: close", __func__);
	}
}

/* The job could not be started: msg may echo the request (argv, cwd). */
static void
job_fail(struct job *job, int err, const char *msg)
{
	char	*m = log_escape(msg, strlen(msg));

	job_log(job, LOG_LVL_INFO, "spawn failed: %s", m);
	free(m);
	job->err = err;
	job->errmsg = xstrdup(msg);
	job_set_state(job, JOB_FAILED);
	job_finish(job);
}

static void
job_arm(struct job *job)
{
	struct timeval	tv;
	int		i;

	for (i = 0; i < 2; i++) {
		if (job->out[i] == NULL)
			continue;
		job->out_ev[i] = event_new(base, output_fd(job->out[i]),
		    EV_READ | EV_PERSIST, job_output_cb, job);
		if (job->out_ev[i] == NULL || event_add(job->out_ev[i],
		    NULL) == -1)
			fatalx("%s: event", __func__);
	}
	if (job->in_fd != -1) {
		job->in_ev = event_new(base, job->in_fd, EV_WRITE | EV_PERSIST,
		    job_stdin_cb, job);
		if (job->in_ev == NULL || event_add(job->in_ev, NULL) == -1)
			fatalx("%s: event", __func__);
	}
	if (job->timeout > 0) {
		/*
		 * The deadline counts from start_ns, not from now: the spawn
		 * took time. libevent adds timers to the time cached at the
		 * start of this loop turn; refresh it, or a deadline set late
		 * in a busy turn would fire early.
		 */
		event_base_update_cache_time(base);
		tv = tv_from_secs(job->timeout -
		    (double)(mono_ns() - job->start_ns) / 1e9);
		if ((job->deadline_ev = evtimer_new(base, job_deadline_cb,
		    job)) == NULL || evtimer_add(job->deadline_ev, &tv) == -1)
			fatalx("%s: evtimer", __func__);
	}
	if (job->warn_before > 0) {
		tv = tv_from_secs(job->timeout - job->warn_before -
		    (double)(mono_ns() - job->start_ns) / 1e9);
		if ((job->warn_ev = evtimer_new(base, job_warn_cb,
		    job)) == NULL || evtimer_add(job->warn_ev, &tv) == -1)
			fatalx("%s: evtimer", __func__);
	}
}

/*
 * One line about an event of the job, naming it, its pid (0: none yet) and
 * the uid that submitted it. Client strings in fmt's arguments are the
 * caller's to escape.
 */
void
job_log(struct job *job, int level, const char *fmt, ...)
{
	char	msg[1536];
	va_list	ap;

	if (log_getverbose() < level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_at(level, "job %llu pid %ld uid %lu: %s",
	    (unsigned long long)job->id, (long)job->pid,
	    (unsigned long)job->uid, msg);
}

/* The whole argv, each word escaped, cut after JOB_LOG_ARGV bytes. */
#define JOB_LOG_ARGV	1024
static void
job_log_start(struct job *job)
{
	char	 cmd[JOB_LOG_ARGV + 8], *w;
	size_t	 i, len = 0;
	uid_t	 run_uid;

	if (log_getverbose() < LOG_LVL_INFO)
		return;
	cmd[0] = '\0';
	for (i = 0; job->argv[i] != NULL && len < JOB_LOG_ARGV; i++) {
		w = log_escape(job->argv[i], strlen(job->argv[i]));
		len += (size_t)snprintf(cmd + len, sizeof(cmd) - len,
		    "%s\"%s\"", i > 0 ? " " : "", w);
		free(w);
		if (len >= sizeof(cmd))
			len = sizeof(cmd) - 1;
	}
	if (job->argv[i] != NULL)
		snprintf(cmd + len, sizeof(cmd) - len, " ...");
	run_uid = geteuid() == 0 ? job->run_uid : geteuid();
	if (run_uid != job->uid)
		job_log(job, LOG_LVL_INFO, "started: %s (as uid %lu)", cmd,
		    (unsigned long)run_uid);
	else
		job_log(job, LOG_LVL_INFO, "started: %s", cmd);
}

static void
job_start_by_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct job	*job = arg;

	if (job->state != JOB_QUEUED)
		return;
	job_log(job, LOG_LVL_INFO, "not started within %gs", job->start_by);
	job_end_unstarted(job, JOB_EXPIRED, NULL);
}

static void
job_arm_start_by(struct job *job, double left)
{
	struct timeval	tv = tv_from_secs(left > 0 ? left : 0);

	if ((job->start_by_ev = evtimer_new(base, job_start_by_cb,
	    job)) == NULL || evtimer_add(job->start_by_ev, &tv) == -1)
		fatalx("%s: evtimer", __func__);
}

/* A job, not yet anywhere: the fields every way of making one sets. */
static struct job *
job_alloc(uint64_t id, struct run_req *r)
{
	struct job	*job = xcalloc(1, sizeof(*job));

	job->id = id;
	if (id > next_id)
		next_id = id;
	job->state = JOB_QUEUED;
	job->argv = r->argv;
	r->argv = NULL;
	job->key = r->key;
	r->key = NULL;
	job->timeout = r->timeout;
	job->kill_after = r->kill_after >= 0 ? r->kill_after : cfg.kill_after;
	job->sig = r->sig;
	job->priority = r->priority;
	job->start_by = r->start_by;
	job->warn_before = r->warn_before;
	job->warn_sig = r->warn_sig;
	job->in_fd = -1;
	job->qe.priority = job->priority;
	job->qe.seq = id;	/* ids grow with submission: FIFO */
	TAILQ_INIT(&job->waiters);
	job->req = xmalloc(sizeof(*job->req));
	*job->req = *r;
	/* The caller's copy now owns nothing. */
	memset(r, 0, sizeof(*r));
	r->fd[0] = r->fd[1] = r->fd[2] = -1;
	RB_INSERT(job_ids, &ids, job);
	return (job);
}

static void
job_enqueue(struct job *job)
{
	TAILQ_INSERT_TAIL(&queued_jobs, job, entry);
	job->qe.uid = job->uid;
	queue_push(&job->qe);
	job->in_queue = 1;
	user_queued_add(job->uid, 1);
}

/* Out of the queue, for good: to run, or to end without running. */
static void
job_unqueue(struct job *job)
{
	if (job->in_queue) {
		queue_remove(&job->qe);
		job->in_queue = 0;
		user_queued_add(job->uid, -1);
	}
	TAILQ_REMOVE(&queued_jobs, job, entry);
	if (job->start_by_ev != NULL) {
		event_free(job->start_by_ev);
		job->start_by_ev = NULL;
	}
}

/*
 * A new job from a decoded request, which it takes over: queued. sched.c
 * decides when it starts (job_spawn).
 */
struct job *
job_new(struct run_req *r, struct conn *c)
{
	struct job	*job = job_alloc(next_id + 1, r);

	job->uid = c != NULL ? conn_uid(c) : getuid();
	job->run_uid = job->req->user_uid >= 0 ? (uid_t)job->req->user_uid :
	    job->uid;
	job->owner = job->req->cancel_on_disconnect ? c : NULL;
	/* Known at once, for the output op; a passed stream drops out. */
	job->files = job->req->output_file ? 3 : 0;
	job->submitted_at = wall_now();
	if (job->key != NULL)
		RB_INSERT(job_keys, &keys, job);
	job_enqueue(job);
	if (job->start_by > 0)
		job_arm_start_by(job, job->start_by);
	/* Watchers hear of it once it is on disk: sched.c. */
	return (job);
}

struct job *
job_find_key(uid_t uid, const char *key)
{
	struct job	k;

	k.uid = uid;
	k.key = (char *)key;
	return (RB_FIND(job_keys, &keys, &k));
}

struct queue_entry *
job_qentry(struct job *job)
{
	return (&job->qe);
}

struct job *
job_from_qentry(struct queue_entry *e)
{
	return ((struct job *)((char *)e - offsetof(struct job, qe)));
}

int
job_has_fds(struct job *job)
{
	return (job->req != NULL && job->req->nfds > 0);
}

uint64_t
job_next_id(void)
{
	return (next_id + 1);
}

/* Ids are never reused: not even those of jobs pruned from the store. */
void
job_note_id(uint64_t id)
{
	if (id > next_id)
		next_id = id;
}

/* Variables jobd sets, over any value the request gives them: the user's
 * own too when jobd knows who that is (ident). */
static int
job_env_ours(const char *kv, int ident)
{
	static const char *const ours[] = { "JOBD_JOB_ID=", "JOBD_DEADLINE=",
	    "HOME=", "USER=", "LOGNAME=", "SHELL=", NULL };
	size_t	i;

	for (i = 0; ours[i] != NULL && (ident || i < 2); i++)
		if (strncmp(kv, ours[i], strlen(ours[i])) == 0)
			return (1);
	return (0);
}

/*
 * The job's environment: the request's; PATH if it has none (the user's
 * default); the user's HOME, USER, LOGNAME and SHELL from the passwd entry
 * (ra NULL: none known), which a request cannot override; what jobd tells
 * every job. The request's strings are borrowed; ours, from *ours on, are
 * freed by job_envp_free().
 */
static char **
job_envp(struct job *job, char **envp, const struct runas *ra, size_t *ours)
{
	char	**v;
	size_t	  n, i, j = 0;
	int	  path = 0;

	for (n = 0; envp[n] != NULL; n++)
		;
	v = xcalloc(n + 8, sizeof(char *));
	for (i = 0; i < n; i++) {
		if (strncmp(envp[i], "PATH=", 5) == 0)
			path = 1;
		if (!job_env_ours(envp[i], ra != NULL))
			v[j++] = envp[i];
	}
	*ours = j;
	if (!path)
		v[j++] = xstrdup((ra != NULL ? ra->uid : geteuid()) == 0 ?
		    "PATH=" JOBD_DEFAULT_PATH : "PATH=" JOBD_USER_PATH);
	if (ra != NULL) {
		xasprintf(&v[j++], "HOME=%s", ra->home);
		xasprintf(&v[j++], "USER=%s", ra->name);
		xasprintf(&v[j++], "LOGNAME=%s", ra->name);
		xasprintf(&v[j++], "SHELL=%s", ra->shell);
	}
	xasprintf(&v[j++], "JOBD_JOB_ID=%llu", (unsigned long long)job->id);
	if (job->timeout > 0)
		xasprintf(&v[j++], "JOBD_DEADLINE=%.3f",
		    job->started_at + job->timeout);
	else
		v[j++] = xstrdup("JOBD_DEADLINE=0");
	return (v);
}

static void
job_envp_free(char **v, size_t ours)
{
	size_t	n;

	for (n = ours; v[n] != NULL; n++)
		free(v[n]);
	free(v);
}

/*
 * Who the job runs as, looked up before the fork (the child makes no NSS
 * call). Root's jobd switches to the job's user; anyone else's runs jobs as
 * itself, with its own variables if it has a passwd entry (*known).
 */
static int
job_identity(struct job *job, struct runas *ra, int *known, char *err,
    size_t len)
{
	*known = 1;
	if (geteuid() == 0)
		return (runas_get(job->run_uid, ra, err, len));
	if (runas_get(geteuid(), ra, err, len) == -1)
		*known = 0;
	return (0);
}

/*
 * Out of the queue and into the running set, on the record too: sched.c
 * commits that before job_spawn(), so a crash between the two makes the
 * job lost, never run twice.
 */
void
job_begin_run(struct job *job)
{
	job_unqueue(job);
	job_set_state(job, JOB_RUNNING);
	job->started = 1;
	job->start_ns = mono_ns();
	job->started_at = wall_now();
	job->in_data = job->req->stdin_data;
	job->in_len = job->req->stdin_len;
	job->req->stdin_data = NULL;
	TAILQ_INSERT_TAIL(&live_jobs, job, entry);
	nlive++;
	user_running_add(job->uid, 1);
	job_persist(job);
}

static void
job_end_request(struct job *job)
{
	if (job->req == NULL)
		return;
	proto_free_run(job->req);
	free(job->req);
	job->req = NULL;
}

/* The request's rlimits and nice, else jobd's (checked at decode). */
static void
job_limits(const struct run_req *r, struct spawn_limits *sr)
{
	int	i;

	for (i = 0; i < JOBD_NRLIMITS; i++)
		sr->rlim[i] = r->rlim[i] != RLIM_INFINITY ? r->rlim[i] :
		    (rlim_t)cfg.rlimit[i];
	/* No rlimit_nofile: what jobd had before it raised its own. */
	sr->nofile_soft = sr->rlim[JOBD_RLIM_NOFILE] == RLIM_INFINITY ?
	    rlimit_nofile_orig() : RLIM_INFINITY;
	sr->nice = r->nice != INT_MIN ? r->nice : cfg.nice;
}

/*
 * Start a queued job. Always leaves it started: a spawn failure is a job
 * in state failed.
 */
void
job_spawn(struct job *job)
{
	struct run_req		*r = job->req;
	struct spawn_req	 sr;
	struct spawn_limits	 lim;
	struct spawn_err	 se;
	struct runas		 ra;
	int			 child[3], known;
	size_t			 ours;
	char			 err[512], **envp;
	uint64_t		 t0 = mono_ns();

	if (job_identity(job, &ra, &known, err, sizeof(err)) == -1) {
		log_warnx("job %llu: %s", (unsigned long long)job->id, err);
		job_end_request(job);
		job_fail(job, ENOENT, err);
		return;
	}
	if ((job->ct = container_new(job, job->id, err, sizeof(err))) == NULL) {
		se.err = errno;
		log_warnx("job %llu: %s", (unsigned long long)job->id, err);
		runas_free(&ra);
		job_end_request(job);
		job_fail(job, se.err, err);
		return;
	}
	if (job_pipes(job, r, child) == -1) {
		se.err = errno;
		snprintf(se.msg, sizeof(se.msg), "pipe: %s", strerror(errno));
		runas_free(&ra);
		job_close_child_fds(r, child);
		job_end_request(job);
		job_fail(job, se.err, se.msg);
		return;
	}
	envp = job_envp(job, r->envp, known ? &ra : NULL, &ours);
	memset(&sr, 0, sizeof(sr));
	sr.argv = job->argv;
	sr.envp = envp;
	sr.cwd = r->cwd;
	sr.fd_in = child[0];
	sr.fd_out = child[1];
	sr.fd_err = child[2];
	sr.umask = (mode_t)cfg.job_umask;
	job_limits(r, &lim);
	sr.limits = &lim;
	if (geteuid() == 0) {
		sr.setid = 1;
		sr.uid = ra.uid;
		sr.gid = ra.gid;
		sr.groups = ra.groups;
		sr.ngroups = ra.ngroups;
	}
	container_spawn_req(job->ct, &sr);
	job->wait_pid = spawn_job(&sr, &se);
	job->pid = sr.leader;
	job_envp_free(envp, ours);
	runas_free(&ra);
	job_close_child_fds(r, child);
	job_end_request(job);
	container_spawned(job->ct, job->wait_pid, job->pid);
	if (job->wait_pid == -1) {
		job->pid = job->wait_pid = 0;
		job_fail(job, se.err, se.msg);
		return;
	}
	stats_count(STAT_SPAWNED, 1);
	stats_observe(STAT_SPAWN_LATENCY, mono_ns() - t0);
	RB_INSERT(job_pids, &pids, job);
	job->in_pid_tree = 1;
	job->killer = killer_new(job, job->ct);
	job_arm(job);
	job_log_start(job);
	job_persist(job);
	watch_event(job, "started");
}

static void
job_output_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct job	*job = arg;
	int		 i = job->out_ev[0] != NULL &&
			    event_get_fd(job->out_ev[0]) == fd ? 0 : 1;

	if (job_read_output(job, i, 0) == 0)
		return;
	/* EOF: nothing more will come from this pipe. */
	event_free(job->out_ev[i]);
	job->out_ev[i] = NULL;
	job_read_output(job, i, 1);
}

/* Read stream i (drain: to the end); the sink streams it to watchers. */
static int
job_read_output(struct job *job, int i, int drain)
{
	if (!drain)
		return (output_read(job->out[i]));
	output_drain(job->out[i]);
	return (1);
}

static void
job_stdin_close(struct job *job)
{
	if (job->in_ev != NULL) {
		event_free(job->in_ev);
		job->in_ev = NULL;
	}
	if (job->in_fd != -1 && close(job->in_fd) == -1)
		log_warn("%s: close", __func__);
	job->in_fd = -1;
	free(job->in_data);
	job->in_data = NULL;
}

static void
job_stdin_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct job	*job = arg;
	ssize_t		 n;

	while (job->in_off < job->in_len) {
		n = write(fd, job->in_data + job->in_off,
		    job->in_len - job->in_off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == -1) {
			/* EPIPE: the job closed its stdin; that is its right. */
			if (errno != EPIPE)
				log_warn("job %llu: write stdin",
				    (unsigned long long)job->id);
			break;
		}
		job->in_off += (size_t)n;
	}
	job_stdin_close(job);
}

/* warn_before the deadline: the job may checkpoint (Slurm's --signal). */
static void
job_warn_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct job	*job = arg;

	if (job->state != JOB_RUNNING || job->killer == NULL)
		return;
	job_log(job, LOG_LVL_INFO, "signal %d, %gs before its deadline",
	    job->warn_sig, job->warn_before);
	killer_send(job->killer, job->warn_sig, "warn");
}

static void
job_deadline_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct job	*job = arg;
	uint64_t	 now = mono_ns(), due;

	/* How late the loop ran us: the deadline is start_ns + timeout. */
	due = job->start_ns + (uint64_t)(job->timeout * 1e9);
	stats_observe(STAT_DEADLINE_LATENESS, now > due ? now - due : 0);
	if (job->state != JOB_RUNNING)
		return;
	job_log(job, LOG_LVL_INFO, "deadline of %gs passed", job->timeout);
	job->timed_out = 1;
	job_begin_kill(job, job->sig, KILL_DEADLINE);
}

static void
job_begin_kill(struct job *job, int sig, enum kill_reason why)
{
	static const char *reasons[] = {
		[KILL_DEADLINE] = "deadline",
		[KILL_CANCEL] = "cancel",
		[KILL_LEFTOVERS] = "leftovers",
		[KILL_SHUTDOWN] = "shutdown",
	};

	if (job->state == JOB_RUNNING) {
		job_set_state(job, JOB_TERMINATING);
		watch_event(job, "terminating");
	}
	killer_start(job->killer, sig, job->kill_after, reasons[why]);
	if (job->leader_done)
		killer_watch(job->killer);
}

int
job_cancel(struct job *job, int sig)
{
	if (job_done(job))
		return (-1);
	if (job->state == JOB_QUEUED) {
		job_end_unstarted(job, JOB_CANCELLED, NULL);
		return (0);
	}
	if (job->state == JOB_RUNNING) {
		job->cancelled = 1;
		job_begin_kill(job, sig > 0 ? sig : job->sig, KILL_CANCEL);
	}
	return (0);
}

void
job_cancel_all(void)
{
	struct job	*job, *next;

	TAILQ_FOREACH_SAFE(job, &live_jobs, entry, next)
		if (job->state == JOB_RUNNING) {
			job->cancelled = 1;
			job_begin_kill(job, job->sig, KILL_SHUTDOWN);
		}
}

void
job_kill_all_now(void)
{
	struct job	*job;

	TAILQ_FOREACH(job, &live_jobs, entry)
		if (job->killer != NULL)
			killer_kill_now(job->killer, "shutdown");
}

static void
job_leader_gone(struct job *job, int status, const struct rusage *ru)
{
	job->leader_done = 1;
	job->status = status;
	job->ru = *ru;
	if (job->deadline_ev != NULL)
		evtimer_del(job->deadline_ev);
	TAILQ_INSERT_TAIL(&watch_jobs, job, watch_entry);
	job->watched = 1;
}

/*
 * What jobd waited for (the leader, or its shim) is reaped; reap_drain()
 * then calls job_check_groups(). Behind a shim, the leader's own status is
 * the shim's report (or, if the shim was killed first, SIGKILL).
 */
void
job_reaped(struct job *job, int status, const struct rusage *ru)
{
	struct rusage	r = *ru;

	RB_REMOVE(job_pids, &pids, job);
	job->in_pid_tree = 0;
	container_reaped(job->ct, &status, &r);
	if (!job->leader_done)
		job_leader_gone(job, status, &r);
}

/* The shim says the leader is gone, while the rest of the job may not be. */
void
job_leader_report(struct job *job, int status, const struct rusage *ru)
{
	if (job->leader_done)
		return;
	job_leader_gone(job, status, ru);
	job_check_groups();
}

/*
 * After a reap: for every job whose leader is gone, finish it if its group is
 * empty, else kill what is left of the group (once) and watch it.
 */
void
job_check_groups(void)
{
	struct job	*job, *next;

	TAILQ_FOREACH_SAFE(job, &watch_jobs, watch_entry, next) {
		if (killer_group_empty(job->killer)) {
			job_group_gone(job);
			continue;
		}
		if (job->leftovers_checked)
			continue;
		job->leftovers_checked = 1;
		if (job->state == JOB_RUNNING) {
			job->leftovers = container_count(job->ct,
			    &job->escaped);
			if (job->leftovers == 0) {
				/* Emptying by itself (a shim about to go). */
				killer_watch(job->killer);
				continue;
			}
			if (job->leftovers < 0)
				job->leftovers = 0;	/* unknown: kill */
			if (job->escaped >= 0)
				job_log(job, LOG_LVL_INFO, "leader exited, %d "
				    "processes left (%d out of its process "
				    "group): killing them", job->leftovers,
				    job->escaped);
			else
				job_log(job, LOG_LVL_INFO, "leader exited, %d "
				    "processes left in its process group: "
				    "killing them", job->leftovers);
			stats_count(STAT_STRAYS_KILLED, (uint64_t)job->leftovers);
			job_begin_kill(job, job->sig, KILL_LEFTOVERS);
		} else
			killer_watch(job->killer);
	}
}

void
job_group_gone(struct job *job)
{
	if (job->group_gone)
		return;
	job->group_gone = 1;
	if (job->watched) {
		TAILQ_REMOVE(&watch_jobs, job, watch_entry);
		job->watched = 0;
	}
	if (job->timed_out)
		job_set_state(job, JOB_TIMED_OUT);
	else if (job->cancelled)
		job_set_state(job, JOB_CANCELLED);
	else
		job_set_state(job, WIFSIGNALED(job->status) ? JOB_SIGNALED :
		    JOB_EXITED);
	job_finish(job);
}

static void
job_log_end(struct job *job)
{
	if (job->state == JOB_FAILED)
		return;
	job_log(job, LOG_LVL_INFO, "%s, %s %d after %.3fs%s%s",
	    job_state_name(job->state),
	    WIFSIGNALED(job->status) ? "signal" : "exit",
	    WIFSIGNALED(job->status) ? WTERMSIG(job->status) :
	    WEXITSTATUS(job->status),
	    (double)(job->end_ns - job->start_ns) / 1e9,
	    job->killed ? ", SIGKILL needed" : "",
	    job->leftovers ? ", leftovers killed" : "");
}

static void
job_finish(struct job *job)
{
	int		 i;

	/* Every writer in the group is dead: what they wrote is in the pipe. */
	for (i = 0; i < 2; i++) {
		if (job->out_ev[i] != NULL) {
			event_free(job->out_ev[i]);
			job->out_ev[i] = NULL;
		}
		if (job->out[i] != NULL) {
			job_read_output(job, i, 1);
			stats_count(STAT_OUTPUT_DROPPED,
			    output_dropped(job->out[i]));
		}
	}
	job_stdin_close(job);
	job->end_ns = mono_ns();
	job->ended_at = wall_now();
	killer_free(job->killer);
	job->killer = NULL;
	container_free(job->ct);
	job->ct = NULL;
	if (job->deadline_ev != NULL) {
		event_free(job->deadline_ev);
		job->deadline_ev = NULL;
	}
	if (job->warn_ev != NULL) {
		event_free(job->warn_ev);
		job->warn_ev = NULL;
	}
	TAILQ_REMOVE(&live_jobs, job, entry);
	nlive--;
	sched_user_done(job->uid);
	job_log_end(job);
	job_conclude(job);
	sched_kick();	/* a slot is free */
	jobd_maybe_exit();
}

/*
 * A job that never started ends: cancelled or expired in the queue, or
 * lost (restored without what it needs to start).
 */
void
job_end_unstarted(struct job *job, enum job_state to, const char *why)
{
	job_unqueue(job);
	job_set_state(job, to);
	if (to == JOB_CANCELLED)
		job->cancelled = 1;
	if (why != NULL)
		job->errmsg = xstrdup(why);
	job_end_request(job);
	if (!job->started)
		job->files = 0;		/* never written */
	job->end_ns = job->start_ns = mono_ns();
	job->ended_at = wall_now();
	job_log(job, LOG_LVL_INFO, "%s%s%s", job_state_name(to),
	    why != NULL ? ": " : "", why != NULL ? why : "");
	job_conclude(job);
}

/*
 * Back to the queue: begun in a turn whose commit failed, so the store
 * does not know it runs. Spawning it anyway could run it twice (after a
 * crash, the store would queue it again).
 */
void
job_unbegin(struct job *job)
{
	TAILQ_REMOVE(&live_jobs, job, entry);
	nlive--;
	sched_user_done(job->uid);
	job->state = JOB_QUEUED;
	job->started = 0;
	job->started_at = 0;
	job->req->stdin_data = job->in_data;
	job->in_data = NULL;
	job_enqueue(job);
	/* job_unqueue() freed its start_by timer: what is left of it. */
	if (job->start_by > 0)
		job_arm_start_by(job, job->start_by -
		    (wall_now() - job->submitted_at));
}

/* A new job whose id no client has (its insert failed): undone. */
void
job_forget(struct job *job)
{
	struct waiter	*w;
	json_object	*resp;
	char		 msg[128];

	if (job->state == JOB_QUEUED)
		job_unqueue(job);
	else if (job->state == JOB_RUNNING && job->killer == NULL) {
		/* Begun, not spawned. */
		TAILQ_REMOVE(&live_jobs, job, entry);
		nlive--;
		sched_user_done(job->uid);
	} else if (job_done(job)) {
		/* Cancelled in its first turn, by a client that guessed. */
		TAILQ_REMOVE(&done_jobs, job, entry);
		ndone--;
		retained_bytes -= job_output_bytes(job);
	}
	snprintf(msg, sizeof(msg), "job %llu was not accepted (the store "
	    "failed)", (unsigned long long)job->id);
	while ((w = TAILQ_FIRST(&job->waiters)) != NULL) {
		TAILQ_REMOVE(&job->waiters, w, entry);
		resp = proto_error(w->tag, JOBD_E_NOT_FOUND, msg);
		conn_send(w->conn, resp);
		json_object_put(resp);
		json_object_put(w->tag);
		conn_waiter_done(w->conn);
		free(w);
	}
	job_end_request(job);
	job_free(job);
}

/* Every job's record again, after a commit that failed took some. */
void
job_persist_all(void)
{
	struct job	*job;

	RB_FOREACH(job, job_ids, &ids)
		if (job->result == NULL)
			job_persist(job);
}

/* A job an answer is about to name may not be pruned before it goes. */
void
job_hold(struct job *job, int hold)
{
	job->holds += hold ? 1 : -1;
}

/* Ended: retained, its waiters answered, its record final. */
static void
job_conclude(struct job *job)
{
	struct waiter	*w;
	json_object	*resp, *result = NULL;

	TAILQ_INSERT_TAIL(&done_jobs, job, entry);
	ndone++;
	job->owner = NULL;
	/* One result object for the store and every waiter: it holds all
	 * the output. */
	result = job_to_json(job, 1);
	job_store(job, result);
	watch_event(job, "done");
	while ((w = TAILQ_FIRST(&job->waiters)) != NULL) {
		TAILQ_REMOVE(&job->waiters, w, entry);
		if (!conn_dead(w->conn)) {
			resp = proto_ok(w->tag);
			json_object_object_add(resp, "job",
			    json_object_get(result));
			conn_send(w->conn, resp);
			json_object_put(resp);
		}
		json_object_put(w->tag);
		conn_waiter_done(w->conn);
		free(w);
	}
	json_object_put(result);
	retained_bytes += job_output_bytes(job);
	/* Pruning here could free the job under the caller (op_run). */
	event_active(prune_ev, EV_TIMEOUT, 0);
}

/* The killer sent sig: tell the waiters that asked for events. */
void
job_signalled(struct job *job, int sig, const char *reason)
{
	struct waiter	*w;
	json_object	*ev;

	TAILQ_FOREACH(w, &job->waiters, entry) {
		if (!w->events || conn_dead(w->conn))
			continue;
		ev = proto_ok(w->tag);
		json_object_object_add(ev, "event",
		    json_object_new_string("signal"));
		json_object_object_add(ev, "id",
		    json_object_new_int64((int64_t)job->id));
		json_object_object_add(ev, "signal", json_object_new_int(sig));
		json_object_object_add(ev, "reason",
		    json_object_new_string(reason));
		conn_send(w->conn, ev);
		json_object_put(ev);
	}
}

/* The signal op: one signal to the job's group, no kill sequence. */
int
job_forward_signal(struct job *job, int sig)
{
	if (job_done(job) || job->killer == NULL)
		return (-1);
	killer_send(job->killer, sig, "forward");
	return (0);
}

int
job_add_waiter(struct job *job, struct conn *c, json_object *tag, int events)
{
	struct waiter	*w;
	json_object	*resp;

	if (job_done(job)) {
		resp = proto_ok(tag);
		json_object_object_add(resp, "job", job_to_json(job, 1));
		conn_send(c, resp);
		json_object_put(resp);
		return (1);
	}
	if (conn_wait_add(c) == -1)
		return (-1);
	w = xcalloc(1, sizeof(*w));
	w->conn = c;
	w->tag = tag != NULL ? json_object_get(tag) : NULL;
	w->events = events;
	TAILQ_INSERT_TAIL(&job->waiters, w, entry);
	return (0);
}

static void
job_conn_gone_list(struct conn *c, int queued)
{
	struct job	*job, *next;
	struct waiter	*w, *wnext;

	TAILQ_FOREACH_SAFE(job, queued ? &queued_jobs : &live_jobs, entry,
	    next) {
		TAILQ_FOREACH_SAFE(w, &job->waiters, entry, wnext) {
			if (w->conn != c)
				continue;
			TAILQ_REMOVE(&job->waiters, w, entry);
			json_object_put(w->tag);
			free(w);
		}
		if (job->owner == c) {
			job->owner = NULL;
			job_log(job, LOG_LVL_INFO, "client gone, cancelling");
			job_cancel(job, 0);
		}
	}
}

/* A connection is going: forget its waits, cancel what it asked to. */
void
job_conn_gone(struct conn *c)
{
	sched_conn_gone(c);
	watch_conn_gone(c);
	job_conn_gone_list(c, 1);
	job_conn_gone_list(c, 0);
}

static json_object *
json_double_or_null(int isnull, double v)
{
	return (isnull ? NULL : json_object_new_double(v));
}

static json_object *
job_argv_json(struct job *job)
{
	json_object	*a = json_object_new_array();
	size_t		 i;

	for (i = 0; job->argv[i] != NULL; i++)
		json_object_array_add(a, json_object_new_string(job->argv[i]));
	return (a);
}

static double
job_duration(struct job *job)
{
	uint64_t	end = job_done(job) ? job->end_ns : mono_ns();

	if (!job->started)
		return (0);
	return ((double)(end - job->start_ns) / 1e9);
}

static void
job_add_result(struct job *job, json_object *o)
{
	const char	*names[2] = { "stdout", "stderr" };
	const char	*data;
	char		 key[32];
	size_t		 len;
	int		 i, exited = job->leader_done && WIFEXITED(job->status);
	int		 signaled = job->leader_done && WIFSIGNALED(job->status);

	json_object_object_add(o, "exit_code", exited ?
	    json_object_new_int(WEXITSTATUS(job->status)) : NULL);
	json_object_object_add(o, "signal", signaled ?
	    json_object_new_int(WTERMSIG(job->status)) : NULL);
	json_object_object_add(o, "timed_out",
	    json_object_new_boolean(job->timed_out));
	json_object_object_add(o, "cancelled",
	    json_object_new_boolean(job->cancelled));
	json_object_object_add(o, "killed",
	    json_object_new_boolean(job->killed));
	json_object_object_add(o, "leftovers",
	    json_object_new_int(job->leftovers));
	json_object_object_add(o, "escaped", job->escaped >= 0 ?
	    json_object_new_int(job->escaped) : NULL);
	json_object_object_add(o, "user_cpu", json_object_new_double(
	    (double)job->ru.ru_utime.tv_sec +
	    (double)job->ru.ru_utime.tv_usec / 1e6));
	json_object_object_add(o, "sys_cpu", json_object_new_double(
	    (double)job->ru.ru_stime.tv_sec +
	    (double)job->ru.ru_stime.tv_usec / 1e6));
	json_object_object_add(o, "max_rss_kb",
	    json_object_new_int64(job->ru.ru_maxrss));
	for (i = 0; i < 2; i++) {
		if (job->files & (1 << i)) {
			json_object_object_add(o, names[i],
			    json_object_new_string(""));
			snprintf(key, sizeof(key), "%s_encoding", names[i]);
			json_object_object_add(o, key,
			    json_object_new_string("file"));
			snprintf(key, sizeof(key), "%s_bytes", names[i]);
			json_object_object_add(o, key, json_object_new_int64(
			    (int64_t)job_file_bytes(job, i)));
		} else if (job->out[i] == NULL && job->started &&
		    job->state != JOB_FAILED && job->state != JOB_LOST) {
			json_object_object_add(o, names[i],
			    json_object_new_string(""));
			snprintf(key, sizeof(key), "%s_encoding", names[i]);
			json_object_object_add(o, key,
			    json_object_new_string("passed"));
		} else {
			data = job->out[i] != NULL ?
			    output_data(job->out[i], &len) : (len = 0, "");
			proto_add_output(o, names[i], data, len);
		}
		snprintf(key, sizeof(key), "%s_dropped", names[i]);
		json_object_object_add(o, key, json_object_new_int64(
		    job->out[i] != NULL ?
		    (int64_t)output_dropped(job->out[i]) : 0));
	}
	json_object_object_add(o, "error", job->state == JOB_FAILED ?
	    json_object_new_string(errno_name(job->err)) : NULL);
	json_object_object_add(o, "error_message", job->errmsg != NULL ?
	    json_object_new_string(job->errmsg) : NULL);
}

/* A list entry of a job restored from the store: its result's fields. */
static json_object *
job_restored_json(struct job *job, int full)
{
	static const char *const fields[] = { "id", "state", "argv", "pid",
	    "priority", "submitted_at", "started_at", "ended_at", "duration",
	    "unkillable", NULL };
	json_object	*o, *v;
	size_t		 i;

	if (full)
		return (json_object_get(job->result));
	o = json_object_new_object();
	for (i = 0; fields[i] != NULL; i++)
		if (json_object_object_get_ex(job->result, fields[i], &v))
			json_object_object_add(o, fields[i],
			    json_object_get(v));
	return (o);
}

json_object *
job_to_json(struct job *job, int full)
{
	json_object	*o;

	if (job->result != NULL)
		return (job_restored_json(job, full));
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_int64(
	    (int64_t)job->id));
	json_object_object_add(o, "state",
	    json_object_new_string(job_state_name(job->state)));
	json_object_object_add(o, "argv", job_argv_json(job));
	json_object_object_add(o, "pid", job->pid > 0 ?
	    json_object_new_int(job->pid) : NULL);
	json_object_object_add(o, "priority",
	    json_object_new_int(job->priority));
	json_object_object_add(o, "submitted_at",
	    json_object_new_double(job->submitted_at));
	json_object_object_add(o, "started_at",
	    json_double_or_null(!job->started, job->started_at));
	json_object_object_add(o, "ended_at",
	    json_double_or_null(!job_done(job), job->ended_at));
	json_object_object_add(o, "duration",
	    json_object_new_double(job_duration(job)));
	json_object_object_add(o, "unkillable",
	    json_object_new_boolean(job->unkillable));
	if (!full)
		return (o);
	json_object_object_add(o, "key", job->key != NULL ?
	    json_object_new_string(job->key) : NULL);
	json_object_object_add(o, "timeout",
	    json_object_new_double(job->timeout));
	json_object_object_add(o, "start_by",
	    json_object_new_double(job->start_by));
	json_object_object_add(o, "output_file",
	    json_object_new_boolean(job->files != 0));
	job_add_result(job, o);
	return (o);
}

void
job_count_states(struct conn *c, unsigned int n[JOB_NSTATES])
{
	struct job	*job;

	memset(n, 0, sizeof(n[0]) * JOB_NSTATES);
	RB_FOREACH(job, job_ids, &ids)
		if ((unsigned int)job->state < JOB_NSTATES &&
		    conn_may_see(c, job->uid))
			n[job->state]++;
}

json_object *
job_list_json(struct conn *c)
{
	json_object	*a = json_object_new_array();
	struct job	*job;

	/* Oldest first: ids grow with time. */
	RB_FOREACH(job, job_ids, &ids)
		if (conn_may_see(c, job->uid))
			json_object_array_add(a, job_to_json(job, 0));
	return (a);
}

static uint64_t
job_output_bytes(struct job *job)
{
	uint64_t	n = 0;
	size_t		len;
	int		i;

	for (i = 0; i < 2; i++)
		if (job->out[i] != NULL) {
			output_data(job->out[i], &len);
			n += len;
		}
	return (n + job->result_bytes);
}

static void
job_free(struct job *job)
{
	size_t	i;

	watch_job_gone(job);
	RB_REMOVE(job_ids, &ids, job);
	if (job->key != NULL)
		RB_REMOVE(job_keys, &keys, job);
	for (i = 0; job->argv != NULL && job->argv[i] != NULL; i++)
		free(job->argv[i]);
	free(job->argv);
	output_free(job->out[0]);
	output_free(job->out[1]);
	free(job->errmsg);
	free(job->in_data);
	free(job->key);
	json_object_put(job->result);
	job_end_request(job);
	if (job->start_by_ev != NULL)
		event_free(job->start_by_ev);
	free(job);
}

/* An ended job goes; from the store and its files too, unless at exit
 * (the store keeps them, for the next jobd). */
static void
job_prune_one(struct job *job, int for_good)
{
	TAILQ_REMOVE(&done_jobs, job, entry);
	ndone--;
	retained_bytes -= job_output_bytes(job);
	if (for_good) {
		if (store_delete(job->id) == -1)
			log_warnx("job %llu: %s", (unsigned long long)job->id,
			    store_errmsg());
		job_remove_files(job);
	}
	job_free(job);
	if (for_good)
		sched_kick();
}

/*
 * Output files need need more bytes of the budget: the oldest ended jobs
 * with files go, so that a running job's output is not cut while old
 * results hold the space.
 */
static void
job_reclaim_files(uint64_t need)
{
	struct job	*job, *next;

	TAILQ_FOREACH_SAFE(job, &done_jobs, entry, next) {
		if (output_files_total() + need <= cfg.max_output_files)
			break;
		if (job->files == 0 || job->holds > 0)
			continue;
		log_info("job %llu: pruned for its output files' space",
		    (unsigned long long)job->id);
		job_prune_one(job, 1);
	}
}

/*
 * Drop ended jobs past retention, beyond max_retained, or beyond the output
 * budget, oldest first; all: every one.
 */
void
job_prune(int all)
{
	struct job	*job;
	uint64_t	 now = mono_ns();
	uint64_t	 keep = (uint64_t)(cfg.retention * 1e9);

	while ((job = TAILQ_FIRST(&done_jobs)) != NULL) {
		if (!all && ((ndone <= cfg.max_retained &&
		    now - job->end_ns < keep &&
		    retained_bytes <= cfg.max_retained_output &&
		    output_files_total() <= cfg.max_output_files) ||
		    job->holds > 0))
			break;
		job_prune_one(job, !all);
	}
	/* Queued jobs stay queued in the store: the next jobd runs them. */
	while (all && (job = TAILQ_FIRST(&queued_jobs)) != NULL) {
		job_unqueue(job);
		job_free(job);
	}
	if (all && prune_ev != NULL) {
		event_free(prune_ev);
		prune_ev = NULL;
		if (devnull_fd != -1)
			close(devnull_fd);
		devnull_fd = -1;
	}
}

static void
job_prune_cb(evutil_socket_t fd, short ev, void *arg)
{
	job_prune(0);
}

/*
 * The store. A job's record is written when it is queued (job_insert, with
 * the request that can start it again), when it starts, and when it ends
 * (with its result); sched.c commits once per loop turn.
 */
static void
job_record(struct job *job, struct store_rec *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->id = job->id;
	rec->state = job_state_name(job->state);
	rec->priority = job->priority;
	rec->key = job->key;
	rec->uid = (unsigned long)job->uid;
	rec->submitted_at = job->submitted_at;
	rec->started_at = job->started ? job->started_at : 0;
	rec->ended_at = job_done(job) ? job->ended_at : 0;
	rec->pid = job->pid;
}

int
job_insert(struct job *job, const char *request)
{
	struct store_rec	rec;

	job_record(job, &rec);
	rec.request = request;
	if (store_insert(&rec) == -1)
		return (-1);
	sched_kick();
	return (0);
}

/* The job's record, with result (its final object) once it has ended. */
static void
job_store(struct job *job, json_object *result)
{
	struct store_rec	rec;

	job_record(job, &rec);
	if (result != NULL)
		rec.result = json_object_to_json_string_ext(result,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (store_update(&rec) == -1)
		log_warnx("job %llu: %s", (unsigned long long)job->id,
		    store_errmsg());
	sched_kick();
}

void
job_persist(struct job *job)
{
	json_object	*result = NULL;

	if (job_done(job))
		result = job_to_json(job, 1);
	job_store(job, result);
	json_object_put(result);
}

static int
job_state_parse(const char *name, enum job_state *st)
{
	size_t	i;

	for (i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (state_names[i] != NULL && strcmp(state_names[i], name) == 0) {
			*st = (enum job_state)i;
			return (0);
		}
	return (-1);
}

static int
job_stream_passed(const struct run_req *r, int slot)
{
	int	k;

	for (k = 0; k < r->nfds; k++)
		if (r->fd_slot[k] == slot)
			return (1);
	return (0);
}

/* Output files of a restored job: counted against the budget again. */
static void
job_restore_files(struct job *job)
{
	static const char *const names[] = { "stdout", "stderr" };
	json_object	*v;
	char		 key[32], path[PATH_MAX];
	struct stat	 sb;
	int		 i;

	for (i = 0; i < 2; i++) {
		if (job->result != NULL) {
			snprintf(key, sizeof(key), "%s_encoding", names[i]);
			if (!json_object_object_get_ex(job->result, key, &v) ||
			    strcmp(json_object_get_string(v), "file") != 0)
				continue;
			snprintf(key, sizeof(key), "%s_bytes", names[i]);
			if (json_object_object_get_ex(job->result, key, &v))
				job->file_bytes[i] =
				    (uint64_t)json_object_get_int64(v);
		} else {
			/* Lost while running: what it wrote is there. */
			if (job->req == NULL || !job->req->output_file ||
			    job_stream_passed(job->req, i + 1) ||
			    job_output_path(job->id, i, path,
			    sizeof(path)) == -1 || stat(path, &sb) == -1)
				continue;
			job->file_bytes[i] = (uint64_t)sb.st_size;
		}
		job->files |= 1 << i;
		output_files_add((int64_t)job->file_bytes[i]);
	}
}

/* An ended job as the store has it: its result, retained until pruned. */
static struct job *
job_restore_ended(struct job *job, enum job_state st,
    const struct store_rec *rec, char *err, size_t len)
{
	uint64_t	now = mono_ns(), age;

	if (rec->result == NULL ||
	    (job->result = json_tokener_parse(rec->result)) == NULL) {
		snprintf(err, len, "job %llu: result unreadable",
		    (unsigned long long)rec->id);
		return (NULL);
	}
	job->state = st;
	job->started = rec->started_at != 0;
	job->started_at = rec->started_at;
	job->ended_at = rec->ended_at;
	job->result_bytes = strlen(rec->result);
	job_restore_files(job);
	/* A clock stepped back can put the end in the future: age 0. */
	age = wall_now() > rec->ended_at ?
	    (uint64_t)((wall_now() - rec->ended_at) * 1e9) : 0;
	job->end_ns = age < now ? now - age : 0;
	job_end_request(job);
	TAILQ_INSERT_TAIL(&done_jobs, job, entry);
	ndone++;
	retained_bytes += job->result_bytes;
	return (job);
}

/*
 * One record of the store, at start: a result is retained; a queued job
 * queues again (unless it cannot: descriptors, or a client that asked to
 * cancel it when it went, which it has); a job that was running is lost,
 * its processes killed already by contain_init().
 */
struct job *
job_restore(const struct store_rec *rec, char *err, size_t len)
{
	struct proto_err	 e;
	struct run_req		 r;
	struct job		*job;
	json_object		*req;
	enum job_state		 st;
	double			 left;

	/* Ids are never reused, even of a record that cannot be read. */
	if (rec->id > next_id)
		next_id = rec->id;
	if (job_state_parse(rec->state, &st) == -1) {
		snprintf(err, len, "job %llu: unknown state \"%s\"",
		    (unsigned long long)rec->id, rec->state);
		return (NULL);
	}
	if ((req = proto_parse_line(rec->request, strlen(rec->request),
	    &e)) == NULL || proto_decode_run(req, &r, &e) == -1) {
		json_object_put(req);
		snprintf(err, len, "job %llu: request unreadable: %s",
		    (unsigned long long)rec->id, e.msg);
		return (NULL);
	}
	json_object_put(req);
	job = job_alloc(rec->id, &r);
	job->priority = job->qe.priority = rec->priority;
	job->uid = (uid_t)rec->uid;
	job->run_uid = job->req->user_uid >= 0 ? (uid_t)job->req->user_uid :
	    job->uid;
	job->submitted_at = rec->submitted_at;
	job->pid = (pid_t)rec->pid;
	/* The record's key, not the request's (they are the same). */
	free(job->key);
	job->key = rec->key != NULL ? xstrdup(rec->key) : NULL;
	if (job->key != NULL)
		RB_INSERT(job_keys, &keys, job);
	if (st != JOB_QUEUED && st != JOB_RUNNING && st != JOB_TERMINATING) {
		if (job_restore_ended(job, st, rec, err, len) == NULL) {
			job_free(job);
			return (NULL);
		}
		return (job);
	}
	job_enqueue(job);
	if (st == JOB_QUEUED && job->req->output_file)
		job->files = 3;
	if (st != JOB_QUEUED) {
		job->started = 1;
		job->started_at = rec->started_at;
		job_restore_files(job);
		job_end_unstarted(job, JOB_LOST, "jobd stopped while it ran");
	} else if (job_has_fds(job))
		job_end_unstarted(job, JOB_LOST, "its descriptors did not "
		    "survive a restart of jobd");
	else if (job->req->cancel_on_disconnect)
		job_end_unstarted(job, JOB_CANCELLED, "its client went with "
		    "the jobd it was queued in");
	else if (job->start_by > 0) {
		/* Past while jobd was down: expired now, before any turn. */
		left = job->start_by - (wall_now() - job->submitted_at);
		if (left <= 0)
			job_end_unstarted(job, JOB_EXPIRED, NULL);
		else
			job_arm_start_by(job, left);
	}
	return (job);
}

int
job_output_files(struct job *job)
{
	return (job->files);
}
