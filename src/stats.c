/*
 * Counters and histograms since jobd started, and the stats op's reply.
 * Counting is an increment in place (stats_count(), stats_observe()): the
 * hot paths pay nothing more. The jobs by state are counted when asked, by
 * job.c, over what the asking connection may see.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobd.h"

static const char *const counter_names[STAT_NCOUNTERS] = {
	[STAT_SPAWNED] =		"spawned",
	[STAT_EXITED] =			"exited",
	[STAT_SIGNALED] =		"signaled",
	[STAT_TIMED_OUT] =		"timed_out",
	[STAT_CANCELLED] =		"cancelled",
	[STAT_FAILED] =			"failed",
	[STAT_EXPIRED] =		"expired",
	[STAT_LOST] =			"lost",
	[STAT_KILL_ESCALATIONS] =	"kill_escalations",
	[STAT_STRAYS_KILLED] =		"strays_killed",
	[STAT_OUTPUT_DROPPED] =		"output_dropped_bytes",
	[STAT_CONN_ACCEPTED] =		"connections_accepted",
	[STAT_CONN_REFUSED] =		"connections_refused",
};

static const char *const hist_names[STAT_NHISTS] = {
	[STAT_DEADLINE_LATENESS] =	"deadline_lateness",
	[STAT_SPAWN_LATENCY] =		"spawn_latency",
};

/*
 * Upper bounds (inclusive, as Prometheus's "le") of the buckets, in ns:
 * 1, 2.5 and 5 per decade from 10 us to 10 s. A value above the last one
 * is only in the count (the +Inf bucket).
 */
const uint64_t stats_bounds_ns[STAT_NBUCKETS] = {
	10000, 25000, 50000,
	100000, 250000, 500000,
	1000000, 2500000, 5000000,
	10000000, 25000000, 50000000,
	100000000, 250000000, 500000000,
	1000000000, 2500000000ULL, 5000000000ULL,
	10000000000ULL,
};

struct hist {
	uint64_t	bucket[STAT_NBUCKETS + 1];	/* not cumulative */
	uint64_t	sum_ns;
	uint64_t	count;
};

uint64_t		 stats_counters[STAT_NCOUNTERS];
static struct hist	 hists[STAT_NHISTS];
static uint64_t		 started_ns;

void
stats_init(void)
{
	memset(stats_counters, 0, sizeof(stats_counters));
	memset(hists, 0, sizeof(hists));
	started_ns = mono_ns();
}

/* The bucket of ns: the first bound at or above it; STAT_NBUCKETS: +Inf. */
unsigned int
stats_bucket(uint64_t ns)
{
	unsigned int	lo = 0, hi = STAT_NBUCKETS, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (ns <= stats_bounds_ns[mid])
			hi = mid;
		else
			lo = mid + 1;
	}
	return (lo);
}

void
stats_observe(enum stat_hist h, uint64_t ns)
{
	hists[h].bucket[stats_bucket(ns)]++;
	hists[h].sum_ns += ns;
	hists[h].count++;
}

/* The counter for a job that ended in state st. */
void
stats_job_ended(enum job_state st)
{
	switch (st) {
	case JOB_EXITED:	stats_count(STAT_EXITED, 1); break;
	case JOB_SIGNALED:	stats_count(STAT_SIGNALED, 1); break;
	case JOB_TIMED_OUT:	stats_count(STAT_TIMED_OUT, 1); break;
	case JOB_CANCELLED:	stats_count(STAT_CANCELLED, 1); break;
	case JOB_FAILED:	stats_count(STAT_FAILED, 1); break;
	case JOB_EXPIRED:	stats_count(STAT_EXPIRED, 1); break;
	case JOB_LOST:		stats_count(STAT_LOST, 1); break;
	default:		break;
	}
}

/* Seconds as json-c would not print them: short, no binary noise. */
static json_object *
secs_json(double v)
{
	char	buf[64];

	snprintf(buf, sizeof(buf), "%.9g", v);
	return (json_object_new_double_s(v, buf));
}

/* {"le": [seconds...], "counts": [cumulative...], "sum": s, "count": n} */
static json_object *
hist_json(const struct hist *h)
{
	json_object	*o = json_object_new_object();
	json_object	*le = json_object_new_array(), *n = json_object_new_array();
	uint64_t	 cum = 0;
	unsigned int	 i;

	for (i = 0; i < STAT_NBUCKETS; i++) {
		cum += h->bucket[i];
		json_object_array_add(le,
		    secs_json((double)stats_bounds_ns[i] / 1e9));
		json_object_array_add(n, json_object_new_int64((int64_t)cum));
	}
	json_object_object_add(o, "le", le);
	json_object_object_add(o, "counts", n);
	json_object_object_add(o, "sum",
	    secs_json((double)h->sum_ns / 1e9));
	json_object_object_add(o, "count",
	    json_object_new_int64((int64_t)h->count));
	return (o);
}

/*
 * The stats op's fields (docs/protocol.md) into resp. Daemon-wide figures
 * only to a connection that sees every job; others get their own jobs.
 */
void
stats_fill(struct conn *c, json_object *resp)
{
	unsigned int	 by_state[JOB_NSTATES], i;
	json_object	*o;
	int		 all = conn_sees_all(c);

	json_object_object_add(resp, "scope",
	    json_object_new_string(all ? "all" : "user"));
	json_object_object_add(resp, "version",
	    json_object_new_string(JOBD_VERSION));
	json_object_object_add(resp, "uptime",
	    secs_json((double)(mono_ns() - started_ns) / 1e9));

	job_count_states(c, by_state);
	o = json_object_new_object();
	for (i = 0; i < JOB_NSTATES; i++)
		json_object_object_add(o, job_state_name((enum job_state)i),
		    json_object_new_int64(by_state[i]));
	json_object_object_add(resp, "jobs", o);
	if (!all)
		return;

	o = json_object_new_object();
	for (i = 0; i < STAT_NCOUNTERS; i++)
		json_object_object_add(o, counter_names[i],
		    json_object_new_int64((int64_t)stats_counters[i]));
	json_object_object_add(resp, "counters", o);
	json_object_object_add(resp, "connections",
	    json_object_new_int64(conn_count()));
	json_object_object_add(resp, "requests", ops_requests_json());

	o = json_object_new_object();
	for (i = 0; i < STAT_NHISTS; i++)
		json_object_object_add(o, hist_names[i], hist_json(&hists[i]));
	json_object_object_add(resp, "histograms", o);
}
