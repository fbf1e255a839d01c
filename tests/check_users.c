/*
 * Who may do what, with real users: created here (useradd, groupadd, with a
 * random suffix) when the suite runs as root, removed at its end whatever
 * happened; skipped otherwise. jobd runs as root; a client of another user
 * is a child of the test that sets its groups, gid and uid, then speaks the
 * protocol and hands the responses back through a pipe.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "e2e.h"
#include "jobd-protocol.h"

#define TEST_TIMEOUT	60
#define AS_USER_MS	15000

/* alice, bob: allowed (allow group); carol: admin; dave: nobody's friend. */
enum { ALICE, BOB, CAROL, DAVE, NUSERS };
static const char *const roles[NUSERS] = { "a", "b", "c", "d" };

struct tuser {
	char	name[32];
	uid_t	uid;
	gid_t	gid;
};

static struct tuser	users[NUSERS];
static char		allow_grp[32], admin_grp[32];
static int		made_users, made_groups;
static pid_t		creator;	/* the runner: test processes exit too */
static const char	*skip_why;

static struct jobd_inst	J;
static pid_t		last_client;	/* as_user()'s last child */

/* Run a program (useradd, ...) quietly; its exit status, or -1. */
static int
sh_run(const char *const argv[])
{
	pid_t	pid;
	int	status, fd;

	if ((pid = fork()) == -1)
		return (-1);
	if (pid == 0) {
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return (-1);
	return (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void
users_remove(void)
{
	int	i;

	if (getpid() != creator)
		return;
	for (i = 0; i < made_users; i++) {
		(void)sh_run((const char *const[]){ "userdel", users[i].name,
		    NULL });
		/* The user's private group, if userdel left it. */
		if (getgrnam(users[i].name) != NULL)
			(void)sh_run((const char *const[]){ "groupdel",
			    users[i].name, NULL });
	}
	made_users = 0;
	if (made_groups > 1)
		(void)sh_run((const char *const[]){ "groupdel", admin_grp,
		    NULL });
	if (made_groups > 0)
		(void)sh_run((const char *const[]){ "groupdel", allow_grp,
		    NULL });
	made_groups = 0;
}

static void
users_remove_on_signal(int sig)
{
	users_remove();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Four users and two groups, or skip_why says why not. */
static void
users_create(void)
{
	struct passwd	*pw;
	unsigned int	 r;
	int		 i;

	if (geteuid() != 0) {
		skip_why = "not root: cannot create test users";
		return;
	}
	if (sh_run((const char *const[]){ "sh", "-c",
	    "command -v useradd && command -v groupadd && command -v userdel",
	    NULL }) != 0) {
		skip_why = "useradd, groupadd or userdel missing";
		return;
	}
	creator = getpid();
	atexit(users_remove);
	signal(SIGINT, users_remove_on_signal);
	signal(SIGTERM, users_remove_on_signal);
	srand((unsigned int)time(NULL) ^ (unsigned int)getpid());
	r = (unsigned int)rand() % 1000000;
	snprintf(allow_grp, sizeof(allow_grp), "jdtallow%06u", r);
	snprintf(admin_grp, sizeof(admin_grp), "jdtadmin%06u", r);
	if (sh_run((const char *const[]){ "groupadd", allow_grp, NULL }) != 0) {
		skip_why = "groupadd failed";
		return;
	}
	made_groups = 1;
	if (sh_run((const char *const[]){ "groupadd", admin_grp, NULL }) != 0) {
		skip_why = "groupadd failed";
		return;
	}
	made_groups = 2;
	for (i = 0; i < NUSERS; i++) {
		snprintf(users[i].name, sizeof(users[i].name), "jdt%s%06u",
		    roles[i], r);
		if (sh_run((const char *const[]){ "useradd", "-M", "-U",
		    "-d", "/nonexistent", "-s", "/bin/sh", users[i].name,
		    i == DAVE ? NULL : "-G", i == CAROL ? admin_grp :
		    allow_grp, NULL }) != 0) {
			skip_why = "useradd failed";
			return;
		}
		made_users = i + 1;
		if ((pw = getpwnam(users[i].name)) == NULL) {
			skip_why = "a new user has no passwd entry";
			return;
		}
		users[i].uid = pw->pw_uid;
		users[i].gid = pw->pw_gid;
	}
}

/*
 * jobd as root, its socket where the users reach it: allow_groups and
 * admin_groups name the test's groups.
 */
static void
start_users_jobd(const char *more)
{
	char	conf[1024], dir[PATH_MAX], *slash;

	snprintf(conf, sizeof(conf), "allow_groups = %s\nadmin_groups = %s\n"
	    "%s", allow_grp, admin_grp, more != NULL ? more : "");
	start_jobd(&J, conf);
	strlcpy(dir, J.dir, sizeof(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		ck_assert_int_eq(chmod(dir, 0755), 0);
	}
}

/* In the child: become u, as login would. */
static void
become(const struct tuser *u)
{
	if (initgroups(u->name, u->gid) == -1 || setgid(u->gid) == -1 ||
	    setuid(u->uid) == -1 || setuid(0) != -1)
		_exit(120);
}

/*
 * As user u: send request line req, read n responses; the last one back,
 * or NULL if jobd closed the connection first. No test assertion runs in
 * the child: it only reports.
 */
static json_object *
as_user(const struct tuser *u, int n, const char *req)
{
	struct jobd_client	*c;
	json_object		*resp = NULL;
	const char		*s;
	char			 err[256], buf[1 << 16];
	size_t			 len;
	pid_t			 pid;
	int			 p[2], i, status;

	cloexec_pipe(p);
	pid = fork();
	ck_assert_msg(pid != -1, "fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		become(u);
		if ((c = jobd_connect(J.sock, err, sizeof(err))) == NULL)
			_exit(121);
		set_recv_timeout(c, AS_USER_MS);
		/* A refused client's send may fail; its error line waits. */
		(void)write(jobd_client_fd(c), req, strlen(req));
		(void)write(jobd_client_fd(c), "\n", 1);
		for (i = 0; i < n; i++) {
			json_object_put(resp);
			if ((resp = jobd_recv(c)) == NULL)
				_exit(0);
		}
		s = json_object_to_json_string_ext(resp,
		    JSON_C_TO_STRING_PLAIN);
		(void)write(p[1], s, strlen(s));
		_exit(0);
	}
	track_pid(pid);
	last_client = pid;
	close(p[1]);
	len = 0;
	ck_assert_msg(read_to_eof(p[0], buf, sizeof(buf), &len,
	    AS_USER_MS + 5000) == 1, "no answer from the child of %s",
	    u->name);
	close(p[0]);
	ck_assert_int_eq(reap_within(pid, &status, AS_USER_MS), 1);
	untrack_pid(pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the client of %s failed (status 0x%x: 120 become, 121 connect)",
	    u->name, status);
	buf[len] = '\0';
	return (len > 0 ? jparse("%s", buf) : NULL);
}

/* The output of a command run here, by the test. */
static void
command_output(const char *cmd, char *out, size_t len)
{
	FILE	*f;
	size_t	 n;

	ck_assert_ptr_nonnull(f = popen(cmd, "r"));
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	ck_assert_int_eq(pclose(f), 0);
}

#define NEED_USERS() do {						\
	if (skip_why != NULL) {						\
		e2e_skip("%s", skip_why);				\
		return;							\
	}								\
} while (0)

/* A job of u's that sleeps, not waited for: its id. */
static long long
sleeper(const struct tuser *u)
{
	json_object	*r;
	long long	 id;

	r = as_user(u, 1, "{\"op\":\"run\",\"argv\":[\"sleep\",\"60\"]}");
	ck_assert_ptr_nonnull(r);
	expect_ok(r);
	id = jint(r, "id");
	json_object_put(r);
	return (id);
}

/*
 * 1. A job runs as the user who asked: uid, gid and groups as `id USER`
 * says; HOME, USER, LOGNAME and SHELL from the passwd entry, whatever the
 * request's env says.
 */
START_TEST(run_as_identity)
{
	json_object	*r, *job;
	struct passwd	*pw;
	char		 want[1024], cmd[128];

	NEED_USERS();
	start_users_jobd(NULL);
	r = as_user(&users[ALICE], 2, "{\"op\":\"run\",\"argv\":[\"id\"],"
	    "\"wait\":true}");
	job = jget(r, "job");
	ck_assert_str_eq(jstr(job, "state"), "exited");
	snprintf(cmd, sizeof(cmd), "id %s", users[ALICE].name);
	command_output(cmd, want, sizeof(want));
	ck_assert_str_eq(jstr(job, "stdout"), want);
	ck_assert_msg(strstr(want, allow_grp) != NULL, "id: %s", want);
	json_object_put(r);

	r = as_user(&users[ALICE], 2, "{\"op\":\"run\",\"argv\":[\"sh\",\"-c\","
	    "\"echo $HOME $USER $LOGNAME $SHELL\"],\"env\":{\"HOME\":\"/x\","
	    "\"USER\":\"root\",\"LOGNAME\":\"root\",\"SHELL\":\"/x\","
	    "\"PATH\":\"/usr/bin:/bin\"},\"wait\":true}");
	job = jget(r, "job");
	ck_assert_ptr_nonnull(pw = getpwnam(users[ALICE].name));
	snprintf(want, sizeof(want), "%s %s %s %s\n", pw->pw_dir,
	    pw->pw_name, pw->pw_name, pw->pw_shell);
	ck_assert_str_eq(jstr(job, "stdout"), want);
	json_object_put(r);

	/* No env: the default PATH of a user that is not root. */
	r = as_user(&users[ALICE], 2, "{\"op\":\"run\",\"argv\":[\"sh\",\"-c\","
	    "\"echo $PATH\"],\"wait\":true}");
	ck_assert_str_eq(jstr(jget(r, "job"), "stdout"),
	    JOBD_USER_PATH "\n");
	json_object_put(r);
}
END_TEST

/* 2. The cwd is entered as the user: one it may not enter fails clearly. */
START_TEST(cwd_checked_as_user)
{
	json_object	*r, *job;
	char		 priv[PATH_MAX], req[PATH_MAX + 128], want[PATH_MAX + 64];

	NEED_USERS();
	start_users_jobd(NULL);
	path_in(&J, "private", priv, sizeof(priv));
	ck_assert_int_eq(mkdir(priv, 0700), 0);
	snprintf(req, sizeof(req), "{\"op\":\"run\",\"argv\":[\"true\"],"
	    "\"cwd\":\"%s\",\"wait\":true}", priv);
	r = as_user(&users[ALICE], 2, req);
	job = jget(r, "job");
	ck_assert_str_eq(jstr(job, "state"), "failed");
	ck_assert_str_eq(jstr(job, "error"), "EACCES");
	snprintf(want, sizeof(want), "cwd %s: Permission denied", priv);
	ck_assert_str_eq(jstr(job, "error_message"), want);
	json_object_put(r);
}
END_TEST

/* jobd's log has a line with these words. */
static int
log_has(void *arg)
{
	char	*text, *line;
	size_t	 len;
	int	 found = 0;

	if ((text = read_text(J.log, &len)) == NULL)
		return (0);
	for (line = strtok(text, "\n"); line != NULL && !found;
	    line = strtok(NULL, "\n"))
			found = strstr(line, (const char *)arg) != NULL;
	free(text);
	return (found);
}

/* 3. A user not allowed gets one forbidden line naming it; jobd logs it. */
START_TEST(refused_user)
{
	json_object	*r;
	const char	*msg;
	char		 uid[32], conf[512], line[128];

	NEED_USERS();
	start_users_jobd(NULL);
	r = as_user(&users[DAVE], 1, "{\"op\":\"ping\"}");
	ck_assert_ptr_nonnull(r);
	msg = jstr(jget(r, "error"), "message");
	snprintf(uid, sizeof(uid), "uid %lu", (unsigned long)users[DAVE].uid);
	ck_assert_msg(strstr(msg, uid) != NULL &&
	    strstr(msg, users[DAVE].name) != NULL &&
	    strstr(msg, allow_grp) != NULL, "message: %s", msg);
	expect_error(r, JOBD_E_FORBIDDEN);
	/* "refused connection from pid N: uid U (NAME) may not use ..." */
	snprintf(line, sizeof(line), "refused connection from pid %ld: uid %lu "
	    "(%s) may not use this jobd", (long)last_client,
	    (unsigned long)users[DAVE].uid, users[DAVE].name);
	ck_assert_msg(wait_until(log_has, line, 5000),
	    "no log line for the refusal");

	/* allow_users admits by name, after a reload. */
	snprintf(conf, sizeof(conf), "allow_groups = %s\nallow_users = "
	    "4000000000, %s\n", allow_grp, users[DAVE].name);
	write_file(J.conf, conf, 0644);
	ck_assert_int_eq(kill(J.pid, SIGHUP), 0);
	ck_assert_msg(wait_until(log_has, (char *)"allow_users changed", 10000),
	    "no reload in the log");
	r = as_user(&users[DAVE], 1, "{\"op\":\"ping\"}");
	expect_ok(r);
	json_object_put(r);
}
END_TEST

/*
 * 4. Another user's job does not exist for alice: status, wait, cancel,
 * signal, output, watch are not_found; list shows only hers. It goes on.
 */
START_TEST(other_users_jobs_hidden)
{
	/* Each op with the id, then its other fields. */
	static const char *const ops[][2] = {
		{ "status", "" },
		{ "wait", "" },
		{ "cancel", "" },
		{ "signal", ",\"signal\":\"KILL\"" },
		{ "output", ",\"stream\":\"stdout\"" },
		{ "watch", "" },
	};
	json_object	*r, *jobs;
	long long	 bob_id, alice_id;
	char		 req[256], want[64];
	size_t		 i;

	NEED_USERS();
	start_users_jobd(NULL);
	bob_id = sleeper(&users[BOB]);
	alice_id = sleeper(&users[ALICE]);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		snprintf(req, sizeof(req), "{\"op\":\"%s\",\"id\":%lld%s}",
		    ops[i][0], bob_id, ops[i][1]);
		r = as_user(&users[ALICE], 1, req);
		/* The same words as for a job that never was. */
		snprintf(want, sizeof(want), "no job %lld", bob_id);
		ck_assert_str_eq(jstr(jget(r, "error"), "message"), want);
		expect_error(r, JOBD_E_NOT_FOUND);
	}
	r = as_user(&users[ALICE], 1, "{\"op\":\"list\"}");
	jobs = jget(r, "jobs");
	ck_assert_int_eq(json_object_array_length(jobs), 1);
	ck_assert_int_eq(jint(json_object_array_get_idx(jobs, 0), "id"),
	    alice_id);
	json_object_put(r);
	/* ping counts alice's own running job, not bob's. */
	r = as_user(&users[ALICE], 1, "{\"op\":\"ping\"}");
	ck_assert_int_eq(jint(r, "running"), 1);
	json_object_put(r);

	/* Bob's job was neither cancelled nor signalled. */
	snprintf(req, sizeof(req), "{\"op\":\"status\",\"id\":%lld}", bob_id);
	r = as_user(&users[BOB], 1, req);
	ck_assert_str_eq(jstr(jget(r, "job"), "state"), "running");
	json_object_put(r);
	/* Bob may end his own. */
	snprintf(req, sizeof(req), "{\"op\":\"cancel\",\"id\":%lld}", bob_id);
	r = as_user(&users[BOB], 1, req);
	expect_ok(r);
	json_object_put(r);
}
END_TEST

/* 5. An admin_groups member, and root, see every job. */
START_TEST(admin_sees_all)
{
	struct jobd_client	*c;
	json_object		*r;
	long long		 bob_id;
	char			 req[128];

	NEED_USERS();
	start_users_jobd(NULL);
	bob_id = sleeper(&users[BOB]);
	(void)sleeper(&users[ALICE]);
	snprintf(req, sizeof(req), "{\"op\":\"status\",\"id\":%lld}", bob_id);
	r = as_user(&users[CAROL], 1, req);
	ck_assert_str_eq(jstr(jget(r, "job"), "state"), "running");
	json_object_put(r);
	r = as_user(&users[CAROL], 1, "{\"op\":\"list\"}");
	ck_assert_int_eq(json_object_array_length(jget(r, "jobs")), 2);
	json_object_put(r);

	c = e2e_connect(&J);
	r = callf(c, "{\"op\":\"list\"}");
	ck_assert_int_eq(json_object_array_length(jget(r, "jobs")), 2);
	json_object_put(r);
	r = callf(c, "{\"op\":\"cancel\",\"id\":%lld}", bob_id);
	expect_ok(r);
	json_object_put(r);
	e2e_close(c);
}
END_TEST

/* 6. "user": forbidden to a user, taken from root (by name or uid). */
START_TEST(user_field)
{
	struct jobd_client	*c;
	json_object		*r, *job;
	char			 req[256], want[32], out[PATH_MAX], *text;
	size_t			 len;

	NEED_USERS();
	start_users_jobd(NULL);
	snprintf(req, sizeof(req), "{\"op\":\"run\",\"argv\":[\"id\",\"-u\"],"
	    "\"user\":\"%s\"}", users[BOB].name);
	r = as_user(&users[ALICE], 1, req);
	expect_error(r, JOBD_E_FORBIDDEN);
	snprintf(req, sizeof(req), "{\"op\":\"run\",\"argv\":[\"id\",\"-u\"],"
	    "\"user\":0}");
	r = as_user(&users[ALICE], 1, req);
	expect_error(r, JOBD_E_FORBIDDEN);

	c = e2e_connect(&J);
	snprintf(want, sizeof(want), "%lu\n", (unsigned long)users[BOB].uid);
	job = run_wait(c, run_req(jargv("id", "-u", NULL), "{\"user\":\"%s\"}",
	    users[BOB].name), NULL);
	ck_assert_str_eq(jstr(job, "stdout"), want);
	json_object_put(job);
	job = run_wait(c, run_req(jargv("id", "-u", NULL), "{\"user\":%lu}",
	    (unsigned long)users[BOB].uid), NULL);
	ck_assert_str_eq(jstr(job, "stdout"), want);
	json_object_put(job);
	r = call(c, run_req(jargv("true", NULL), "{\"user\":\"jdt-no-such\"}"));
	expect_error(r, JOBD_E_BAD_REQUEST);
	e2e_close(c);

	/* jobctl --user, from root. */
	path_in(&J, "jobctl.out", out, sizeof(out));
	ck_assert_int_eq(run_jobctl(&J, NULL, "run", "--user",
	    users[BOB].name, "-C", "/", "--", "id", "-un", NULL), 0);
	text = read_text(out, &len);
	ck_assert_ptr_nonnull(text);
	snprintf(req, sizeof(req), "%s\n", users[BOB].name);
	ck_assert_str_eq(text, req);
	free(text);

	/* Root's environment does not go to bob's job. */
	ck_assert_int_eq(unlink(out), 0);
	ck_assert_int_eq(setenv("JOBD_TEST_SECRET", "hunter2", 1), 0);
	ck_assert_int_eq(run_jobctl(&J, NULL, "run", "--user",
	    users[BOB].name, "-C", "/", "-e", "GIVEN=yes", "--", "sh", "-c",
	    "echo ${JOBD_TEST_SECRET-unset} $GIVEN", NULL), 0);
	unsetenv("JOBD_TEST_SECRET");
	text = read_text(out, &len);
	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, "unset yes\n");
	free(text);
}
END_TEST

/*
 * 8. A user who stops their own job's process before its exec (it runs as
 * them from its set-up on) must not freeze jobd: the spawn guard kills it
 * after spawn_timeout and the run fails, and jobd answers meanwhile. The
 * job's long PATH makes the window before exec wide; a process of the user
 * stops every process of the user (kill -1) until told to end.
 */
START_TEST(stopped_before_exec)
{
	struct jobd_client	*c;
	json_object		*r, *path;
	char			*pathv, *env;
	double			 t0;
	size_t			 i, n = 250000;
	pid_t			 stopper;
	int			 try, failed = 0;

	NEED_USERS();
	start_users_jobd("spawn_timeout = 1s\nmax_env_bytes = 2M\n");
	pathv = malloc(n * 3 + 16);
	ck_assert_ptr_nonnull(pathv);
	for (i = 0; i < n; i++)
		memcpy(pathv + i * 3, "/x:", 3);
	strcpy(pathv + n * 3, "/bin");
	path = json_object_new_string(pathv);
	free(pathv);
	stopper = fork();
	ck_assert_msg(stopper != -1, "fork: %s", strerror(errno));
	if (stopper == 0) {
		become(&users[ALICE]);
		for (i = 0; i < 400000000; i++)
			(void)kill(-1, SIGSTOP);
		_exit(0);
	}
	track_pid(stopper);
	c = e2e_connect(&J);
	for (try = 0; try < 5 && !failed; try++) {
		env = strdup(json_object_to_json_string_ext(path,
		    JSON_C_TO_STRING_PLAIN));
		ck_assert_ptr_nonnull(env);
		r = call(c, run_req(jargv("sleep", "0", NULL), "{\"user\":\"%s\","
		    "\"wait\":true,\"env\":{\"PATH\":%s}}", users[ALICE].name,
		    env));
		free(env);
		expect_ok(r);
		json_object_put(r);
		t0 = now_mono();
		r = recv_resp(c);
		/* The guard fired (1 s) and jobd went on: well under 10 s. */
		ck_assert_msg(now_mono() - t0 < 10, "jobd was held up %.1f s",
		    now_mono() - t0);
		if (strcmp(jstr(jget(r, "job"), "state"), "failed") == 0) {
			ck_assert_msg(strstr(jstr(jget(r, "job"),
			    "error_message"), "spawn_timeout") != NULL,
			    "failed, but not by the guard: %s",
			    jstr(jget(r, "job"), "error_message"));
			failed = 1;
		}
		json_object_put(r);
		expect_ping(c);
	}
	kill(stopper, SIGKILL);
	reap_or_kill(stopper, 5000, "the stopper");
	untrack_pid(stopper);
	json_object_put(path);
	ck_assert_msg(failed, "the stopper never caught a spawn in 5 tries");
}
END_TEST

/*
 * 7. A queued job restored after a restart still runs as its user, and is
 * still its owner's only.
 */
START_TEST(restored_job_keeps_user)
{
	struct jobd_client	*c;
	json_object		*r;
	long long		 blocker, as_bob, alices;
	char			 req[256], want[32];

	NEED_USERS();
	start_users_jobd("max_running = 1\n");
	c = e2e_connect(&J);
	r = call(c, run_req(jargv("sleep", "60", NULL), "{}"));
	blocker = jint(r, "id");
	json_object_put(r);
	r = call(c, run_req(jargv("id", "-u", NULL), "{\"user\":\"%s\"}",
	    users[BOB].name));
	ck_assert_str_eq(jstr(r, "state"), "queued");
	as_bob = jint(r, "id");
	json_object_put(r);
	e2e_close(c);
	r = as_user(&users[ALICE], 1, "{\"op\":\"run\",\"argv\":[\"id\","
	    "\"-u\"]}");
	ck_assert_str_eq(jstr(r, "state"), "queued");
	alices = jint(r, "id");
	json_object_put(r);

	/* A clean stop: queued jobs stay queued in the store. */
	ck_assert_int_eq(kill(J.pid, SIGTERM), 0);
	ck_assert_msg(reap_jobd(&J, E2E_STOP_TIMEOUT_MS), "jobd did not stop");
	restart_jobd(&J);

	c = e2e_connect(&J);
	r = callf(c, "{\"op\":\"wait\",\"id\":%lld}", blocker);
	ck_assert_str_eq(jstr(jget(r, "job"), "state"), "cancelled");
	json_object_put(r);
	r = callf(c, "{\"op\":\"wait\",\"id\":%lld}", as_bob);
	snprintf(want, sizeof(want), "%lu\n", (unsigned long)users[BOB].uid);
	ck_assert_str_eq(jstr(jget(r, "job"), "stdout"), want);
	json_object_put(r);
	e2e_close(c);
	snprintf(req, sizeof(req), "{\"op\":\"wait\",\"id\":%lld}", alices);
	r = as_user(&users[ALICE], 1, req);
	snprintf(want, sizeof(want), "%lu\n", (unsigned long)users[ALICE].uid);
	ck_assert_str_eq(jstr(jget(r, "job"), "stdout"), want);
	json_object_put(r);
	/* Still not bob's to see. */
	r = as_user(&users[BOB], 1, req);
	expect_error(r, JOBD_E_NOT_FOUND);
}
END_TEST

static void
add(Suite *s, const char *name, const TTest *t)
{
	TCase	*tc = tcase_create(name);

	tcase_add_checked_fixture(tc, NULL, e2e_teardown);
	tcase_add_unchecked_fixture(tc, NULL, e2e_sweep);
	tcase_set_timeout(tc, TEST_TIMEOUT);
	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

static Suite *
users_suite(void)
{
	Suite	*s = suite_create("users");

	add(s, "identity", run_as_identity);
	add(s, "cwd", cwd_checked_as_user);
	add(s, "refused", refused_user);
	add(s, "hidden", other_users_jobs_hidden);
	add(s, "admin", admin_sees_all);
	add(s, "user_field", user_field);
	add(s, "restored", restored_job_keeps_user);
	add(s, "stopped_before_exec", stopped_before_exec);
	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	e2e_global_init();
	users_create();
	sr = srunner_create(users_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	users_remove();
	e2e_global_fini();
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
