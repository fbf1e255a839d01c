/*
 * jobctl run and submit: build a run request from the command line and
 * jobctl's own context (environment, directory, standard streams), and for
 * run wait for the result as if the command had run here: the job reads and
 * writes jobctl's own descriptors, which travel over the socket (SCM_RIGHTS),
 * the signals jobctl receives reach the job, and the exit status is
 * timeout(1)'s.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobctl.h"

/*
 * With --capture, standard input travels inside the one request line, which
 * jobd bounds (max_line, 1 MiB by default); 768 KiB leaves room for JSON
 * escapes and the rest of the request in the common case.
 */
#define CTL_STDIN_MAX	((size_t)768 * 1024)

/*
 * Every response to the run carries TAG_RUN; those to forwarded signals
 * carry TAG_FORWARD, and may come between the run's event lines and its
 * result.
 */
#define TAG_RUN		"run"
#define TAG_FORWARD	"forward"

/* Signals received before jobd has named the job wait here, in order. */
#define CTL_SIGQUEUE	16

extern char	**environ;

/* The descriptors a run request passes. */
struct run_io {
	int	fds[3];
	int	nfds;
};

static json_object	*build_request(const struct run_spec *, int,
			    struct run_io *);
static json_object	*build_env(const struct ctl_args *);
static json_object	*build_cwd(const struct ctl_args *);
static void		 add_duration(json_object *, const char *, double);
static void		 add_queue_fields(json_object *, const struct ctl_args *);
static void		 add_limit_fields(json_object *, const struct ctl_args *);
static void		 add_fds(json_object *, const struct run_spec *,
			    struct run_io *);
static void		 add_stdin(json_object *);
static double		 parse_duration(const char *);
static long long	 parse_bytes(const char *);
static int		 utf8_ok(const unsigned char *, size_t);
static void		 spec_from_args(struct run_spec *,
			    const struct ctl_args *);
static int		 run_detached(const struct run_spec *);
static void		 catch_signals(const struct run_spec *);
static void		 on_signal(int);
static void		 forward(struct jobd_client *, long long, int,
			    const struct run_spec *);
static void		 forward_answer(json_object *,
			    const struct run_spec *);
static void		 write_stream(json_object *, const char *, int);
static void		 note_dropped(json_object *, const char *);
static void		 note_cannot_run(json_object *);

static int	quiet;
/* The request while build_request() builds it: a usage error found
 * meanwhile exits with it reachable, which is no leak. */
static json_object *building;
static int	sigpipe_fds[2] = { -1, -1 };

/* The run request; fills io with the descriptors to pass with it. */
static json_object *
build_request(const struct run_spec *rs, int waiting, struct run_io *io)
{
	json_object	*req, *argv;
	const char	*s;
	int		 i;

	quiet = rs->quiet;
	if (rs->args != NULL)
		add_queue_fields(NULL, rs->args);
	for (i = 0; i < rs->argc; i++)
		if (!utf8_ok((const unsigned char *)rs->argv[i],
		    strlen(rs->argv[i])))
			ctl_fail(ctl.cmd->usage_exit,
			    "argument %d is not valid UTF-8", i + 1);
	building = req = ctl_request("run");
	if ((argv = json_object_new_array()) == NULL)
		ctl_fail(CTL_EXIT_FAILED, "out of memory");
	for (i = 0; i < rs->argc; i++)
		json_object_array_add(argv,
		    json_object_new_string(rs->argv[i]));
	json_object_object_add(req, "argv", argv);
	json_object_object_add(req, "env", build_env(rs->args));
	json_object_object_add(req, "cwd", build_cwd(rs->args));

	if (rs->timeout > 0)
		add_duration(req, "timeout", rs->timeout);
	if (rs->kill_after >= 0)
		add_duration(req, "kill_after", rs->kill_after);
	if (rs->sig > 0)
		json_object_object_add(req, "signal",
		    json_object_new_int(rs->sig));
	if (rs->args != NULL &&
	    (s = args_get(rs->args, OPT_MAX_OUTPUT)) != NULL)
		json_object_object_add(req, "max_output",
		    json_object_new_int64(parse_bytes(s)));
	if (rs->args != NULL)
		add_queue_fields(req, rs->args);

	memset(io, 0, sizeof(*io));
	if (!rs->capture)
		add_fds(req, rs, io);
	else if (!rs->stdin_null)
		add_stdin(req);

	json_object_object_add(req, "wait", json_object_new_boolean(waiting));
	/* Killing jobctl, or losing it, must not leave its job behind. */
	json_object_object_add(req, "on_disconnect",
	    json_object_new_string(waiting ? "cancel" : "keep"));
	if (waiting && rs->events)
		json_object_object_add(req, "events",
		    json_object_new_boolean(1));
	json_object_object_add(req, "tag", json_object_new_string(TAG_RUN));
	building = NULL;
	return (req);
}

