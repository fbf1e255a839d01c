/*
 * Configuration: one table defines every option (name, type, bounds,
 * default), and drives the defaults, the parser and `jobd -n`. jobd runs on
 * the defaults alone; a file only overrides.
 *
 * File syntax: "name = value" per line, '#' starts a comment.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"
#include "jobd/client.h"
#include "log.h"
#include "xmalloc.h"

enum opt_type {
	OPT_STRING, OPT_SIZE, OPT_DURATION, OPT_UINT, OPT_MODE, OPT_TIER,
	OPT_SLOTS, OPT_STORE, OPT_RLIMIT, OPT_NICE, OPT_LOG_TARGET, OPT_LOG_LEVEL,
	OPT_LIST
};

struct opt {
	const char	*name;
	enum opt_type	 type;
	size_t		 off;
	double		 min, max;
	const char	*def;
	const char	*help;
	int		 reload;	/* SIGHUP applies it (else: restart) */
};

#define OFF(f)	offsetof(struct jobd_config, f)

static const struct opt opts[] = {
	{ "socket", OPT_STRING, OFF(socket_path), 0, 0, "",
	  "control socket path; empty: the built-in default", 0 },
	{ "max_line", OPT_SIZE, OFF(max_line), 1024, 64.0 * 1024 * 1024, "1M",
	  "longest request line", 1 },
	{ "max_output", OPT_SIZE, OFF(max_output), 0, JOBD_MAX_OUTPUT_LIMIT,
	  "1M", "default capture bound per stream", 1 },
	{ "max_output_limit", OPT_SIZE, OFF(max_output_limit), 0,
	  1024.0 * 1024 * 1024, "16M",
	  "largest max_output a request may ask", 1 },
	{ "kill_after", OPT_DURATION, OFF(kill_after), 0, JOBD_DURATION_MAX,
	  "5s", "default grace between the signal and SIGKILL", 1 },
	{ "retention", OPT_DURATION, OFF(retention), 0, JOBD_DURATION_MAX,
	  "10m", "how long ended jobs stay retrievable", 1 },
	{ "max_retained", OPT_UINT, OFF(max_retained), 0, 10000000, "10000",
	  "most ended jobs kept; the oldest go first", 1 },
	{ "max_retained_output", OPT_SIZE, OFF(max_retained_output), 0,
	  1024.0 * 1024 * 1024 * 1024, "1G",
	  "captured output kept for ended jobs, in total; the oldest go "
	  "first", 1 },
	{ "max_reply_buffer", OPT_SIZE, OFF(max_reply_buffer), 65536,
	  4.0 * 1024 * 1024 * 1024, "256M",
	  "replies queued for a client that does not read, before it is "
	  "cut", 1 },
	{ "job_umask", OPT_MODE, OFF(job_umask), 0, 0777, "022",
	  "umask of every job", 1 },
	{ "shutdown_grace", OPT_DURATION, OFF(shutdown_grace), 0, 3600, "2s",
	  "on shutdown, how long clients get to read their last replies", 1 },
	{ "unkillable_after", OPT_DURATION, OFF(unkillable_after), 0.1, 3600,
	  "10s", "after SIGKILL, when a job still alive is called "
	  "unkillable", 1 },
	{ "containment", OPT_TIER, OFF(containment), 0, 0, "auto",
	  "how jobs are contained: auto (the strongest available), cgroup2, "
	  "pidns, subreaper, pgid", 0 },
	{ "max_running", OPT_SLOTS, OFF(max_running), 0, 1000000, "auto",
	  "jobs running at once: auto (4 per CPU), a number, or unlimited "
	  "(0)", 1 },
	{ "max_queued", OPT_UINT, OFF(max_queued), 0, 10000000, "10000",
	  "jobs waiting for a slot; beyond, run fails with queue_full", 1 },
	{ "max_output_file", OPT_SIZE, OFF(max_output_file), 0,
	  1024.0 * 1024 * 1024 * 1024, "1G",
	  "bytes of one stream a job writes to its output file "
	  "(output_file)", 1 },
	{ "max_output_files", OPT_SIZE, OFF(max_output_files), 0,
	  1024.0 * 1024 * 1024 * 1024 * 1024, "10G",
	  "all output files together; the oldest ended jobs go first", 1 },
	{ "state_dir", OPT_STRING, OFF(state_dir), 0, 0, "",
	  "the job store's directory; empty: /var/lib/jobd as root, else "
	  "$XDG_STATE_HOME/jobd", 0 },
	{ "store", OPT_STORE, OFF(store_memory), 0, 1, "disk",
	  "disk: jobs survive a restart; memory: they do not (tests, "
	  "throwaway use)", 0 },
	/* Limits (issue 6): docs/security.md lists them all. */
	{ "max_args", OPT_UINT, OFF(max_args), 1, 10000000, "16384",
	  "strings in a run's argv; beyond, run fails with too_large", 1 },
	{ "max_args_bytes", OPT_SIZE, OFF(max_args_bytes), 1,
	  1024.0 * 1024 * 1024, "1M",
	  "bytes of a run's argv strings together", 1 },
	{ "max_env", OPT_UINT, OFF(max_env), 0, 10000000, "4096",
	  "entries in a run's env; beyond, run fails with too_large", 1 },
	{ "max_env_bytes", OPT_SIZE, OFF(max_env_bytes), 0,
	  1024.0 * 1024 * 1024, "1M",
	  "bytes of a run's env entries (NAME=VALUE) together", 1 },
	{ "max_running_per_user", OPT_UINT, OFF(max_running_per_user), 0,
	  1000000, "0",
	  "jobs of one uid running at once (more wait in the queue without "
	  "holding up other users'); 0: unlimited", 1 },
	{ "max_queued_per_user", OPT_UINT, OFF(max_queued_per_user), 0,
	  10000000, "0",
	  "jobs of one uid waiting; beyond, run fails with queue_full; 0: "
	  "only max_queued", 1 },
	{ "max_conns", OPT_UINT, OFF(max_conns), 0, 10000000, "4096",
	  "client connections at once; beyond, refused with limit; 0: "
	  "unlimited", 1 },
	{ "max_conns_per_user", OPT_UINT, OFF(max_conns_per_user), 0, 10000000,
	  "1024", "connections of one uid at once; 0: unlimited", 1 },
	{ "client_idle_timeout", OPT_DURATION, OFF(client_idle_timeout), 0,
	  JOBD_DURATION_MAX, "30s",
	  "a request line must arrive whole within this of its first byte, "
	  "or the client is cut; 0: no bound", 1 },
	{ "rlimit_cpu", OPT_RLIMIT, OFF(rlimit[JOBD_RLIM_CPU]), 0, 0,
	  "unlimited", "RLIMIT_CPU of every job, seconds: its default and "
	  "the most a run may ask", 1 },
	{ "rlimit_as", OPT_RLIMIT, OFF(rlimit[JOBD_RLIM_AS]), 0, 0,
	  "unlimited", "RLIMIT_AS of every job, bytes", 1 },
	{ "rlimit_nofile", OPT_RLIMIT, OFF(rlimit[JOBD_RLIM_NOFILE]), 0, 0,
	  "unlimited", "RLIMIT_NOFILE of every job; unlimited: the soft "
	  "limit jobd started with", 1 },
	{ "rlimit_nproc", OPT_RLIMIT, OFF(rlimit[JOBD_RLIM_NPROC]), 0, 0,
	  "unlimited", "RLIMIT_NPROC of every job: processes of its real "
	  "uid (does not bind root)", 1 },
	{ "rlimit_fsize", OPT_RLIMIT, OFF(rlimit[JOBD_RLIM_FSIZE]), 0, 0,
	  "unlimited", "RLIMIT_FSIZE of every job, bytes", 1 },
	{ "rlimit_core", OPT_RLIMIT, OFF(rlimit[JOBD_RLIM_CORE]), 0, 0,
	  "0", "RLIMIT_CORE of every job, bytes (0: no core dumps)", 1 },
	{ "nice", OPT_NICE, OFF(nice), -20, 19, "0",
	  "niceness of every job; a run may ask for more, never less", 1 },
	/* Logging (see log.c); jobd -l and -v override these. */
	{ "log", OPT_LOG_TARGET, OFF(log_to), 0, 0, "stderr",
	  "where jobd logs: stderr (the journal under systemd) or syslog "
	  "(facility daemon)", 1 },
	{ "log_level", OPT_LOG_LEVEL, OFF(log_level), 0, 0, "info",
	  "least severe lines logged: error, warning, info or debug", 1 },
	/* Who may do what (auth.c): lists of names, by commas or spaces. */
	{ "allow_users", OPT_LIST, OFF(allow_users), 0, 0, "",
	  "as root: users (names or uids) admitted besides root", 1 },
	{ "allow_groups", OPT_LIST, OFF(allow_groups), 0, 0, "jobd",
	  "as root: groups whose members are admitted", 1 },
	{ "admin_groups", OPT_LIST, OFF(admin_groups), 0, 0, "",
	  "as root: groups whose members are admitted and see every job", 1 },
	{ "spawn_timeout", OPT_DURATION, OFF(spawn_timeout), 0.1, 600, "5s",
	  "how long a job may take from its spawn to its exec; beyond, it is "
	  "killed and fails (a user may stop their job's process before "
	  "it execs)", 1 },
};

