/* config.c: defaults, parsing, errors with their line numbers. */
#include <ctype.h>
#include <stdarg.h>
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

/* The limits' options: their defaults, and the two types of their own. */
START_TEST(test_limits)
{
	struct jobd_config	 c;
	char			*path;

	config_defaults(&c);
	ck_assert_uint_eq(c.max_args, 16384);
	ck_assert_uint_eq(c.max_env, 4096);
	ck_assert_uint_eq(c.max_conns, 4096);
	ck_assert_uint_eq(c.max_conns_per_user, 1024);
	ck_assert_uint_eq(c.max_running_per_user, 0);
	ck_assert_double_eq(c.client_idle_timeout, 30);
	ck_assert(c.rlimit[JOBD_RLIM_CPU] == RLIM_INFINITY);
	ck_assert(c.rlimit[JOBD_RLIM_CORE] == 0);
	ck_assert_int_eq(c.nice, 0);
	path = conf_file("rlimit_as = 2G\nrlimit_nofile = 256\n"
	    "rlimit_core = unlimited\nnice = -5\nclient_idle_timeout = 0\n");
	ck_assert_int_eq(config_load(&c, path, 1), 0);
	ck_assert(c.rlimit[JOBD_RLIM_AS] == 2ULL * 1024 * 1024 * 1024);
	ck_assert(c.rlimit[JOBD_RLIM_NOFILE] == 256);
	ck_assert(c.rlimit[JOBD_RLIM_CORE] == RLIM_INFINITY);
	ck_assert_int_eq(c.nice, -5);
	ck_assert_double_eq(c.client_idle_timeout, 0);
	unlink(path);
	path = conf_file("rlimit_cpu = -1\nrlimit_as = lots\nnice = 20\n"
	    "nice = 1.5\nmax_args = 0\n");
	ck_assert_int_eq(config_load(&c, path, 1), 5);
	unlink(path);
	config_free(&c);
}
END_TEST

/*
 * The option table, etc/jobd.conf and jobd.conf(5) must agree: every option
 * in both texts with the table's default, and no other. Read from the
 * source tree, so that an option added to the table alone fails here.
 */
#ifndef JOBD_SRCDIR
#error "JOBD_SRCDIR must name the source tree (etc/jobd.conf, man/jobd.conf.5)"
#endif

struct text {
	char	**line;
	size_t	  n;
};

static void
text_read(const char *rel, struct text *t)
{
	char	 path[4096];
	FILE	*f;
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 len;

	snprintf(path, sizeof(path), "%s/%s", JOBD_SRCDIR, rel);
	f = fopen(path, "re");
	ck_assert_msg(f != NULL, "%s: cannot open", path);
	t->line = NULL;
	t->n = 0;
	while ((len = getline(&line, &cap, f)) != -1) {
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = '\0';
		t->line = realloc(t->line, (t->n + 1) * sizeof(*t->line));
		ck_assert_ptr_nonnull(t->line);
		t->line[t->n] = strdup(line);
		ck_assert_ptr_nonnull(t->line[t->n]);
		t->n++;
		ck_assert_uint_lt(t->n, 100000);
	}
	free(line);
	fclose(f);
}

static void
text_free(struct text *t)
{
	size_t	i;

	for (i = 0; i < t->n; i++)
		free(t->line[i]);
	free(t->line);
}

static int
table_has(const char *name, size_t len)
{
	const char	*n, *d;
	size_t		 i;

	for (i = 0; config_option(i, &n, &d) == 0; i++)
		if (strlen(n) == len && strncmp(n, name, len) == 0)
			return (1);
	return (0);
}