/*
 * jobctl's environment (or none with --clear-env), then every -e in order;
 * args may be NULL (timeout(1) has neither).
 * Inherited variables that are not UTF-8 cannot travel in JSON; they are
 * left out with a note rather than failing a run that likely never reads
 * them.
 */
static json_object *
build_env(const struct ctl_args *args)
{
	json_object	*env;
	const char	*s, *eq;
	char		*name;
	char		**ep;
	int		 idx = 0, clear;

	if ((env = json_object_new_object()) == NULL)
		ctl_fail(CTL_EXIT_FAILED, "out of memory");
	/*
	 * Another user's job gets none of ours (as sudo and runuser reset
	 * it): our tokens and agent sockets are not theirs to read.
	 */
	clear = args != NULL && (args_has(args, OPT_CLEAR_ENV) ||
	    args_has(args, OPT_USER));
	for (ep = environ; !clear && *ep != NULL; ep++) {
		if ((eq = strchr(*ep, '=')) == NULL || eq == *ep)
			continue;
		if (!utf8_ok((const unsigned char *)*ep, strlen(*ep))) {
			if (!quiet) {
				fprintf(stderr, "%s: not passing a variable "
				    "that is not UTF-8: ", ctl.progname);
				print_safe(stderr, *ep);
				fputc('\n', stderr);
			}
			continue;
		}
		if ((name = strndup(*ep, (size_t)(eq - *ep))) == NULL)
			ctl_fail(CTL_EXIT_FAILED, "out of memory");
		/* The first of duplicates, as getenv(3) would find. */
		if (!json_object_object_get_ex(env, name, NULL))
			json_object_object_add(env, name,
			    json_object_new_string(eq + 1));
		free(name);
	}
	while (args != NULL && (s = args_next(args, 'e', &idx)) != NULL) {
		if ((eq = strchr(s, '=')) == NULL || eq == s)
			ctl_fail(ctl.cmd->usage_exit,
			    "invalid environment variable '%s' (NAME=value)",
			    s);
		if (!utf8_ok((const unsigned char *)s, strlen(s)))
			ctl_fail(ctl.cmd->usage_exit,
			    "-e argument is not valid UTF-8");
		if ((name = strndup(s, (size_t)(eq - s))) == NULL)
			ctl_fail(CTL_EXIT_FAILED, "out of memory");
		json_object_object_add(env, name,
		    json_object_new_string(eq + 1));
		free(name);
	}
	return (env);
}

