/*
 * The durable job store: one SQLite database, jobs.db, in the state
 * directory, with a lock file beside it so that only one jobd uses it.
 *
 * Writes join one transaction that stays open until store_commit(), which
 * jobd calls once per turn of the event loop: a turn's writes cost one
 * commit, and a job is acknowledged only once the commit holding it is done.
 *
 * The journal is a WAL with synchronous=NORMAL. A commit is then in the WAL
 * (the kernel's page cache) when store_commit() returns: it survives any
 * crash of jobd, kill -9 included. Only a crash of the machine or a power
 * loss can take back the last commits (never half of one): the WAL is synced
 * at checkpoints, not at each commit. synchronous=FULL would sync each commit
 * too, at the price of one fsync per turn.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "jobd.h"
#include "log.h"
#include "xmalloc.h"

#define STORE_VERSION	1		/* PRAGMA user_version */
#define STORE_DB	"jobs.db"
#define STORE_LOCK	"jobd.lock"
/*
 * jobd holds the lock, so only another program (the sqlite3 shell) can keep
 * the database busy. Wait for it a little, never long: the loop is blocked.
 */
#define STORE_BUSY_MS	1000

static const char *const store_schema_sql =
	"BEGIN IMMEDIATE;"
	"CREATE TABLE jobs ("
	/* AUTOINCREMENT: sqlite_sequence keeps the highest id ever
	 * stored, so ids are not reused once their jobs are pruned. */
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  state TEXT NOT NULL,"
	"  priority INTEGER NOT NULL,"
	"  key TEXT,"
	"  uid INTEGER NOT NULL,"
	"  submitted_at REAL NOT NULL,"
	"  started_at REAL,"
	"  ended_at REAL,"
	"  pid INTEGER,"
	"  request TEXT NOT NULL,"
	"  result TEXT);"
	"CREATE UNIQUE INDEX jobs_uid_key ON jobs (uid, key)"
	"  WHERE key IS NOT NULL;"
	"PRAGMA user_version = 1;"
	"COMMIT;";

/* The statements, prepared once. Insert and update share numbering. */
enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_INSERT,
	ST_UPDATE,
	ST_DELETE,
	ST_LOAD,
	ST_LAST_ID,
	ST_COUNT
};
static const char *const store_sql[ST_COUNT] = {
	"BEGIN IMMEDIATE",
	"COMMIT",
	"ROLLBACK",
	"INSERT INTO jobs (id, state, started_at, ended_at, pid, result,"
	" priority, key, uid, submitted_at, request)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	"UPDATE jobs SET state = ?2, started_at = ?3, ended_at = ?4,"
	" pid = ?5, result = ?6 WHERE id = ?1",
	"DELETE FROM jobs WHERE id = ?1",
	"SELECT id, state, started_at, ended_at, pid, result, priority, key,"
	" uid, submitted_at, request FROM jobs ORDER BY id",
	"SELECT seq FROM sqlite_sequence WHERE name = 'jobs'",
};

static sqlite3		*db;
static sqlite3_stmt	*stmts[ST_COUNT];
static char		*db_path;		/* or ":memory:" */
static int		 lock_fd = -1;
static int		 txn_open;		/* our BEGIN, not ended */
static unsigned int	 txn_writes;		/* done in it so far */
static int		 txn_lost;		/* they were rolled back */
static char		 lost_why[256];
static char		 errbuf[512];
static size_t		 errprefix;		/* "store PATH: " */