struct jobd_config cfg;

static int	opt_set(struct jobd_config *, const struct opt *, const char *,
		    char *, size_t);

static int
parse_size(const char *s, double *out)
{
	char	*end;
	double	 v, mult = 1;

	/* Decimal digits only: no sign, hex, fraction or exponent. */
	errno = 0;
	if (!isdigit((unsigned char)*s))
		return (-1);
	v = (double)strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return (-1);
	switch (*end) {
	case 'k': case 'K': mult = 1024; end++; break;
	case 'm': case 'M': mult = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
	}
	if (*end != '\0')
		return (-1);
	*out = v * mult;
	return (0);
}

/* max_running = auto: 4 jobs per online CPU. */
static unsigned int
config_auto_slots(void)
{
	long	n = sysconf(_SC_NPROCESSORS_ONLN);

	return (n > 0 ? 4 * (unsigned int)n : 4);
}

static int
opt_set(struct jobd_config *c, const struct opt *o, const char *val,
    char *err, size_t errlen)
{
	void	*p = (char *)c + o->off;
	double	 v = 0;
	char	*end;
	int	 t;

	switch (o->type) {
	case OPT_LIST:
		for (end = (char *)val; *end != '\0'; end++)
			if (!isgraph((unsigned char)*end) && *end != ' ' &&
			    *end != '\t') {
				snprintf(err, errlen, "%s: control character "
				    "in the list", o->name);
				return (-1);
			}
		/* FALLTHROUGH */
	case OPT_STRING:
		free(*(char **)p);
		*(char **)p = *val != '\0' ? xstrdup(val) : NULL;
		return (0);
	case OPT_TIER:
		if (contain_parse_tier(val, &t) == -1) {
			snprintf(err, errlen, "%s: '%s' is not one of auto, "
			    "cgroup2, pidns, subreaper, pgid", o->name, val);
			return (-1);
		}
		free(*(char **)p);
		*(char **)p = xstrdup(val);
		return (0);
	case OPT_STORE:
		if (strcmp(val, "disk") != 0 && strcmp(val, "memory") != 0) {
			snprintf(err, errlen, "%s: '%s' is not disk or memory",
			    o->name, val);
			return (-1);
		}
		*(int *)p = strcmp(val, "memory") == 0;
		return (0);
	case OPT_RLIMIT:
		if (strcmp(val, "unlimited") == 0) {
			*(uint64_t *)p = RLIM_INFINITY;
			return (0);
		}
		if (parse_size(val, &v) == -1 || v >= 0x1p63) {
			snprintf(err, errlen, "%s: '%s' is not a number or "
			    "unlimited", o->name, val);
			return (-1);
		}
		*(uint64_t *)p = (uint64_t)v;
		return (0);
	case OPT_NICE:
		errno = 0;
		t = (int)strtol(val, &end, 10);
		if (errno != 0 || end == val || *end != '\0' ||
		    t < o->min || t > o->max) {
			snprintf(err, errlen, "%s: '%s' is not an integer from "
			    "-20 to 19", o->name, val);
			return (-1);
		}
		*(int *)p = t;
		return (0);
	case OPT_LOG_TARGET:
		if ((t = log_parse_target(val)) == -1) {
			snprintf(err, errlen, "%s: '%s' is not stderr or "
			    "syslog", o->name, val);
			return (-1);
		}
		*(unsigned int *)p = (unsigned int)t;
		return (0);
	case OPT_LOG_LEVEL:
		if ((t = log_parse_level(val)) == -1) {
			snprintf(err, errlen, "%s: '%s' is not one of error, "
			    "warning, info, debug", o->name, val);
			return (-1);
		}
		*(unsigned int *)p = (unsigned int)t;
		return (0);
	case OPT_SIZE:
		if (parse_size(val, &v) == -1) {
			snprintf(err, errlen, "%s: invalid size '%s'", o->name,
			    val);
			return (-1);
		}
		break;
	case OPT_DURATION:
		if (jobd_parse_duration(val, &v) == -1) {
			snprintf(err, errlen, "%s: invalid duration '%s'",
			    o->name, val);
			return (-1);
		}
		break;
	case OPT_SLOTS:
		if (strcmp(val, "auto") == 0) {
			*(unsigned int *)p = config_auto_slots();
			return (0);
		}
		if (strcmp(val, "unlimited") == 0) {
			*(unsigned int *)p = 0;
			return (0);
		}
		/* FALLTHROUGH */
	case OPT_UINT:
	case OPT_MODE:
		errno = 0;
		if (!isdigit((unsigned char)*val))
			goto bad;
		v = (double)strtoul(val, &end, o->type == OPT_MODE ? 8 : 10);
		if (errno != 0 || *end != '\0')
			goto bad;
		break;
	}
	if (v < o->min || v > o->max) {
		if (o->type == OPT_MODE)
			snprintf(err, errlen, "%s: %s is out of range [%03o, "
			    "%03o]", o->name, val, (unsigned int)o->min,
			    (unsigned int)o->max);
		else
			snprintf(err, errlen, "%s: %s is out of range "
			    "[%g, %g]", o->name, val, o->min, o->max);
		return (-1);
	}
	switch (o->type) {
	case OPT_SIZE:
		*(size_t *)p = (size_t)v;
		break;
	case OPT_DURATION:
		*(double *)p = v;
		break;
	default:
		*(unsigned int *)p = (unsigned int)v;
		break;
	}
	return (0);
bad:
	snprintf(err, errlen, "%s: invalid number '%s'", o->name, val);
	return (-1);
}