/* jobd wants an absolute path: ours, or -C resolved against ours. */
static json_object *
build_cwd(const struct ctl_args *args)
{
	json_object	*o;
	const char	*dir, *path;
	char		*cwd = NULL, *joined = NULL;

	dir = args != NULL ? args_get(args, 'C') : NULL;
	if (dir != NULL && *dir == '\0')
		ctl_fail(ctl.cmd->usage_exit, "-C: empty directory name");
	if (dir == NULL || *dir != '/') {
		if ((cwd = getcwd(NULL, 0)) == NULL)
			ctl_fail(ctl.cmd->fail_exit,
			    "current directory: %s (use -C)", strerror(errno));
	}
	if (dir == NULL)
		path = cwd;
	else if (*dir == '/')
		path = dir;
	else {
		if (asprintf(&joined, "%s%s%s", cwd,
		    cwd[strlen(cwd) - 1] == '/' ? "" : "/", dir) == -1)
			ctl_fail(CTL_EXIT_FAILED, "out of memory");
		path = joined;
	}
	if (!utf8_ok((const unsigned char *)path, strlen(path)))
		ctl_fail(ctl.cmd->usage_exit,
		    "working directory is not valid UTF-8");
	o = json_object_new_string(path);
	free(joined);
	free(cwd);
	return (o);
}

/*
 * --priority, --key, --start-by, --warn-before, --warn-signal, --output-file
 * into req; req NULL: only check them, before anything is allocated (a
 * usage error exits). jobd checks them further (ranges, warn_before
 * against the timeout).
 */
static void
add_queue_fields(json_object *req, const struct ctl_args *args)
{
	const char	*s;
	char		*end;
	long		 n;
	int		 sig;
	double		 d;

	if ((s = args_get(args, OPT_PRIORITY)) != NULL) {
		errno = 0;
		n = strtol(s, &end, 10);
		if (*s == '\0' || *end != '\0' || errno != 0 ||
		    n < -JOBD_PRIORITY_MAX || n > JOBD_PRIORITY_MAX)
			ctl_fail(ctl.cmd->usage_exit, "invalid priority '%s' "
			    "(%d to %d)", s, -JOBD_PRIORITY_MAX,
			    JOBD_PRIORITY_MAX);
		if (req != NULL)
			json_object_object_add(req, "priority",
			    json_object_new_int((int)n));
	}
	if ((s = args_get(args, OPT_KEY)) != NULL && req != NULL)
		json_object_object_add(req, "key", json_object_new_string(s));
	/* A name, or digits for a uid: jobd resolves both. */
	if ((s = args_get(args, OPT_USER)) != NULL && req != NULL)
		json_object_object_add(req, "user", json_object_new_string(s));
	if ((s = args_get(args, OPT_START_BY)) != NULL) {
		d = parse_duration(s);
		if (req != NULL)
			add_duration(req, "start_by", d);
	}
	if ((s = args_get(args, OPT_WARN_BEFORE)) != NULL) {
		d = parse_duration(s);
		if (req != NULL)
			add_duration(req, "warn_before", d);
	}
	if (args_has(args, OPT_OUTPUT_FILE) && req != NULL)
		json_object_object_add(req, "output_file",
		    json_object_new_boolean(1));
	if ((s = args_get(args, OPT_WARN_SIGNAL)) != NULL) {
		if ((sig = jobd_signal_number(s)) == -1)
			ctl_fail(ctl.cmd->usage_exit, "invalid signal '%s'", s);
		if (req != NULL)
			json_object_object_add(req, "warn_signal",
			    json_object_new_int(sig));
	}
	add_limit_fields(req, args);
}

/*
 * --rlimit NAME=VALUE (repeatable; the last of a name wins) and --nice N.
 * jobd knows the names and its ceilings: only the syntax is checked here.
 */
