/*
 * title.c - process titles through libbsd's setproctitle(), which owns the
 * argv-overwriting trick.  The text is ours ("-" keeps libbsd from putting
 * its own program name in front: under libtool or a renamed binary that
 * would not be "echod").
 */
#include "config.h"

#include <bsd/unistd.h>
#include <stdio.h>
#include <string.h>

#include "title.h"

extern char **environ;

static char current[TITLE_MAX];
/*
 * libbsd marks a title shorter than argv[0] was with a '.' where argv[0]
 * ended, and ps shows it ("echod: worker 0 (generation 1)     ."): titles
 * are padded with spaces to that length.  Every title goes through set():
 * "echod: metrics" is shorter than /usr/sbin/echod.
 */
static int min_len;

void
title_init(int argc, char **argv)
{
	if (argc > 0 && argv[0] != NULL) {
		size_t n = strlen(argv[0]);
		min_len = n < TITLE_MAX ? (int)n : TITLE_MAX;
	}
	setproctitle_init(argc, argv, environ);
}

static void
set(const char *title)
{
	if (strcmp(title, current) == 0)
		return;
	snprintf(current, sizeof(current), "%s", title);
	setproctitle("-%-*s", min_len, title);
}

void
title_format_master(char *buf, unsigned generation, int workers,
    bool stopping)
{
	snprintf(buf, TITLE_MAX, "echod: master (generation %u, %d worker%s%s)",
	    generation, workers, workers == 1 ? "" : "s",
	    stopping ? ", stopping" : "");
}

void
title_format_worker(char *buf, int slot, unsigned generation, bool draining)
{
	snprintf(buf, TITLE_MAX, "echod: worker %d (generation %u%s)", slot,
	    generation, draining ? ", draining" : "");
}

void
title_master(unsigned generation, int workers, bool stopping)
{
	char buf[TITLE_MAX];

	title_format_master(buf, generation, workers, stopping);
	set(buf);
}

void
title_worker(int slot, unsigned generation, bool draining)
{
	char buf[TITLE_MAX];

	title_format_worker(buf, slot, generation, draining);
	set(buf);
}

void
title_metrics(void)
{
	set("echod: metrics");
}