static const struct opt *
opt_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (strcmp(opts[i].name, name) == 0)
			return (&opts[i]);
	return (NULL);
}

/*
 * The name and default of the i-th option, for those that must agree with
 * the table (tests/check_config.c holds etc/jobd.conf and jobd.conf(5) to
 * it). Returns -1 past the last option.
 */
int
config_option(size_t i, const char **name, const char **def)
{
	if (i >= sizeof(opts) / sizeof(opts[0]))
		return (-1);
	*name = opts[i].name;
	*def = opts[i].def;
	return (0);
}

void
config_defaults(struct jobd_config *c)
{
	char	err[256];
	size_t	i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (opt_set(c, &opts[i], opts[i].def, err, sizeof(err)) == -1)
			fatalx("built-in default: %s", err);
}

/* Free what the options own (their strings). */
void
config_free(struct jobd_config *c)
{
	size_t	i;
	char	**p;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (opts[i].type != OPT_STRING && opts[i].type != OPT_TIER &&
		    opts[i].type != OPT_LIST)
			continue;
		p = (char **)((char *)c + opts[i].off);
		free(*p);
		*p = NULL;
	}
}

static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return (s);
}

/*
 * An error in a file: on stderr for jobd -n and at start, through the log
 * (the journal or syslog) when a running jobd reloads.
 */
