# dayone.sh, sourced by e2e.sh once handoff.sh is done (issue 24, items
# 1, 2, 8 and 11): what a new admin does on day one, under systemd 252.
#   - a typo and "systemctl restart": echod serves with the stored file,
#     50 clients are echoed, --status works, a reload or a restart of the
#     fixed file applies it;
#   - a typo, a stop and a start: exit 78; clients make systemd fail the
#     socket; right after the fix one command brings both units back;
#   - drop-ins in /etc/echod.conf.d: a key changed, -t and ExecReload's -t
#     naming the drop-in's line, the postinst's -t reading the same set;
#   - Debian's prometheus scraping echod: a PromQL query through its HTTP
#     API returns the connections the load made.
# Uses e2e.sh's helpers (check, ok, notok, diag, wait_for, in_ct, main_pid,
# workers, echo_ok, apt_get, journal_cursor) and its $work, $version.

# d1_clients N: N TCP clients in turn, each echoed; how many were, on stdout
d1_clients() {
	in_ct sh -c 'n=0; i=0; while [ $i -lt '"$1"' ]; do i=$((i + 1));
		timeout 10 perl /var/tmp/e2e/echo.pl tcp 127.0.0.1 7 && n=$((n + 1)); done; echo $n' 2>/dev/null
}
d1_status_text() { in_ct systemctl show -p StatusText --value echod; }
d1_active() { in_ct systemctl -q is-active echod.socket echod.service; }
d1_typo() { in_ct sh -c 'echo "no_such_key = 1" >> /etc/echod.conf'; }
d1_fix() { in_ct cp /var/tmp/d1-good.conf /etc/echod.conf; }
d1_journal_since() { in_ct journalctl -q -u echod -u echod.socket --after-cursor="$1"; }
# Each part starts from a serving echod, so that one failing part does
# not fail the next ones too; a restart needed here is said.
d1_ensure_up() {
	d1_active && return
	echo "echod was not active before \"$1\": reset-failed and restart" | diag
	in_ct systemctl reset-failed echod.socket echod.service
	in_ct systemctl restart echod 2>&1 | diag
}

# --- a typo, then a restart ---------------------------------------------------
d1_fallback() {
	local pid cur got
	in_ct cp /etc/echod.conf /var/tmp/d1-good.conf
	cur=$(journal_cursor)
	pid=$(main_pid)
	d1_typo
	in_ct timeout 60 systemctl restart echod 2>&1 | diag
	got=$(d1_clients 50)
	check "typo + systemctl restart + 50 clients: $got of 50 echoed, both units active, a new main PID" \
		eval '[ "$got" = 50 ] && d1_active && [ "$(main_pid)" != "$pid" ]'
	check "and UDP is echoed too, over IPv4 and IPv6" eval 'echo_ok udp 127.0.0.1 && echo_ok udp ::1'
	d1_fallback_status() { d1_status_text | grep -q "^FALLBACK: /etc/echod.conf refused"; }
	check "STATUS starts with FALLBACK: and names the refused file" \
		eval 'wait_for 10 d1_fallback_status || { d1_status_text | diag; false; }'
	# The store kept "echod-conf" across the restart: only that text can
	# have served, since the file on disk is refused.
	check "the journal gives the file's error as -t does and says the stored configuration serves" \
		eval 'd1_journal_since "$cur" > "$work/d1-fallback.log";
			grep -q "/etc/echod.conf:[0-9]*: .*no_such_key" "$work/d1-fallback.log" &&
			grep -q "serving the last good configuration" "$work/d1-fallback.log" ||
			{ diag < "$work/d1-fallback.log"; false; }'
	check "echod -t still exits 78 on the file, naming its line" \
		eval 'out=$(in_ct echod -t --socket-activated 2>&1); [ $? = 78 ] &&
			printf "%s\n" "$out" | grep -q "/etc/echod.conf:[0-9]*: .*no_such_key"'
	d1_status_broken
	d1_fix
	check "the fixed file and a reload: the file's configuration serves, no FALLBACK" \
		eval 'in_ct systemctl reload echod &&
			wait_for 10 eval "! d1_status_text | grep -q FALLBACK" && echo_ok tcp ::1'
	pid=$(main_pid)
	d1_typo
	in_ct timeout 60 systemctl restart echod 2>&1 | diag
	check "a second typo + restart falls back again" \
		eval 'd1_active && [ "$(main_pid)" != "$pid" ] && d1_status_text | grep -q "^FALLBACK: "'
	d1_fix
	pid=$(main_pid)
	in_ct timeout 60 systemctl restart echod 2>&1 | diag
	check "the fixed file and a restart: a new echod serves it, no FALLBACK" \
		eval 'd1_active && [ "$(main_pid)" != "$pid" ] && echo_ok tcp 127.0.0.1 &&
			! d1_status_text | grep -q FALLBACK'
}