static void
add_limit_fields(json_object *req, const struct ctl_args *args)
{
	json_object	*rl = NULL;
	const char	*s, *eq;
	char		*end, name[32];
	long long	 v;
	long		 n;
	int		 idx = 0;

	while ((s = args_next(args, OPT_RLIMIT, &idx)) != NULL) {
		if ((eq = strchr(s, '=')) == NULL || eq == s ||
		    (size_t)(eq - s) >= sizeof(name))
			ctl_fail(ctl.cmd->usage_exit, "invalid --rlimit '%s' "
			    "(NAME=VALUE, NAME one of cpu, as, nofile, nproc, "
			    "fsize, core)", s);
		errno = 0;
		v = strtoll(eq + 1, &end, 10);
		if (eq[1] < '0' || eq[1] > '9' || *end != '\0' || errno != 0)
			ctl_fail(ctl.cmd->usage_exit, "invalid --rlimit '%s': "
			    "the value must be a number", s);
		if (req == NULL)
			continue;
		memcpy(name, s, (size_t)(eq - s));
		name[eq - s] = '\0';
		if (rl == NULL) {
			rl = json_object_new_object();
			json_object_object_add(req, "rlimits", rl);
		}
		json_object_object_add(rl, name, json_object_new_int64(v));
	}
	if ((s = args_get(args, OPT_NICE)) != NULL) {
		errno = 0;
		n = strtol(s, &end, 10);
		if (*s == '\0' || *end != '\0' || errno != 0 || n < -20 ||
		    n > 19)
			ctl_fail(ctl.cmd->usage_exit, "invalid nice '%s' (-20 "
			    "to 19)", s);
		if (req != NULL)
			json_object_object_add(req, "nice",
			    json_object_new_int((int)n));
	}
}

static void
add_duration(json_object *req, const char *key, double secs)
{
	/* JSON has no infinity: say what jobd would make of it. */
	if (!(secs <= JOBD_DURATION_MAX))
		secs = JOBD_DURATION_MAX;
	json_object_object_add(req, key, json_object_new_double(secs));
}

static double
parse_duration(const char *s)
{
	double	secs;

	if (jobd_parse_duration(s, &secs) == -1)
		ctl_fail(ctl.cmd->usage_exit, "invalid time interval '%s'", s);
	return (secs);
}

/*
 * The job gets our stdin (unless --stdin-null), stdout and stderr
 * themselves. main() has put /dev/null on any of them that was closed.
 */
static void
add_fds(json_object *req, const struct run_spec *rs, struct run_io *io)
{
	static const char *const	 names[] = {
		"stdin", "stdout", "stderr"
	};
	json_object			*a;
	int				 fd;

	if ((a = json_object_new_array()) == NULL)
		ctl_fail(CTL_EXIT_FAILED, "out of memory");
	for (fd = rs->stdin_null ? STDOUT_FILENO : STDIN_FILENO;
	    fd <= STDERR_FILENO; fd++) {
		io->fds[io->nfds++] = fd;
		json_object_array_add(a, json_object_new_string(names[fd]));
	}
	json_object_object_add(req, "fds", a);
}

/* "1048576", "512k", "16M", "1G": binary multiples, as in jobd.conf. */
static long long
parse_bytes(const char *s)
{
	unsigned long long	 v;
	char			*end;
	int			 shift = 0;

	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		goto bad;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	}
	if (*end != '\0' || v > (unsigned long long)INT64_MAX >> shift)
		goto bad;
	return ((long long)(v << shift));

bad:
	ctl_fail(ctl.cmd->usage_exit, "invalid byte count '%s'", s);
}

/*
 * --capture: the job's stdin is jobctl's, read whole now: through a pipe or
 * from a file (a terminal is left alone, the job gets /dev/null). It must
 * fit in the request and be UTF-8 to be a JSON string; passing the
 * descriptor itself, as run does without --capture, lifts both limits.
 */
