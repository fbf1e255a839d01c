/*
 * jobctl's output: the human form of jobs, lists and pings, or the JSON that
 * jobd sent for scripts (--json). Text that came from a job or a client
 * (argv, error messages) is escaped before it reaches a terminal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobctl.h"

static void	print_quoted(FILE *, const char *);
static int	needs_escape(const unsigned char *);
static void	print_stream_size(json_object *, const char *);

const char *
jstr(json_object *o, const char *key)
{
	json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return (NULL);
	return (json_object_get_string(v));
}

/* 0 and *out for an integer member, -1 for anything else (or null). */
int
jint(json_object *o, const char *key, long long *out)
{
	json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return (-1);
	*out = (long long)json_object_get_int64(v);
	return (0);
}

int
jbool(json_object *o, const char *key)
{
	json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return (0);
	return (json_object_get_boolean(v));
}

/* A number member in seconds; -1 if absent or not a number. */
double
jdouble(json_object *o, const char *key)
{
	json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    !(json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int)))
		return (-1);
	return (json_object_get_double(v));
}

int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* One line, as jobd frames it, so scripts can split on newlines too. */
void
print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/*
 * Control bytes (C0, DEL, and C1 as UTF-8 encodes them) could move the
 * cursor or retitle the terminal; everything else, UTF-8 included, prints
 * as is.
 */
static int
needs_escape(const unsigned char *p)
{
	return (*p < 0x20 || *p == 0x7f ||
	    (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f));
}

void
print_safe(FILE *f, const char *s)
{
	const unsigned char	*p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (!needs_escape(p)) {
			fputc(*p, f);
			continue;
		}
		switch (*p) {
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p == 0xc2)
				fprintf(f, "\\%03o", *p++);
			fprintf(f, "\\%03o", *p);
			break;
		}
	}
}

/*
 * Shell-like: bare when only harmless characters, '...' otherwise, and
 * $'...' with escapes when there are control bytes, so what is shown is
 * what the job got.
 */
static void
print_quoted(FILE *f, const char *s)
{
	const unsigned char	*p;
	int			 ctrl = 0;

	if (*s != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == strlen(s)) {
		fputs(s, f);
		return;
	}
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (needs_escape(p))
			ctrl = 1;
	if (!ctrl) {
		fputc('\'', f);
		for (; *s != '\0'; s++) {
			if (*s == '\'')
				fputs("'\\''", f);
			else
				fputc(*s, f);
		}
		fputc('\'', f);
		return;
	}
	fputs("$'", f);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\'' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (needs_escape(p)) {
			if (*p == 0xc2)
				fprintf(f, "\\%03o", *p++);
			fprintf(f, "\\%03o", *p);
		} else
			fputc(*p, f);
	}
	fputc('\'', f);
}

void
print_argv(FILE *f, json_object *job)
{
	json_object	*argv, *a;
	size_t		 i, n;

	if (!json_object_object_get_ex(job, "argv", &argv) ||
	    !json_object_is_type(argv, json_type_array))
		return;
	n = json_object_array_length(argv);
	for (i = 0; i < n; i++) {
		a = json_object_array_get_idx(argv, i);
		if (i > 0)
			fputc(' ', f);
		if (json_object_is_type(a, json_type_string))
			print_quoted(f, json_object_get_string(a));
	}
}

/* "stdout 3 bytes", or "stdout passed" for a descriptor the job got. */
static void
print_stream_size(json_object *job, const char *stream)
{
	unsigned char	*buf;
	const char	*enc;
	char		 key[32];
	size_t		 len;
	long long	 dropped;

	if ((buf = jobd_job_output(job, stream, &len)) == NULL)
		return;
	free(buf);
	snprintf(key, sizeof(key), "%s_encoding", stream);
	if ((enc = jstr(job, key)) != NULL && strcmp(enc, "passed") == 0)
		printf(" %s passed", stream);
	else
		printf(" %s %zu bytes", stream, len);
	snprintf(key, sizeof(key), "%s_dropped", stream);
	if (jint(job, key, &dropped) == 0 && dropped > 0)
		printf(" (%lld dropped)", dropped);
	if (strcmp(stream, "stdout") == 0)
		putchar(' ');
}

/*
 * id 3  state exited  exit 0  duration 0.012s  pid 1234
 * command sh -c 'echo hi'
 * and, once the job has ended, its resources and output sizes.
 */
