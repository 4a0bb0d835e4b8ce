#!/bin/sh
# check-valgrind.sh BUILDDIR - the unit suites, then the integration "echo",
# "lifecycle" and "start-failures" suites with echod itself, under
# memcheck.  Fails on any memory error or definite leak, in the tests or in
# any echod process (master or worker), on any failed test, and on any
# suite that does not finish in its time.  Reports suite by suite.
# Usage: run by `make check-valgrind`.  VG_SUITES overrides the integration
# suites (e.g. VG_SUITES="echo lifecycle"); VG_UNIT_SECS and VG_SUITE_SECS
# the time each run may take.
set -u
top_builddir=$(cd "${1:-.}" && pwd)
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
# what `make check` gives the suites: etc/echod.conf, the crash shim, ...
export top_builddir top_srcdir
unit_secs=${VG_UNIT_SECS:-300}
suite_secs=${VG_SUITE_SECS:-120}

if ! valgrind=$(command -v valgrind); then
	echo "check-valgrind: valgrind is not installed" >&2
	exit 1
fi
if ! command -v timeout >/dev/null 2>&1; then
	echo "check-valgrind: timeout (coreutils) is not installed" >&2
	exit 1
fi
vgdir=$(mktemp -d /tmp/echod-vg.XXXXXX)
vgopts="--leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --track-fds=no --num-callers=30"
failed=""	# "suite (why)", one per failed suite

# Left out: the tests tagged so in their files, each with its reason.
# "sent-fault-signals": valgrind mishandles SIGSEGV, SIGBUS, SIGILL, SIGFPE
# and SIGTRAP sent by kill() to a process blocked in a system call.
# "no-valgrind": tests that time what memcheck slows down.
CK_EXCLUDE_TAGS="sent-fault-signals no-valgrind"
export CK_EXCLUDE_TAGS

# Ends the processes of this run that a suite left behind: memcheck's
# processes name their log directory on their command line.  A timed-out
# suite leaves its echods (timeout ends only its own process group; some
# tests give echod a group or a session of its own).
sweep()
{
	for d in /proc/[0-9]*; do
		cmd=$( (tr '\0' ' ' <"$d/cmdline") 2>/dev/null) || continue
		case $cmd in
		*"--log-file=$1/"*)
			echo "   left running, killed: pid ${d#/proc/}"
			kill -KILL "${d#/proc/}" 2>/dev/null;;
		esac
	done
}

# judge NAME SECS STATUS SECONDS: the verdict on one run, from its exit
# status, its TAP and the memcheck logs of its processes.
judge()
{
	name=$1 secs=$2 rc=$3 took=$4 out=$vgdir/$1.out logs=$vgdir/$1
	ok=$(grep -c '^ok' "$out")
	notok=$(grep -c '^not ok' "$out")
	plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' "$out")
	nlogs=$(ls "$logs" | wc -l)
	bad=$(grep -l 'ERROR SUMMARY: [1-9]\|are definitely lost' "$logs"/*.log \
	    2>/dev/null)
	why=""
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="timed out after ${secs} s"
	elif [ "$notok" -gt 0 ]; then
		why="$notok tests failed"
	elif [ -z "$plan" ] || [ "$plan" -ne "$ok" ]; then
		why="ended without its report (exit status $rc)"
	elif [ "$rc" -ne 0 ]; then
		why="exit status $rc"
	fi
	if [ -n "$bad" ]; then
		why="${why:+$why, }memory errors or leaks in $(echo "$bad" |
		    wc -l) processes"
	fi
	echo "   $name: $ok ok, $notok not ok, $nlogs processes checked by" \
	    "memcheck, ${took} s: ${why:-passed}"
	grep '^not ok' "$out" | sed 's/^/   /'
	for f in $bad; do
		echo "   --- $f"
		grep -v 'Copyright\|Using Valgrind\|rerun with\|Memcheck, a' "$f" |
		    head -80 | sed 's/^/   /'
	done
	if [ -n "$why" ]; then
		failed="$failed${failed:+, }$name ($why)"
		[ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] &&
		    echo "check-valgrind: FAILED: suite $name timed out after ${secs} s"
	fi
}

# run NAME SECS COMMAND...: COMMAND within SECS seconds, judged.
run()
{
	name=$1 secs=$2
	shift 2
	t0=$(date +%s)
	timeout -k 10 "$secs" "$@" >"$vgdir/$name.out" 2>&1
	rc=$?
	sweep "$vgdir/$name"
	judge "$name" "$secs" "$rc" $(($(date +%s) - t0))
}

# Check's fork mode would hide the tests' errors from memcheck.  Some tests
# fork children of their own and judge them by their exit status: those
# children are left alone (silent, and no error exit code to disguise their
# status); the tests' own process is checked through its log.
echo "== unit suites (CK_FORK=no), under memcheck"
mkdir "$vgdir/unit"
run unit "$unit_secs" env CK_FORK=no "$valgrind" --child-silent-after-fork=yes \
    $vgopts --log-file="$vgdir/unit/unit.%p.log" "$top_builddir/tests/check_unit"

# echod under memcheck, workers included: they are forks, not execs.  Some
# tests give echod an environment of their own (no PATH), hence full paths.
for suite in ${VG_SUITES:-echo lifecycle start-failures}; do
	echo "== integration suite $suite, echod under memcheck"
	mkdir "$vgdir/$suite"
	cat >"$vgdir/$suite.echod" <<EOS
#!/bin/sh
exec "$valgrind" --error-exitcode=99 $(echo $vgopts) \\
    --log-file="$vgdir/$suite/echod.%p.log" "$top_builddir/src/echod" "\$@"
EOS
	chmod +x "$vgdir/$suite.echod"
	run "$suite" "$suite_secs" env ECHOD="$vgdir/$suite.echod" \
	    ECHO_CLIENT="$top_builddir/src/echo-client" CK_RUN_SUITE="$suite" \
	    CK_TIMEOUT_MULTIPLIER=2 "$top_builddir/tests/check_integration"
done

if [ -z "$failed" ]; then
	echo "check-valgrind: no error, no definite leak, every test passed"
	rm -rf "$vgdir"
	exit 0
fi
echo "check-valgrind: FAILED: $failed (logs kept in $vgdir)"
exit 1