static void	store_err(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static void	store_fail(int);
static int	store_mkdir(const char *);
static int	store_lock(const char *);
static int	store_create(void);
static int	store_connect(void);
static int	store_pragma(const char *, char *, size_t);
static void	store_one_line(const char *, char *, size_t);
static int	store_schema(void);
static int	store_prepare(void);
static void	store_teardown(void);
static int	store_step(int);
static int	store_begin(void);
static void	store_write_failed(int);
static int	store_check(const struct store_rec *, int);
static int	store_bind(sqlite3_stmt *, const struct store_rec *, int);
static int	bind_text(sqlite3_stmt *, int, const char *);
static int	bind_real0(sqlite3_stmt *, int, double);
static int	bind_int0(sqlite3_stmt *, int, long);

/* "store PATH: message", for the caller to show as it is. */
static void
store_err(const char *fmt, ...)
{
	va_list	ap;
	int	n;

	n = snprintf(errbuf, sizeof(errbuf), "store %s: ",
	    db_path != NULL ? db_path : "(not open)");
	if (n < 0 || (size_t)n >= sizeof(errbuf))
		return;
	errprefix = (size_t)n;
	va_start(ap, fmt);
	vsnprintf(errbuf + n, sizeof(errbuf) - (size_t)n, fmt, ap);
	va_end(ap);
}

/* SQLite's answer rc, in words a user can act on. */
static void
store_fail(int rc)
{
	const char	*msg = sqlite3_errstr(rc);
	int		 sys = 0;

	if (db != NULL) {
		msg = sqlite3_errmsg(db);
		sys = sqlite3_system_errno(db);
	}

	switch (rc & 0xff) {
	case SQLITE_FULL:
		store_err("database or disk is full");
		break;
	case SQLITE_READONLY:
		store_err("the database is read-only (check the permissions "
		    "and the file system)");
		break;
	case SQLITE_CANTOPEN:
		store_err("cannot open the database file%s%s",
		    sys != 0 ? ": " : "", sys != 0 ? strerror(sys) : "");
		break;
	case SQLITE_IOERR:
		store_err("I/O error (%s%s%s)", msg, sys != 0 ? ": " : "",
		    sys != 0 ? strerror(sys) : "");
		break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		store_err("%s: move the file away (jobd then starts with an "
		    "empty store)", msg);
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		store_err("the database is locked by another program");
		break;
	default:
		store_err("%s", msg);
		break;
	}
}

const char *
store_errmsg(void)
{
	return (errbuf);
}

const char *
store_path(void)
{
	return (db_path);
}

int
store_in_txn(void)
{
	return (txn_open || txn_lost);
}

/* mkdir -p, private: the requests in the store hold environments. */
static int
store_mkdir(const char *dir)
{
	struct stat	 sb;
	char		*copy = xstrdup(dir), *p, c;
	int		 rc = -1;

	for (p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(copy, 0700) == -1 && errno != EEXIST) {
			snprintf(errbuf, sizeof(errbuf), "state directory %s: "
			    "mkdir %s: %s", dir, copy, strerror(errno));
			goto out;
		}
		if ((*p = c) == '\0')
			break;
	}
	if (stat(dir, &sb) == -1) {
		snprintf(errbuf, sizeof(errbuf), "state directory %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(errbuf, sizeof(errbuf), "state directory %s: not a "
		    "directory", dir);
		goto out;
	}
	rc = 0;
out:
	free(copy);
	return (rc);
}

/*
 * One jobd per state directory: an flock held as long as the store is open.
 * The kernel drops it when jobd dies, however it dies, so a stale lock file
 * never keeps the next jobd out. Our pid in it is for the message only.
 */
static int
store_lock(const char *dir)
{
	const char	*errstr;
	char		*path, buf[32];
	ssize_t		 n;
	long long	 pid;
	int		 len, rc = -1;

	xasprintf(&path, "%s/%s", dir, STORE_LOCK);
	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock_fd == -1) {
		snprintf(errbuf, sizeof(errbuf), "state directory %s: open %s: "
		    "%s", dir, path, strerror(errno));
		goto out;
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK) {
			snprintf(errbuf, sizeof(errbuf), "state directory %s: "
			    "flock %s: %s", dir, path, strerror(errno));
			goto out;
		}
		/* The holder may not have written its pid yet. */
		pid = 0;
		if ((n = pread(lock_fd, buf, sizeof(buf) - 1, 0)) > 0) {
			buf[n] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			pid = strtonum(buf, 1, INT_MAX, &errstr);
		}
		if (pid != 0)
			snprintf(errbuf, sizeof(errbuf), "state directory %s "
			    "is in use by another jobd (pid %lld)", dir, pid);
		else
			snprintf(errbuf, sizeof(errbuf), "state directory %s "
			    "is in use by another jobd (pid unknown)", dir);
		goto out;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(lock_fd, 0) == -1 ||
	    pwrite(lock_fd, buf, (size_t)len, 0) != len) {
		snprintf(errbuf, sizeof(errbuf), "state directory %s: "
		    "write %s: %s", dir, path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(path);
	return (rc);
}

/*
 * A new database file is made here, 0600: SQLite would make it 0644 less
 * the umask, and it gives its log and shared memory files the database's
 * mode. The requests hold environments; a state directory made by someone
 * else (systemd's StateDirectory= is 0755) must not show them.
 */
static int
store_create(void)
{
	int	fd;

	fd = open(db_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno != EEXIST) {
		store_err("cannot create the database file: %s",
		    strerror(errno));
		return (-1);
	}
	if (fd != -1)
		close(fd);
	return (0);
}

/* The first column of the first row of sql, as text, into out. */
static int
store_pragma(const char *sql, char *out, size_t len)
{
	sqlite3_stmt	*st;
	const char	*s;
	int		 rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK) {
		store_fail(rc);
		return (-1);
	}
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			store_err("%s: no answer", sql);
		else
			store_fail(rc);
		sqlite3_finalize(st);
		return (-1);
	}
	s = (const char *)sqlite3_column_text(st, 0);
	strlcpy(out, s != NULL ? s : "", len);
	sqlite3_finalize(st);
	return (0);
}

