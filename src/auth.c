/*
 * Who may do what. Run as root, jobd admits root, the users named in
 * allow_users and the members of allow_groups and admin_groups; members of
 * admin_groups (and root) see every job. Run as anyone else, jobd serves
 * only root and its own uid, and runs every job as itself.
 *
 * Membership comes from the passwd and group databases at connect time
 * (getpwuid_r, getgrouplist), so a change to them applies to the next
 * connection. Group names are resolved at start and on SIGHUP: a group that
 * does not exist then admits nobody, and is logged once.
 */
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"
#include "log.h"
#include "xmalloc.h"

#define AUTH_SEP	", \t"

struct gidset {
	gid_t	*gids;
	size_t	 n;
};

static struct gidset	allow_gids, admin_gids;

static void
gidset_free(struct gidset *s)
{
	free(s->gids);
	s->gids = NULL;
	s->n = 0;
}

/* The gids of the group names in list; the missing ones are logged. */
static void
gidset_resolve(struct gidset *s, const char *opt, const char *list)
{
	struct group	 gr, *res;
	char		*copy, *name, *last, *buf;
	size_t		 len;
	int		 rc;

	gidset_free(s);
	if (list == NULL)
		return;
	copy = xstrdup(list);
	for (name = strtok_r(copy, AUTH_SEP, &last); name != NULL;
	    name = strtok_r(NULL, AUTH_SEP, &last)) {
		len = 4096;
		for (;;) {
			buf = xmalloc(len);
			res = NULL;
			rc = getgrnam_r(name, &gr, buf, len, &res);
			if (rc != ERANGE || len >= 1024 * 1024)
				break;
			free(buf);
			len *= 2;
		}
		if (res == NULL)
			log_warnx("%s: no group \"%s\"%s%s: it admits nobody",
			    opt, name, rc != 0 ? ": " : "",
			    rc != 0 ? strerror(rc) : "");
		else {
			s->gids = xreallocarray(s->gids, s->n + 1,
			    sizeof(gid_t));
			s->gids[s->n++] = gr.gr_gid;
		}
		free(buf);
	}
	free(copy);
}

/* At start and after a reload: the groups named in the configuration. */
void
auth_apply(void)
{
	if (geteuid() != 0)
		return;		/* only root and jobd's own uid get in */
	gidset_resolve(&allow_gids, "allow_groups", cfg.allow_groups);
	gidset_resolve(&admin_gids, "admin_groups", cfg.admin_groups);
}

void
auth_free(void)
{
	gidset_free(&allow_gids);
	gidset_free(&admin_gids);
}

/* 1 if allow_users names the user (by name) or the uid (by number). */
static int
auth_listed(const char *name, uid_t uid)
{
	char		*copy, *tok, *last, *end;
	unsigned long	 n;
	int		 found = 0;

	if (cfg.allow_users == NULL)
		return (0);
	copy = xstrdup(cfg.allow_users);
	for (tok = strtok_r(copy, AUTH_SEP, &last); tok != NULL && !found;
	    tok = strtok_r(NULL, AUTH_SEP, &last)) {
		if (name != NULL && strcmp(tok, name) == 0)
			found = 1;
		else if (*tok >= '0' && *tok <= '9') {
			errno = 0;
			n = strtoul(tok, &end, 10);
			found = *end == '\0' && errno == 0 && n == uid;
		}
	}
	free(copy);
	return (found);
}

static int
auth_member(const struct gidset *s, const gid_t *groups, int n)
{
	size_t	i;
	int	j;

	for (i = 0; i < s->n; i++)
		for (j = 0; j < n; j++)
			if (s->gids[i] == groups[j])
				return (1);
	return (0);
}

/*
 * May uid connect? 0 with *sees_all set, or -1 with why (for the client's
 * forbidden error and the log line).
 */
int
auth_admit(uid_t uid, int *sees_all, char *why, size_t len)
{
	struct runas	 ra;
	char		 err[256];
	int		 have, allowed;

	*sees_all = uid == 0;
	if (uid == 0)
		return (0);
	if (geteuid() != 0) {
		if (uid == geteuid())
			return (0);
		snprintf(why, len, "uid %lu: this jobd runs as uid %lu and "
		    "serves only root and its own user", (unsigned long)uid,
		    (unsigned long)geteuid());
		return (-1);
	}
	have = runas_get(uid, &ra, err, sizeof(err)) == 0;
	allowed = auth_listed(have ? ra.name : NULL, uid);
	if (have) {
		*sees_all = auth_member(&admin_gids, ra.groups, ra.ngroups);
		allowed = allowed || *sees_all ||
		    auth_member(&allow_gids, ra.groups, ra.ngroups);
	}
	if (!allowed)
		snprintf(why, len, "uid %lu%s%s%s may not use this jobd: not "
		    "in allow_users, not a member of allow_groups (%s)%s",
		    (unsigned long)uid, have ? " (" : "", have ? ra.name : "",
		    have ? ")" : "", cfg.allow_groups != NULL ?
		    cfg.allow_groups : "none", have ? "" : ", and no passwd "
		    "entry");
	if (have)
		runas_free(&ra);
	return (allowed ? 0 : -1);
}

/*
 * A run's "user": only root may name another user than itself, and only
 * to a jobd that runs as root. On success the request names a uid
 * (user_uid), which the store keeps: a restart runs the job as the same
 * user, whatever becomes of the name.
 */
int
auth_run_user(struct conn *c, struct run_req *r, struct proto_err *e)
{
	uid_t	uid = 0, self = conn_uid(c);
	int	found;

	if (r->user == NULL && r->user_uid < 0)
		return (0);
	if (r->user != NULL)
		found = runas_lookup(r->user, &uid) == 0;
	else {
		char	num[24];

		snprintf(num, sizeof(num), "%lld", (long long)r->user_uid);
		found = runas_lookup(num, &uid) == 0;
	}
	e->code = JOBD_E_FORBIDDEN;
	e->limit = NULL;
	if (self != 0 && (!found || uid != self)) {
		snprintf(e->msg, sizeof(e->msg), "run: \"user\": only root may "
		    "run a job as another user");
		return (-1);
	}
	if (!found) {
		e->code = JOBD_E_BAD_REQUEST;
		snprintf(e->msg, sizeof(e->msg), "run: \"user\": no such user "
		    "\"%.64s\"", r->user != NULL ? r->user : "");
		if (r->user == NULL)
			snprintf(e->msg, sizeof(e->msg), "run: \"user\": no "
			    "such user (uid %lld)", (long long)r->user_uid);
		return (-1);
	}
	if (geteuid() != 0 && uid != geteuid()) {
		snprintf(e->msg, sizeof(e->msg), "run: \"user\": this jobd runs "
		    "as uid %lu and runs jobs only as itself",
		    (unsigned long)geteuid());
		return (-1);
	}
	free(r->user);
	r->user = NULL;
	r->user_uid = uid;
	return (0);
}
