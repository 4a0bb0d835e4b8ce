/*
 * check_echo - a probe of an echo service for monitoring systems (Icinga,
 * Nagios, a routing daemon's health check, cron), with the monitoring
 * plugins' conventions: -H, -p, -w, -c, -t; one line of text with
 * performance data; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
 * This file reads the command line; the probe is src/client/cl_probe.c.
 */
#include "config.h"

#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/cl.h"
#include "client/cl_args.h"
#include "client/cl_net.h"
#include "client/cl_probe.h"
#include "util.h"

#define MAX_TARGETS	16
#define MAX_TIMEOUT_MS	(3600ULL * 1000)

static const char usage_text[] =
"usage: check_echo -H host [-46u] [-p port] [-n probes] [-s size]\n"
"                  [-w rtt,loss%] [-c rtt,loss%] [-t timeout]\n"
"       check_echo -h | -V\n";

static const char help_text[] =
"\n"
"  -H, --hostname=HOST    the echo server's name or address\n"
"  -p, --port=PORT        its port (default: the echo service's, 7)\n"
"  -u, --udp              probe over UDP instead of TCP\n"
"  -4, --ipv4             use IPv4 addresses only\n"
"  -6, --ipv6             use IPv6 addresses only\n"
"  -n, --packets=N        probes to send (default 5, at most 1000)\n"
"  -s, --size=BYTES       bytes per probe (default 64, 24..65507)\n"
"  -w, --warning=RTT,LOSS%  warning above this average round trip in ms\n"
"                         or this loss (default 100,20%)\n"
"  -c, --critical=RTT,LOSS% critical above these (default 500,60%)\n"
"  -t, --timeout=SECONDS  for the whole check (default 10)\n"
"  -h, --help             show this help\n"
"  -V, --version          show the version\n"
"\n"
"Exit status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n";

static const struct option longopts[] = {
	{ "ipv4",	no_argument,	   NULL, '4' },
	{ "ipv6",	no_argument,	   NULL, '6' },
	{ "critical",	required_argument, NULL, 'c' },
	{ "hostname",	required_argument, NULL, 'H' },
	{ "help",	no_argument,	   NULL, 'h' },
	{ "packets",	required_argument, NULL, 'n' },
	{ "port",	required_argument, NULL, 'p' },
	{ "size",	required_argument, NULL, 's' },
	{ "timeout",	required_argument, NULL, 't' },
	{ "udp",	no_argument,	   NULL, 'u' },
	{ "version",	no_argument,	   NULL, 'V' },
	{ "warning",	required_argument, NULL, 'w' },
	{ NULL,		0,		   NULL, 0 }
};

struct args {
	const char		*host;
	const char		*port_arg;
	struct cl_probe_limit	 warn, crit;
	uint64_t		 count, size, timeout_ms;
	int			 family, udp;
};

/* Wrong usage: UNKNOWN, as the plugins say it. */
static void __attribute__((noreturn))
unknown(const char *what, const char *arg, const char *why)
{
	if (arg != NULL)
		printf("ECHO UNKNOWN - %s \"%s\": %s\n", what, arg, why);
	else
		printf("ECHO UNKNOWN - %s\n", what);
	fputs(usage_text, stderr);
	exit(PROBE_UNKNOWN);
}

/* What the options say together: no operand, a host, -w within -c. */
static void
check_options(int argc, char *argv[], const struct args *a)
{
	if (optind < argc)
		unknown("too many arguments", argv[optind], "options only");
	if (a->host == NULL)
		unknown("missing -H host", NULL, NULL);
	if (a->warn.rtt_ms > a->crit.rtt_ms || a->warn.loss_pct > a->crit.loss_pct)
		unknown("-w is above -c", NULL, NULL);
}

