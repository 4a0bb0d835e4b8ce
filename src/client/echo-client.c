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
#include "client/cl_args.h"
#include "client/cl_bconn.h"
#include "client/cl_bdgram.h"
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
#define MAX_DGRAM	65507	/* the most an IPv4 datagram holds */
#define MAX_TIMEOUT_MS	(1000000ULL * 1000)	/* 11 days; 0 is "none" */
#define MAX_DURATION_MS	(86400ULL * 365 * 1000)
#define MAX_WINDOW	(1024ULL * 1024 * 1024)
#define MAX_UDP_WINDOW	64	/* -u: sockets per source address */
#define DEFAULT_BULK	65536

static const char usage_text[] =
"usage: echo-client [-46ku] [-s size] [-t timeout] host [port]\n"
"       echo-client -b [-46u] [-c connections] [-d duration | -n count]\n"
"                   [-j threads] [-p pattern] [-r read] [-s size]\n"
"                   [-t timeout] [-W window] host [port]\n"
"       echo-client -h | -V\n";

static const char help_text[] =
"\n"
"  -4, --ipv4             use IPv4 addresses only\n"
"  -6, --ipv6             use IPv6 addresses only\n"
"  -u, --udp              use UDP instead of TCP\n"
"  -k, --check            verify the echo instead of printing it\n"
"  -t, --timeout=SECONDS  for connect and each reply (default 10, 0: none)\n"
"  -b, --bench            generate load and print figures\n"
"  -c, --connections=N    concurrent connections (default 1; with -u,\n"
"                         sources, each with a datagram in flight)\n"
"  -d, --duration=SECONDS how long to run (default 5)\n"
"  -n, --count=N          how many round trips or connections to make\n"
"  -j, --threads=N        threads generating load (default 1)\n"
"  -p, --pattern=NAME     pingpong, connect, bulk or idle (default pingpong)\n"
"  -r, --read=BYTES       -b: the most bytes one read takes (default 256k)\n"
"  -s, --size=BYTES       message size (default 64; with -u, datagram size;\n"
"                         with -p bulk, bytes per write, default 64k)\n"
"  -W, --window=BYTES     -p bulk: most bytes sent and not yet echoed;\n"
"                         -u: datagrams in flight per source address\n"
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
	{ "read",	 required_argument, NULL, 'r' },
	{ "size",	 required_argument, NULL, 's' },
	{ "timeout",	 required_argument, NULL, 't' },
	{ "udp",	 no_argument,	    NULL, 'u' },
	{ "version",	 no_argument,	    NULL, 'V' },
	{ "window",	 required_argument, NULL, 'W' },
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

/* A numeric argument that is wrong: name it, say why, and stop. */
static void __attribute__((noreturn))
bad_arg(const char *what, const char *arg, const char *why)
{
	fprintf(stderr, "echo-client: %s \"%s\": %s\n", what, arg, why);
	fputs(usage_text, stderr);
	exit(CL_USAGE);
}

static uint64_t
num_arg(const char *what, const char *arg, uint64_t min, uint64_t max)
{
	char why[128];
	uint64_t v;

	if (cl_arg_uint(arg, min, max, &v, why, sizeof(why)) == -1)
		bad_arg(what, arg, why);
	return v;
}

static uint64_t
ms_arg(const char *what, const char *arg, uint64_t min, uint64_t max)
{
	char why[128];
	uint64_t v;

	if (cl_arg_ms(arg, min, max, &v, why, sizeof(why)) == -1)
		bad_arg(what, arg, why);
	return v;
}

/* The echo service's port from the services database, or 7 without one. */
static const char *
default_port(int udp)
{
	static char buf[8];

	snprintf(buf, sizeof(buf), "%u", (unsigned)cl_echo_port(udp ? "udp" : "tcp"));
	return buf;
}

/* The command line, read. */
struct args {
	struct cl_bench_opts	 bo;
	const char		*host;
	const char		*port;
	const char		*size_arg;
	char			 portbuf[8];
	uint64_t		 timeout_ms, duration_ms, size, window, rsize;
	int			 family, udp, bench, check;
};

