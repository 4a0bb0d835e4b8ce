# handoff.sh, sourced by e2e.sh once echod runs in the booted container
# (issue 16): 200 TCP clients in continuous ping-pong, each checking every
# byte, and a UDP prober at 50 datagrams/s (e2eload.c), kept up across
# "systemctl reload" five times in a row, "systemctl restart", an upgrade to
# a newer package, an upgrade whose echod refuses the file, "systemctl stop"
# and a restart onto a refused file (served with the stored configuration).  Each event is watched for
# shutdown_timeout + 3 s; the test's echod.conf sets shutdown_timeout = 3s
# (default 10 s) so that a connection cut when a drain runs out is seen in 6
# s, not 13.  One TAP line per event carries its figures, as the stress
# suite prints them.  Uses e2e.sh's helpers (ok, notok, check, diag,
# wait_for, in_ct, main_pid, apt_get, echo_ok) and its $work, $pid1,
# $version.
#
# ECHOD_E2E_LOAD  the built e2eload (make check-e2e builds it); else it is
#                 compiled here from tests/e2e/e2eload.c with ${CC:-cc}.

ho_clients=200 ho_rate=50 ho_shutdown=3
ho_watch=$((ho_shutdown + 3))

ho_load=${ECHOD_E2E_LOAD:-${top_builddir:+$top_builddir/tests/e2e/e2eload}}
if [ -z "$ho_load" ] || [ ! -x "$ho_load" ]; then
	ho_load=$work/e2eload
	${CC:-cc} -std=c11 -O2 -o "$ho_load" "$here/e2eload.c" \
		2>"$work/e2eload.build.log" || { diag < "$work/e2eload.build.log"; ho_load=; }
fi

# Two more builds of the package: newer versions to upgrade to under load.
# dpkg unpacks every file afresh, so the new /usr/sbin/echod is a new inode
# even where its bytes are the same: that is what tells the binary apart.
ho_debs() {
	local v
	for v in 3 4; do
		sed -i "s/^Version: .*/Version: $version+e2e$v/" "$work/repack/echod/DEBIAN/control"
		dpkg-deb --root-owner-group -b "$work/repack/echod" \
			"$work/root/var/tmp/e2e/echod_new$v.deb" >/dev/null || return 1
		chmod 0644 "$work/root/var/tmp/e2e/echod_new$v.deb"
	done
}

# The load runs in the container's network namespace only: the binary and
# its libc are the host's.
# Its pipes are copied to descriptors of our own: bash closes a coprocess's
# in subshells, and forgets them when it exits.
ho_in= ho_out= ho_pid=
ho_start() {
	coproc HO_LOAD { exec nsenter -t "$pid1" -n -- "$ho_load" -n "$ho_clients" \
		-r "$ho_rate" -p 7 -T 600 2>"$work/e2eload.err"; }
	ho_pid=$HO_LOAD_PID
	exec {ho_in}>&"${HO_LOAD[1]}" {ho_out}<&"${HO_LOAD[0]}"
}
# A tool that has exited must not take the test down with a SIGPIPE: the
# write is in a subshell.
ho_say() { [ -n "$ho_in" ] && (echo "$*" >&"$ho_in") 2>/dev/null; }
ho_read() { # ho_read SECONDS: the tool's next line into $ho_line
	ho_line=
	[ -n "$ho_out" ] && read -r -t "$1" ho_line <&"$ho_out"
}
ho_connect() { # every closed client reconnects, and every client echoes a batch
	ho_say udp 1
	ho_say connect
	ho_read 20 && [ "$ho_line" = "connected $ho_clients" ] ||
		{ echo "e2eload: ${ho_line:-no answer}" | diag; return 1; }
}
ho_end() { # ho_end [SECONDS]: end the window; its figures into $ho_report
	ho_say end "${1:-}"
	ho_read $((${1:-0} + 10)) && case $ho_line in report*) ;; *) false ;; esac ||
		{ echo "e2eload: ${ho_line:-no report}" | diag; diag < "$work/e2eload.err"; ho_report=; return 1; }
	ho_report=${ho_line#report }
}
fig() { printf '%s\n' "$ho_report" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }

# The figures every event without an expected close must show: every
# client of the window still echoing, not a byte lost, duplicated,
# reordered or corrupted, every datagram answered.
ho_summary() {
	echo "$(fig echoing)/$(fig clients) connections echoing, $(fig lost) lost," \
		"bytes lost/dup/reordered/corrupt $(fig bytes_lost)/$(fig bytes_dup)/$(fig bytes_reordered)/$(fig bytes_corrupt)" \
		"of $(fig bytes_echoed), longest TCP wait $(fig max_wait_ms) ms," \
		"UDP $(fig udp_unanswered)/$(fig udp_sent) unanswered ($(fig udp_late) answered after 1 s), longest gap $(fig udp_gap_ms) ms"
}
ho_clean() {
	[ -n "$ho_report" ] && [ "$(fig clients)" -eq "$ho_clients" ] &&
	[ "$(fig lost)" -eq 0 ] && [ "$(fig echoing)" -eq "$ho_clients" ] &&
	[ "$(fig bytes_lost)" -eq 0 ] && [ "$(fig bytes_dup)" -eq 0 ] &&
	[ "$(fig bytes_reordered)" -eq 0 ] && [ "$(fig bytes_corrupt)" -eq 0 ] &&
	[ "$(fig udp_unanswered)" -eq 0 ]
}
# ho_mark NAME: a new window, with every client connected (an event that
# cut them must not leave the next one measuring nothing).
ho_mark() {
	ho_connect || echo "not every client could reconnect before \"$1\"" | diag
	ho_say mark "$1"
	ho_read 10 && [ "$ho_line" = "marked $1" ] ||
		echo "e2eload: ${ho_line:-no answer} to mark $1" | diag
}
ho_event() { # ho_event NAME: the window's TAP line with its figures
	local f=$1
	[ -n "$ho_report" ] && f="$f: $(ho_summary)"
	if ho_clean; then ok "$f"; else notok "$f"; fi
	echo "$1: ${ho_report:-no figures}" | diag
}
# Wait out the watch: a cut at the end of a drain must fall inside the
# window.  The tool measures all the while; this only waits for time.
ho_watch() { local end=$((SECONDS + ho_watch)); while [ "$SECONDS" -lt "$end" ]; do sleep 0.5; done; }

ho_pids() { in_ct ps -o pid= -u _echod | tr -d ' ' | sort; }
ho_socket_id() { in_ct systemctl show -p InvocationID -p ActiveEnterTimestampMonotonic --value echod.socket | tr '\n' ' '; }
ho_status() { in_ct systemctl show -p StatusText --value echod | diag; }
ho_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }

