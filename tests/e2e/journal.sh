# journal.sh, sourced by e2e.sh after the install checks (issue 23, item 3):
# a connection flood from one address against the packaged echod, which
# logs to the journal under the shipped unit and echod.conf.
#   - the flood writes at most its address's budget into the journal
#     (log_source_burst, then log_source_rate a second), and at most one
#     summary line per 10 s beyond it; at least one says what was not
#     written;
#   - the flood's rate against ref-echo (tests/bench), run in the
#     container's network namespace, the same client for both, in
#     interleaved pairs: a figure for the notes, not a pass mark (the
#     machines are shared).  With tcp_rate_limit = 0, as in make bench.
# Uses e2e.sh's helpers (check, ok, notok, diag, wait_for, in_ct,
# journal_cursor) and its $work, $here, $pid1.
#
# Environment:
#   ECHOD_E2E_REF   the built ref-echo (make check-e2e builds it); else it
#                   is compiled here from tests/bench/ref-echo.c.
jf_secs=12
jf_ref=${ECHOD_E2E_REF:-${top_builddir:+$top_builddir/tests/bench/ref-echo}}
if [ -z "$jf_ref" ] || [ ! -x "$jf_ref" ]; then
	jf_ref=$work/ref-echo
	mkdir -p "$work/refinc"
	echo '#define _GNU_SOURCE 1' > "$work/refinc/config.h"
	${CC:-cc} -std=c11 -O2 -I "$work/refinc" -o "$jf_ref" \
		"$here/../bench/ref-echo.c" 2>"$work/ref-echo.build.log" ||
		{ diag < "$work/ref-echo.build.log"; jf_ref=; }
fi

# jf_flood PORT SECONDS: the container's echo-client connects, echoes and
# closes from 127.0.0.1 as fast as it can; its report on stdout.
jf_flood() {
	in_ct timeout $(($2 * 3 + 30)) echo-client -b -p connect -c 64 -j 2 \
		-d "$2" 127.0.0.1 "$1" 2>&1
}
jf_field() { awk -v k="$1" '$1 == k { print $2 }'; }

# --- the flood and the journal, with the shipped configuration ------------------
# Under the shipped tcp_rate_limit, echo-client stops at its first refused
# connection: a new one starts until the time is up.
jf_flood_shipped() {
	in_ct timeout $((jf_secs + 30)) sh -c 'end=$(($(date +%s) + '"$jf_secs"'))
		while [ "$(date +%s)" -lt "$end" ]; do
			echo-client -b -p connect -c 64 -j 2 -d 1 127.0.0.1 7 |
				sed -n "s/^conns_done *//p"
		done | awk "{ s += \$1 } END { print s + 0 }"' 2>/dev/null
}
jf_summary_re='^[0-9.]* [^ ]* [^ ]*: \(worker [0-9]*: \)\{0,1\}127\.0\.0\.1: .* not logged in the last'
jf_summary_seen() {
	in_ct journalctl -q -u echod --after-cursor="$jf_cur" -o short-unix |
		grep -q "$jf_summary_re"
}
jf_budget() {
	local burst rate lines summaries max done
	jf_cur=$(journal_cursor)
	done=$(jf_flood_shipped)
	# the summary is due 10 s after the first line not written
	wait_for 15 jf_summary_seen
	in_ct journalctl -q -u echod --after-cursor="$jf_cur" -o short-unix > "$work/jf-journal.txt"
	burst=$(in_ct sed -n 's/^log_source_burst *= *//p' /etc/echod.conf)
	rate=$(in_ct sed -n 's/^log_source_rate *= *//p' /etc/echod.conf)
	grep "$jf_summary_re" "$work/jf-journal.txt" > "$work/jf-summaries.txt"
	summaries=$(grep -c . "$work/jf-summaries.txt")
	lines=$(grep -c '127\.0\.0\.1' "$work/jf-journal.txt")
	lines=$((lines - summaries))
	# the flood's seconds, the wait for the summary, one of slack
	max=$((burst + rate * (jf_secs + 16)))
	echo "flood: ${done:-?} connections in ${jf_secs}s; journal: $lines lines" \
		"about 127.0.0.1 (budget $max), $summaries summaries:" \
		"$(head -n 1 "$work/jf-summaries.txt")" | diag
	# one summary per 10 s across the pool: their times 10 s apart
	[ -n "$burst" ] && [ -n "$rate" ] && [ "${done:-0}" -gt "$max" ] &&
		[ "$lines" -gt 0 ] && [ "$lines" -le "$max" ] && [ "$summaries" -ge 1 ] &&
		awk 'NR > 1 && $1 - t < 9.9 { bad = 1 } { t = $1 } END { exit bad }' \
			"$work/jf-summaries.txt" ||
		{ diag < "$work/jf-summaries.txt"; head -n 5 "$work/jf-journal.txt" | diag; return 1; }
}
check "a connection flood from one address writes its budget and one summary per 10 s to the journal" \
	jf_budget

