/*
 * A user's identity, from the passwd and group databases (NSS): what a job
 * of theirs runs as, and the groups that admit a connection. Looked up in
 * jobd, never in a job's child (which makes system calls only). NSS may
 * block (LDAP, sssd): these calls run in the event loop, as documented in
 * jobd(8).
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"
#include "log.h"
#include "xmalloc.h"

/* Buffers for getpw*_r grow up to this: a sane entry is far smaller. */
#define RUNAS_BUF_MAX	(1024 * 1024)

/* A passwd lookup by name (uid NULL) or by uid, into pw and *buf. */
static int
runas_getpw(const char *name, const uid_t *uid, struct passwd *pw,
    char **buf)
{
	struct passwd	*res = NULL;
	size_t		 len = 4096;
	int		 rc;

	for (;;) {
		*buf = xmalloc(len);
		rc = name != NULL ? getpwnam_r(name, pw, *buf, len, &res) :
		    getpwuid_r(*uid, pw, *buf, len, &res);
		if (rc != ERANGE || len >= RUNAS_BUF_MAX)
			break;
		free(*buf);
		len *= 2;
	}
	if (res == NULL) {
		free(*buf);
		*buf = NULL;
		errno = rc != 0 ? rc : ENOENT;
		return (-1);
	}
	return (0);
}

/* A user name, or a numeric uid, that has a passwd entry: its uid. */
int
runas_lookup(const char *name, uid_t *uid)
{
	struct passwd	 pw;
	char		*buf, *end;
	unsigned long	 n;

	if (runas_getpw(name, NULL, &pw, &buf) == 0) {
		*uid = pw.pw_uid;
		free(buf);
		return (0);
	}
	errno = 0;
	n = strtoul(name, &end, 10);
	if (*name < '0' || *name > '9' || *end != '\0' || errno != 0 ||
	    n > UINT_MAX - 1)
		return (-1);
	*uid = (uid_t)n;
	if (runas_getpw(NULL, uid, &pw, &buf) == -1)
		return (-1);
	free(buf);
	return (0);
}

/* The groups of user name, primary gid included (getgrouplist). */
int
runas_groups(const char *name, gid_t gid, gid_t **groups, int *n)
{
	long	max = sysconf(_SC_NGROUPS_MAX);
	int	cap = 32, want;

	if (max <= 0 || max > 65536)
		max = 65536;
	for (;;) {
		*groups = xreallocarray(NULL, (size_t)cap, sizeof(gid_t));
		want = cap;
		if (getgrouplist(name, gid, *groups, &want) != -1) {
			*n = want;
			return (0);
		}
		free(*groups);
		*groups = NULL;
		/* want is now what it takes (glibc); grow anyway. */
		if (cap >= max)
			return (-1);
		cap = want > cap ? want : cap * 2;
		if (cap > max)
			cap = (int)max;
	}
}

int
runas_get(uid_t uid, struct runas *ra, char *err, size_t len)
{
	struct passwd	 pw;
	char		*buf;

	memset(ra, 0, sizeof(*ra));
	if (runas_getpw(NULL, &uid, &pw, &buf) == -1) {
		snprintf(err, len, "uid %lu: %s", (unsigned long)uid,
		    errno == ENOENT ? "no such user" : strerror(errno));
		return (-1);
	}
	ra->uid = pw.pw_uid;
	ra->gid = pw.pw_gid;
	ra->name = xstrdup(pw.pw_name);
	ra->home = xstrdup(*pw.pw_dir != '\0' ? pw.pw_dir : "/");
	ra->shell = xstrdup(*pw.pw_shell != '\0' ? pw.pw_shell : "/bin/sh");
	free(buf);
	if (runas_groups(ra->name, ra->gid, &ra->groups, &ra->ngroups) == -1) {
		snprintf(err, len, "user %s: more groups than the system "
		    "allows", ra->name);
		runas_free(ra);
		return (-1);
	}
	return (0);
}

void
runas_free(struct runas *ra)
{
	free(ra->groups);
	free(ra->name);
	free(ra->home);
	free(ra->shell);
	memset(ra, 0, sizeof(*ra));
}
