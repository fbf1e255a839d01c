/*
 * The per-job resource limits by name, for the configuration (rlimit_cpu
 * ...), the run request ("rlimits": {"cpu": ...}) and spawn.c, which sets
 * them in the job before exec. And jobd's own RLIMIT_NOFILE: raised to its
 * hard limit at start, so that it can hold many clients; jobs get the soft
 * limit jobd started with unless rlimit_nofile says otherwise.
 */
#include <sys/resource.h>

#include <string.h>

#include "jobd.h"
#include "log.h"

const struct jobd_rlimit jobd_rlimits[JOBD_NRLIMITS] = {
	[JOBD_RLIM_CPU] = { "cpu", "rlimit_cpu", RLIMIT_CPU, "seconds" },
	[JOBD_RLIM_AS] = { "as", "rlimit_as", RLIMIT_AS, "bytes" },
	[JOBD_RLIM_NOFILE] = { "nofile", "rlimit_nofile", RLIMIT_NOFILE,
	    "descriptors" },
	[JOBD_RLIM_NPROC] = { "nproc", "rlimit_nproc", RLIMIT_NPROC,
	    "processes" },
	[JOBD_RLIM_FSIZE] = { "fsize", "rlimit_fsize", RLIMIT_FSIZE,
	    "bytes" },
	[JOBD_RLIM_CORE] = { "core", "rlimit_core", RLIMIT_CORE, "bytes" },
};

static rlim_t	nofile_orig = RLIM_INFINITY;

int
rlimit_find(const char *name)
{
	int	i;

	for (i = 0; i < JOBD_NRLIMITS; i++)
		if (strcmp(jobd_rlimits[i].name, name) == 0)
			return (i);
	return (-1);
}

void
rlimit_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit RLIMIT_NOFILE");
		return;
	}
	nofile_orig = rl.rlim_cur;
	if (rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("setrlimit RLIMIT_NOFILE %llu",
		    (unsigned long long)rl.rlim_max);
		return;
	}
	log_info("descriptors: soft limit raised from %llu to %llu (jobs "
	    "get %llu)", (unsigned long long)nofile_orig,
	    (unsigned long long)rl.rlim_max, (unsigned long long)nofile_orig);
}

rlim_t
rlimit_nofile_orig(void)
{
	return (nofile_orig);
}