/* quick_check's report, as one log line: "Page 2: ...; Page 3: ...". */
static void
store_one_line(const char *in, char *out, size_t len)
{
	const char	 head[] = "*** in database main ***\n";
	size_t		 n = 0;

	if (strncmp(in, head, sizeof(head) - 1) == 0)
		in += sizeof(head) - 1;
	for (; *in != '\0' && n + 3 < len; in++) {
		if (*in != '\n')
			out[n++] = *in;
		else if (in[1] != '\0') {
			out[n++] = ';';
			out[n++] = ' ';
		}
	}
	out[n] = '\0';
}

static int
store_connect(void)
{
	const int	 flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			     SQLITE_OPEN_NOMUTEX;
	char		 answer[256], line[300];
	int		 rc, memory = strcmp(db_path, ":memory:") == 0;

	/* SQLite's unix VFS opens its files with O_CLOEXEC (check_store). */
	if ((rc = sqlite3_open_v2(db_path, &db, flags, NULL)) != SQLITE_OK) {
		store_fail(rc);
		return (-1);
	}
	sqlite3_extended_result_codes(db, 1);
	/* A file SQLite cannot write is opened read-only, silently. */
	if (sqlite3_db_readonly(db, "main") == 1) {
		store_err("the database is read-only (check the permissions "
		    "and the file system)");
		return (-1);
	}
	if ((rc = sqlite3_busy_timeout(db, STORE_BUSY_MS)) != SQLITE_OK) {
		store_fail(rc);
		return (-1);
	}
	/*
	 * Read every page once (without the slower index checks): a damaged
	 * file is refused now, with a message, not half-read later. It costs
	 * a read of the whole file at each start.
	 */
	if (store_pragma("PRAGMA quick_check", answer, sizeof(answer)) == -1)
		return (-1);
	if (strcmp(answer, "ok") != 0) {
		store_one_line(answer, line, sizeof(line));
		store_err("the database is damaged (%s): move the file away "
		    "(jobd then starts with an empty store)", line);
		return (-1);
	}
	if (memory)
		return (0);
	if (store_pragma("PRAGMA journal_mode = WAL", answer,
	    sizeof(answer)) == -1)
		return (-1);
	if (strcmp(answer, "wal") != 0) {
		store_err("cannot use a write-ahead log (journal mode is %s)",
		    answer);
		return (-1);
	}
	if ((rc = sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL,
	    NULL)) != SQLITE_OK) {
		store_fail(rc);
		return (-1);
	}
	return (0);
}

/* Create the schema in a new file; refuse one we do not understand. */
static int
store_schema(void)
{
	char		 answer[64];
	const char	*errstr;
	long long	 version, tables;
	int		 rc;

	if (store_pragma("PRAGMA user_version", answer, sizeof(answer)) == -1)
		return (-1);
	version = strtonum(answer, 0, INT_MAX, &errstr);
	if (errstr != NULL) {
		store_err("unknown schema version %s: move the file away",
		    answer);
		return (-1);
	}
	if (version > STORE_VERSION) {
		store_err("made by a newer jobd (schema version %s, this jobd "
		    "knows %d): run that jobd, or move the file away",
		    answer, STORE_VERSION);
		return (-1);
	}
	if (version == STORE_VERSION)
		return (0);
	if (store_pragma("SELECT count(*) FROM sqlite_master", answer,
	    sizeof(answer)) == -1)
		return (-1);
	tables = strtonum(answer, 0, LLONG_MAX, &errstr);
	if (errstr != NULL || tables != 0) {
		store_err("not a jobd store (it has tables but no schema "
		    "version): move the file away");
		return (-1);
	}
	if ((rc = sqlite3_exec(db, store_schema_sql, NULL, NULL,
	    NULL)) != SQLITE_OK) {
		store_fail(rc);
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return (-1);
	}
	return (0);
}

