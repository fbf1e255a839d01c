/*
 * store.c: round trips of every field, transactions, the lock, damaged and
 * foreign files, read-only and full file systems, and crashes of the writer.
 * What needs a mount (read-only, full) runs in a child with its own mount
 * namespace, so nothing is left mounted; without the privilege it prints a
 * SKIP line rather than pass in silence.
 */
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check_jobd.h"
#include "jobd.h"

#define EXIT_SKIP	77

/* Short enough that every path built from them fits PATH_MAX. */
static char	tmp[64], sdir[128], dbpath[192];

/* Failures in a forked child: say what and exit, for the parent to see. */
#define CHILD_CHECK(c) do {						\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: in child: %s (store: %s)\n",	\
		    __FILE__, __LINE__, #c, store_errmsg());		\
		_exit(1);						\
	}								\
} while (0)

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return (remove(path) == -1 && errno != ENOENT ? -1 : 0);
}

static void
setup(void)
{
	strcpy(tmp, "/tmp/jobd-check-store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(sdir, sizeof(sdir), "%s/state", tmp);
	snprintf(dbpath, sizeof(dbpath), "%s/jobs.db", sdir);
}

static void
teardown(void)
{
	store_close();
	nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void
open_ok(const char *dir)
{
	char	err[512];

	ck_assert_msg(store_open(dir, err, sizeof(err)) == 0, "open: %s", err);
}

static void
reopen(void)
{
	store_close();
	open_ok(sdir);
}

/* The exit status of a child: 0 passed, EXIT_SKIP skipped (it printed why). */
static int
child_status(pid_t pid)
{
	int	status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child killed by signal %d",
	    WTERMSIG(status));
	return (WEXITSTATUS(status));
}

static struct store_rec
mkrec(uint64_t id, const char *key, unsigned long uid)
{
	struct store_rec	r;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.state = "queued";
	r.priority = (int)(id % 7) - 3;
	r.key = key;
	r.uid = uid;
	r.submitted_at = 1700000000.25 + (double)id;
	r.request = "{\"argv\":[\"true\"]}";
	return (r);
}

/* What store_load gave, copied out of the callback. */
struct rows {
	struct store_rec	*v;
	size_t			 n;
	size_t			 stop_after;	/* 0: never */
};

static char *
dup_or_null(const char *s)
{
	char	*d;

	if (s == NULL)
		return (NULL);
	d = strdup(s);
	ck_assert_ptr_nonnull(d);
	return (d);
}

static int
collect_cb(const struct store_rec *r, void *arg)
{
	struct rows		*rows = arg;
	struct store_rec	*c;

	rows->v = reallocarray(rows->v, rows->n + 1, sizeof(*rows->v));
	ck_assert_ptr_nonnull(rows->v);
	c = &rows->v[rows->n++];
	*c = *r;
	c->state = dup_or_null(r->state);
	c->key = dup_or_null(r->key);
	c->request = dup_or_null(r->request);
	c->result = dup_or_null(r->result);
	if (rows->stop_after != 0 && rows->n == rows->stop_after)
		return (-1);
	return (0);
}

static void
rows_free(struct rows *rows)
{
	size_t	i;

	for (i = 0; i < rows->n; i++) {
		free((char *)rows->v[i].state);
		free((char *)rows->v[i].key);
		free((char *)rows->v[i].request);
		free((char *)rows->v[i].result);
	}
	free(rows->v);
	memset(rows, 0, sizeof(*rows));
}

static void
load(struct rows *rows)
{
	char	err[512];

	memset(rows, 0, sizeof(*rows));
	ck_assert_msg(store_load(collect_cb, rows, err, sizeof(err)) == 0,
	    "load: %s", err);
}

static int
count_cb(const struct store_rec *r, void *arg)
{
	size_t	*n = arg;

	(*n)++;
	return (0);
}

static size_t
count(void)
{
	char	err[512];
	size_t	n = 0;

	ck_assert_msg(store_load(count_cb, &n, err, sizeof(err)) == 0,
	    "load: %s", err);
	return (n);
}

static void
rec_eq(const struct store_rec *a, const struct store_rec *b)
{
	ck_assert_uint_eq(a->id, b->id);
	ck_assert_str_eq(a->state, b->state);
	ck_assert_int_eq(a->priority, b->priority);
	ck_assert_pstr_eq(a->key, b->key);
	ck_assert_uint_eq(a->uid, b->uid);
	ck_assert_double_eq(a->submitted_at, b->submitted_at);
	ck_assert_double_eq(a->started_at, b->started_at);
	ck_assert_double_eq(a->ended_at, b->ended_at);
	ck_assert_int_eq(a->pid, b->pid);
	ck_assert_str_eq(a->request, b->request);
	ck_assert_pstr_eq(a->result, b->result);
}

/* Every field set, and one with every optional field empty. */
static struct store_rec
full_rec(void)
{
	struct store_rec	r;

	r = mkrec(7, "build-42", 1000);
	r.state = "exited";
	r.priority = -5;
	r.submitted_at = 1700000000.125;
	r.started_at = 1700000001.5;
	r.ended_at = 1700000009.75;
	r.pid = 4242;
	r.request = "{\"argv\":[\"sh\",\"-c\",\"echo \\u00e9t\\u00e9\\n\"]}";
	r.result = "{\"id\":7,\"state\":\"exited\",\"exit_code\":0}";
	return (r);
}

START_TEST(test_memory)
{
	struct store_rec	a = full_rec(), b = mkrec(8, NULL, 0);
	struct rows		rows;

	open_ok(NULL);
	ck_assert_str_eq(store_path(), ":memory:");
	ck_assert_int_eq(store_insert(&a), 0);
	ck_assert_int_eq(store_insert(&b), 0);
	ck_assert_int_eq(store_commit(), 0);
	load(&rows);
	ck_assert_uint_eq(rows.n, 2);
	rec_eq(&rows.v[0], &a);
	rec_eq(&rows.v[1], &b);
	rows_free(&rows);
	ck_assert_int_eq(store_delete(7), 0);
	ck_assert_int_eq(store_commit(), 0);
	ck_assert_uint_eq(count(), 1);
	/* Nothing of it outlives the close. */
	store_close();
	ck_assert_ptr_null(store_path());
	open_ok(NULL);
	ck_assert_uint_eq(count(), 0);
}
END_TEST

START_TEST(test_roundtrip)
{
	struct store_rec	a = full_rec(), b = mkrec(8, NULL, 0), u;
	struct rows		rows;

	open_ok(sdir);
	ck_assert_str_eq(store_path(), dbpath);
	ck_assert_int_eq(store_insert(&b), 0);	/* out of id order */
	ck_assert_int_eq(store_insert(&a), 0);
	ck_assert_int_eq(store_commit(), 0);
	reopen();
	load(&rows);
	ck_assert_uint_eq(rows.n, 2);
	rec_eq(&rows.v[0], &a);
	rec_eq(&rows.v[1], &b);
	rows_free(&rows);

	/* An update changes the state, the times, the pid and the result. */
	u = mkrec(8, "other-key", 99);
	u.priority = 100;
	u.request = "{}";
	u.state = "running";
	u.started_at = 1700000100.5;
	u.pid = 31337;
	ck_assert_int_eq(store_update(&u), 0);
	u = a;
	u.state = "queued";
	u.started_at = u.ended_at = 0;
	u.pid = 0;
	u.result = NULL;
	ck_assert_int_eq(store_update(&u), 0);
	ck_assert_int_eq(store_commit(), 0);
	reopen();
	load(&rows);
	ck_assert_uint_eq(rows.n, 2);
	rec_eq(&rows.v[0], &u);			/* back to NULLs */
	ck_assert_str_eq(rows.v[1].state, "running");
	ck_assert_double_eq(rows.v[1].started_at, 1700000100.5);
	ck_assert_int_eq(rows.v[1].pid, 31337);
	/* ... and leaves what was fixed at submission. */
	ck_assert_int_eq(rows.v[1].priority, b.priority);
	ck_assert_ptr_null(rows.v[1].key);
	ck_assert_uint_eq(rows.v[1].uid, 0);
	ck_assert_str_eq(rows.v[1].request, b.request);
	rows_free(&rows);
}
END_TEST

START_TEST(test_transactions)
{
	struct store_rec	r;
	struct rows		rows;

	open_ok(sdir);
	ck_assert_int_eq(store_in_txn(), 0);
	ck_assert_int_eq(store_commit(), 0);		/* none open */
	r = mkrec(1, NULL, 0);
	ck_assert_int_eq(store_insert(&r), 0);
	ck_assert_int_eq(store_in_txn(), 1);
	ck_assert_int_eq(store_commit(), 0);
	ck_assert_int_eq(store_in_txn(), 0);

	/* Rolled back: gone, and the store goes on. */
	r = mkrec(2, NULL, 0);
	ck_assert_int_eq(store_insert(&r), 0);
	ck_assert_int_eq(store_delete(1), 0);
	store_rollback();
	ck_assert_int_eq(store_in_txn(), 0);
	ck_assert_uint_eq(count(), 1);

	/* Not committed at close: gone after a reopen. */
	r = mkrec(3, NULL, 0);
	ck_assert_int_eq(store_insert(&r), 0);
	r.state = "running";
	ck_assert_int_eq(store_update(&r), 0);
	ck_assert_uint_eq(count(), 2);		/* visible to ourselves */
	reopen();
	load(&rows);
	ck_assert_uint_eq(rows.n, 1);
	ck_assert_uint_eq(rows.v[0].id, 1);
	rows_free(&rows);
}
END_TEST

START_TEST(test_delete)
{
	struct store_rec	r;
	struct rows		rows;
	uint64_t		id;

	open_ok(sdir);
	for (id = 1; id <= 3; id++) {
		r = mkrec(id, NULL, 0);
		ck_assert_int_eq(store_insert(&r), 0);
	}
	ck_assert_int_eq(store_commit(), 0);
	ck_assert_int_eq(store_delete(2), 0);
	ck_assert_int_eq(store_delete(99), 0);		/* already gone */
	r = mkrec(2, NULL, 0);
	ck_assert_int_eq(store_update(&r), -1);
	ck_assert_ptr_nonnull(strstr(store_errmsg(), "job 2 is not stored"));
	ck_assert_ptr_nonnull(strstr(store_errmsg(), dbpath));
	/* A mistake of the caller does not cost the other writes. */
	ck_assert_int_eq(store_commit(), 0);
	reopen();
	load(&rows);
	ck_assert_uint_eq(rows.n, 2);
	ck_assert_uint_eq(rows.v[0].id, 1);
	ck_assert_uint_eq(rows.v[1].id, 3);
	rows_free(&rows);
}
END_TEST

START_TEST(test_unique)
{
	struct store_rec	r;
	char			want[PATH_MAX + 128];

	open_ok(sdir);
	r = mkrec(1, "nightly", 1000);
	ck_assert_int_eq(store_insert(&r), 0);
	ck_assert_int_eq(store_commit(), 0);
	r = mkrec(2, "nightly", 1000);
	ck_assert_int_eq(store_insert(&r), -1);
	snprintf(want, sizeof(want), "store %s: uid 1000 already has a job "
	    "with key \"nightly\"", dbpath);
	ck_assert_str_eq(store_errmsg(), want);
	/* The same key for another uid, and no key any number of times. */
	r = mkrec(3, "nightly", 1001);
	ck_assert_int_eq(store_insert(&r), 0);
	r = mkrec(4, NULL, 1000);
	ck_assert_int_eq(store_insert(&r), 0);
	r = mkrec(5, NULL, 1000);
	ck_assert_int_eq(store_insert(&r), 0);
	r = mkrec(5, "again", 1000);
	ck_assert_int_eq(store_insert(&r), -1);
	ck_assert_ptr_nonnull(strstr(store_errmsg(),
	    "job 5 is already stored"));
	/* The refused statements undo themselves only. */
	ck_assert_int_eq(store_commit(), 0);
	reopen();
	ck_assert_uint_eq(count(), 4);
	/* A deleted job's key is free again. */
	ck_assert_int_eq(store_delete(1), 0);
	r = mkrec(6, "nightly", 1000);
	ck_assert_int_eq(store_insert(&r), 0);
	ck_assert_int_eq(store_commit(), 0);
}
END_TEST

START_TEST(test_mkdir)
{
	struct stat	 sb;
	char		 dir[PATH_MAX], path[PATH_MAX + 32], err[512];
	const char	*parts[] = { "a", "a/b", "a/b/c" };
	size_t		 i;
	int		 fd;

	snprintf(dir, sizeof(dir), "%s/a/b/c/", tmp);
	open_ok(dir);
	snprintf(path, sizeof(path), "%s/a/b/c/jobs.db", tmp);
	ck_assert_str_eq(store_path(), path);
	for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmp, parts[i]);
		ck_assert_int_eq(stat(path, &sb), 0);
		ck_assert(S_ISDIR(sb.st_mode));
		ck_assert_uint_eq(sb.st_mode & 07777, 0700);
	}
	store_close();

	/* A file in the way. */
	snprintf(path, sizeof(path), "%s/file", tmp);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ne(fd, -1);
	close(fd);
	snprintf(dir, sizeof(dir), "%s/file/state", tmp);
	ck_assert_int_eq(store_open(dir, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "state directory") != NULL &&
	    strstr(err, dir) != NULL && strstr(err, "Not a directory") != NULL,
	    "%s", err);
	ck_assert_int_eq(store_open(path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not a directory") != NULL, "%s", err);
	ck_assert_ptr_null(store_path());
}
END_TEST

static void
read_file(const char *path, char *buf, size_t len)
{
	ssize_t	n;
	int	fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	n = read(fd, buf, len - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
}

/* flock belongs to an open file description: a second jobd is a process. */
START_TEST(test_lock)
{
	char	err[512], want[PATH_MAX + 128], lock[PATH_MAX + 32];
	char	buf[64];
	int	up[2], down[2], fd;
	pid_t	pid;

	snprintf(lock, sizeof(lock), "%s/jobd.lock", sdir);
	ck_assert_int_eq(pipe2(up, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(down, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		CHILD_CHECK(store_open(sdir, err, sizeof(err)) == 0);
		CHILD_CHECK(write(up[1], "o", 1) == 1);
		/* Hold the store until the parent closes its end. */
		CHILD_CHECK(read(down[0], buf, 1) == 0);
		store_close();
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	ck_assert_int_eq(read(up[0], buf, 1), 1);
	ck_assert_int_eq(store_open(sdir, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "state directory %s is in use by another "
	    "jobd (pid %ld)", sdir, (long)pid);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(store_path());
	read_file(lock, buf, sizeof(buf));
	snprintf(want, sizeof(want), "%ld\n", (long)pid);
	ck_assert_str_eq(buf, want);
	close(down[1]);
	ck_assert_int_eq(child_status(pid), 0);
	close(up[0]);

	/* Released by the close: ours now, with our pid. */
	open_ok(sdir);
	read_file(lock, buf, sizeof(buf));
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	ck_assert_str_eq(buf, want);
	/* Another open file description conflicts even in this process. */
	fd = open(lock, O_RDWR | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), -1);
	ck_assert_int_eq(errno, EWOULDBLOCK);
	close(fd);
	ck_assert_int_eq(store_open(sdir, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "already open"));
	ck_assert_str_eq(store_path(), dbpath);	/* and still is */
	store_close();
	/* Nothing is removed at close. */
	ck_assert_int_eq(access(lock, F_OK), 0);
	ck_assert_int_eq(access(dbpath, F_OK), 0);
}
END_TEST

/* A store of n jobs with requests of size bytes, closed. */
static void
make_store(unsigned int n, size_t size)
{
	struct store_rec	 r;
	char			*req, wal[PATH_MAX + 8];
	unsigned int		 i;

	req = malloc(size + 1);
	ck_assert_ptr_nonnull(req);
	memset(req, 'x', size);
	req[size] = '\0';
	open_ok(sdir);
	for (i = 1; i <= n; i++) {
		r = mkrec(i, NULL, 0);
		r.request = req;
		ck_assert_int_eq(store_insert(&r), 0);
	}
	ck_assert_int_eq(store_commit(), 0);
	store_close();
	free(req);
	/* The close checkpointed the log into the file and removed it. */
	ck_assert_int_eq(access(dbpath, F_OK), 0);
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	ck_assert_int_eq(access(wal, F_OK), -1);
}

static void
overwrite(off_t off, size_t len, int byte)
{
	char	buf[4096];
	size_t	n;
	int	fd;

	memset(buf, byte, sizeof(buf));
	fd = open(dbpath, O_WRONLY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	for (; len > 0; len -= n, off += (off_t)n) {
		n = len < sizeof(buf) ? len : sizeof(buf);
		ck_assert_int_eq(pwrite(fd, buf, n, off), (ssize_t)n);
	}
	close(fd);
}

static off_t
file_size(const char *path)
{
	struct stat	sb;

	ck_assert_int_eq(stat(path, &sb), 0);
	return (sb.st_size);
}

/* Refused with the path and what to do, twice: nothing was recreated. */
static void
open_refused(const char *what)
{
	char	err[512];
	off_t	size = file_size(dbpath);
	int	i;

	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(store_open(sdir, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, dbpath) != NULL, "%s", err);
		ck_assert_msg(strstr(err, what) != NULL, "%s", err);
		ck_assert_ptr_null(store_path());
	}
	ck_assert_int_eq(file_size(dbpath), size);
}

START_TEST(test_corrupt)
{
	make_store(300, 500);
	ck_assert_int_gt(file_size(dbpath), 8 * 4096);
	/* Page 1 (the header and the schema) intact, the tables not. */
	overwrite(4096, 4 * 4096, 0xa5);
	open_refused("move the file away");
}
END_TEST

START_TEST(test_not_sqlite)
{
	int	fd, i;

	ck_assert_int_eq(mkdir(sdir, 0700), 0);
	fd = open(dbpath, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ne(fd, -1);
	for (i = 0; i < 200; i++)
		ck_assert_int_eq(write(fd, "not a database\n", 15), 15);
	close(fd);
	open_refused("file is not a database: move the file away");
}
END_TEST

START_TEST(test_truncated)
{
	make_store(300, 500);
	ck_assert_int_eq(truncate(dbpath, 3 * 4096 + 100), 0);
	open_refused("move the file away");
	/* Even the header cut short. */
	ck_assert_int_eq(truncate(dbpath, 60), 0);
	open_refused("move the file away");
}
END_TEST

static void
sql(const char *path, const char *text)
{
	sqlite3	*h;

	ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
	ck_assert_msg(sqlite3_exec(h, text, NULL, NULL, NULL) == SQLITE_OK,
	    "%s: %s", text, sqlite3_errmsg(h));
	ck_assert_int_eq(sqlite3_close(h), SQLITE_OK);
}

START_TEST(test_versions)
{
	make_store(3, 10);
	sql(dbpath, "PRAGMA user_version = 2");
	open_refused("made by a newer jobd (schema version 2, this jobd "
	    "knows 1)");

	/* Some other program's database. */
	ck_assert_int_eq(unlink(dbpath), 0);
	sql(dbpath, "CREATE TABLE jobs (name TEXT)");
	open_refused("not a jobd store");
}
END_TEST

/* In a child: a mount namespace of its own, or print SKIP and exit. */
static void
child_private_mounts(const char *test)
{
	if (geteuid() != 0) {
		printf("SKIP: %s: needs root for a mount namespace\n", test);
		fflush(stdout);
		_exit(EXIT_SKIP);
	}
	if (unshare(CLONE_NEWNS) == -1 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1) {
		printf("SKIP: %s: mount namespace: %s\n", test,
		    strerror(errno));
		fflush(stdout);
		_exit(EXIT_SKIP);
	}
}

static void
child_bind_ro(const char *path)
{
	if (mount(path, path, NULL, MS_BIND, NULL) == -1 ||
	    mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY,
	    NULL) == -1) {
		printf("SKIP: read-only bind mount of %s: %s\n", path,
		    strerror(errno));
		fflush(stdout);
		_exit(EXIT_SKIP);
	}
}

/* Root writes through permissions: a read-only bind mount stops it. */
START_TEST(test_readonly)
{
	char	err[512];
	pid_t	pid;

	make_store(3, 10);
	if (geteuid() != 0) {
		/* Permissions stop anyone but root. */
		ck_assert_int_eq(chmod(sdir, 0500), 0);
		ck_assert_int_eq(store_open(sdir, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, dbpath) != NULL &&
		    strstr(err, "read-only") != NULL, "%s", err);
		ck_assert_int_eq(chmod(sdir, 0700), 0);
		ck_assert_int_eq(chmod(dbpath, 0400), 0);
		ck_assert_int_eq(store_open(sdir, err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, dbpath) != NULL &&
		    strstr(err, "read-only") != NULL, "%s", err);
		ck_assert_int_eq(chmod(dbpath, 0600), 0);
		open_ok(sdir);
		ck_assert_uint_eq(count(), 3);
		return;
	}
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		child_private_mounts("store read-only");
		child_bind_ro(sdir);
		CHILD_CHECK(store_open(sdir, err, sizeof(err)) == -1);
		CHILD_CHECK(strstr(err, sdir) != NULL);
		CHILD_CHECK(strstr(err, "Read-only file system") != NULL);
		_exit(0);
	}
	if (child_status(pid) == EXIT_SKIP)
		return;

	/* The directory writable, the database not. */
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		child_private_mounts("store read-only");
		child_bind_ro(dbpath);
		CHILD_CHECK(store_open(sdir, err, sizeof(err)) == -1);
		CHILD_CHECK(strstr(err, dbpath) != NULL);
		CHILD_CHECK(strstr(err, "read-only") != NULL);
		_exit(0);
	}
	ck_assert_int_eq(child_status(pid), 0);
	/* Nothing was harmed. */
	open_ok(sdir);
	ck_assert_uint_eq(count(), 3);
}
END_TEST

/* Write until ENOSPC. */
static int
fill(const char *path)
{
	char	buf[4096];
	int	fd, i, saved = 0;

	memset(buf, 'f', sizeof(buf));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return (-1);
	for (i = 0; i < 100000; i++) {
		if (write(fd, buf, sizeof(buf)) == -1) {
			saved = errno;
			break;
		}
	}
	close(fd);
	return (saved == ENOSPC ? 0 : -1);
}

/*
 * Batches of inserts of size bytes each, one commit per batch, until one
 * fails: then the failure says "full", names the file, and no write of that
 * batch is stored. Returns the jobs stored; *late is set if an insert after
 * the first of its batch failed (rather than the commit).
 */
static unsigned int
child_fill_store(uint64_t *id, size_t size, unsigned int batch, int *late)
{
	struct store_rec	 r;
	char			*req;
	unsigned int		 stored = 0, i, b;
	int			 failed = 0;

	CHILD_CHECK((req = malloc(size + 1)) != NULL);
	memset(req, 'r', size);
	req[size] = '\0';
	for (b = 0; b < 1000 && !failed; b++) {
		for (i = 0; i < batch && !failed; i++) {
			r = mkrec(++*id, NULL, 0);
			r.request = req;
			if (store_insert(&r) == -1) {
				CHILD_CHECK(strstr(store_errmsg(), "full"));
				CHILD_CHECK(strstr(store_errmsg(), dbpath));
				/* The earlier inserts of the batch went too. */
				CHILD_CHECK(store_commit() == (i > 0 ? -1 : 0));
				*late = i > 0;
				failed = 1;
			}
		}
		if (failed)
			break;
		if (store_commit() == -1) {
			*late = 0;
			CHILD_CHECK(strstr(store_errmsg(), "full"));
			CHILD_CHECK(strstr(store_errmsg(), dbpath));
			failed = 1;
		} else
			stored += batch;
	}
	CHILD_CHECK(failed);
	CHILD_CHECK(!store_in_txn());
	free(req);
	return (stored);
}

START_TEST(test_full)
{
	char			filler[PATH_MAX + 16], err[512];
	struct store_rec	r;
	unsigned int		stored;
	uint64_t		id = 0;
	pid_t			pid;
	int			status, late;

	snprintf(filler, sizeof(filler), "%s/filler", tmp);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		child_private_mounts("store full disk");
		if (mount("tmpfs", tmp, "tmpfs", 0,
		    "size=1m,mode=0700") == -1) {
			printf("SKIP: store full disk: tmpfs: %s\n",
			    strerror(errno));
			fflush(stdout);
			_exit(EXIT_SKIP);
		}
		CHILD_CHECK(store_open(sdir, err, sizeof(err)) == 0);
		/* Small jobs: the commit finds the disk full. */
		CHILD_CHECK(fill(filler) == 0);
		stored = child_fill_store(&id, 100, 10, &late);
		CHILD_CHECK(!late);
		/* Room again: the store goes on. */
		CHILD_CHECK(unlink(filler) == 0);
		r = mkrec(++id, NULL, 0);
		CHILD_CHECK(store_insert(&r) == 0);
		CHILD_CHECK(store_commit() == 0);
		stored++;
		/* Big jobs: the cache (2 MiB) spills and an insert fails. */
		CHILD_CHECK(fill(filler) == 0);
		stored += child_fill_store(&id, 1024 * 1024, 4, &late);
		CHILD_CHECK(late);
		CHILD_CHECK(unlink(filler) == 0);
		r = mkrec(++id, NULL, 0);
		CHILD_CHECK(store_insert(&r) == 0);
		CHILD_CHECK(store_commit() == 0);
		stored++;
		store_close();
		CHILD_CHECK(store_open(sdir, err, sizeof(err)) == 0);
		CHILD_CHECK(count() == stored);
		store_close();
		_exit(0);
	}
	status = child_status(pid);
	ck_assert_msg(status == 0 || status == EXIT_SKIP, "child: %d", status);
}
END_TEST

/* The requests hold environments: every file is private, whatever the umask. */
START_TEST(test_modes)
{
	struct store_rec	 r = mkrec(1, NULL, 0);
	const char		*files[] = { "jobs.db", "jobs.db-wal",
				    "jobs.db-shm", "jobd.lock" };
	char			 path[PATH_MAX];
	struct stat		 sb;
	size_t			 i;
	mode_t			 old;

	ck_assert_int_eq(mkdir(sdir, 0755), 0);	/* as systemd makes it */
	old = umask(0);
	open_ok(sdir);
	umask(old);
	ck_assert_int_eq(store_insert(&r), 0);
	ck_assert_int_eq(store_commit(), 0);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", sdir, files[i]);
		ck_assert_msg(stat(path, &sb) == 0, "%s: %s", path,
		    strerror(errno));
		ck_assert_msg((sb.st_mode & 07777) == 0600, "%s: %o", path,
		    sb.st_mode & 07777);
	}
}
END_TEST

/* SQLite opens its files itself: every one must be close-on-exec. */
START_TEST(test_cloexec)
{
	struct store_rec	 r = mkrec(1, NULL, 0);
	struct dirent		*de;
	DIR			*d;
	char			 path[300], target[PATH_MAX], line[128];
	unsigned int		 flags, seen = 0;
	ssize_t			 n;
	FILE			*f;

	open_ok(sdir);
	ck_assert_int_eq(store_insert(&r), 0);
	ck_assert_int_eq(store_commit(), 0);
	ck_assert_ptr_nonnull(d = opendir("/proc/self/fd"));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		if ((n = readlink(path, target, sizeof(target) - 1)) == -1)
			continue;	/* the directory's own, closed */
		target[n] = '\0';
		if (strncmp(target, sdir, strlen(sdir)) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/fdinfo/%s",
		    de->d_name);
		ck_assert_ptr_nonnull(f = fopen(path, "re"));
		flags = 0;
		while (fgets(line, sizeof(line), f) != NULL)
			sscanf(line, "flags: %o", &flags);
		fclose(f);
		ck_assert_msg(flags & O_CLOEXEC, "%s (fd %s) flags %o", target,
		    de->d_name, flags);
		seen++;
	}
	closedir(d);
	/* The lock, the database, its log and its shared memory. */
	ck_assert_uint_ge(seen, 4);
}
END_TEST