static void
read_options(int argc, char *argv[], struct args *a)
{
	char why[128];
	int ch;

	while ((ch = getopt_long(argc, argv, "46c:H:hn:p:s:t:uVw:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case '4':
			a->family = AF_INET;
			break;
		case '6':
			a->family = AF_INET6;
			break;
		case 'c':
			if (cl_probe_limit_parse(optarg, &a->crit, why, sizeof(why)))
				unknown("-c", optarg, why);
			break;
		case 'H':
			a->host = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			exit(PROBE_OK);
		case 'n':
			if (cl_arg_uint(optarg, 1, PROBE_MAX_COUNT, &a->count, why,
			    sizeof(why)) == -1)
				unknown("-n", optarg, why);
			break;
		case 'p':
			a->port_arg = optarg;
			break;
		case 's':
			if (cl_arg_size(optarg, PROBE_MIN_SIZE, PROBE_MAX_SIZE,
			    &a->size, why, sizeof(why)) == -1)
				unknown("-s", optarg, why);
			break;
		case 't':
			if (cl_arg_ms(optarg, 1, MAX_TIMEOUT_MS, &a->timeout_ms,
			    why, sizeof(why)) == -1)
				unknown("-t", optarg, why);
			break;
		case 'u':
			a->udp = 1;
			break;
		case 'V':
			printf("check_echo %s\n", PACKAGE_VERSION);
			exit(PROBE_OK);
		case 'w':
			if (cl_probe_limit_parse(optarg, &a->warn, why, sizeof(why)))
				unknown("-w", optarg, why);
			break;
		default:
			fputs(usage_text, stderr);
			exit(PROBE_UNKNOWN);
		}
	}
	check_options(argc, argv, a);
}

/* The port given, or the echo service's from the services database. */
static const char *
port_of(const struct args *a, char *buf, size_t len)
{
	const char *proto = a->udp ? "udp" : "tcp";
	char why[128];
	uint16_t port = cl_echo_port(proto);

	if (a->port_arg != NULL &&
	    cl_arg_port(a->port_arg, proto, &port, why, sizeof(why)) == -1)
		unknown("-p", a->port_arg, why);
	snprintf(buf, len, "%u", (unsigned)port);
	return buf;
}

int
main(int argc, char *argv[])
{
	struct args a = { .count = 5, .size = 64, .timeout_ms = 10000,
	    .family = AF_UNSPEC, .warn = { 100, 20 }, .crit = { 500, 60 } };
	struct cl_target t[MAX_TARGETS];
	struct cl_probe_opts o;
	struct cl_probe_result r;
	enum cl_probe_state st;
	char err[CL_ERRLEN], port[8];
	int n, used, timedout, socktype;
	uint64_t wait_ms;

	read_options(argc, argv, &a);
	signal(SIGPIPE, SIG_IGN);
	socktype = a.udp ? SOCK_DGRAM : SOCK_STREAM;
	n = cl_resolve(a.host, port_of(&a, port, sizeof(port)), a.family,
	    socktype, t, MAX_TARGETS, err, sizeof(err));
	if (n == -1) {
		printf("ECHO UNKNOWN - %s\n", err);
		return PROBE_UNKNOWN;
	}
	memset(&o, 0, sizeof(o));
	o.deadline_ns = cl_deadline((int)a.timeout_ms);
	o.sock = cl_connect_any(t, n, socktype, (int)a.timeout_ms, &used,
	    &timedout, err, sizeof(err));
	if (o.sock == -1) {
		printf("ECHO CRITICAL - connect %s\n", err);
		return PROBE_CRITICAL;
	}
	o.udp = a.udp;
	o.count = (int)a.count;
	o.size = (size_t)a.size;
	/* Past twice the critical round trip (and 1 s) an echo is lost. */
	wait_ms = (uint64_t)(2 * a.crit.rtt_ms);
	o.wait_ms = (int)(wait_ms < 1000 ? 1000 : wait_ms);
	cl_probe_run(&o, &r);
	close(o.sock);
	st = cl_probe_judge(&r, o.count, &a.warn, &a.crit);
	cl_probe_print(stdout, st, t[used].name, &o, &r, o.count, &a.warn,
	    &a.crit);
	return st;
}