static int
store_prepare(void)
{
	int	i, rc;

	for (i = 0; i < ST_COUNT; i++) {
		rc = sqlite3_prepare_v3(db, store_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &stmts[i], NULL);
		if (rc != SQLITE_OK) {
			store_fail(rc);
			return (-1);
		}
	}
	return (0);
}

int
store_open(const char *dir, char *err, size_t len)
{
	char	*copy = NULL;
	size_t	 n;

	errbuf[0] = '\0';
	if (db != NULL) {
		store_err("already open");
		strlcpy(err, errbuf, len);
		return (-1);
	}
	if (dir == NULL)
		db_path = xstrdup(":memory:");
	else {
		/* "/var/lib/jobd/" is named as "/var/lib/jobd" in messages. */
		copy = xstrdup(dir);
		n = strlen(copy);
		while (n > 1 && copy[n - 1] == '/')
			copy[--n] = '\0';
		if (n == 0) {
			snprintf(errbuf, sizeof(errbuf), "state directory: "
			    "empty path");
			goto fail;
		}
		if (store_mkdir(copy) == -1 || store_lock(copy) == -1)
			goto fail;
		xasprintf(&db_path, "%s/%s", copy, STORE_DB);
		if (store_create() == -1)
			goto fail;
	}
	if (store_connect() == -1 || store_schema() == -1 ||
	    store_prepare() == -1)
		goto fail;
	free(copy);
	return (0);
fail:
	free(copy);
	strlcpy(err, errbuf, len);
	if (db_path != NULL || lock_fd != -1)
		store_teardown();
	return (-1);
}

static void
store_teardown(void)
{
	int	i, rc;

	for (i = 0; i < ST_COUNT; i++) {
		sqlite3_finalize(stmts[i]);
		stmts[i] = NULL;
	}
	/* The last connection checkpoints the WAL into the file here. */
	if (db != NULL && (rc = sqlite3_close(db)) != SQLITE_OK)
		log_warnx("store %s: close: %s", db_path, sqlite3_errstr(rc));
	db = NULL;
	free(db_path);
	db_path = NULL;
	if (lock_fd != -1)
		close(lock_fd);		/* and with it the lock */
	lock_fd = -1;
	txn_open = txn_lost = 0;
	txn_writes = 0;
}

/* Anything not committed is dropped, as a crash would; nothing is removed. */
void
store_close(void)
{
	if (db == NULL)
		return;
	store_rollback();
	store_teardown();
}

/* Run one of the statements to its end; the message is set on failure. */
static int
store_step(int which)
{
	sqlite3_stmt	*st = stmts[which];
	int		 rc;

	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		store_fail(rc);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return (rc);
}

static int
store_begin(void)
{
	if (db == NULL) {
		store_err("not open");
		return (-1);
	}
	if (txn_lost) {
		/* Alone, this write would be committed without the others. */
		store_err("not written: an earlier write since the last commit "
		    "failed (%s)", lost_why);
		return (-1);
	}
	if (txn_open)
		return (0);
	/* Left open by a ROLLBACK that failed: BEGIN would fail forever. */
	if (!sqlite3_get_autocommit(db) &&
	    store_step(ST_ROLLBACK) != SQLITE_DONE)
		return (-1);
	if (store_step(ST_BEGIN) != SQLITE_DONE)
		return (-1);
	txn_open = 1;
	txn_writes = 0;
	return (0);
}

/*
 * After a full disk, an I/O error or no memory, SQLite may have rolled the
 * whole transaction back, and its documentation asks for a ROLLBACK if it
 * has not. Either way the writes that succeeded before in this transaction
 * are gone: remember it, so that store_commit() fails rather than report
 * them stored. A constraint only undoes its own statement.
 */
static void
store_write_failed(int rc)
{
	if ((rc & 0xff) == SQLITE_CONSTRAINT && !sqlite3_get_autocommit(db))
		return;
	if (!sqlite3_get_autocommit(db) &&
	    sqlite3_step(stmts[ST_ROLLBACK]) != SQLITE_DONE)
		log_warnx("store %s: rollback: %s", db_path,
		    sqlite3_errmsg(db));
	sqlite3_reset(stmts[ST_ROLLBACK]);
	if (txn_writes > 0) {
		txn_lost = 1;
		strlcpy(lost_why, errbuf + errprefix, sizeof(lost_why));
	}
	txn_open = 0;
	txn_writes = 0;
}

