#!/bin/sh
# check-valgrind.sh BUILDDIR - the unit suites, then the integration "echo"
# and "lifecycle" suites with echod itself, under memcheck.  Fails on any memory error or
# definite leak, in the tests or in any echod process (master or worker).
# Usage: run by `make check-valgrind`; VG_SUITES overrides the integration
# suites (e.g. VG_SUITES="echo lifecycle").
set -u
top_builddir=$(cd "${1:-.}" && pwd)
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
export top_srcdir
vgdir=$(mktemp -d /tmp/echod-vg.XXXXXX)
vg="valgrind --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite --show-leak-kinds=definite
    --track-fds=no --num-callers=30"
status=0

if ! command -v valgrind >/dev/null 2>&1; then
	echo "check-valgrind: valgrind is not installed" >&2
	exit 1
fi

# Check's fork mode would hide the tests' errors from memcheck.  Some tests
# fork children of their own and judge them by their exit status: those
# children are left alone (silent, and no error exit code to disguise their
# status); the tests' own process is checked through its log below.
# Valgrind loses the result of a blocking system call (or asserts) when a
# SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGTRAP sent by kill() interrupts it: the
# tests that send those to echod's fault filter run outside valgrind only.
CK_EXCLUDE_TAGS=sent-fault-signals
export CK_EXCLUDE_TAGS

echo "== unit suites (CK_FORK=no)"
CK_FORK=no valgrind --child-silent-after-fork=yes --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    --track-fds=no --num-callers=30 --log-file="$vgdir/unit.%p.log" \
    "$top_builddir/tests/check_unit" >"$vgdir/unit.out" 2>&1 || status=1
grep -c '^ok' "$vgdir/unit.out" | sed 's/^/   passed: /'
grep '^not ok' "$vgdir/unit.out"

# echod under memcheck, workers included: they are forks, not execs.
cat >"$vgdir/echod" <<EOS
#!/bin/sh
exec $(echo $vg) --log-file="$vgdir/echod.%p.log" "$top_builddir/src/echod" "\$@"
EOS
chmod +x "$vgdir/echod"
for suite in ${VG_SUITES:-echo lifecycle}; do
	echo "== integration suite $suite, echod under memcheck"
	ECHOD="$vgdir/echod" CK_RUN_SUITE=$suite CK_DEFAULT_TIMEOUT=120 \
	    ECHO_CLIENT="$top_builddir/src/echo-client" \
	    "$top_builddir/tests/check_integration" >"$vgdir/int.$suite.out" 2>&1 ||
	    status=1
	grep -c '^ok' "$vgdir/int.$suite.out" | sed 's/^/   passed: /'
	grep '^not ok' "$vgdir/int.$suite.out"
done

# Every process's own report: a killed one writes none, which is fine.
errs=$(grep -l 'ERROR SUMMARY: [1-9]\|are definitely lost' \
    "$vgdir"/*.log 2>/dev/null)
n=$(ls "$vgdir"/*.log 2>/dev/null | wc -l)
echo "== $n processes checked by memcheck"
if [ -n "$errs" ]; then
	status=1
	for f in $errs; do
		echo "--- $f"
		head -60 "$f"
	done
fi
if [ $status -eq 0 ]; then
	echo "check-valgrind: no error, no definite leak"
	rm -rf "$vgdir"
else
	echo "check-valgrind: FAILED (logs kept in $vgdir)"
fi
exit $status