static void
add_stdin(json_object *req)
{
	char	*buf;
	size_t	 len = 0;
	ssize_t	 n;

	if (isatty(STDIN_FILENO))
		return;
	if (errno == EBADF)		/* closed: nothing to pass */
		return;
	if ((buf = malloc(CTL_STDIN_MAX + 1)) == NULL)
		ctl_fail(CTL_EXIT_FAILED, "out of memory");
	for (;;) {
		n = read(STDIN_FILENO, buf + len, CTL_STDIN_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			if (errno == EBADF)
				break;
			ctl_fail(CTL_EXIT_FAILED, "standard input: %s",
			    strerror(errno));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CTL_STDIN_MAX)
			ctl_fail(CTL_EXIT_FAILED, "standard input is larger "
			    "than %zu KiB; use --stdin-null, or a file the "
			    "job opens", CTL_STDIN_MAX / 1024);
	}
	if (!utf8_ok((const unsigned char *)buf, len))
		ctl_fail(CTL_EXIT_FAILED, "standard input is not valid UTF-8; "
		    "use --stdin-null, or a file the job opens");
	if (len > 0)
		json_object_object_add(req, "stdin",
		    json_object_new_string_len(buf, (int)len));
	free(buf);
}

/* RFC 3629: shortest forms only, no surrogates, nothing past U+10FFFF. */
static int
utf8_ok(const unsigned char *s, size_t len)
{
	size_t		i = 0, n, k;
	unsigned int	cp;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if (s[i] >= 0xc2 && s[i] <= 0xdf) {
			n = 1;
			cp = s[i] & 0x1f;
		} else if (s[i] >= 0xe0 && s[i] <= 0xef) {
			n = 2;
			cp = s[i] & 0x0f;
		} else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
			n = 3;
			cp = s[i] & 0x07;
		} else
			return (0);
		if (len - i <= n)
			return (0);
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return (0);
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return (0);
		i += n + 1;
	}
	return (1);
}

/* The job's bytes to fd as they were; a reader gone away is no error. */
static void
write_stream(json_object *job, const char *stream, int fd)
{
	unsigned char	*buf;
	size_t		 len;

	if ((buf = jobd_job_output(job, stream, &len)) == NULL)
		ctl_fail(CTL_EXIT_FAILED, "bad %s in jobd's result: %s",
		    stream, strerror(errno));
	if (write_all(fd, buf, len) == -1 && errno != EPIPE) {
		fprintf(stderr, "%s: writing %s: %s\n", ctl.progname,
		    stream, strerror(errno));
	}
	free(buf);
}

static void
note_dropped(json_object *job, const char *stream)
{
	char		key[32];
	long long	n;

	snprintf(key, sizeof(key), "%s_dropped", stream);
	if (!quiet && jint(job, key, &n) == 0 && n > 0)
		fprintf(stderr, "%s: %lld bytes of %s dropped "
		    "(max_output)\n", ctl.progname, n, stream);
}

/* jobd's message often names the program already: say it once. */
static void
note_cannot_run(json_object *job)
{
	json_object	*argv;
	const char	*state, *msg, *name = NULL;
	size_t		 len;

	if ((state = jstr(job, "state")) != NULL &&
	    strcmp(state, "expired") == 0) {
		fprintf(stderr, "%s: not started within its start-by time\n",
		    ctl.progname);
		return;
	}
	if (state != NULL && strcmp(state, "lost") == 0) {
		fprintf(stderr, "%s: job lost: ", ctl.progname);
		print_safe(stderr, (msg = jstr(job, "error_message")) != NULL ?
		    msg : "jobd restarted");
		fputc('\n', stderr);
		return;
	}
	if (state == NULL || strcmp(state, "failed") != 0)
		return;
	if ((msg = jstr(job, "error_message")) == NULL &&
	    (msg = jstr(job, "error")) == NULL)
		msg = "unknown error";
	if (json_object_object_get_ex(job, "argv", &argv) &&
	    json_object_is_type(argv, json_type_array) &&
	    json_object_array_length(argv) > 0)
		name = json_object_get_string(
		    json_object_array_get_idx(argv, 0));
	fprintf(stderr, "%s: cannot run ", ctl.progname);
	if (name != NULL) {
		len = strlen(name);
		if (strncmp(msg, name, len) == 0 && msg[len] == ':')
			msg += len + 1 + (msg[len + 1] == ' ');
		print_safe(stderr, name);
		fputs(": ", stderr);
	}
	print_safe(stderr, msg);
	fputc('\n', stderr);
}