# --- the rate, against ref-echo, with journald taking echod's lines --------------
# jf_ticks PID: utime + stime of a process in the container, in clock ticks
jf_ticks() {
	in_ct sh -c "sed 's/^.*) //' /proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}
jf_pids_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(jf_ticks "$p"))); done; echo $t; }
# jf_host_ticks PID: utime + stime of a process of this host and its children
jf_host_ticks() {
	local p t=0
	for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		t=$((t + $(sed 's/^.*) //' /proc/"$p"/stat 2>/dev/null | awk '{ print $12 + $13 }')))
	done
	echo $t
}
jf_ref_up() { in_ct awk 'FNR > 1 && $2 ~ /:1B5F$/ && $4 == "0A" { f = 1 } END { exit !f }' /proc/net/tcp; }
jf_rates() {
	local n m jpid kids r r0 e x ej0 ej1 w
	[ -n "$jf_ref" ] || { echo "no ref-echo" | diag; return 1; }
	in_ct cp /etc/echod.conf /var/tmp/jf-good.conf
	in_ct sed -i 's/^tcp_rate_limit *=.*/tcp_rate_limit = 0/' /etc/echod.conf
	in_ct systemctl reload echod || return 1
	# workers = auto, as shipped: one per CPU
	w=$(in_ct nproc)
	m=$(in_ct systemctl show -p MainPID --value echod)
	# the old generation's workers gone: the CPU counted is the new one's
	wait_for 20 eval '[ "$(in_ct ps -o pid= --ppid "$m" | wc -l)" -eq "${w:-1}" ]'
	kids=$(in_ct ps -o pid= --ppid "$m" | tr '\n' ' ')
	jpid=$(in_ct systemctl show -p MainPID --value systemd-journald)
	nsenter -t "$pid1" -n -- "$jf_ref" -w "${w:-1}" -l 127.0.0.1:7007 \
		2>"$work/ref-echo.log" &
	r=$!
	wait_for 10 jf_ref_up || { diag < "$work/ref-echo.log"; kill "$r"; return 1; }
	: > "$work/jf-rates"
	for n in 1 2 3; do
		ej0="$(jf_pids_ticks $m $kids) $(jf_ticks "$jpid")"
		e=$(jf_flood 7 2 | jf_field conn_per_s)
		ej1="$(jf_pids_ticks $m $kids) $(jf_ticks "$jpid")"
		r0=$(jf_host_ticks "$r")
		x=$(jf_flood 7007 2 | jf_field conn_per_s)
		echo "$e $x $ej0 $ej1 $r0 $(jf_host_ticks "$r")" >> "$work/jf-rates"
	done
	kill "$r"; wait "$r" 2>/dev/null
	in_ct cp /var/tmp/jf-good.conf /etc/echod.conf
	in_ct systemctl reload echod
	# per pair: echod/s ref/s, echod's and journald's ticks before and
	# after echod's run, ref-echo's before and after its own
	awk -v hz="$(getconf CLK_TCK)" '
		$1 > 0 && $2 > 0 { q[++k] = $1 / $2; e += $1; x += $2
			ec += ($5 - $3) / hz; jc += ($6 - $4) / hz; xc += ($8 - $7) / hz }
		END {
			if (k == 0 || ec <= 0 || xc <= 0) { print "no figures"; exit 1 }
			for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++)
				if (q[j] < q[i]) { t = q[i]; q[i] = q[j]; q[j] = t }
			printf "connect+echo+close, echod logging to the journal, %d pairs of 2 s: " \
			    "echod %.0f/s, ref-echo %.0f/s, ratio %.2f (%.2f-%.2f); CPU per " \
			    "connection: echod %.1f us (and journald %.2f us), ref-echo %.1f us\n",
			    k, e / k, x / k, q[int((k + 1) / 2)], q[1], q[k],
			    ec * 1e6 / (e * 2), jc * 1e6 / (e * 2), xc * 1e6 / (x * 2) }' \
		"$work/jf-rates" | tee "$work/jf-figure" | diag
	grep -q ratio "$work/jf-figure" || { diag < "$work/jf-rates"; false; }
}
check "connect+echo+close against ref-echo with journald logging: figures (tcp_rate_limit = 0)" \
	jf_rates
