/*
 * jobctl run and submit: build a run request from the command line and
 * jobctl's own context (environment, directory, standard input), and for run
 * wait for the result and pass it on as if the command had run here: its
 * output on our stdout and stderr, and an exit status like timeout(1)'s.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobctl.h"

/*
 * Standard input travels inside the one request line, which jobd bounds
 * (max_line, 1 MiB by default); 768 KiB leaves room for JSON escapes and the
 * rest of the request in the common case.
 */
#define CTL_STDIN_MAX	((size_t)768 * 1024)

extern char	**environ;

static json_object	*build_request(const struct ctl_args *, int);
static json_object	*build_env(const struct ctl_args *);
static json_object	*build_cwd(const struct ctl_args *);
static void		 add_duration(json_object *, const char *,
			    const char *);
static void		 add_stdin(json_object *);
static long long	 parse_bytes(const char *);
static int		 utf8_ok(const unsigned char *, size_t);
static void		 write_stream(json_object *, const char *, int);
static void		 note_dropped(json_object *, const char *);
static void		 note_cannot_run(json_object *);

static int	quiet;

/* The run and submit request minus standard input. */
static json_object *
build_request(const struct ctl_args *args, int waiting)
{
	json_object	*req, *argv;
	const char	*s;
	int		 i, sig;

	req = ctl_request("run");
	if ((argv = json_object_new_array()) == NULL)
		ctl_fail(CTL_EXIT_FAILED, "out of memory");
	for (i = 0; i < args->argc; i++) {
		s = args->argv[i];
		if (!utf8_ok((const unsigned char *)s, strlen(s)))
			ctl_fail(ctl.cmd->usage_exit,
			    "argument %d is not valid UTF-8", i + 1);
		json_object_array_add(argv, json_object_new_string(s));
	}
	json_object_object_add(req, "argv", argv);
	json_object_object_add(req, "env", build_env(args));
	json_object_object_add(req, "cwd", build_cwd(args));

	if ((s = args_get(args, 't')) != NULL)
		add_duration(req, "timeout", s);
	if ((s = args_get(args, 'k')) != NULL)
		add_duration(req, "kill_after", s);
	if ((s = args_get(args, 's')) != NULL) {
		if ((sig = jobd_signal_number(s)) == -1)
			ctl_fail(ctl.cmd->usage_exit, "invalid signal '%s'", s);
		json_object_object_add(req, "signal",
		    json_object_new_int(sig));
	}
	if ((s = args_get(args, OPT_MAX_OUTPUT)) != NULL)
		json_object_object_add(req, "max_output",
		    json_object_new_int64(parse_bytes(s)));
	json_object_object_add(req, "wait", json_object_new_boolean(waiting));
	json_object_object_add(req, "on_disconnect",
	    json_object_new_string(waiting ? "cancel" : "keep"));
	return (req);
}