static int	config_via_log;

static void	config_error(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

static void
config_error(const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (config_via_log)
		log_warnx("%s", msg);
	else
		fprintf(stderr, "%s\n", msg);
}

int
config_load(struct jobd_config *c, const char *path, int quiet)
{
	FILE			*f;
	char			*line = NULL, *p, *key, *val, err[256];
	size_t			 cap = 0;
	ssize_t			 n;
	int			 lineno = 0, errors = 0;
	const struct opt	*o;

	if ((f = fopen(path, "re")) == NULL) {
		if (!quiet)
			config_error("%s: %s", path, strerror(errno));
		return (1);
	}
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		p = trim(line);
		if (*p == '\0')
			continue;
		if ((val = strchr(p, '=')) == NULL) {
			snprintf(err, sizeof(err), "expected 'name = value'");
			goto bad;
		}
		*val++ = '\0';
		key = trim(p);
		val = trim(val);
		if ((o = opt_find(key)) == NULL) {
			snprintf(err, sizeof(err), "unknown option '%s'", key);
			goto bad;
		}
		if (opt_set(c, o, val, err, sizeof(err)) == 0)
			continue;
bad:
		errors++;
		if (!quiet)
			config_error("%s:%d: %s", path, lineno, err);
	}
	if (ferror(f)) {
		errors++;
		if (!quiet)
			config_error("%s: %s", path, strerror(errno));
	}
	free(line);
	fclose(f);
	if (c->max_output > c->max_output_limit) {
		errors++;
		if (!quiet)
			config_error("%s: max_output exceeds max_output_limit",
			    path);
	}
	/* A result holds two streams, each at most 2.5 times its size in JSON. */
	if (c->max_reply_buffer / 6 < c->max_output_limit) {
		errors++;
		if (!quiet)
			config_error("%s: max_reply_buffer must be at least 6 "
			    "times max_output_limit, or a full result cannot "
			    "be sent", path);
	}
	return (errors);
}

