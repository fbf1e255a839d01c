/*
 * jobctl watch and logs: the watch op (docs/protocol.md) seen from the
 * command line. watch prints one line per event; logs writes a job's
 * output as it was captured, stdout to stdout and stderr to stderr, and
 * with -f follows the job until it ends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobctl.h"

static struct jobd_client *watch_start(long long, int);
static int	 watch_next(struct jobd_client *, long long, json_object **);
static void	 print_event(json_object *);
static void	 print_output_event(long long, json_object *);
static void	 print_done(long long, json_object *);
static void	 print_exit_how(json_object *);
static void	 print_bytes(FILE *, const unsigned char *, size_t);
static size_t	 utf8_seq(const unsigned char *, size_t);
static void	 write_stream(int, const unsigned char *, size_t);
static void	 write_job_stream(json_object *, const char *, int);
static int	 logs_now(long long);
static int	 logs_follow(long long);

/* Connect and ask for the watch (id 0: every job); exits on an error. */
static struct jobd_client *
watch_start(long long id, int output)
{
	struct jobd_client	*c;
	json_object		*req, *resp;

	req = ctl_request("watch");
	if (id != 0)
		json_object_object_add(req, "id", json_object_new_int64(id));
	json_object_object_add(req, "output", json_object_new_boolean(output));
	c = ctl_connect();
	resp = ctl_call(c, req);
	json_object_put(req);
	json_object_put(resp);
	return (c);
}

/*
 * The next event into *evp: 1, or 0 once a one-job watch has ended (after
 * its done event, which is still returned). EOF from jobd exits with a
 * message: a watch of every job ends only that way.
 */
static int
watch_next(struct jobd_client *c, long long id, json_object **evp)
{
	json_object	*ev;
	const char	*name;

	ev = ctl_recv(c);
	*evp = ev;
	if ((name = jstr(ev, "event")) == NULL)
		ctl_fail(ctl.cmd->fail_exit, "jobd sent a line without an "
		    "event");
	return (!(id != 0 && strcmp(name, "done") == 0));
}

int
cmd_watch(struct ctl_args *args)
{
	struct jobd_client	*c;
	json_object		*ev;
	long long		 id = 0;
	int			 more;

	if (args->argc == 1)
		id = ctl_parse_id(args->argv[0]);
	c = watch_start(id, !args_has(args, 'n'));
	do {
		more = watch_next(c, id, &ev);
		if (ctl.json)
			print_json(ev);
		else
			print_event(ev);
		json_object_put(ev);
		/* Each line as it comes, even into a pipe. */
		if (fflush(stdout) == EOF && errno != EPIPE)
			ctl_fail(ctl.cmd->fail_exit, "standard output: %s",
			    strerror(errno));
		if (ferror(stdout))
			exit(ctl.cmd->fail_exit);
	} while (more);
	jobd_close(c);
	return (0);
}

/*
 * 7 queued sh -c 'echo hi'
 * 7 started pid 1234
 * 7 stdout 3 bytes: hi\n
 * 7 terminating
 * 7 exited 0
 */
static void
print_event(json_object *ev)
{
	json_object	*job = NULL;
	const char	*name = jstr(ev, "event");
	long long	 id = 0, pid;

	(void)jint(ev, "id", &id);
	(void)json_object_object_get_ex(ev, "job", &job);
	if (strcmp(name, "output") == 0) {
		print_output_event(id, ev);
		return;
	}
	if (strcmp(name, "done") == 0) {
		print_done(id, job);
		return;
	}
	printf("%lld ", id);
	print_safe(stdout, name);
	if (strcmp(name, "queued") == 0 && job != NULL) {
		fputc(' ', stdout);
		print_argv(stdout, job);
	} else if (strcmp(name, "started") == 0 && jint(ev, "pid", &pid) == 0)
		printf(" pid %lld", pid);
	fputc('\n', stdout);
}

static void
print_output_event(long long id, json_object *ev)
{
	const char	*stream = jstr(ev, "stream");
	unsigned char	*buf;
	size_t		 len;

	if ((buf = jobd_job_output(ev, "data", &len)) == NULL)
		ctl_fail(ctl.cmd->fail_exit, "jobd sent output that cannot be "
		    "decoded");
	printf("%lld ", id);
	print_safe(stdout, stream != NULL ? stream : "?");
	printf(" %zu bytes: ", len);
	print_bytes(stdout, buf, len);
	fputc('\n', stdout);
	free(buf);
}