# --- echod --status with a broken file (item 2) ---------------------------------
d1_status_broken() {
	check "echod --status answers while the file is broken, and says what is wrong with it" \
		eval 'in_ct echod --status > "$work/d1-status.out" 2> "$work/d1-status.err" &&
			grep -q "^total: " "$work/d1-status.out" &&
			grep -q "no_such_key" "$work/d1-status.err" &&
			grep -q "/run/echod/control.where" "$work/d1-status.err" ||
			{ cat "$work/d1-status.out" "$work/d1-status.err" | diag; false; }'
	check "a user other than root or _echod is told that --status needs one of them (exit 77)" \
		eval 'in_ct setpriv --reuid=nobody --regid=nogroup --clear-groups \
			echod --status > "$work/d1-nobody.out" 2>&1; [ $? = 77 ] &&
			grep -q "needs root or the user echod runs as (_echod)" "$work/d1-nobody.out" ||
			{ diag < "$work/d1-nobody.out"; false; }'
}

# --- a typo, then a stop and a start --------------------------------------------
d1_poke() { in_ct timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/7' 2>/dev/null; }
d1_socket_failed() { d1_poke; in_ct systemctl -q is-failed echod.socket; }
d1_stop_start() {
	local t0 ms
	d1_typo
	in_ct systemctl stop echod.service 2>&1 | grep -v -e "triggering units" -e "^  echod.socket" | diag
	# The restarts before may have used up the start limit; this start must
	# run echod, or ExecMainStatus keeps the stop's value.
	in_ct systemctl reset-failed echod.service
	in_ct timeout 60 systemctl start echod.service > "$work/d1-start.log" 2>&1
	# The stop emptied the store: nothing to fall back on.
	check "typo + stop + start: echod exits 78, as before (the stop emptied the store)" \
		eval '[ "$(in_ct systemctl show -p ExecMainStatus --value echod)" = 78 ] ||
			{ cat "$work/d1-start.log" | diag
			in_ct systemctl show -p Result -p ExecMainStatus -p NRestarts echod | diag
			in_ct journalctl -q -u echod -u echod.socket -n 8 | diag; false; }'
	if wait_for 30 d1_socket_failed; then
		ok "clients then start echod until systemd 252 fails echod.socket ($(in_ct systemctl show -p Result --value echod.socket))"
	else
		notok "clients then start echod until systemd 252 fails echod.socket"
	fi
	d1_fix
	t0=$(ho_ms)
	in_ct sh -c 'echod -t && systemctl restart echod' 2>&1 | diag
	ms=$(( $(ho_ms) - t0 ))
	check "right after the fix, the one documented command (echod -t && systemctl restart echod, ${ms} ms) brings both units back" \
		eval 'd1_active && echo_ok tcp 127.0.0.1 && echo_ok udp ::1 ||
			{ in_ct journalctl -q -u echod -u echod.socket -n 12 | diag; false; }'
}

# --- drop-ins (item 8) --------------------------------------------------------------
d1_dropins() {
	local pid want
	d1_ensure_up drop-ins
	want=$(($(workers) + 1))
	in_ct sh -c "printf '# e2e\nworkers = $want\n' > /etc/echod.conf.d/50-e2e.conf"
	in_ct systemctl reload echod 2>&1 | diag
	d1_want() { [ "$(workers)" -eq "$want" ]; }
	check "a drop-in in /etc/echod.conf.d changes a key of the main file: a reload gives $want workers" \
		wait_for 30 d1_want
	in_ct sh -c "printf '# e2e\nno_such_key = 1\n' > /etc/echod.conf.d/60-typo.conf"
	check "echod -t names the drop-in and its line (60-typo.conf:2)" \
		eval 'out=$(in_ct echod -t 2>&1); [ $? = 78 ] &&
			printf "%s\n" "$out" | grep -q "/etc/echod.conf.d/60-typo.conf:2:" ||
			{ printf "%s\n" "$out" | diag; false; }'
	pid=$(main_pid)
	local cur; cur=$(journal_cursor)
	check "systemctl reload fails on it, its ExecReload= -t naming the drop-in's line; same PID, $want workers" \
		eval '! in_ct systemctl reload echod 2>/dev/null &&
			d1_journal_since "$cur" | grep -q "60-typo.conf:2:" &&
			[ "$(main_pid)" = "$pid" ] && d1_want'
	d1_deb=/var/tmp/e2e/echod_new5.deb
	sed -i "s/^Version: .*/Version: $version+e2e5/" "$work/repack/echod/DEBIAN/control"
	dpkg-deb --root-owner-group -b "$work/repack/echod" "$work/root$d1_deb" >/dev/null &&
		chmod 0644 "$work/root$d1_deb"
	apt_get "$work/d1-upgrade.log" install "$d1_deb" || notok "apt-get install ./echod_new5.deb"
	check "an upgrade's postinst -t reads the drop-ins too: not restarting, naming 60-typo.conf:2" \
		eval 'grep -q "not restarting" "$work/d1-upgrade.log" &&
			grep -q "60-typo.conf:2:" "$work/d1-upgrade.log" && [ "$(main_pid)" = "$pid" ] ||
			{ diag < "$work/d1-upgrade.log"; false; }'
	in_ct rm -f /etc/echod.conf.d/60-typo.conf /etc/echod.conf.d/50-e2e.conf
	check "without the drop-ins a reload succeeds" in_ct systemctl reload echod
}

# --- Prometheus (item 11) --------------------------------------------------------------
d1_promql() { # d1_promql QUERY: the first result's value, or nothing
	in_ct python3 - "$1" <<'EOF' 2>/dev/null
import json, sys, urllib.parse, urllib.request
q = urllib.parse.urlencode({"query": sys.argv[1]})
r = json.load(urllib.request.urlopen("http://127.0.0.1:9090/api/v1/query?" + q, timeout=5))
res = r["data"]["result"]
print(res[0]["value"][1] if res and r["status"] == "success" else "")
EOF
}
d1_scrape_accepted() {
	in_ct timeout 5 perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new("127.0.0.1:9107") or exit 1;
		print $s "GET /metrics HTTP/1.0\r\n\r\n";
		while (<$s>) { print "$1\n" if /^echod_connections_accepted_total (\d+)/ }' 2>/dev/null
}
d1_prometheus() {
	local base t0 made k=37 got
	if ! in_ct test -x /usr/bin/prometheus; then
		notok "Debian's prometheus is in the container (mkroot.sh's prometheus layer)"
		return
	fi
	d1_ensure_up prometheus
	in_ct sh -c "echo 'metrics_listen = {\"127.0.0.1:9107\"}' >> /etc/echod.conf"
	in_ct systemctl reload echod 2>&1 | diag
	cat > "$work/root/var/tmp/e2e/prometheus.yml" <<'EOF'
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: echod
    static_configs:
      - targets: ['127.0.0.1:9107']
EOF
	chmod 0644 "$work/root/var/tmp/e2e/prometheus.yml"
	in_ct systemd-run -q --unit=e2e-prometheus /usr/bin/prometheus \
		--config.file=/var/tmp/e2e/prometheus.yml \
		--storage.tsdb.path=/var/tmp/e2e/prometheus \
		--web.listen-address=127.0.0.1:9090 2>&1 | diag
	d1_up() { [ "$(d1_promql 'up{job="echod"}')" = 1 ]; }
	check "prometheus ($(in_ct dpkg-query -W -f '${Version}' prometheus)) scrapes echod: up{job=\"echod\"} is 1" \
		wait_for 60 d1_up
	# A baseline Prometheus has seen: nothing connects meanwhile.
	base=$(d1_scrape_accepted)
	d1_seen() { [ -n "$base" ] && [ "$(d1_promql echod_connections_accepted_total)" = "$base" ]; }
	wait_for 20 d1_seen || echo "prometheus never saw accepted = $base" | diag
	t0=$(in_ct date +%s.%N)
	made=$(d1_clients "$k")
	d1_made() {
		got=$(d1_promql "echod_connections_accepted_total - (echod_connections_accepted_total @ $t0)")
		[ "$got" = "$made" ]
	}
	check "PromQL through the HTTP API: accepted_total - (accepted_total @ before) = $made, the load's ($k clients, $made echoed)" \
		eval 'wait_for 20 d1_made && [ "$made" = "$k" ] ||
			{ echo "PromQL said ${got:-nothing}; echod says $(d1_scrape_accepted), was $base" | diag; false; }'
	in_ct systemctl stop e2e-prometheus 2>&1 | diag
	d1_fix
	in_ct systemctl reload echod 2>&1 | diag
}

d1_t0=$SECONDS
d1_fallback
d1_stop_start
d1_dropins
d1_prometheus
echo "day one (fallback, stop and start, drop-ins, prometheus): $((SECONDS - d1_t0)) s" | diag