void
config_print(const struct jobd_config *c, FILE *f)
{
	size_t		 i;
	const void	*p;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		p = (const char *)c + opts[i].off;
		fprintf(f, "%s = ", opts[i].name);
		switch (opts[i].type) {
		case OPT_STRING:
		case OPT_TIER:
		case OPT_LIST:
			fprintf(f, "%s", *(char *const *)p ? *(char *const *)p : "");
			break;
		case OPT_SIZE:
			fprintf(f, "%zu", *(const size_t *)p);
			break;
		case OPT_DURATION:
			fprintf(f, "%gs", *(const double *)p);
			break;
		case OPT_UINT:
		case OPT_SLOTS:
			fprintf(f, "%u", *(const unsigned int *)p);
			break;
		case OPT_STORE:
			fprintf(f, "%s", *(const int *)p ? "memory" : "disk");
			break;
		case OPT_MODE:
			fprintf(f, "%03o", *(const unsigned int *)p);
			break;
		case OPT_RLIMIT:
			if (*(const uint64_t *)p == RLIM_INFINITY)
				fprintf(f, "unlimited");
			else
				fprintf(f, "%llu", (unsigned long long)
				    *(const uint64_t *)p);
			break;
		case OPT_NICE:
			fprintf(f, "%d", *(const int *)p);
			break;
		case OPT_LOG_TARGET:
			fprintf(f, "%s", *(const unsigned int *)p ==
			    LOG_TO_SYSLOG ? "syslog" : "stderr");
			break;
		case OPT_LOG_LEVEL:
			fprintf(f, "%s",
			    log_level_name((int)*(const unsigned int *)p));
			break;
		}
		fprintf(f, "\t# %s\n", opts[i].help);
	}
}

