#!/bin/sh
# Sum automake's test-suite.log headers into one line: "N passed, N failed".
# Usage: summary.sh LOG...   (missing logs count as one failure each)
passed=0 failed=0 skipped=0
for log in "$@"; do
	if [ ! -f "$log" ]; then
		echo "summary: $log: missing" >&2
		failed=$((failed + 1))
		continue
	fi
	eval "$(awk '
		/^# PASS: /  { p += $3 }
		/^# SKIP: /  { s += $3 }
		/^# XFAIL: / { p += $3 }
		/^# FAIL: /  { f += $3 }
		/^# XPASS: / { f += $3 }
		/^# ERROR: / { f += $3 }
		END { printf "p=%d f=%d s=%d\n", p, f, s }' "$log")"
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