/* "7 exited 0", "7 signaled 9 (KILL)", "7 timed_out signal 15 (TERM)". */
static void
print_done(long long id, json_object *job)
{
	const char	*state = jstr(job, "state"), *error, *msg;
	long long	 code;

	printf("%lld ", id);
	print_safe(stdout, state != NULL ? state : "?");
	if ((error = jstr(job, "error")) != NULL) {
		fputc(' ', stdout);
		print_safe(stdout, error);
		if ((msg = jstr(job, "error_message")) != NULL) {
			fputs(": ", stdout);
			print_safe(stdout, msg);
		}
	} else if (state != NULL && (strcmp(state, "exited") == 0 ||
	    strcmp(state, "signaled") == 0))
		print_exit_how(job);
	else if (state != NULL && (strcmp(state, "timed_out") == 0 ||
	    strcmp(state, "cancelled") == 0)) {
		if (jint(job, "exit_code", &code) == 0)
			fputs(" exit", stdout);
		else
			fputs(" signal", stdout);
		print_exit_how(job);
	}
	fputc('\n', stdout);
}

/* " 0" for an exit code, " 9 (KILL)" for a signal; nothing if neither. */
static void
print_exit_how(json_object *job)
{
	const char	*name;
	long long	 v;

	if (jint(job, "exit_code", &v) == 0)
		printf(" %lld", v);
	else if (jint(job, "signal", &v) == 0) {
		name = jobd_signal_name((int)v);
		printf(" %lld", v);
		if (name != NULL)
			printf(" (%s)", name);
	}
}

/*
 * Valid UTF-8 prints as it is, but for control characters (C0, DEL, C1)
 * and backslash; every other byte is escaped in octal, so one event is one
 * line and a terminal is never driven by a job's output.
 */
static void
print_bytes(FILE *f, const unsigned char *p, size_t len)
{
	size_t	i = 0, n;

	while (i < len) {
		n = utf8_seq(p + i, len - i);
		if (n > 1 && !(p[i] == 0xc2 && p[i + 1] <= 0x9f)) {
			fwrite(p + i, 1, n, f);
			i += n;
			continue;
		}
		if (p[i] == '\\')
			fputs("\\\\", f);
		else if (p[i] == '\n')
			fputs("\\n", f);
		else if (p[i] == '\t')
			fputs("\\t", f);
		else if (p[i] == '\r')
			fputs("\\r", f);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			fputc(p[i], f);
		else
			fprintf(f, "\\%03o", p[i]);
		i++;
	}
}

/* Length of the valid UTF-8 sequence at p (1 for ASCII), 0 if invalid. */
static size_t
utf8_seq(const unsigned char *p, size_t len)
{
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		n, i;

	if (p[0] < 0x80)
		return (1);
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return (0);
	/* No overlong forms, no surrogates, nothing beyond U+10FFFF. */
	if (p[0] == 0xe0)
		lo = 0xa0;
	else if (p[0] == 0xed)
		hi = 0x9f;
	else if (p[0] == 0xf0)
		lo = 0x90;
	else if (p[0] == 0xf4)
		hi = 0x8f;
	if (len < n || p[1] < lo || p[1] > hi)
		return (0);
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return (0);
	return (n);
}

/* A reader that went away ends us quietly, as SIGPIPE would. */
static void
write_stream(int fd, const unsigned char *buf, size_t len)
{
	if (write_all(fd, buf, len) == 0)
		return;
	if (errno == EPIPE)
		exit(ctl.cmd->fail_exit);
	ctl_fail(ctl.cmd->fail_exit, "%s: %s", fd == STDOUT_FILENO ?
	    "standard output" : "standard error", strerror(errno));
}

static void
write_job_stream(json_object *o, const char *key, int fd)
{
	unsigned char	*buf;
	size_t		 len;

	if ((buf = jobd_job_output(o, key, &len)) == NULL)
		ctl_fail(ctl.cmd->fail_exit, "jobd sent output that cannot be "
		    "decoded");
	write_stream(fd, buf, len);
	free(buf);
}

/* A stream in an output file (run's output_file) is read in pieces. */
struct file_stream {
	const char	*name;
	int		 fd;
	long long	 off;
	int		 eof;
};

