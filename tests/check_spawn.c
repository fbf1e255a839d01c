/* spawn.c: real spawns: new session, exec errors reported precisely, child
 * hygiene (signals, mask, fds, umask). */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_jobd.h"
#include "jobd.h"

/* Literals are const under -Wwrite-strings; exec takes char *const[]. */
#define L(s)	((char *)(s))

static char *const default_env[] = { L("PATH=" JOBD_DEFAULT_PATH), NULL };

struct run {
	pid_t	pid;
	int	status;
	char	out[8192];
	size_t	len;
};

/* Spawn argv with stdout to a pipe; collect its output and exit status. */
static int
run(char *const *argv, const char *cwd, struct run *r, struct spawn_err *se)
{
	struct spawn_req	req;
	int			p[2], devnull;
	ssize_t			n;

	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ne(devnull, -1);
	memset(&req, 0, sizeof(req));
	req.argv = argv;
	req.envp = default_env;
	req.cwd = cwd;
	req.fd_in = devnull;
	req.fd_out = p[1];
	req.fd_err = p[1];
	req.umask = 027;
	req.cgroup_fd = -1;
	r->pid = spawn_job(&req, se);
	close(p[1]);
	close(devnull);
	if (r->pid == -1) {
		close(p[0]);
		return (-1);
	}
	while ((n = read(p[0], r->out + r->len,
	    sizeof(r->out) - 1 - r->len)) > 0)
		r->len += (size_t)n;
	r->out[r->len] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(r->pid, &r->status, 0), r->pid);
	return (0);
}

START_TEST(test_exit_status)
{
	char *const		argv[] = { L("sh"), L("-c"),
				    L("echo out; exit 3"), NULL };
	struct spawn_err	se;
	struct run		r;

	ck_assert_int_eq(run(argv, "/", &r, &se), 0);
	ck_assert(WIFEXITED(r.status));
	ck_assert_int_eq(WEXITSTATUS(r.status), 3);
	ck_assert_str_eq(r.out, "out\n");
}
END_TEST

/* The job leads its own session and process group. */
START_TEST(test_new_session)
{
	char *const		argv2[] = { L("sh"), L("-c"), L("cat /proc/$$/stat"),
				    NULL };
	struct spawn_err	se;
	struct run		r;
	long			pid, pgid, sid;
	char			*p;

	ck_assert_int_eq(run(argv2, "/", &r, &se), 0);
	p = strrchr(r.out, ')');
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + 1, " %*c %*d %ld %ld", &pgid, &sid), 2);
	pid = r.pid;
	ck_assert_int_eq(pgid, pid);
	ck_assert_int_eq(sid, pid);
	ck_assert_int_ne(sid, getsid(0));
}
END_TEST

START_TEST(test_enoent)
{
	char *const		argv[] = { L("no-such-program-jobd"), NULL };
	char *const		argv2[] = { L("/nonexistent/prog"), NULL };
	struct spawn_err	se;
	struct run		r;

	ck_assert_int_eq(run(argv, "/", &r, &se), -1);
	ck_assert_int_eq(se.err, ENOENT);
	ck_assert_str_eq(se.step, "execve");
	ck_assert_ptr_nonnull(strstr(se.msg, "no-such-program-jobd"));
	ck_assert_int_eq(run(argv2, "/", &r, &se), -1);
	ck_assert_int_eq(se.err, ENOENT);
}
END_TEST

START_TEST(test_eacces)
{
	char			 path[] = "/tmp/jobd-check-noexec.XXXXXX";
	char *const		 argv[] = { path, NULL };
	struct spawn_err	 se;
	struct run		 r;
	int			 fd;

	fd = mkstemp(path);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	ck_assert_int_eq(chmod(path, 0644), 0);
	/* root bypasses the mode bits for reading, not for executing. */
	ck_assert_int_eq(run(argv, "/", &r, &se), -1);
	ck_assert_int_eq(se.err, EACCES);
	unlink(path);
}
END_TEST

START_TEST(test_bad_cwd)
{
	char *const		argv[] = { L("true"), NULL };
	struct spawn_err	se;
	struct run		r;

	ck_assert_int_eq(run(argv, "/nonexistent-dir", &r, &se), -1);
	ck_assert_int_eq(se.err, ENOENT);
	ck_assert_str_eq(se.step, "chdir");
	ck_assert_ptr_nonnull(strstr(se.msg, "/nonexistent-dir"));
}
END_TEST

/*
 * What jobd itself ignores, blocks or has open must not reach the job. Only
 * signals 1-31 are checked: glibc keeps 32 and 33 for itself.
 */
START_TEST(test_hygiene)
{
	char *const		argv[] = { L("sh"), L("-c"),
	    L("grep -E '^(SigIgn|SigBlk)' /proc/self/status; umask; "
	    "ls /proc/self/fd | tr '\\n' ' '"), NULL };
	struct spawn_err	se;
	struct run		r;
	sigset_t		block;
	unsigned long long	ign, blk;
	char			*p;
	int			leak;

	ck_assert(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	ck_assert(signal(SIGUSR2, SIG_IGN) != SIG_ERR);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	ck_assert_int_eq(sigprocmask(SIG_BLOCK, &block, NULL), 0);
	/* Not close-on-exec, on purpose, and far from the low numbers. */
	leak = open("/dev/null", O_RDONLY);
	ck_assert_int_gt(leak, 2);
	ck_assert_int_eq(dup2(leak, 50), 50);
	spawn_init();	/* as jobd does once its signals are set up */

	ck_assert_int_eq(run(argv, "/", &r, &se), 0);
	p = strstr(r.out, "SigBlk:");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p, "SigBlk: %llx", &blk), 1);
	p = strstr(r.out, "SigIgn:");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p, "SigIgn: %llx", &ign), 1);
	ck_assert_msg((blk & 0x7fffffffULL) == 0, "blocked: %llx", blk);
	ck_assert_msg((ign & 0x7fffffffULL) == 0, "ignored: %llx", ign);
	ck_assert_ptr_nonnull(strstr(r.out, "0027"));
	/* ls sees 0 1 2 and its own directory fd (3), nothing else. */
	p = strstr(r.out, "\n0 ");
	ck_assert_ptr_nonnull(p);
	ck_assert_msg(strcmp(p + 1, "0 1 2 3 ") == 0, "fds: %s", p + 1);
	close(leak);
	close(50);
}
END_TEST

Suite *
spawn_suite(void)
{
	Suite	*s = suite_create("spawn");
	TCase	*tc = tcase_create("spawn");

	tcase_add_test(tc, test_exit_status);
	tcase_add_test(tc, test_new_session);
	tcase_add_test(tc, test_enoent);
	tcase_add_test(tc, test_eacces);
	tcase_add_test(tc, test_bad_cwd);
	tcase_add_test(tc, test_hygiene);
	suite_add_tcase(s, tc);
	return (s);
}