/*
 * timeout(1)'s statuses: 124 deadline, 137 deadline needing SIGKILL, 125
 * jobd's own failure, 126/127 could not run (jobd names the errno, so no
 * guessing from 127), 128+N killed by signal N, else the exit code. With
 * preserve (-p), a job that timed out still gives its own status.
 */
int
job_exit_status(json_object *job, int preserve)
{
	const char	*state, *error;
	long long	 v;

	if ((state = jstr(job, "state")) != NULL &&
	    strcmp(state, "failed") == 0) {
		error = jstr(job, "error");
		if (error != NULL && strcmp(error, "ENOENT") == 0)
			return (CTL_EXIT_NOT_FOUND);
		return (CTL_EXIT_CANNOT_RUN);
	}
	if (jbool(job, "timed_out") && !preserve)
		return (jbool(job, "killed") ? CTL_EXIT_KILLED :
		    CTL_EXIT_TIMEOUT);
	if (jint(job, "signal", &v) == 0 && v > 0 && v < 128)
		return (128 + (int)v);
	if (jint(job, "exit_code", &v) == 0 && v >= 0 && v <= 255)
		return ((int)v);
	return (CTL_EXIT_FAILED);
}

/* Only write(2) here; the loop in run_job does the rest. */
static void
on_signal(int sig)
{
	unsigned char	b = (unsigned char)sig;
	ssize_t		n;
	int		saved = errno;

	/* A full pipe already holds a wake-up: losing this byte is fine. */
	n = write(sigpipe_fds[1], &b, 1);
	(void)n;
	errno = saved;
}

/*
 * INT and QUIT (the terminal's ^C and ^\), TERM and HUP (jobctl is being
 * stopped), and the spec's extra signal. A shell starts background commands
 * with INT and QUIT ignored; run keeps that, timeout(1) does not.
 */
static void
catch_signals(const struct run_spec *rs)
{
	static const int	 sigs[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP };
	struct sigaction	 sa, old;
	size_t			 i, n = sizeof(sigs) / sizeof(sigs[0]);
	int			 sig;

	if (sigpipe_fds[0] == -1 &&
	    pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) == -1)
		ctl_fail(CTL_EXIT_FAILED, "pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	if (sigemptyset(&sa.sa_mask) == -1)
		ctl_fail(CTL_EXIT_FAILED, "sigemptyset: %s", strerror(errno));
	for (i = 0; i <= n; i++) {
		if ((sig = i < n ? sigs[i] : rs->extra_sig) == 0)
			continue;
		if (sigaction(sig, NULL, &old) == -1)
			ctl_fail(CTL_EXIT_FAILED, "sigaction: %s",
			    strerror(errno));
		if (old.sa_handler == SIG_IGN && !rs->catch_ignored)
			continue;
		if (sigaction(sig, &sa, NULL) == -1)
			ctl_fail(CTL_EXIT_FAILED, "sigaction: %s",
			    strerror(errno));
	}
}

/*
 * TERM and HUP mean jobctl itself is being stopped: the job goes too,
 * through its kill sequence (cancel). INT and QUIT come from the terminal,
 * and the job decides what they mean, as it would if it ran here: they are
 * sent once (signal), unless the spec wants every signal to start the kill
 * sequence, as timeout -k does.
 */
static void
forward(struct jobd_client *c, long long id, int sig,
    const struct run_spec *rs)
{
	json_object	*req;
	int		 cancel;

	cancel = sig == SIGTERM || sig == SIGHUP || rs->cancel_always;
	req = ctl_request(cancel ? "cancel" : "signal");
	json_object_object_add(req, "id", json_object_new_int64(id));
	json_object_object_add(req, "signal", json_object_new_int(sig));
	json_object_object_add(req, "tag",
	    json_object_new_string(TAG_FORWARD));
	/* A failed send is a lost connection: the next read reports it. */
	(void)jobd_send(c, req);
	json_object_put(req);
}