/*
 * jobctl's environment (or none with --clear-env), then every -e in order.
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
	int		 idx = 0;

	if ((env = json_object_new_object()) == NULL)
		ctl_fail(CTL_EXIT_FAILED, "out of memory");
	for (ep = environ; !args_has(args, OPT_CLEAR_ENV) && *ep != NULL;
	    ep++) {
		if ((eq = strchr(*ep, '=')) == NULL || eq == *ep)
			continue;
		if (!utf8_ok((const unsigned char *)*ep, strlen(*ep))) {
			if (!quiet) {
				fputs("jobctl: not passing a variable that "
				    "is not UTF-8: ", stderr);
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
	while ((s = args_next(args, 'e', &idx)) != NULL) {
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
	const char	*dir = args_get(args, 'C'), *path;
	char		*cwd = NULL, *joined = NULL;

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

static void
add_duration(json_object *req, const char *key, const char *s)
{
	double	secs;

	if (jobd_parse_duration(s, &secs) == -1)
		ctl_fail(ctl.cmd->usage_exit, "invalid time interval '%s'", s);
	json_object_object_add(req, key, json_object_new_double(secs));
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
 * The job's stdin is jobctl's, read whole now: through a pipe or from a file
 * (a terminal is left alone, the job gets /dev/null). It must fit in the
 * request and be UTF-8 to be a JSON string; passing the descriptor itself
 * would lift both limits.
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
		fprintf(stderr, "jobctl: writing %s: %s\n", stream,
		    strerror(errno));
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
		fprintf(stderr, "jobctl: %lld bytes of %s dropped "
		    "(max_output)\n", n, stream);
}

static void
note_cannot_run(json_object *job)
{
	json_object	*argv;
	const char	*state, *msg;

	if ((state = jstr(job, "state")) == NULL ||
	    strcmp(state, "failed") != 0)
		return;
	if ((msg = jstr(job, "error_message")) == NULL &&
	    (msg = jstr(job, "error")) == NULL)
		msg = "unknown error";
	fputs("jobctl: cannot run ", stderr);
	if (json_object_object_get_ex(job, "argv", &argv) &&
	    json_object_is_type(argv, json_type_array) &&
	    json_object_array_length(argv) > 0)
		print_safe(stderr,
		    json_object_get_string(json_object_array_get_idx(argv, 0)));
	fputs(": ", stderr);
	print_safe(stderr, msg);
	fputc('\n', stderr);
}

/*
 * timeout(1)'s statuses: 124 deadline, 137 deadline needing SIGKILL, 125
 * jobd's own failure, 126/127 could not run (jobd names the errno, so no
 * guessing from 127), 128+N killed by signal N, else the exit code.
 */
int
job_exit_status(json_object *job)
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
	if (jbool(job, "timed_out"))
		return (jbool(job, "killed") ? CTL_EXIT_KILLED :
		    CTL_EXIT_TIMEOUT);
	if (jint(job, "signal", &v) == 0 && v > 0 && v < 128)
		return (128 + (int)v);
	if (jint(job, "exit_code", &v) == 0 && v >= 0 && v <= 255)
		return ((int)v);
	return (CTL_EXIT_FAILED);
}

int
cmd_run(struct ctl_args *args)
{
	struct jobd_client	*c;
	json_object		*req, *resp, *job;
	int			 status;

	quiet = args_has(args, 'q');
	req = build_request(args, 1);
	if (!args_has(args, OPT_STDIN_NULL))
		add_stdin(req);
	c = ctl_connect();
	json_object_put(ctl_call(c, req));	/* the id */
	json_object_put(req);
	resp = ctl_recv(c);			/* the result */
	jobd_close(c);
	if (!json_object_object_get_ex(resp, "job", &job) ||
	    !json_object_is_type(job, json_type_object))
		ctl_fail(CTL_EXIT_FAILED, "jobd's result has no job object");

	status = job_exit_status(job);
	if (ctl.json)
		print_json(job);
	else {
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

int
cmd_submit(struct ctl_args *args)
{
	struct jobd_client	*c;
	json_object		*req, *resp;
	const char		*state;
	long long		 id;

	quiet = args_has(args, 'q');
	req = build_request(args, 0);
	c = ctl_connect();
	resp = ctl_call(c, req);
	json_object_put(req);
	jobd_close(c);
	if (jint(resp, "id", &id) == -1)
		ctl_fail(ctl.cmd->fail_exit, "jobd's answer has no job id");
	if (ctl.json)
		print_json(resp);
	else
		printf("%lld\n", id);
	/* The job exists and wait reports it; only point there. */
	state = jstr(resp, "state");
	if (!quiet && !ctl.json && state != NULL &&
	    strcmp(state, "failed") == 0) {
		fflush(stdout);
		fprintf(stderr, "jobctl: job %lld failed to start; "
		    "see jobctl status %lld\n", id, id);
	}
	json_object_put(resp);
	return (0);
}