ho_run() {
	local t0 ms pids_before sock_before pid exe ino
	ho_debs || { notok "dpkg-deb builds the newer packages"; return; }
	in_ct sh -c "sed -i '/^[[:space:]]*shutdown_timeout[[:space:]]*=/d' /etc/echod.conf &&
		echo 'shutdown_timeout = ${ho_shutdown}s' >> /etc/echod.conf"
	in_ct systemctl restart echod.service 2>&1 | diag
	wait_for 20 in_ct systemctl -q is-active echod.service || { notok "echod restarts with shutdown_timeout = ${ho_shutdown}s"; return; }
	[ -n "$ho_load" ] || { notok "e2eload builds"; return; }
	ho_start
	if ho_connect; then
		ok "$ho_clients clients in ping-pong and the UDP prober are up"
	else
		notok "$ho_clients clients in ping-pong and the UDP prober are up"
		return
	fi

	# A quiet window first: the figures' baseline, and the test's control.
	ho_mark steady; ho_watch; ho_end
	ho_event "no event, ${ho_watch} s"

	ho_mark "reload x5"
	local i rl=0
	for i in 1 2 3 4 5; do in_ct systemctl reload echod || rl=$((rl + 1)); done
	ho_watch; ho_end
	ho_event "systemctl reload echod five times in a row, watched ${ho_watch} s"
	check "the five reloads succeed ($rl failed)" test "$rl" -eq 0

	pids_before=$(ho_pids) sock_before=$(ho_socket_id)
	ho_mark restart
	t0=$(ho_ms)
	in_ct systemctl restart echod 2>&1 | diag
	ms=$(( $(ho_ms) - t0 ))
	ho_watch; ho_end
	ho_event "systemctl restart echod, watched ${ho_watch} s"
	check "systemctl restart echod with $ho_clients clients takes ${ms} ms (< 2000)" test "$ms" -lt 2000
	check "after the restart no echod process from before is left (the new one echoes the old connections)" \
		eval '[ -n "$(ho_pids)" ] && [ -z "$(comm -12 <(echo "$pids_before") <(ho_pids))" ]'
	check "the restart left echod.socket alone" test "$(ho_socket_id)" = "$sock_before"
	ho_status

	pids_before=$(ho_pids) sock_before=$(ho_socket_id)
	local ino_before; ino_before=$(in_ct stat -L -c %d:%i "/proc/$(main_pid)/exe")
	ho_mark upgrade
	t0=$(ho_ms)
	apt_get "$work/upgrade-load.log" install /var/tmp/e2e/echod_new3.deb ||
		notok "apt-get install ./echod_new3.deb under load"
	ms=$(( $(ho_ms) - t0 ))
	ho_watch; ho_end
	ho_event "apt-get install a newer echod ($version+e2e3, ${ms} ms), watched ${ho_watch} s"
	pid=$(main_pid)
	exe=$(in_ct readlink "/proc/$pid/exe")
	ino="$(in_ct stat -L -c %d:%i "/proc/$pid/exe") $(in_ct stat -c %d:%i /usr/sbin/echod)"
	check "the upgrade installed $version+e2e3 and main PID $pid runs its binary ($exe, inode ${ino% *} = ${ino#* }, was $ino_before)" \
		eval '[ "$(in_ct dpkg-query -W -f "\${Version}" echod)" = "$version+e2e3" ] &&
			[ "$exe" = /usr/sbin/echod ] && [ "${ino% *}" = "${ino#* }" ] &&
			[ "${ino% *}" != "$ino_before" ] &&
			[ -z "$(comm -12 <(echo "$pids_before") <(ho_pids))" ]'
	check "the upgrade left echod.socket alone (same invocation)" test "$(ho_socket_id)" = "$sock_before"
	ho_postinst_checks

	# An upgrade whose echod refuses the file leaves the running one alone.
	in_ct cp /etc/echod.conf /var/tmp/good.conf
	in_ct sh -c 'echo "no_such_key = 1" >> /etc/echod.conf'
	pids_before=$(ho_pids)
	ho_mark "refused upgrade"
	apt_get "$work/upgrade-load-refused.log" install /var/tmp/e2e/echod_new4.deb ||
		notok "apt-get install ./echod_new4.deb (refused file) under load"
	ho_watch; ho_end
	ho_event "apt-get install a newer echod that refuses the file, watched ${ho_watch} s"
	check "the refused upgrade kept every echod process (none restarted)" \
		test "$(ho_pids)" = "$pids_before"
	in_ct cp /var/tmp/good.conf /etc/echod.conf

	# stop: no datagram now (one would start echod again through the socket)
	ho_connect
	ho_say udp 0
	ho_say mark stop; ho_read 10
	t0=$(ho_ms)
	in_ct systemctl stop echod.service 2>&1 | grep -v -e "triggering units are still active" -e "^  echod.socket" | diag
	ms=$(( $(ho_ms) - t0 ))
	ho_end 10
	# As today: served until shutdown_timeout, then closed.  A close at
	# that deadline resets a connection whose next batch is already in
	# (seen on main too, 31 of 200 in one of four runs), so the bar is
	# that every connection is closed, in time, not how: the RST count is
	# a figure.
	local d="systemctl stop echod with $ho_clients clients: ${ms} ms, $(fig fin) FIN, $(fig rst) RST, $(fig stuck) still open"
	if [ -n "$ho_report" ] && [ "$(fig open)" -eq 0 ] &&
		[ $(( $(fig fin) + $(fig rst) )) -eq "$ho_clients" ] &&
		[ "$ms" -lt $(( (ho_shutdown + 3) * 1000 )) ] &&
		[ "$(in_ct systemctl show -p Result --value echod)" = success ]; then
		ok "$d"
	else
		notok "$d (want all closed within $((ho_shutdown + 3)) s, result success)"
	fi
	echo "stop: ${ho_report:-no figures}" | diag
	in_ct systemctl start echod.service 2>&1 | diag

	# A restart onto a file the new echod refuses (issue 24, item 1): the
	# new echod says why, serves with the configuration the old one left
	# in systemd's store, and takes the old one's connections: as a plain
	# restart, nothing lost.
	in_ct sh -c 'echo "no_such_key = 1" >> /etc/echod.conf'
	pids_before=$(ho_pids) sock_before=$(ho_socket_id)
	ho_mark "refused restart"
	t0=$(ho_ms)
	in_ct timeout 60 systemctl restart echod 2>&1 | diag
	ms=$(( $(ho_ms) - t0 ))
	ho_watch; ho_end
	ho_event "systemctl restart onto a refused file (${ms} ms), watched ${ho_watch} s"
	check "after it a new echod serves with the stored configuration: units active, STATUS FALLBACK, socket unit untouched" \
		eval 'in_ct systemctl -q is-active echod.socket echod.service &&
			[ -z "$(comm -12 <(echo "$pids_before") <(ho_pids))" ] &&
			[ "$(ho_socket_id)" = "$sock_before" ] &&
			in_ct systemctl show -p StatusText --value echod | grep -q "^FALLBACK: "'
	ho_status
	in_ct cp /var/tmp/good.conf /etc/echod.conf
	check "with the file fixed, a reload applies it (STATUS without FALLBACK)" \
		eval 'in_ct systemctl reload echod &&
			wait_for 10 eval "! in_ct systemctl show -p StatusText --value echod | grep -q FALLBACK"'

	ho_say quit
	wait "$ho_pid" 2>/dev/null
	exec {ho_in}>&- {ho_out}<&-
	[ -s "$work/e2eload.err" ] && diag < "$work/e2eload.err"
}

