/*
 * safepath.h - the directory a file of root's lives in, opened name by
 * name so that root never follows a name another user can change.
 */
#ifndef ECHOD_SAFEPATH_H
#define ECHOD_SAFEPATH_H

#include <stdbool.h>
#include <stddef.h>

#define SAFEPATH_MAX_LINKS	16

/*
 * Opens the directory path's last name is in (O_PATH | O_DIRECTORY) and
 * copies that name to base.  With check (root), path must be absolute and
 * every name on the way one that only root can change: in a directory
 * only root may write, or root's own in a sticky one.  A symbolic link on
 * the way is followed only if it is such a name, and its target is walked
 * the same way.  *rootonly says whether names in the directory itself can
 * be changed only by root (always false without check).
 * Returns the descriptor, or -1 with errno: EPERM (the directory whose
 * name another user can change is copied to where), EINVAL (relative
 * path, or no last name), ELOOP, or the walk's own.
 */
int	safepath_dir(const char *path, bool check, char *base, size_t baselen,
	    bool *rootonly, char *where, size_t wherelen);

#endif
