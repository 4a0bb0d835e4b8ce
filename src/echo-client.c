/*
 * echo-client - the client of echod, and the load generator of its bench.
 * This file reads the command line and hands over to src/client/.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/cl.h"
#include "client/cl_bench.h"
#include "client/cl_dgram.h"
#include "client/cl_net.h"
#include "client/cl_stream.h"

#define MAX_TARGETS	16
#define MAX_CONNS	100000
#define MAX_THREADS	64
#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_BENCH_MS 5000
#define DEFAULT_DGRAM	1400	/* fits an Ethernet MTU, IPv4 or IPv6 */

static const char usage_text[] =
"usage: echo-client [-46ku] [-t timeout] host [port]\n"
"       echo-client -b [-46] [-c connections] [-d duration | -n count]\n"
"                   [-j threads] [-p pattern] [-s size] [-t timeout] host [port]\n";

static const char help_text[] =
"\n"
"  -4, --ipv4             use IPv4 addresses only\n"
"  -6, --ipv6             use IPv6 addresses only\n"
"  -u, --udp              use UDP instead of TCP\n"
"  -k, --check            verify the echo instead of printing it\n"
"  -t, --timeout=SECONDS  for connect and each reply (default 10, 0: none)\n"
"  -b, --bench            generate load and print figures\n"
"  -c, --connections=N    concurrent connections (default 1)\n"
"  -d, --duration=SECONDS how long to run (default 5)\n"
"  -n, --count=N          how many round trips or connections to make\n"
"  -j, --threads=N        threads generating load (default 1)\n"
"  -p, --pattern=NAME     pingpong, connect, bulk or idle (default pingpong)\n"
"  -s, --size=BYTES       message size (default 64; with -u, datagram size)\n"
"  -h, --help             show this help\n"
"  -V, --version          show the version\n"
"\n"
"Exit status: 0 ok, 1 the echo differs, 64 usage, 69 name or connection,\n"
"74 connection lost, 75 timeout.\n";

static const struct option longopts[] = {
	{ "ipv4",	 no_argument,	    NULL, '4' },
	{ "ipv6",	 no_argument,	    NULL, '6' },
	{ "bench",	 no_argument,	    NULL, 'b' },
	{ "connections", required_argument, NULL, 'c' },
	{ "duration",	 required_argument, NULL, 'd' },
	{ "help",	 no_argument,	    NULL, 'h' },
	{ "threads",	 required_argument, NULL, 'j' },
	{ "check",	 no_argument,	    NULL, 'k' },
	{ "count",	 required_argument, NULL, 'n' },
	{ "pattern",	 required_argument, NULL, 'p' },
	{ "size",	 required_argument, NULL, 's' },
	{ "timeout",	 required_argument, NULL, 't' },
	{ "udp",	 no_argument,	    NULL, 'u' },
	{ "version",	 no_argument,	    NULL, 'V' },
	{ NULL,		 0,		    NULL, 0 }
};

static void __attribute__((noreturn))
usage(const char *fmt, const char *arg)
{
	if (fmt != NULL) {
		fprintf(stderr, "echo-client: ");
		fprintf(stderr, fmt, arg);
		fprintf(stderr, "\n");
	}
	fputs(usage_text, stderr);
	exit(CL_USAGE);
}

/* "5", "0.5", "250ms", "2s" to milliseconds; -1 if it is none of those. */
static long long
parse_ms(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || v < 0 || v > 86400.0 * 365)
		return -1;
	if (strcmp(end, "ms") == 0)
		return (long long)v;
	if (*end != '\0' && strcmp(end, "s") != 0)
		return -1;
	return (long long)(v * 1000 + 0.5);
}

/* "64", "16k", "1m" to bytes; -1 if not that. */
static long long
parse_size(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno != 0 || v < 0 || v > INT_MAX)
		return -1;
	if (*end == 'k' || *end == 'K')
		v *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1024 * 1024, end++;
	return *end == '\0' && v <= INT_MAX ? v : -1;
}

static long long
parse_num(const char *opt, const char *s, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < min || v > max) {
		fprintf(stderr, "echo-client: %s: must be %lld..%lld, got \"%s\"\n",
		    opt, min, max, s);
		fputs(usage_text, stderr);
		exit(CL_USAGE);
	}
	return v;
}

/* The echo service's port from the services database, or 7 without one. */
static const char *
default_port(int udp)
{
	static char buf[8];
	struct servent *se = getservbyname("echo", udp ? "udp" : "tcp");

	snprintf(buf, sizeof(buf), "%d", se ? ntohs((uint16_t)se->s_port) : 7);
	return buf;
}

