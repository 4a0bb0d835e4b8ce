/* privdrop.c - dropping root for good in a worker. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "privdrop.h"

int
privdrop_resolve(const char *user, const char *group, struct creds *c,
    char *err, size_t errlen)
{
	struct passwd *pw;
	struct group *gr;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user %s: %s", user,
		    errno ? strerror(errno) : "no such user");
		return -1;
	}
	snprintf(c->user, sizeof(c->user), "%s", user);
	c->uid = pw->pw_uid;
	c->gid = pw->pw_gid;
	if (group != NULL) {
		errno = 0;
		if ((gr = getgrnam(group)) == NULL) {
			snprintf(err, errlen, "group %s: %s", group,
			    errno ? strerror(errno) : "no such group");
			return -1;
		}
		c->gid = gr->gr_gid;
	}
	if (geteuid() != 0 && (c->uid != geteuid() || c->gid != getegid())) {
		snprintf(err, errlen, "user %s: switching users needs root", user);
		return -1;
	}
	return 0;
}

int
privdrop_apply(const struct creds *c, char *err, size_t errlen)
{
	if (geteuid() != 0)
		return 0;	/* resolve() checked we already are that user */
	if (initgroups(c->user, c->gid) == -1 || setgid(c->gid) == -1 ||
	    setuid(c->uid) == -1) {
		snprintf(err, errlen, "switching to user %s: %s", c->user,
		    strerror(errno));
		return -1;
	}
	if (c->uid != 0 && (setuid(0) != -1 || seteuid(0) != -1)) {
		snprintf(err, errlen, "switching to user %s: root could be regained",
		    c->user);
		return -1;
	}
	return 0;
}