/* A job that ended meanwhile is no news; anything else is noted. */
static void
forward_answer(json_object *resp, const struct run_spec *rs)
{
	json_object	*e;
	const char	*code, *msg;

	if (jbool(resp, "ok"))
		return;
	code = msg = NULL;
	if (json_object_object_get_ex(resp, "error", &e)) {
		code = jstr(e, "code");
		msg = jstr(e, "message");
	}
	if (rs->quiet || (code != NULL &&
	    strcmp(code, JOBD_E_NOT_RUNNING) == 0))
		return;
	fprintf(stderr, "%s: forwarding a signal: ", ctl.progname);
	print_safe(stderr, code != NULL ? code : "error");
	fputs(": ", stderr);
	print_safe(stderr, msg != NULL ? msg : "request failed");
	fputc('\n', stderr);
}

/*
 * Start the job and wait for its result, forwarding the signals jobctl
 * receives meanwhile. Returns the final job object, inside *respp, which
 * the caller puts. On any failure of jobd's, exits with the command's
 * failure status.
 */
json_object *
run_job(const struct run_spec *rs, json_object **respp)
{
	struct jobd_client	*c;
	struct run_io		 io;
	struct pollfd		 pfd[2];
	json_object		*req, *resp, *job;
	const char		*tag, *state;
	unsigned char		 buf[CTL_SIGQUEUE];
	long long		 id = -1;
	int			 queue[CTL_SIGQUEUE], nq = 0, running = 0;
	ssize_t			 n, i;

	/* Before the request: a signal from now on is not lost. */
	catch_signals(rs);
	req = build_request(rs, 1, &io);
	c = ctl_connect();
	if (jobd_send_fds(c, req, io.fds, io.nfds) == -1)
		ctl_send_failed(c);
	json_object_put(req);

	for (;;) {
		if (jobd_pending(c) == 0) {
			pfd[0].fd = jobd_client_fd(c);
			pfd[0].events = POLLIN;
			pfd[1].fd = sigpipe_fds[0];
			pfd[1].events = POLLIN;
			if (poll(pfd, 2, -1) == -1) {
				if (errno == EINTR)
					continue;
				ctl_fail(ctl.cmd->fail_exit, "poll: %s",
				    strerror(errno));
			}
			if (pfd[1].revents & POLLIN) {
				if ((n = read(sigpipe_fds[0], buf,
				    sizeof(buf))) == -1 && errno != EAGAIN &&
				    errno != EINTR)
					ctl_fail(CTL_EXIT_FAILED, "read: %s",
					    strerror(errno));
				for (i = 0; i < n; i++) {
					if (running)
						forward(c, id, buf[i], rs);
					else if (id == -1 && nq < CTL_SIGQUEUE)
						queue[nq++] = buf[i];
				}
			}
			if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) ==
			    0)
				continue;
		}

		resp = ctl_recv_any(c);
		tag = jstr(resp, "tag");
		if (tag != NULL && strcmp(tag, TAG_FORWARD) == 0) {
			forward_answer(resp, rs);
			json_object_put(resp);
			continue;
		}
		/* An error without a tag is about a line jobd could not read. */
		if (tag == NULL && !jbool(resp, "ok"))
			ctl_fail_resp(resp);
		if (tag == NULL || strcmp(tag, TAG_RUN) != 0) {
			json_object_put(resp);
			continue;
		}
		if (!jbool(resp, "ok"))
			ctl_fail_resp(resp);
		if (json_object_object_get_ex(resp, "event", NULL)) {
			if (rs->on_event != NULL)
				rs->on_event(resp);
			json_object_put(resp);
			continue;
		}
		if (json_object_object_get_ex(resp, "job", &job)) {
			if (!json_object_is_type(job, json_type_object))
				ctl_fail(ctl.cmd->fail_exit,
				    "jobd's result has no job object");
			jobd_close(c);
			*respp = resp;
			return (job);
		}

		/* The first answer names the job: signals have a target. */
		if (jint(resp, "id", &id) == -1)
			ctl_fail(ctl.cmd->fail_exit,
			    "jobd's answer has no job id");
		state = jstr(resp, "state");
		running = state == NULL || strcmp(state, "failed") != 0;
		for (i = 0; running && i < nq; i++)
			forward(c, id, queue[i], rs);
		nq = 0;
		json_object_put(resp);
	}
}

