# tests/tap.sh - TAP for the shell tests (e2e, cluster), sourced: ok,
# notok, check, diag, bail, skip_all and wait_for, with the counts n and
# failed.  Where a test cannot run (no root, a tool missing) it is a TAP
# skip, except in CI (ECHOD_CI set), where the tools are installed: there a
# skip is a failure.

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { # check DESCRIPTION COMMAND...: one TAP line from a command's status
	local d=$1; shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}
diag() { sed 's/^/# /'; }
bail() { echo "Bail out! $*"; exit 1; }
skip_all() {
	[ -n "${ECHOD_CI:-}" ] && bail "cannot run, and ECHOD_CI is set: $*"
	echo "1..0 # SKIP $*"; exit 0
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds, or give up.
# Polls every TAP_POLL seconds (0.2 unless set).
wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep "${TAP_POLL:-0.2}"
	done
}