void
print_job(json_object *job)
{
	const char	*state, *name, *error, *msg;
	long long	 v;
	double		 d;

	if (jint(job, "id", &v) == 0)
		printf("id %lld", v);
	else
		fputs("id ?", stdout);
	state = jstr(job, "state");
	fputs("  state ", stdout);
	print_safe(stdout, state != NULL ? state : "?");
	if (jint(job, "exit_code", &v) == 0)
		printf("  exit %lld", v);
	if (jint(job, "signal", &v) == 0) {
		name = jobd_signal_name((int)v);
		printf("  signal %lld%s%s%s", v, name != NULL ? " (" : "",
		    name != NULL ? name : "", name != NULL ? ")" : "");
	}
	if (jbool(job, "killed"))
		fputs("  killed", stdout);
	if (jint(job, "leftovers", &v) == 0 && v > 0)
		printf("  leftovers %lld", v);
	if (jint(job, "escaped", &v) == 0 && v > 0)
		printf("  escaped %lld", v);
	if (jbool(job, "unkillable"))
		fputs("  unkillable", stdout);
	if ((d = jdouble(job, "duration")) >= 0)
		printf("  duration %.3fs", d);
	if (jint(job, "pid", &v) == 0)
		printf("  pid %lld", v);
	else
		fputs("  pid -", stdout);
	fputs("\ncommand ", stdout);
	print_argv(stdout, job);
	fputc('\n', stdout);

	if ((error = jstr(job, "error")) != NULL) {
		fputs("error ", stdout);
		print_safe(stdout, error);
		if ((msg = jstr(job, "error_message")) != NULL) {
			fputs(": ", stdout);
			print_safe(stdout, msg);
		}
		fputc('\n', stdout);
	}
	if (jstr(job, "stdout") != NULL) {
		fputs("output", stdout);
		print_stream_size(job, "stdout");
		print_stream_size(job, "stderr");
		fputc('\n', stdout);
	}
	if (jdouble(job, "ended_at") >= 0 &&
	    (d = jdouble(job, "user_cpu")) >= 0) {
		printf("cpu user %.3fs  sys %.3fs", d,
		    jdouble(job, "sys_cpu"));
		if (jint(job, "max_rss_kb", &v) == 0)
			printf("  max rss %lld KiB", v);
		fputc('\n', stdout);
	}
}

/* ID STATE PID DURATION COMMAND, one job a row, oldest first as sent. */
void
print_list(json_object *jobs)
{
	json_object	*job;
	const char	*state;
	char		 pid[32], dur[32];
	long long	 v;
	size_t		 i, n;
	double		 d;

	printf("%-6s %-10s %8s %11s  %s\n", "ID", "STATE", "PID", "DURATION",
	    "COMMAND");
	n = json_object_array_length(jobs);
	for (i = 0; i < n; i++) {
		job = json_object_array_get_idx(jobs, i);
		if (jint(job, "pid", &v) == 0)
			snprintf(pid, sizeof(pid), "%lld", v);
		else
			strlcpy(pid, "-", sizeof(pid));
		if ((d = jdouble(job, "duration")) >= 0)
			snprintf(dur, sizeof(dur), "%.3fs", d);
		else
			strlcpy(dur, "-", sizeof(dur));
		if (jint(job, "id", &v) == -1)
			v = 0;
		state = jstr(job, "state");
		printf("%-6lld %-10s %8s %11s  ", v, state != NULL ?
		    state : "?", pid, dur);
		print_argv(stdout, job);
		fputc('\n', stdout);
	}
}

/*
 * jobd 0.1.0 protocol 1 pid 4242 containment pgid
 * running 3 queued 0 max_running 8 store /var/lib/jobd/jobs.db
 */
void
print_ping(json_object *resp)
{
	const char	*version, *containment, *store;
	long long	 proto = 0, pid = 0, running = 0, queued = 0, max = 0;

	version = jstr(resp, "version");
	containment = jstr(resp, "containment");
	(void)jint(resp, "protocol", &proto);
	(void)jint(resp, "pid", &pid);
	fputs("jobd ", stdout);
	print_safe(stdout, version != NULL ? version : "?");
	printf(" protocol %lld pid %lld containment ", proto, pid);
	print_safe(stdout, containment != NULL ? containment : "?");
	fputc('\n', stdout);
	if ((store = jstr(resp, "store")) == NULL)
		return;		/* an older jobd */
	(void)jint(resp, "running", &running);
	(void)jint(resp, "queued", &queued);
	(void)jint(resp, "max_running", &max);
	printf("running %lld queued %lld max_running ", running, queued);
	if (max == 0)
		fputs("unlimited", stdout);
	else
		printf("%lld", max);
	fputs(" store ", stdout);
	print_safe(stdout, store);
	fputc('\n', stdout);
}