static void
spec_from_args(struct run_spec *rs, const struct ctl_args *args)
{
	const char	*s;

	memset(rs, 0, sizeof(*rs));
	rs->argc = args->argc;
	rs->argv = args->argv;
	rs->args = args;
	rs->kill_after = -1;
	if ((s = args_get(args, 't')) != NULL)
		rs->timeout = parse_duration(s);
	if ((s = args_get(args, 'k')) != NULL)
		rs->kill_after = parse_duration(s);
	if ((s = args_get(args, 's')) != NULL &&
	    (rs->sig = jobd_signal_number(s)) == -1)
		ctl_fail(ctl.cmd->usage_exit, "invalid signal '%s'", s);
	rs->capture = args_has(args, OPT_CAPTURE);
	rs->stdin_null = args_has(args, OPT_STDIN_NULL);
	rs->detach = args_has(args, OPT_DETACH);
	rs->quiet = args_has(args, 'q');
}

/*
 * Start the job, print its id and leave it running: submit, and run
 * --detach, which still passes the descriptors (as "cmd &" would).
 */
static int
run_detached(const struct run_spec *rs)
{
	struct jobd_client	*c;
	struct run_io		 io;
	json_object		*req, *resp;
	const char		*state;
	long long		 id;

	req = build_request(rs, 0, &io);
	c = ctl_connect();
	if (jobd_send_fds(c, req, io.fds, io.nfds) == -1)
		ctl_send_failed(c);
	json_object_put(req);
	resp = ctl_recv(c);
	jobd_close(c);
	if (jint(resp, "id", &id) == -1)
		ctl_fail(ctl.cmd->fail_exit, "jobd's answer has no job id");
	/* Our tag is no part of jobd's answer to the user. */
	json_object_object_del(resp, "tag");
	if (ctl.json)
		print_json(resp);
	else
		printf("%lld\n", id);
	/* The job exists and wait reports it; only point there. */
	state = jstr(resp, "state");
	if (!rs->quiet && !ctl.json && state != NULL &&
	    strcmp(state, "failed") == 0) {
		fflush(stdout);
		fprintf(stderr, "jobctl: job %lld failed to start; "
		    "see jobctl status %lld\n", id, id);
	}
	json_object_put(resp);
	return (0);
}

int
cmd_run(struct ctl_args *args)
{
	struct run_spec	 rs;
	json_object	*resp, *job;
	int		 status;

	spec_from_args(&rs, args);
	if (rs.detach)
		return (run_detached(&rs));
	job = run_job(&rs, &resp);
	status = job_exit_status(job, args_has(args, 'p'));
	if (ctl.json)
		print_json(job);
	else {
		/* Empty when the streams were passed: the job wrote them. */
		fflush(stdout);
		write_stream(job, "stdout", STDOUT_FILENO);
		write_stream(job, "stderr", STDERR_FILENO);
		note_dropped(job, "stdout");
		note_dropped(job, "stderr");
		note_cannot_run(job);
	}
	json_object_put(resp);
	return (status);
}

/* A job left running, with no descriptors of ours and no input. */
int
cmd_submit(struct ctl_args *args)
{
	struct run_spec	rs;

	spec_from_args(&rs, args);
	rs.capture = 1;
	rs.stdin_null = 1;
	return (run_detached(&rs));
}
