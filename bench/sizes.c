/*
 * sizes: sizeof of the daemon's structures that include/jobd.h makes
 * visible, to notice when one grows by accident.
 *
 * struct job (src/job.c), struct conn (src/conn.c), struct killer
 * (src/kill.c) and struct output (src/output.c) are opaque by design, so
 * their sizes cannot be printed here. What a job really costs (the struct,
 * its argv, captured output buffers, events, malloc overhead) is measured
 * end to end by bench_throughput instead: jobd's VmRSS before and after its
 * runs, divided by the number of jobs jobd retains.
 */
#include "config.h"

#include <stdio.h>

#include "jobd.h"

#define SIZE(t)	printf("%-22s %4zu bytes\n", #t, sizeof(t))

int
main(void)
{
	SIZE(struct run_req);
	SIZE(struct jobd_config);
	SIZE(struct spawn_req);
	SIZE(struct spawn_err);
	SIZE(struct proto_err);
	printf("%-22s %4s (opaque: src/job.c; per-job memory: "
	    "bench_throughput)\n", "struct job", "-");
	return (0);
}
