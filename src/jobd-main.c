/*
 * jobd: a job-runner daemon. main(): options, configuration, the socket and
 * the event loop. server.c owns signals and the orderly shutdown.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "jobd.h"
#include "log.h"
#include "xmalloc.h"

/* Long forms of the two store options, as the FHS-minded expect them. */
static const struct option longopts[] = {
	{ "memory",	no_argument,		NULL,	'M' },
	{ "state-dir",	required_argument,	NULL,	'S' },
	{ NULL,		0,			NULL,	0 }
};

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: jobd [-dMnv] [-f config] [-l stderr|syslog] "
	    "[-S state_dir] [-s socket]\n");
	exit(1);
}

/*
 * The store's directory: the option, else the FHS's (root) or the XDG
 * base directory's (a user's) place for state that outlives a restart.
 */
static char *
state_dir(const char *arg)
{
	const char	*xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char		*dir;

	if (arg != NULL)
		return (xstrdup(arg));
	if (cfg.state_dir != NULL)
		return (xstrdup(cfg.state_dir));
	if (geteuid() == 0)
		return (xstrdup("/var/lib/jobd"));
	if (xdg != NULL && xdg[0] == '/')
		xasprintf(&dir, "%s/jobd", xdg);
	else if (home != NULL && home[0] == '/')
		xasprintf(&dir, "%s/.local/state/jobd", home);
	else
		fatalx("no state directory: set HOME, XDG_STATE_HOME or -S");
	return (dir);
}

/* STATE_DIR/output: the files of jobs run with "output_file". */
static int
output_dir(const char *dir, char *err, size_t len)
{
	char	path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/output", dir) >=
	    sizeof(path)) {
		snprintf(err, len, "%s/output: path too long", dir);
		return (-1);
	}
	if (mkdir(path, 0700) == -1 && errno != EEXIST) {
		snprintf(err, len, "%.900s: %s", path, strerror(errno));
		return (-1);
	}
	return (0);
}

/* The store, and the jobs in it. On failure jobd does not start. */
static int
open_store(const char *arg)
{
	char	 err[1024], *dir = NULL;
	int	 rc;

	if (!cfg.store_memory)
		dir = state_dir(arg);
	rc = store_open(dir, err, sizeof(err));
	if (rc == 0 && dir != NULL && output_dir(dir, err, sizeof(err)) == -1)
		rc = -1;
	/* From here on, the resolved directory (output files live there). */
	free(cfg.state_dir);
	cfg.state_dir = dir;
	output_files_budget(cfg.max_output_files);
	if (rc == -1 || sched_restore(err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return (-1);
	}
	log_info("job store: %s", cfg.store_memory ? "in memory (jobs do "
	    "not survive a restart)" : store_path());
	return (0);
}

/* A closed 0, 1 or 2 would be reused by a pipe and then clobbered by dup2. */
static void
sane_stdio(void)
{
	int	fd;

	while ((fd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1 && fd <= 2)
		if (fcntl(fd, F_SETFD, 0) == -1)
			fatal("fcntl");
	if (fd == -1)
		fatal("open /dev/null");
	close(fd);
}

static void
libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_WARN)
		log_warnx("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

static struct event_base *
base_new(void)
{
	struct event_config	*ec;
	struct event_base	*b;

	/* Deadlines to the millisecond: the coarse clock ticks at 1-4 ms. */
	if ((ec = event_config_new()) == NULL)
		fatalx("event_config_new");
	event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
	if ((b = event_base_new_with_config(ec)) == NULL)
		fatalx("event_base_new");
	event_config_free(ec);
	return (b);
}

int
main(int argc, char **argv)
{
	const char	*conffile = NULL, *sockarg = NULL, *statearg = NULL;
	int		 ch, raise = 0, checkonly = 0, debug = 0;
	int		 memory = 0, logto = -1;
	int		 tier;

	/* jobd exec'd as a job's shim (contain.c, shim.c): nothing else. */
	if (argc > 1 && strcmp(argv[1], "--shim") == 0)
		return (shim_main(argc, argv));

	while ((ch = getopt_long(argc, argv, "df:hl:MnS:s:v", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'd':
			debug = 1;
			raise = LOG_LVL_DEBUG;
			break;
		case 'f':
			conffile = optarg;
			break;
		case 'l':
			if ((logto = log_parse_target(optarg)) == -1)
				usage();
			break;
		case 'M':
			memory = 1;
			break;
		case 'n':
			checkonly = 1;
			break;
		case 'S':
			statearg = optarg;
			break;
		case 's':
			sockarg = optarg;
			break;
		case 'v':
			raise++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	/* Until the configuration is read: stderr, info and what -v adds. */
	log_init(LOG_LVL_INFO + raise > LOG_LVL_DEBUG ? LOG_LVL_DEBUG :
	    LOG_LVL_INFO + raise);
	sane_stdio();

	config_defaults(&cfg);
	if (conffile != NULL && config_load(&cfg, conffile, 0) != 0) {
		fprintf(stderr, "%s: configuration not valid\n", conffile);
		exit(1);
	}
	config_path = conffile;
	if (checkonly) {
		if (raise > 0)
			config_print(&cfg, stdout);
		printf("configuration OK\n");
		exit(0);
	}
	if (sockarg == NULL)
		sockarg = cfg.socket_path;
	if (memory)
		cfg.store_memory = 1;
	log_cmdline(raise, logto);
	log_apply((int)cfg.log_level, (int)cfg.log_to);
	stats_init();

	/* Room for many clients (max_conns); jobs get the old soft limit. */
	rlimit_raise_nofile();
	event_set_log_callback(libevent_log);
	if (debug)
		event_enable_debug_logging(EVENT_DBG_ALL);
	base = base_new();
	server_signals_init();
	notify_init();
	job_init();
	reap_init();
	sched_init();
	spawn_init();	/* after every change to signal dispositions */
	auth_apply();
	if (control_listen(sockarg) == -1)
		exit(1);
	/* Only once the socket is ours: it names the containers to reclaim. */
	if (contain_parse_tier(cfg.containment, &tier) == -1 ||
	    contain_init(tier, control_path()) == -1) {
		control_close();
		exit(1);
	}
	/* After containment, which has killed what a previous jobd left. */
	if (open_store(statearg) == -1) {
		contain_fini();
		control_close();
		exit(1);
	}
	log_info("jobd %s listening on %s (pid %ld, containment %s)",
	    JOBD_VERSION, control_path(), (long)getpid(),
	    contain_tier_name(contain_tier()));
	notify_ready();

	if (event_base_dispatch(base) == -1)
		fatalx("event_base_dispatch failed");

	control_close();
	conn_free_all();
	if (store_in_txn() && store_commit() == -1)
		log_warnx("%s", store_errmsg());
	job_prune(1);
	sched_free();
	store_close();
	contain_fini();
	reap_free();
	notify_free();
	server_free();
	auth_free();
	event_base_free(base);
	config_free(&cfg);
	log_info("exiting");
	return (0);
}