/* The file jobd was started with (NULL: none), for SIGHUP. */
const char	*config_path;

/* 1 if a and b hold the same value of option o. */
static int
opt_equal(const struct opt *o, const void *a, const void *b)
{
	switch (o->type) {
	case OPT_SIZE:
		return (*(const size_t *)a == *(const size_t *)b);
	case OPT_DURATION:
		return (*(const double *)a == *(const double *)b);
	case OPT_STORE:
	case OPT_NICE:
		return (*(const int *)a == *(const int *)b);
	case OPT_RLIMIT:
		return (*(const uint64_t *)a == *(const uint64_t *)b);
	case OPT_LIST:
		return ((*(char *const *)a == NULL && *(char *const *)b == NULL) ||
		    (*(char *const *)a != NULL && *(char *const *)b != NULL &&
		    strcmp(*(char *const *)a, *(char *const *)b) == 0));
	case OPT_STRING:
	case OPT_TIER:
		return (0);	/* none reloads */
	default:
		return (*(const unsigned int *)a == *(const unsigned int *)b);
	}
}

static void
opt_copy(const struct opt *o, void *to, const void *from)
{
	switch (o->type) {
	case OPT_SIZE:
		*(size_t *)to = *(const size_t *)from;
		break;
	case OPT_DURATION:
		*(double *)to = *(const double *)from;
		break;
	case OPT_STORE:
	case OPT_NICE:
		*(int *)to = *(const int *)from;
		break;
	case OPT_RLIMIT:
		*(uint64_t *)to = *(const uint64_t *)from;
		break;
	case OPT_LIST:
		free(*(char **)to);
		*(char **)to = *(char *const *)from != NULL ?
		    xstrdup(*(char *const *)from) : NULL;
		break;
	default:
		*(unsigned int *)to = *(const unsigned int *)from;
		break;
	}
}

/*
 * SIGHUP: read the file again. A file with any error changes nothing (each
 * error is logged as file:line: message); else the options that can change
 * while jobs run take their new values, and the others (the socket, the
 * containment tier, the state directory, the store) wait for the next
 * start. Without a file: the built-in defaults, the same way.
 */
int
config_reload(struct jobd_config *cur)
{
	struct jobd_config	 next;
	const char		*path = config_path != NULL ? config_path :
				    "(no configuration file)";
	size_t			 i;
	int			 changed = 0, rc;
	void			*a;
	const void		*b;

	config_defaults(&next);
	config_via_log = 1;
	rc = config_path != NULL ? config_load(&next, config_path, 0) : 0;
	config_via_log = 0;
	if (rc != 0) {
		config_free(&next);
		log_warnx("%s: not valid: the configuration in use is kept",
		    path);
		return (-1);
	}
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		if (!opts[i].reload)
			continue;
		a = (char *)cur + opts[i].off;
		b = (const char *)&next + opts[i].off;
		if (opt_equal(&opts[i], a, b))
			continue;
		opt_copy(&opts[i], a, b);
		log_info("%s: %s changed", path, opts[i].name);
		changed++;
	}
	config_free(&next);
	/* Before the summary, so that a level just raised shows it. */
	log_apply((int)cur->log_level, (int)cur->log_to);
	log_info("%s: reloaded, %d options changed (socket, containment, "
	    "state_dir and store only change at the next start)", path,
	    changed);
	return (0);
}