# The maintainer scripts as installed: an upgrade restarts echod.service
# only, after the new echod has checked the file; the socket unit is
# neither stopped nor restarted (that would close the listeners and the UDP
# socket and drop their queues).
ho_postinst_checks() {
	local pi=$work/root/var/lib/dpkg/info/echod.postinst pr=$work/root/var/lib/dpkg/info/echod.prerm
	check "the installed postinst never restarts, reloads or stops echod.socket" ho_no_socket_restart "$pi"
	check "the installed postinst runs echod -t before it restarts echod.service" ho_check_first "$pi"
	check "the installed prerm stops echod.socket only on remove, not on upgrade" ho_stop_on_remove "$pr"
}
ho_no_socket_restart() {
	! grep -nE '(restart|reload|stop).*echod\.socket' "$1" > "$work/postinst.bad" ||
		{ diag < "$work/postinst.bad"; return 1; }
}
ho_check_first() {
	local c r
	c=$(grep -n 'if out=$(echod_check)' "$1" | head -n 1 | cut -d: -f1)
	r=$(grep -n 'restart .*echod\.service' "$1" | tail -n 1 | cut -d: -f1)
	[ -n "$c" ] && [ -n "$r" ] && [ "$c" -lt "$r" ]
}
ho_stop_on_remove() { # every line that stops echod.socket is under an if on "$1" = remove
	awk '/^[[:space:]]*if /{cond=$0} /stop.*echod\.socket/ && cond !~ /= remove/ {print FNR": "$0}' "$1" > "$work/prerm.bad"
	[ ! -s "$work/prerm.bad" ] || { diag < "$work/prerm.bad"; return 1; }
	grep -q 'stop.*echod\.socket' "$1"
}

ho_t0=$SECONDS
ho_run
echo "connections through reload, restart and upgrade: $((SECONDS - ho_t0)) s" | diag