/*
 * A child commits 1000 jobs and writes more without a commit. It writes to
 * fds[0] when it is there, and _exits without a close when fds[1] is written.
 */
static pid_t
crash_child(int *fds, size_t more_size, unsigned int more)
{
	struct store_rec	 r;
	char			 err[512], *req, c;
	int			 up[2], down[2];
	unsigned int		 i;
	pid_t			 pid;

	ck_assert_int_eq(pipe2(up, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(down, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid != 0) {
		close(up[1]);
		close(down[0]);
		fds[0] = up[0];
		fds[1] = down[1];
		return (pid);
	}
	close(up[0]);
	close(down[1]);
	CHILD_CHECK(store_open(sdir, err, sizeof(err)) == 0);
	for (i = 1; i <= 1000; i++) {
		r = mkrec(i, NULL, 0);
		CHILD_CHECK(store_insert(&r) == 0);
	}
	CHILD_CHECK(store_commit() == 0);
	CHILD_CHECK((req = malloc(more_size + 1)) != NULL);
	memset(req, 'u', more_size);
	req[more_size] = '\0';
	for (i = 1; i <= more; i++) {
		r = mkrec(1000 + i, NULL, 0);
		r.request = req;
		CHILD_CHECK(store_insert(&r) == 0);
	}
	CHILD_CHECK(store_in_txn());
	CHILD_CHECK(write(up[1], "r", 1) == 1);
	if (read(down[0], &c, 1) == 1)
		_exit(0);		/* no store_close(), no atexit */
	for (;;)
		pause();
}

static void
check_committed_only(void)
{
	struct rows	rows;
	size_t		i;

	open_ok(sdir);
	load(&rows);
	ck_assert_uint_eq(rows.n, 1000);
	for (i = 0; i < rows.n; i++)
		ck_assert_uint_eq(rows.v[i].id, i + 1);
	rows_free(&rows);
}

START_TEST(test_crash_exit)
{
	int	fds[2];
	char	c;
	pid_t	pid;

	pid = crash_child(fds, 10, 5);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	ck_assert_int_eq(write(fds[1], "x", 1), 1);
	ck_assert_int_eq(child_status(pid), 0);
	close(fds[0]);
	close(fds[1]);
	check_committed_only();
}
END_TEST

START_TEST(test_crash_kill)
{
	int	fds[2], status;
	char	c, wal[PATH_MAX + 8];
	pid_t	pid;

	/* 8 MiB uncommitted: more than the cache, so some is in the log. */
	pid = crash_child(fds, 4000, 2000);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	ck_assert_int_gt(file_size(wal), 1024 * 1024);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(fds[0]);
	close(fds[1]);
	/* The kernel dropped the dead jobd's lock. */
	check_committed_only();
}
END_TEST

START_TEST(test_not_open)
{
	struct store_rec	r = mkrec(1, NULL, 0);
	char			err[512];

	ck_assert_ptr_null(store_path());
	ck_assert_int_eq(store_insert(&r), -1);
	ck_assert_ptr_nonnull(strstr(store_errmsg(), "not open"));
	ck_assert_int_eq(store_update(&r), -1);
	ck_assert_int_eq(store_delete(1), -1);
	ck_assert_int_eq(store_commit(), 0);
	ck_assert_int_eq(store_in_txn(), 0);
	store_rollback();
	ck_assert_int_eq(store_load(count_cb, NULL, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not open"));
	store_close();
}
END_TEST

START_TEST(test_bad_records)
{
	struct store_rec	r;
	struct rows		rows;
	char			err[512];
	uint64_t		id;

	open_ok(NULL);
	r = mkrec(1, NULL, 0);
	r.request = NULL;
	ck_assert_int_eq(store_insert(&r), -1);
	ck_assert_ptr_nonnull(strstr(store_errmsg(), "job 1 has no request"));
	r = mkrec(1, NULL, 0);
	r.state = NULL;
	ck_assert_int_eq(store_update(&r), -1);
	r = mkrec(UINT64_MAX, NULL, 0);
	ck_assert_int_eq(store_insert(&r), -1);
	ck_assert_ptr_nonnull(strstr(store_errmsg(), "out of range"));

	/* The callback stops the load. */
	for (id = 1; id <= 5; id++) {
		r = mkrec(id, NULL, 0);
		ck_assert_int_eq(store_insert(&r), 0);
	}
	ck_assert_int_eq(store_commit(), 0);
	memset(&rows, 0, sizeof(rows));
	rows.stop_after = 2;
	ck_assert_int_eq(store_load(collect_cb, &rows, err, sizeof(err)), -1);
	ck_assert_uint_eq(rows.n, 2);
	ck_assert_ptr_nonnull(strstr(err, "loading stopped at job 2"));
	rows_free(&rows);
	/* ... and a load after it starts again from the first. */
	ck_assert_uint_eq(count(), 5);
}
END_TEST

Suite *
store_suite(void)
{
	Suite	*s = suite_create("store");
	TCase	*tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	/* The crash and full-disk tests write a few MiB: room for ASan. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_memory);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_transactions);
	tcase_add_test(tc, test_delete);
	tcase_add_test(tc, test_unique);
	tcase_add_test(tc, test_mkdir);
	tcase_add_test(tc, test_lock);
	tcase_add_test(tc, test_corrupt);
	tcase_add_test(tc, test_not_sqlite);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_versions);
	tcase_add_test(tc, test_readonly);
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_modes);
	tcase_add_test(tc, test_cloexec);
	tcase_add_test(tc, test_crash_exit);
	tcase_add_test(tc, test_crash_kill);
	tcase_add_test(tc, test_not_open);
	tcase_add_test(tc, test_bad_records);
	suite_add_tcase(s, tc);
	return (s);
}
