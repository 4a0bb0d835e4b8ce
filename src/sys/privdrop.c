/* privdrop.c - dropping root for good in a worker. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "privdrop.h"

/* Whether this process holds cap in its effective set. */
static bool
have_cap(int cap)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d) == -1)
		return false;
	return (d[CAP_TO_INDEX(cap)].effective & CAP_TO_MASK(cap)) != 0;
}

int
privdrop_resolve(const char *user, const char *group, struct creds *c,
    const char **which, char *err, size_t errlen)
{
	struct passwd *pw;
	struct group *gr;

	*which = "user";
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "%s", errno ? strerror(errno) : "no such user");
		return -1;
	}
	snprintf(c->user, sizeof(c->user), "%s", user);
	c->uid = pw->pw_uid;
	c->gid = pw->pw_gid;
	if (group != NULL) {
		*which = "group";
		errno = 0;
		if ((gr = getgrnam(group)) == NULL) {
			snprintf(err, errlen, "%s",
			    errno ? strerror(errno) : "no such group");
			return -1;
		}
		c->gid = gr->gr_gid;
	}
	/* Without root, only "switching" to what we already are works (the
	 * shipped unit runs echod as its user, with no capability). */
	if (geteuid() != 0 && c->uid != geteuid()) {
		*which = "user";
		snprintf(err, errlen, "switching users needs root, and echod runs "
		    "as uid %ld", (long)geteuid());
		return -1;
	}
	if (geteuid() != 0 && c->gid != getegid()) {
		*which = group != NULL ? "group" : "user";
		snprintf(err, errlen, "switching groups needs root, and echod runs "
		    "as gid %ld", (long)getegid());
		return -1;
	}
	if (geteuid() == 0 && (!have_cap(CAP_SETUID) || !have_cap(CAP_SETGID))) {
		*which = "user";
		snprintf(err, errlen, "switching users needs CAP_SETUID and "
		    "CAP_SETGID, which echod does not have");
		return -1;
	}
	*which = NULL;
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

int
privdrop_child(const struct creds *c, pid_t master, char *err, size_t errlen)
{
	if (c != NULL && privdrop_apply(c, err, errlen) == -1)
		return -1;
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1) {
		snprintf(err, errlen, "prctl(PR_SET_PDEATHSIG): %s",
		    strerror(errno));
		return -1;
	}
	return getppid() != master;	/* it died before: nobody to serve */
}