int
main(int argc, char *argv[])
{
	struct cl_target t[MAX_TARGETS];
	struct cl_bench_opts bo = { .conns = 1, .size = 64, .threads = 1,
	    .pattern = CL_PINGPONG };
	struct cl_bench_result br;
	struct cl_io io = { .in = STDIN_FILENO, .out = STDOUT_FILENO };
	struct cl_tally tally;
	char err[CL_ERRLEN];
	const char *host, *port;
	long long timeout_ms = DEFAULT_TIMEOUT_MS, duration_ms = -1, size = -1;
	int ch, family = AF_UNSPEC, udp = 0, bench = 0, check = 0, n, fd, used,
	    timedout, rc, tty;

	while ((ch = getopt_long(argc, argv, "46bc:d:hj:kn:p:s:t:uV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case '4':
			family = AF_INET;
			break;
		case '6':
			family = AF_INET6;
			break;
		case 'b':
			bench = 1;
			break;
		case 'c':
			bo.conns = (int)parse_num("-c", optarg, 1, MAX_CONNS);
			break;
		case 'd':
			if ((duration_ms = parse_ms(optarg)) <= 0)
				usage("-d: not a duration (write 5, 0.5, 500ms), "
				    "got \"%s\"", optarg);
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			return CL_OK;
		case 'j':
			bo.threads = (int)parse_num("-j", optarg, 1, MAX_THREADS);
			break;
		case 'k':
			check = 1;
			break;
		case 'n':
			bo.count = (uint64_t)parse_num("-n", optarg, 1, LLONG_MAX);
			break;
		case 'p':
			if (cl_pattern_parse(optarg, &bo.pattern) == -1)
				usage("-p: must be pingpong, connect, bulk or idle, "
				    "got \"%s\"", optarg);
			break;
		case 's':
			size = parse_size(optarg);
			if (size < 1 || size > CL_BENCH_MAXSIZE)
				usage("-s: must be 1..1m, got \"%s\"", optarg);
			break;
		case 't':
			if ((timeout_ms = parse_ms(optarg)) < 0 || timeout_ms > INT_MAX)
				usage("-t: not a duration (write 10, 0.5, 500ms), "
				    "got \"%s\"", optarg);
			break;
		case 'u':
			udp = 1;
			break;
		case 'V':
			printf("echo-client %s\n", PACKAGE_VERSION);
			return CL_OK;
		default:
			usage(NULL, NULL);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2)
		usage(argc < 1 ? "missing host%s" : "too many arguments%s", "");
	if (bench && udp)
		usage("-b measures TCP only; -u cannot go with it%s", "");
	if (bench && check)
		usage("-b verifies every byte already; -k cannot go with it%s", "");
	if (!bench && (bo.count || duration_ms >= 0 || bo.conns != 1 ||
	    bo.threads != 1 || bo.pattern != CL_PINGPONG))
		usage("-c, -d, -j, -n and -p go with -b only%s", "");
	if (duration_ms >= 0 && bo.count)
		usage("-d and -n exclude each other%s", "");
	if (udp && size > 65507)
		usage("-s: a datagram holds at most 65507 bytes%s", "");
	host = argv[0];
	port = argc == 2 ? argv[1] : default_port(udp);
	signal(SIGPIPE, SIG_IGN);

	n = cl_resolve(host, port, family, udp ? SOCK_DGRAM : SOCK_STREAM, t,
	    MAX_TARGETS, err, sizeof(err));
	if (n == -1) {
		fprintf(stderr, "echo-client: %s\n", err);
		return CL_UNAVAIL;
	}
	fd = cl_connect_any(t, n, udp ? SOCK_DGRAM : SOCK_STREAM, (int)timeout_ms,
	    &used, &timedout, err, sizeof(err));
	if (fd == -1) {
		fprintf(stderr, "echo-client: connect %s\n", err);
		return timedout ? CL_TIMEOUT : CL_UNAVAIL;
	}

	if (bench) {
		/* The load goes to the first address that took a connection. */
		close(fd);
		bo.target = &t[used];
		bo.size = size > 0 ? (size_t)size : 64;
		bo.timeout_ms = (int)timeout_ms;
		if (bo.count == 0)
			bo.duration_ms = duration_ms > 0 ? (uint64_t)duration_ms :
			    DEFAULT_BENCH_MS;
		if (bo.pattern == CL_IDLE)
			bo.timeout_ms = 0, bo.ready = stdout;
		rc = cl_bench_run(&bo, &br, err, sizeof(err));
		cl_bench_print(stdout, &bo, &br);
		if (rc != CL_OK)
			fprintf(stderr, "echo-client: %s: %s\n", t[used].name, err);
		return rc;
	}

	tty = isatty(STDIN_FILENO);
	io.sock = fd;
	io.check = check;
	io.timeout_ms = (int)timeout_ms;
	io.dgram_max = size > 0 ? (size_t)size : DEFAULT_DGRAM;
	/* A pipe checked is a pipe verified, not copied. */
	if (check && !tty)
		io.out = -1;
	if (udp)
		rc = cl_dgram_run(&io, tty, &tally, err, sizeof(err));
	else if (tty)
		rc = cl_stream_lines(&io, &tally, err, sizeof(err));
	else
		rc = cl_stream_pipe(&io, &tally, err, sizeof(err));
	close(fd);
	if (rc != CL_OK)
		fprintf(stderr, "echo-client: %s: %s\n", t[used].name, err);
	return rc;
}