/* Append one complaint; the test lists them all, then fails. */
static void complain(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
complain(char *buf, size_t len, const char *fmt, ...)
{
	size_t	used = strlen(buf);
	va_list	ap;

	va_start(ap, fmt);
	if (used < len)
		vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/*
 * An option line of etc/jobd.conf: "#name = value" (commented out, as
 * shipped) or "name = value"; prose comments start with "# ". Returns the
 * name's length and sets *value (trimmed), or 0 for any other line.
 */
static size_t
conf_option_line(const char *line, const char **name, const char **value)
{
	const char	*p = line, *q;

	if (*p == '#')
		p++;
	if (!islower((unsigned char)*p))
		return (0);
	for (q = p; islower((unsigned char)*q) || isdigit((unsigned char)*q) ||
	    *q == '_'; q++)
		;
	*name = p;
	while (*q == ' ' || *q == '\t')
		q++;
	if (*q != '=')
		return (0);
	for (q++; *q == ' ' || *q == '\t'; q++)
		;
	*value = q;
	return ((size_t)(strcspn(p, " \t=")));
}

START_TEST(test_conf_file_matches_table)
{
	struct text	 t;
	const char	*name, *def, *n, *v;
	char		 errs[8192] = "";
	size_t		 i, j, len;
	int		 found;

	text_read("etc/jobd.conf", &t);
	for (j = 0; j < t.n; j++) {
		if ((len = conf_option_line(t.line[j], &n, &v)) == 0)
			continue;
		if (!table_has(n, len))
			complain(errs, sizeof(errs), "etc/jobd.conf names an "
			    "option the table lacks: %s\n", t.line[j]);
	}
	for (i = 0; config_option(i, &name, &def) == 0; i++) {
		found = 0;
		for (j = 0; j < t.n && !found; j++) {
			len = conf_option_line(t.line[j], &n, &v);
			found = len == strlen(name) &&
			    strncmp(n, name, len) == 0 && strcmp(v, def) == 0;
		}
		if (!found)
			complain(errs, sizeof(errs), "etc/jobd.conf has no "
			    "line \"#%s = %s\" (the table's default)\n", name,
			    def);
	}
	text_free(&t);
	ck_assert_msg(errs[0] == '\0', "%s", errs);
}
END_TEST

/* ".It Cm name Pq type": an option of jobd.conf(5); 0 for any other line. */
static size_t
man_option_line(const char *line, const char **name)
{
	size_t	len;

	if (strncmp(line, ".It Cm ", 7) != 0)
		return (0);
	*name = line + 7;
	len = strcspn(*name, " ");
	if (strncmp(*name + len, " Pq ", 4) != 0)
		return (0);
	return (len);
}

/* The item of option name documents def as its default. */
static int
man_has_default(const struct text *t, size_t item, const char *def)
{
	const char	*n, *ql;
	size_t		 j, len;

	for (j = item + 1; j < t->n; j++) {
		if (man_option_line(t->line[j], &n) != 0 ||
		    strncmp(t->line[j], ".Sh", 3) == 0)
			break;
		if (*def == '\0') {
			if (strncmp(t->line[j], "Default: empty", 14) == 0)
				return (1);
			continue;
		}
		if (strcmp(t->line[j], "Default:") != 0 || j + 1 >= t->n)
			continue;
		ql = t->line[j + 1];
		len = strlen(def);
		if (strncmp(ql, ".Ql ", 4) == 0 &&
		    strncmp(ql + 4, def, len) == 0 &&
		    (ql[4 + len] == '\0' || ql[4 + len] == ' '))
			return (1);
	}
	return (0);
}

START_TEST(test_man_page_matches_table)
{
	struct text	 t;
	const char	*name, *def, *n;
	char		 errs[8192] = "";
	size_t		 i, j, len;
	int		 found;

	text_read("man/jobd.conf.5", &t);
	for (j = 0; j < t.n; j++) {
		if ((len = man_option_line(t.line[j], &n)) == 0)
			continue;
		if (!table_has(n, len))
			complain(errs, sizeof(errs), "jobd.conf.5 names an "
			    "option the table lacks: %s\n", t.line[j]);
	}
	for (i = 0; config_option(i, &name, &def) == 0; i++) {
		found = 0;
		for (j = 0; j < t.n && !found; j++) {
			len = man_option_line(t.line[j], &n);
			found = len == strlen(name) &&
			    strncmp(n, name, len) == 0;
		}
		if (!found)
			complain(errs, sizeof(errs), "jobd.conf.5 has no "
			    "\".It Cm %s Pq type\" item\n", name);
		else if (!man_has_default(&t, j - 1, def))
			complain(errs, sizeof(errs), "jobd.conf.5: %s: no "
			    "\"Default:\" with the table's default '%s'\n",
			    name, def);
	}
	text_free(&t);
	ck_assert_msg(errs[0] == '\0', "%s", errs);
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
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_containment);
	tcase_add_test(tc, test_conf_file_matches_table);
	tcase_add_test(tc, test_man_page_matches_table);
	suite_add_tcase(s, tc);
	return (s);
}