/* What the file holds from fs->off on, now; returns the bytes written. */
static long long
file_stream_read(struct jobd_client *c, long long id, struct file_stream *fs)
{
	json_object	*req, *resp;
	long long	 total = 0, off;
	unsigned char	*buf;
	size_t		 len;

	do {
		req = ctl_request("output");
		json_object_object_add(req, "id", json_object_new_int64(id));
		json_object_object_add(req, "stream",
		    json_object_new_string(fs->name));
		json_object_object_add(req, "offset",
		    json_object_new_int64(fs->off));
		resp = ctl_call(c, req);
		json_object_put(req);
		if (jint(resp, "offset", &off) == -1 || off != fs->off ||
		    (buf = jobd_job_output(resp, "data", &len)) == NULL)
			ctl_fail(ctl.cmd->fail_exit, "jobd sent an output piece "
			    "that cannot be decoded");
		write_stream(fs->fd, buf, len);
		free(buf);
		fs->off += (long long)len;
		total += (long long)len;
		fs->eof = jbool(resp, "eof");
		json_object_put(resp);
	} while (len > 0 && !fs->eof);
	return (total);
}

static json_object *
logs_status(struct jobd_client *c, long long id, json_object **job)
{
	json_object	*req, *resp;

	req = ctl_request("status");
	json_object_object_add(req, "id", json_object_new_int64(id));
	resp = ctl_call(c, req);
	json_object_put(req);
	if (!json_object_object_get_ex(resp, "job", job))
		ctl_fail(ctl.cmd->fail_exit, "jobd's answer has no job object");
	return (resp);
}

/* The output captured so far, from the job object or its files. */
static int
logs_now(long long id)
{
	struct jobd_client	*c;
	struct file_stream	 fs[2] = { { "stdout", STDOUT_FILENO, 0, 0 },
				    { "stderr", STDERR_FILENO, 0, 0 } };
	json_object		*resp, *job;
	const char		*enc;
	char			 key[32];
	int			 i;

	c = ctl_connect();
	resp = logs_status(c, id, &job);
	for (i = 0; i < 2; i++) {
		snprintf(key, sizeof(key), "%s_encoding", fs[i].name);
		if ((enc = jstr(job, key)) != NULL &&
		    strcmp(enc, "file") == 0)
			(void)file_stream_read(c, id, &fs[i]);
		else
			write_job_stream(job, fs[i].name, fs[i].fd);
	}
	json_object_put(resp);
	jobd_close(c);
	return (0);
}

/*
 * A job whose output goes to files: read them as they grow, until the job
 * has ended and both are read to their end. A pause between polls that
 * find nothing keeps it cheap.
 */
static int
logs_follow_files(struct jobd_client *c, long long id)
{
	struct file_stream	 fs[2] = { { "stdout", STDOUT_FILENO, 0, 0 },
				    { "stderr", STDERR_FILENO, 0, 0 } };
	struct timespec		 ts = { 0, 100 * 1000 * 1000 };
	long long		 got;

	while (!fs[0].eof || !fs[1].eof) {
		got = 0;
		if (!fs[0].eof)
			got += file_stream_read(c, id, &fs[0]);
		if (!fs[1].eof)
			got += file_stream_read(c, id, &fs[1]);
		if (got == 0 && (!fs[0].eof || !fs[1].eof))
			nanosleep(&ts, NULL);
	}
	jobd_close(c);
	return (0);
}

/* A watch of the job: what was captured, then what comes, to the end. */
static int
logs_follow(long long id)
{
	struct jobd_client	*c;
	json_object		*ev;
	const char		*stream;
	json_object		*resp, *job;
	int			 more;

	c = ctl_connect();
	resp = logs_status(c, id, &job);
	more = jbool(job, "output_file");
	json_object_put(resp);
	if (more)
		return (logs_follow_files(c, id));
	jobd_close(c);
	c = watch_start(id, 1);
	do {
		more = watch_next(c, id, &ev);
		if (strcmp(jstr(ev, "event"), "output") == 0) {
			stream = jstr(ev, "stream");
			write_job_stream(ev, "data", stream != NULL &&
			    strcmp(stream, "stderr") == 0 ? STDERR_FILENO :
			    STDOUT_FILENO);
		}
		json_object_put(ev);
	} while (more);
	jobd_close(c);
	return (0);
}

int
cmd_logs(struct ctl_args *args)
{
	long long	id = ctl_parse_id(args->argv[0]);

	return (args_has(args, 'f') ? logs_follow(id) : logs_now(id));
}