/* An update leaves the request as it is: only an insert needs one. */
static int
store_check(const struct store_rec *r, int insert)
{
	if (db == NULL) {
		store_err("not open");
		return (-1);
	}
	if (r->state == NULL || (insert && r->request == NULL)) {
		store_err("job %llu has no %s", (unsigned long long)r->id,
		    r->state == NULL ? "state" : "request");
		return (-1);
	}
	if (r->id > INT64_MAX || r->uid > INT64_MAX) {
		store_err("job %llu: id or uid out of range",
		    (unsigned long long)r->id);
		return (-1);
	}
	return (0);
}

static int
bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		return (sqlite3_bind_null(st, i));
	/* Static: the statement is reset before the caller gets it back. */
	return (sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC));
}

/* 0 is stored as NULL: not started, not ended, no pid. */
static int
bind_real0(sqlite3_stmt *st, int i, double v)
{
	if (v == 0)
		return (sqlite3_bind_null(st, i));
	return (sqlite3_bind_double(st, i, v));
}

static int
bind_int0(sqlite3_stmt *st, int i, long v)
{
	if (v == 0)
		return (sqlite3_bind_null(st, i));
	return (sqlite3_bind_int64(st, i, v));
}

/* ?1-?6 are what an update changes; ?7-?11 are fixed at insert. */
static int
store_bind(sqlite3_stmt *st, const struct store_rec *r, int insert)
{
	int	rc;

	if ((rc = sqlite3_bind_int64(st, 1, (sqlite3_int64)r->id)) != 0 ||
	    (rc = bind_text(st, 2, r->state)) != 0 ||
	    (rc = bind_real0(st, 3, r->started_at)) != 0 ||
	    (rc = bind_real0(st, 4, r->ended_at)) != 0 ||
	    (rc = bind_int0(st, 5, r->pid)) != 0 ||
	    (rc = bind_text(st, 6, r->result)) != 0)
		return (rc);
	if (!insert)
		return (SQLITE_OK);
	if ((rc = sqlite3_bind_int(st, 7, r->priority)) != 0 ||
	    (rc = bind_text(st, 8, r->key)) != 0 ||
	    (rc = sqlite3_bind_int64(st, 9, (sqlite3_int64)r->uid)) != 0 ||
	    (rc = sqlite3_bind_double(st, 10, r->submitted_at)) != 0 ||
	    (rc = bind_text(st, 11, r->request)) != 0)
		return (rc);
	return (SQLITE_OK);
}

int
store_insert(const struct store_rec *r)
{
	int	rc;

	if (store_check(r, 1) == -1 || store_begin() == -1)
		return (-1);
	if ((rc = store_bind(stmts[ST_INSERT], r, 1)) != SQLITE_OK) {
		store_fail(rc);
		sqlite3_clear_bindings(stmts[ST_INSERT]);
		return (-1);
	}
	if ((rc = store_step(ST_INSERT)) != SQLITE_DONE) {
		if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			store_err("job %llu is already stored",
			    (unsigned long long)r->id);
		else if (rc == SQLITE_CONSTRAINT_UNIQUE)
			store_err("uid %lu already has a job with key \"%s\"",
			    r->uid, r->key);
		store_write_failed(rc);
		return (-1);
	}
	txn_writes++;
	return (0);
}

/* An update of a job that is not stored is a mistake: say so. */
int
store_update(const struct store_rec *r)
{
	int	rc;

	if (store_check(r, 0) == -1 || store_begin() == -1)
		return (-1);
	if ((rc = store_bind(stmts[ST_UPDATE], r, 0)) != SQLITE_OK) {
		store_fail(rc);
		sqlite3_clear_bindings(stmts[ST_UPDATE]);
		return (-1);
	}
	if ((rc = store_step(ST_UPDATE)) != SQLITE_DONE) {
		store_write_failed(rc);
		return (-1);
	}
	if (sqlite3_changes(db) == 0) {
		store_err("job %llu is not stored", (unsigned long long)r->id);
		return (-1);
	}
	txn_writes++;
	return (0);
}

