/* config.c: defaults, parsing, errors with their line numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_jobd.h"
#include "jobd.h"

static char *
conf_file(const char *text)
{
	static char	path[] = "/tmp/jobd-check-conf.XXXXXX";
	int		fd;

	strcpy(path, "/tmp/jobd-check-conf.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return (path);
}

START_TEST(test_defaults)
{
	struct jobd_config	c;

	config_defaults(&c);
	ck_assert_ptr_null(c.socket_path);
	ck_assert_uint_eq(c.max_line, 1024 * 1024);
	ck_assert_uint_eq(c.max_output, 1024 * 1024);
	ck_assert_uint_eq(c.max_output_limit, 16 * 1024 * 1024);
	ck_assert_uint_eq(c.max_retained_output, 1024 * 1024 * 1024);
	ck_assert_double_eq(c.kill_after, 5);
	ck_assert_double_eq(c.retention, 600);
	ck_assert_uint_eq(c.max_retained, 10000);
	ck_assert_uint_eq(c.job_umask, 022);
	ck_assert_double_eq(c.unkillable_after, 10);
	ck_assert_str_eq(c.containment, "auto");
	ck_assert_ptr_null(c.allow_users);
	ck_assert_str_eq(c.allow_groups, "jobd");
	ck_assert_ptr_null(c.admin_groups);
	config_free(&c);
}
END_TEST

/* The lists of who may do what: kept as written; empty is none. */
START_TEST(test_lists)
{
	struct jobd_config	 c;
	char			*path;

	config_defaults(&c);
	path = conf_file("allow_users = alice, 1001 bob\nallow_groups =\n"
	    "admin_groups = ops\n");
	ck_assert_int_eq(config_load(&c, path, 1), 0);
	ck_assert_str_eq(c.allow_users, "alice, 1001 bob");
	ck_assert_ptr_null(c.allow_groups);
	ck_assert_str_eq(c.admin_groups, "ops");
	unlink(path);
	path = conf_file("allow_users = al\001ice\n");
	ck_assert_int_eq(config_load(&c, path, 1), 1);
	unlink(path);
	config_free(&c);
}
END_TEST

START_TEST(test_load)
{
	struct jobd_config	 c;
	char			*path;

	config_defaults(&c);
	path = conf_file("# comment\n\nmax_line = 2K\nkill_after = 250ms\n"
	    "  retention=1h   # trailing comment\njob_umask = 077\n"
	    "socket = /tmp/x.sock\nmax_retained = 5\n");
	ck_assert_int_eq(config_load(&c, path, 1), 0);
	ck_assert_uint_eq(c.max_line, 2048);
	ck_assert_double_eq(c.kill_after, 0.25);
	ck_assert_double_eq(c.retention, 3600);
	ck_assert_uint_eq(c.job_umask, 077);
	ck_assert_str_eq(c.socket_path, "/tmp/x.sock");
	ck_assert_uint_eq(c.max_retained, 5);
	config_free(&c);
	unlink(path);
}
END_TEST

START_TEST(test_errors)
{
	struct jobd_config	 c;
	char			*path, out[4096];
	FILE			*saved;
	size_t			 n;

	config_defaults(&c);
	path = conf_file("max_line = 2K\nbogus = 1\nmax_line = 12\n"
	    "kill_after = -1\njob_umask = 999\nno equals sign\n"
	    "max_output = 1Q\n");
	/* Errors go to stderr as file:line: message. */
	saved = stderr;
	stderr = fmemopen(out, sizeof(out), "w");
	ck_assert_int_eq(config_load(&c, path, 0), 6);
	n = (size_t)ftell(stderr);
	fclose(stderr);
	stderr = saved;
	out[n] = '\0';
	ck_assert_msg(strstr(out, ":2: unknown option 'bogus'") != NULL, "%s",
	    out);
	ck_assert_msg(strstr(out, ":3: max_line: 12 is out of range") != NULL,
	    "%s", out);
	ck_assert_msg(strstr(out, ":4: kill_after: invalid duration") != NULL,
	    "%s", out);
	ck_assert_msg(strstr(out, ":5: job_umask") != NULL, "%s", out);
	ck_assert_msg(strstr(out, ":6: expected") != NULL, "%s", out);
	ck_assert_msg(strstr(out, ":7: max_output: invalid size") != NULL,
	    "%s", out);
	/* The good line took effect; the bad ones changed nothing. */
	ck_assert_uint_eq(c.max_line, 2048);
	ck_assert_double_eq(c.kill_after, 5);
	config_free(&c);
	unlink(path);
}
END_TEST

START_TEST(test_containment)
{
	struct jobd_config	 c;
	char			*path;

	config_defaults(&c);
	path = conf_file("containment = pidns\n");
	ck_assert_int_eq(config_load(&c, path, 1), 0);
	ck_assert_str_eq(c.containment, "pidns");
	unlink(path);
	/* A tier jobd does not know is an error, and changes nothing. */
	path = conf_file("containment = cgroup1\n");
	ck_assert_int_eq(config_load(&c, path, 1), 1);
	ck_assert_str_eq(c.containment, "pidns");
	config_free(&c);
	unlink(path);
}
END_TEST

START_TEST(test_missing)
{
	struct jobd_config	c;

	config_defaults(&c);
	ck_assert_int_ne(config_load(&c, "/nonexistent/jobd.conf", 1), 0);
	config_free(&c);
}
END_TEST

Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tcase_create("parse");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_load);
	tcase_add_test(tc, test_lists);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_missing);
	tcase_add_test(tc, test_containment);
	suite_add_tcase(s, tc);
	return (s);
}
