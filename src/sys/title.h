/* title.h - what ps(1) and top -c show of each echod process, as nginx and
 * php-fpm do: "echod: master (generation 3, 4 workers)".  The process name
 * (comm) stays "echod", so pgrep -x echod still finds them all. */
#ifndef ECHOD_TITLE_H
#define ECHOD_TITLE_H

#include <stdbool.h>

#define TITLE_MAX	128

/* Before anything reads argv: libbsd moves the arguments and the
 * environment out of the way of the title (argv's strings stay valid). */
void	title_init(int argc, char **argv);
/* The master's title; set again only when it changes. */
void	title_master(unsigned generation, int workers, bool stopping);
void	title_worker(int slot, unsigned generation, bool draining);
void	title_metrics(void);

/* The titles' text, unit-tested. */
void	title_format_master(char *, unsigned generation, int workers,
	    bool stopping);
void	title_format_worker(char *, int slot, unsigned generation,
	    bool draining);

#endif