/* Deleting a job that is not stored is not an error: it is gone. */
int
store_delete(uint64_t id)
{
	int	rc;

	if (db == NULL) {
		store_err("not open");
		return (-1);
	}
	if (id > INT64_MAX)
		return (0);
	if (store_begin() == -1)
		return (-1);
	if ((rc = sqlite3_bind_int64(stmts[ST_DELETE], 1,
	    (sqlite3_int64)id)) != SQLITE_OK) {
		store_fail(rc);
		return (-1);
	}
	if ((rc = store_step(ST_DELETE)) != SQLITE_DONE) {
		store_write_failed(rc);
		return (-1);
	}
	txn_writes++;
	return (0);
}

/*
 * Commit the turn's writes. -1: none of the writes since the last commit is
 * stored (a failed COMMIT is rolled back, so what is stored is never a guess).
 */
int
store_commit(void)
{
	unsigned int	lost = txn_writes;
	size_t		n;
	int		rc;

	if (txn_lost) {
		store_err("%s: the writes since the last commit are lost",
		    lost_why);
		txn_lost = 0;
		return (-1);
	}
	if (db == NULL || !txn_open)
		return (0);
	if ((rc = store_step(ST_COMMIT)) != SQLITE_DONE) {
		if (!sqlite3_get_autocommit(db) &&
		    sqlite3_step(stmts[ST_ROLLBACK]) != SQLITE_DONE)
			log_warnx("store %s: rollback: %s", db_path,
			    sqlite3_errmsg(db));
		sqlite3_reset(stmts[ST_ROLLBACK]);
		txn_open = 0;
		txn_writes = 0;
		n = strlen(errbuf);
		snprintf(errbuf + n, sizeof(errbuf) - n, " (%u writes since "
		    "the last commit are lost)", lost);
		return (-1);
	}
	txn_open = 0;
	txn_writes = 0;
	return (0);
}

void
store_rollback(void)
{
	if (db != NULL && txn_open && store_step(ST_ROLLBACK) != SQLITE_DONE)
		log_warnx("%s", errbuf);
	txn_open = txn_lost = 0;
	txn_writes = 0;
}

/* Every job, in id order; the strings are valid during the call only. */
int
store_load(int (*cb)(const struct store_rec *, void *), void *arg,
    char *err, size_t len)
{
	sqlite3_stmt		*st = stmts[ST_LOAD];
	struct store_rec	 r;
	int			 rc;

	if (db == NULL) {
		store_err("not open");
		strlcpy(err, errbuf, len);
		return (-1);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		r.id = (uint64_t)sqlite3_column_int64(st, 0);
		r.state = (const char *)sqlite3_column_text(st, 1);
		r.started_at = sqlite3_column_double(st, 2);
		r.ended_at = sqlite3_column_double(st, 3);
		r.pid = (long)sqlite3_column_int64(st, 4);
		r.result = (const char *)sqlite3_column_text(st, 5);
		r.priority = sqlite3_column_int(st, 6);
		r.key = (const char *)sqlite3_column_text(st, 7);
		r.uid = (unsigned long)sqlite3_column_int64(st, 8);
		r.submitted_at = sqlite3_column_double(st, 9);
		r.request = (const char *)sqlite3_column_text(st, 10);
		/* NOT NULL columns: NULL means SQLite ran out of memory. */
		if (r.state == NULL || r.request == NULL) {
			store_err("cannot read job %llu: out of memory",
			    (unsigned long long)r.id);
			sqlite3_reset(st);
			strlcpy(err, errbuf, len);
			return (-1);
		}
		if (cb(&r, arg) == -1) {
			store_err("loading stopped at job %llu",
			    (unsigned long long)r.id);
			sqlite3_reset(st);
			strlcpy(err, errbuf, len);
			return (-1);
		}
	}
	if (rc != SQLITE_DONE) {
		store_fail(rc);
		sqlite3_reset(st);
		strlcpy(err, errbuf, len);
		return (-1);
	}
	sqlite3_reset(st);
	return (0);
}

/* The highest id ever stored, pruned or not (0: none). */
uint64_t
store_last_id(void)
{
	sqlite3_stmt	*st;
	uint64_t	 id = 0;
	int		 rc;

	if (db == NULL || (st = stmts[ST_LAST_ID]) == NULL)
		return (0);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		id = (uint64_t)sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		store_fail(rc);
	sqlite3_reset(st);
	return (id);
}
