/* job.c: the state machine's transitions, as a full table. */
#include "check_jobd.h"
#include "jobd.h"

#define NSTATES	(JOB_LOST + 1)

/* Allowed transitions: mirror of the diagram in docs/protocol.md. */
static const int allowed[NSTATES][NSTATES] = {
	/*                    que run ter exi sig tim can fai exp los */
	[JOB_QUEUED] =      { 0,  1,  0,  0,  0,  0,  1,  0,  1,  1 },
	[JOB_RUNNING] =     { 0,  0,  1,  1,  1,  0,  0,  1,  0,  0 },
	[JOB_TERMINATING] = { 0,  0,  0,  1,  1,  1,  1,  0,  0,  0 },
	[JOB_EXITED] =      { 0 },
	[JOB_SIGNALED] =    { 0 },
	[JOB_TIMED_OUT] =   { 0 },
	[JOB_CANCELLED] =   { 0 },
	[JOB_FAILED] =      { 0 },
	[JOB_EXPIRED] =     { 0 },
	[JOB_LOST] =        { 0 },
};

START_TEST(test_transitions)
{
	int	from, to;

	for (from = 0; from < NSTATES; from++)
		for (to = 0; to < NSTATES; to++)
			ck_assert_msg(job_state_valid(from, to) ==
			    allowed[from][to], "%s -> %s",
			    job_state_name(from), job_state_name(to));
}
END_TEST

START_TEST(test_names)
{
	static const char *names[NSTATES] = { "queued", "running",
	    "terminating", "exited", "signaled", "timed_out", "cancelled",
	    "failed", "expired", "lost" };
	int	s;

	for (s = 0; s < NSTATES; s++)
		ck_assert_str_eq(job_state_name(s), names[s]);
	ck_assert_str_eq(job_state_name(NSTATES + 3), "unknown");
}
END_TEST

Suite *
job_suite(void)
{
	Suite	*s = suite_create("job");
	TCase	*tc = tcase_create("state machine");

	tcase_add_test(tc, test_transitions);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return (s);
}
