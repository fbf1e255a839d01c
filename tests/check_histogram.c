/*
 * stats.c's histogram buckets, and log.c's level and target names: the
 * pure logic under the stats op and the log options.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_jobd.h"
#include "jobd.h"
#include "log.h"

/* The bounds grow strictly, from 10 us to 10 s. */
START_TEST(test_bounds)
{
	unsigned int	i;

	ck_assert_uint_eq(stats_bounds_ns[0], 10000);
	ck_assert_uint_eq(stats_bounds_ns[STAT_NBUCKETS - 1], 10000000000ULL);
	for (i = 1; i < STAT_NBUCKETS; i++)
		ck_assert_msg(stats_bounds_ns[i] > stats_bounds_ns[i - 1],
		    "bound %u", i);
}
END_TEST

/* A value goes in the first bucket whose bound is at or above it ("le"). */
START_TEST(test_bucket_edges)
{
	unsigned int	i;

	ck_assert_uint_eq(stats_bucket(0), 0);
	ck_assert_uint_eq(stats_bucket(1), 0);
	for (i = 0; i < STAT_NBUCKETS; i++) {
		ck_assert_uint_eq(stats_bucket(stats_bounds_ns[i]), i);
		ck_assert_uint_eq(stats_bucket(stats_bounds_ns[i] + 1), i + 1);
		if (i > 0)
			ck_assert_uint_eq(stats_bucket(stats_bounds_ns[i] - 1),
			    stats_bounds_ns[i] - 1 == stats_bounds_ns[i - 1] ?
			    i - 1 : i);
	}
	/* Past the last bound: the +Inf bucket. */
	ck_assert_uint_eq(stats_bucket(UINT64_MAX), STAT_NBUCKETS);
	ck_assert_uint_eq(stats_bucket(3000000), 8);	/* 3 ms: le 5 ms */
}
END_TEST

/* Counting by end state: only the end states count, each in its own. */
START_TEST(test_job_ended)
{
	stats_init();
	stats_job_ended(JOB_RUNNING);
	stats_job_ended(JOB_QUEUED);
	stats_job_ended(JOB_TERMINATING);
	stats_job_ended(JOB_EXITED);
	stats_job_ended(JOB_EXITED);
	stats_job_ended(JOB_TIMED_OUT);
	stats_job_ended(JOB_LOST);
	ck_assert_uint_eq(stats_counters[STAT_EXITED], 2);
	ck_assert_uint_eq(stats_counters[STAT_TIMED_OUT], 1);
	ck_assert_uint_eq(stats_counters[STAT_LOST], 1);
	ck_assert_uint_eq(stats_counters[STAT_SIGNALED], 0);
	ck_assert_uint_eq(stats_counters[STAT_SPAWNED], 0);
}
END_TEST

START_TEST(test_log_names)
{
	int	i;

	for (i = LOG_LVL_ERROR; i <= LOG_LVL_DEBUG; i++)
		ck_assert_int_eq(log_parse_level(log_level_name(i)), i);
	ck_assert_int_eq(log_parse_level("warning"), LOG_LVL_WARN);
	ck_assert_int_eq(log_parse_level("warn"), -1);
	ck_assert_int_eq(log_parse_level("DEBUG"), -1);
	ck_assert_int_eq(log_parse_level(""), -1);
	ck_assert_int_eq(log_parse_target("syslog"), LOG_TO_SYSLOG);
	ck_assert_int_eq(log_parse_target("stderr"), LOG_TO_STDERR);
	ck_assert_int_eq(log_parse_target("journal"), -1);
}
END_TEST

/* -v raises the configuration's level (up to debug); -l beats "log". */
START_TEST(test_log_cmdline)
{
	log_cmdline(1, -1);
	log_apply(LOG_LVL_WARN, LOG_TO_STDERR);
	ck_assert_int_eq(log_getverbose(), LOG_LVL_INFO);
	log_apply(LOG_LVL_INFO, LOG_TO_STDERR);
	ck_assert_int_eq(log_getverbose(), LOG_LVL_DEBUG);
	log_apply(LOG_LVL_DEBUG, LOG_TO_STDERR);
	ck_assert_int_eq(log_getverbose(), LOG_LVL_DEBUG);
	log_cmdline(0, LOG_TO_STDERR);
	log_apply(LOG_LVL_ERROR, LOG_TO_SYSLOG);
	ck_assert_int_eq(log_getverbose(), LOG_LVL_ERROR);
	ck_assert_int_eq(log_get_target(), LOG_TO_STDERR);
	log_cmdline(0, -1);
	log_apply(LOG_LVL_INFO, LOG_TO_SYSLOG);
	ck_assert_int_eq(log_get_target(), LOG_TO_SYSLOG);
	log_apply(LOG_LVL_INFO, LOG_TO_STDERR);
	ck_assert_int_eq(log_get_target(), LOG_TO_STDERR);
}
END_TEST

/* Newlines, ESC and quotes cannot reach a log line as they are. */
START_TEST(test_escape)
{
	char	*e = log_escape("a\nb\033c\"d\\", 8);

	ck_assert_str_eq(e, "a\\012b\\033c\\\"d\\\\");
	free(e);
}
END_TEST

/* log and log_level in a file; a bad value is an error with its line. */
START_TEST(test_log_options)
{
	struct jobd_config	 c;
	char			 path[] = "/tmp/jobd-check-log.XXXXXX";
	const char		*text = "log = syslog\nlog_level = debug\n";
	int			 fd;

	config_defaults(&c);
	ck_assert_uint_eq(c.log_to, LOG_TO_STDERR);
	ck_assert_uint_eq(c.log_level, LOG_LVL_INFO);
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(config_load(&c, path, 1), 0);
	ck_assert_uint_eq(c.log_to, LOG_TO_SYSLOG);
	ck_assert_uint_eq(c.log_level, LOG_LVL_DEBUG);
	ck_assert_int_ne(fd = open(path, O_WRONLY | O_TRUNC), -1);
	text = "log = journal\nlog_level = loud\n";
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_int_eq(config_load(&c, path, 1), 2);
	unlink(path);
	config_free(&c);
}
END_TEST

Suite *
histogram_suite(void)
{
	Suite	*s = suite_create("histogram");
	TCase	*tc = tcase_create("stats");

	tcase_add_test(tc, test_bounds);
	tcase_add_test(tc, test_bucket_edges);
	tcase_add_test(tc, test_job_ended);
	tcase_add_test(tc, test_log_names);
	tcase_add_test(tc, test_log_cmdline);
	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_log_options);
	suite_add_tcase(s, tc);
	return (s);
}
