/*
 * restartjob.h - is systemd restarting us?  On SIGTERM, the master parks
 * its connections in the descriptor store only if the unit's pending job
 * is a restart: systemd 252 keeps the store while a job is installed on
 * the unit (a restart job turns into a start job once the stop is done)
 * and releases it when the unit goes inactive with no job.
 */
#ifndef ECHOD_RESTARTJOB_H
#define ECHOD_RESTARTJOB_H

#include <stddef.h>

/* Tests only: "1" or "0" answers instead of the bus ("ask" or unset:
 * the bus). */
#define RESTARTJOB_TEST_ENV	"ECHOD_TEST_RESTART_PENDING"

/*
 * Asks systemd over D-Bus (the system bus, sd-bus) for our unit's Job and
 * its JobType: 1 when it is a restart, 0 when not, -1 when it cannot tell
 * (no bus, not a unit, a timeout), with err saying why.
 */
int	restartjob_pending(char *err, size_t errlen);

#endif
