/*
 * restartjob.c - whether the stop systemd asks for is half of a restart.
 *
 * What systemd 252 does (src/core/job.c, unit.c, service.c), which this
 * relies on: "systemctl restart" installs a JOB_RESTART job on the unit;
 * it runs as a stop (SIGTERM to the main process, KillMode=mixed), and
 * when the stop is done job_finish_and_invalidate() patches it in place
 * into a JOB_START ("Patch restart jobs so that they become normal start
 * jobs").  So at SIGTERM time the unit's Job property names a job whose
 * JobType is "restart" (try-restart and reload-or-restart on a unit that
 * cannot reload collapse into it).  service_enter_dead() holds the store
 * across the dead state (n_keep_fd_store), and the store is only released
 * through unit_submit_to_release_resources_queue(), which does nothing
 * while a job is installed (u->job): the restart's own job keeps the store
 * until the new process starts with it.  A plain stop leaves no job once
 * it is done: the store is released, and whatever it held is closed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "restartjob.h"

#define BUS_TIMEOUT_USEC	(2 * 1000 * 1000)

/* 1: our unit's pending job is a restart; 0: no job, or another; -1 with
 * err: the bus could not tell. */
static int
unit_job_is_restart(sd_bus *bus, char *err, size_t errlen)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_message *reply = NULL;
	char *unit = NULL, *path = NULL, *type = NULL;
	const char *job;
	uint32_t id;
	int r, rc = -1;

	/*
	 * Our unit, from systemd itself: sd_pid_get_unit() reads
	 * /proc/1/cgroup, which the unit's ProtectProc=invisible hides.
	 */
	r = sd_bus_call_method(bus, "org.freedesktop.systemd1",
	    "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager",
	    "GetUnitByPID", &e, &reply, "u", (uint32_t)getpid());
	if (r < 0 || (r = sd_bus_message_read(reply, "o", &job)) < 0) {
		snprintf(err, errlen, "our unit: %s",
		    e.message ? e.message : strerror(-r));
		goto out;
	}
	if ((path = strdup(job)) == NULL ||
	    (unit = strdup(strrchr(path, '/') + 1)) == NULL) {
		snprintf(err, errlen, "our unit: %s", strerror(errno));
		goto out;
	}
	reply = sd_bus_message_unref(reply);
	sd_bus_error_free(&e);
	r = sd_bus_get_property(bus, "org.freedesktop.systemd1", path,
	    "org.freedesktop.systemd1.Unit", "Job", &e, &reply, "(uo)");
	if (r < 0 || (r = sd_bus_message_read(reply, "(uo)", &id, &job)) < 0) {
		snprintf(err, errlen, "%s's job: %s", unit,
		    e.message ? e.message : strerror(-r));
		goto out;
	}
	if (id == 0) {
		rc = 0;
		goto out;
	}
	r = sd_bus_get_property_string(bus, "org.freedesktop.systemd1", job,
	    "org.freedesktop.systemd1.Job", "JobType", &e, &type);
	if (r < 0) {
		snprintf(err, errlen, "%s's job %u: %s", unit, id,
		    e.message ? e.message : strerror(-r));
		goto out;
	}
	rc = strcmp(type, "restart") == 0 || strcmp(type, "try-restart") == 0 ||
	    strcmp(type, "reload-or-restart") == 0 ||
	    strcmp(type, "try-reload-or-restart") == 0;
	snprintf(err, errlen, "%s's job %u is %s", unit, id, type);
out:
	sd_bus_error_free(&e);
	sd_bus_message_unref(reply);
	free(unit);
	free(path);
	free(type);
	return rc;
}

int
restartjob_pending(char *err, size_t errlen)
{
	const char *t = getenv(RESTARTJOB_TEST_ENV);
	sd_bus *bus = NULL;
	int r, rc;

	snprintf(err, errlen, "no answer");
	if (t != NULL && (strcmp(t, "1") == 0 || strcmp(t, "0") == 0)) {
		snprintf(err, errlen, "%s=%s", RESTARTJOB_TEST_ENV, t);
		return t[0] == '1';
	}
	if ((r = sd_bus_open_system(&bus)) < 0) {
		snprintf(err, errlen, "system bus: %s", strerror(-r));
		return -1;
	}
	(void)sd_bus_set_method_call_timeout(bus, BUS_TIMEOUT_USEC);
	rc = unit_job_is_restart(bus, err, errlen);
	sd_bus_flush_close_unref(bus);
	return rc;
}