/* -r, -s or -W: a size in bytes, within that option's bounds. */
static void
size_option(int ch, const char *arg, struct args *a)
{
	char opt[3] = { '-', (char)ch, '\0' }, why[128];
	uint64_t max = ch == 'r' ? CL_BCONN_IOBUF : ch == 's' ? CL_BENCH_MAXSIZE :
	    MAX_WINDOW;
	uint64_t *out = ch == 'r' ? &a->rsize : ch == 's' ? &a->size : &a->window;

	if (cl_arg_size(arg, 1, max, out, why, sizeof(why)) == -1)
		bad_arg(opt, arg, why);
	if (ch == 's')
		a->size_arg = arg;
}

static void
read_options(int argc, char *argv[], struct args *a)
{
	int ch;

	while ((ch = getopt_long(argc, argv, "46bc:d:hj:kn:p:r:s:t:uVW:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case '4':
			a->family = AF_INET;
			break;
		case '6':
			a->family = AF_INET6;
			break;
		case 'b':
			a->bench = 1;
			break;
		case 'c':
			a->bo.conns = (int)num_arg("-c", optarg, 1, MAX_CONNS);
			break;
		case 'd':
			a->duration_ms = ms_arg("-d", optarg, 1, MAX_DURATION_MS);
			break;
		case 'h':
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			exit(CL_OK);
		case 'j':
			a->bo.threads = (int)num_arg("-j", optarg, 1, MAX_THREADS);
			break;
		case 'k':
			a->check = 1;
			break;
		case 'n':
			a->bo.count = num_arg("-n", optarg, 1, LLONG_MAX);
			break;
		case 'p':
			if (cl_pattern_parse(optarg, &a->bo.pattern) == -1)
				bad_arg("-p", optarg, "must be pingpong, connect, "
				    "bulk or idle");
			break;
		case 'r':
		case 's':
		case 'W':
			size_option(ch, optarg, a);
			break;
		case 't':
			a->timeout_ms = ms_arg("-t", optarg, 0, MAX_TIMEOUT_MS);
			break;
		case 'u':
			a->udp = 1;
			break;
		case 'V':
			printf("echo-client %s\n", PACKAGE_VERSION);
			exit(CL_OK);
		default:
			usage(NULL, NULL);
		}
	}
}

/*
 * The number of operands, and the options that cannot go together or not
 * without -b.
 */
static void
check_options(const struct args *a, int noperands)
{
	const struct cl_bench_opts *bo = &a->bo;

	if (noperands < 1 || noperands > 2)
		usage(noperands < 1 ? "missing host%s" : "too many arguments%s", "");
	if (a->bench && a->udp && bo->pattern != CL_PINGPONG)
		usage("-b -u sends datagrams in ping-pong; -p cannot go with it%s", "");
	if (a->bench && a->udp && a->size && a->size < CL_BDGRAM_HDR)
		bad_arg("-s", a->size_arg, "out of range (8..65507 with -b -u: "
		    "each datagram carries its source and number)");
	if (a->window && (!a->bench || (bo->pattern != CL_BULK && !a->udp)))
		usage("-W goes with -b -p bulk or -b -u only%s", "");
	if (a->rsize && (!a->bench || a->udp))
		usage("-r goes with -b over TCP only%s", "");
	if (a->window > MAX_UDP_WINDOW && a->udp)
		usage("-W with -u: 1..64 datagrams in flight per source%s", "");
	if (a->bench && a->check)
		usage("-b verifies every byte already; -k cannot go with it%s", "");
	if (!a->bench && (bo->count || a->duration_ms || bo->conns != 1 ||
	    bo->threads != 1 || bo->pattern != CL_PINGPONG))
		usage("-c, -d, -j, -n and -p go with -b only%s", "");
	if (a->duration_ms && bo->count)
		usage("-d and -n exclude each other%s", "");
	/* Neither pattern has a round trip to count: -n never ended them. */
	if (bo->count && (bo->pattern == CL_BULK || bo->pattern == CL_IDLE))
		usage("-n counts round trips or connections; -p %s runs for -d",
		    cl_pattern_name(bo->pattern));
	if (a->size && !a->bench && !a->udp)
		usage("-s goes with -b or -u only%s", "");
	if (a->udp && a->size > MAX_DGRAM)
		bad_arg("-s", a->size_arg, "out of range (1..65507 with -u: the "
		    "largest datagram)");
}

/* host [port]: the port given, or the echo service's. */
static void
read_operands(int argc, char *argv[], struct args *a)
{
	char why[128];
	uint16_t portnum;

	a->host = argv[0];
	a->port = default_port(a->udp);
	if (argc == 2) {
		/* Checked here: getaddrinfo() would wrap 99999 to 34463. */
		if (cl_arg_port(argv[1], a->udp ? "udp" : "tcp", &portnum, why,
		    sizeof(why)) == -1)
			bad_arg("port", argv[1], why);
		snprintf(a->portbuf, sizeof(a->portbuf), "%u", (unsigned)portnum);
		a->port = a->portbuf;
	}
}

/* The load goes to the first address that took a connection. */
static int
bench(struct args *a, const struct cl_target *t)
{
	struct cl_bench_opts *bo = &a->bo;
	struct cl_bench_result br;
	char err[CL_ERRLEN], hint[320];
	int rc;

	bo->target = t;
	bo->size = a->size > 0 ? (size_t)a->size :
	    bo->pattern == CL_BULK ? DEFAULT_BULK : 64;
	bo->window = (size_t)a->window;
	bo->rsize = (size_t)a->rsize;
	bo->udp = a->udp;
	bo->timeout_ms = (int)a->timeout_ms;
	if (bo->count == 0)
		bo->duration_ms = a->duration_ms > 0 ? a->duration_ms :
		    DEFAULT_BENCH_MS;
	/* -t still bounds the connects and the first echo of idle. */
	if (bo->pattern == CL_IDLE)
		bo->ready = stdout;
	rc = cl_bench_run(bo, &br, err, sizeof(err));
	cl_bench_print(stdout, bo, &br);
	if (rc != CL_OK)
		fprintf(stderr, "echo-client: %s: %s\n", t->name, err);
	/* on stderr: the report on stdout is for tools */
	if (bo->udp && cl_bdgram_hint(bo, &br, hint, sizeof(hint)) == 0)
		fprintf(stderr, "echo-client: note: %s\n", hint);
	return rc;
}

/* Standard input to the server, its echo to standard output. */
static int
talk(const struct args *a, int fd, const struct cl_target *t)
{
	struct cl_io io = { .in = STDIN_FILENO, .out = STDOUT_FILENO };
	struct cl_tally tally;
	char err[CL_ERRLEN];
	int rc, tty = isatty(STDIN_FILENO);

	io.sock = fd;
	io.check = a->check;
	io.timeout_ms = (int)a->timeout_ms;
	io.dgram_max = a->size > 0 ? (size_t)a->size : DEFAULT_DGRAM;
	/* A pipe checked is a pipe verified, not copied. */
	if (a->check && !tty)
		io.out = -1;
	if (a->udp)
		rc = cl_dgram_run(&io, tty, &tally, err, sizeof(err));
	else if (tty)
		rc = cl_stream_lines(&io, &tally, err, sizeof(err));
	else
		rc = cl_stream_pipe(&io, &tally, err, sizeof(err));
	if (rc != CL_OK)
		fprintf(stderr, "echo-client: %s: %s\n", t->name, err);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct args a = { .bo = { .conns = 1, .size = 64, .threads = 1,
	    .pattern = CL_PINGPONG }, .timeout_ms = DEFAULT_TIMEOUT_MS,
	    .family = AF_UNSPEC };
	struct cl_target t[MAX_TARGETS];
	char err[CL_ERRLEN];
	int socktype, n, fd, used, timedout, rc;

	read_options(argc, argv, &a);
	check_options(&a, argc - optind);
	read_operands(argc - optind, argv + optind, &a);
	signal(SIGPIPE, SIG_IGN);

	socktype = a.udp ? SOCK_DGRAM : SOCK_STREAM;
	n = cl_resolve(a.host, a.port, a.family, socktype, t, MAX_TARGETS, err,
	    sizeof(err));
	if (n == -1) {
		fprintf(stderr, "echo-client: %s\n", err);
		return CL_UNAVAIL;
	}
	fd = cl_connect_any(t, n, socktype, (int)a.timeout_ms, &used, &timedout,
	    err, sizeof(err));
	if (fd == -1) {
		fprintf(stderr, "echo-client: connect %s\n", err);
		return timedout ? CL_TIMEOUT : CL_UNAVAIL;
	}
	if (a.bench) {
		close(fd);
		return bench(&a, &t[used]);
	}
	rc = talk(&a, fd, &t[used]);
	close(fd);
	return rc;
}
