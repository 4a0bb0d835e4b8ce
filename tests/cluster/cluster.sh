#!/bin/bash
# Several echod hosts behind HAProxy, as echod(8) "Several hosts" describes
# them: network namespaces the test makes itself (one for the clients, one
# for HAProxy, three for echod hosts), joined by veth pairs with addresses
# from the benchmarking range 198.18.0.0/15, no default route and no link
# to the host's own interfaces.  HAProxy runs in the foreground from a
# generated configuration and sends PROXY v2 headers; each host's echod
# lists the balancer in proxy_from.  Shows that traffic spreads over the
# three, that each echod logs the clients' addresses, that kill -9 of one
# master breaks only that host's connections, that a rolling reload breaks
# and refuses nothing, and that a graceful stop drains a host: its health
# check fails first, and only connections longer than shutdown_timeout are
# cut, each one reported.
#
# TAP on stdout.  Needs root, ip(8) and haproxy(1); skipped without them,
# except in CI (ECHOD_CI set), where that is a failure.  Every namespace and
# process is removed at the end, on failure too.
#
# Environment: ECHOD, CLUSTER_LOAD (the binaries), CLUSTER_KEEP (keep the
# work directory with the logs).
set -u
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
ECHOD=${ECHOD:-$top_builddir/src/echod}
LOAD=${CLUSTER_LOAD:-$top_builddir/tests/cluster/cluster-load}
SHUTDOWN_TIMEOUT=3	# seconds, in each host's echod.conf
STOP_DELAY=1		# seconds: > fall (2) x inter (200 ms), with margin

TAP_POLL=0.1
. "$(dirname "$0")/../tap.sh"
ms() { date +%s%3N; }

[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces)"
for c in ip haproxy curl; do
	command -v "$c" >/dev/null 2>&1 || skip_all "$c not installed"
done
[ -x "$ECHOD" ] || bail "no echod at $ECHOD"
[ -x "$LOAD" ] || bail "no cluster-load at $LOAD"

tag=echod$$
CL=$tag-cl LB=$tag-lb
HOSTS=(1 2 3)
work=$(mktemp -d /tmp/echod-cluster.XXXXXX) || bail "mktemp"
declare -A epid	# host -> echod master pid
hpid=

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

cleanup() {
	local ns p
	for ns in "$CL" "$LB" "${HOSTS[@]/#/$tag-h}"; do
		[ -e "/run/netns/$ns" ] || continue
		for p in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$p" 2>/dev/null
		done
	done
	for p in "${epid[@]}" $hpid; do wait "$p" 2>/dev/null; done
	for ns in "$CL" "$LB" "${HOSTS[@]/#/$tag-h}"; do
		[ -e "/run/netns/$ns" ] && ip netns del "$ns"
	done
	if [ -n "${CLUSTER_KEEP:-}" ]; then
		echo "# kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the network ---------------------------------------------------------
# clients 198.18.0.1-4 -- 198.18.0.254 HAProxy; HAProxy 198.18.H.1 -- host
# H at 198.18.H.2, one /24 per link.
net() {
	local h
	ip netns add "$CL" && ip netns add "$LB" || return 1
	for h in "${HOSTS[@]}"; do ip netns add "$tag-h$h" || return 1; done
	ip link add name c0 netns "$CL" type veth peer name c1 netns "$LB" || return 1
	for a in 1 2 3 4; do ip -n "$CL" addr add "198.18.0.$a/24" dev c0; done
	ip -n "$LB" addr add 198.18.0.254/24 dev c1
	for h in "${HOSTS[@]}"; do
		ip link add name e0 netns "$tag-h$h" type veth peer name "h$h" \
		    netns "$LB" || return 1
		ip -n "$tag-h$h" addr add "198.18.$h.2/24" dev e0
		ip -n "$LB" addr add "198.18.$h.1/24" dev "h$h"
		ip -n "$tag-h$h" link set lo up
		ip -n "$tag-h$h" link set e0 up
		ip -n "$LB" link set "h$h" up
	done
	ip -n "$CL" link set lo up && ip -n "$CL" link set c0 up &&
	ip -n "$LB" link set lo up && ip -n "$LB" link set c1 up
}
# Nothing leaves the test's links: no namespace has a default route, and
# every address in them is in 198.18.0.0/15 (or loopback).
contained() {
	local ns
	for ns in "$CL" "$LB" "${HOSTS[@]/#/$tag-h}"; do
		[ -z "$(ip -n "$ns" route show default)" ] || return 1
		ip -n "$ns" -4 -o addr show | awk '$4 !~ /^(198\.1[89]\.|127\.)/ { bad = 1 }
		    END { exit bad }' || return 1
	done
}

# ---- echod on each host --------------------------------------------------
start_host() { # start_host H
	local h=$1
	cat >"$work/h$h.conf" <<-EOF
	listen_tcp = { "198.18.$h.2:7" }
	listen_udp = {}
	workers = 2
	proxy_from = { "198.18.$h.1/32" }
	shutdown_timeout = ${SHUTDOWN_TIMEOUT}s
	stop_delay = ${STOP_DELAY}s
	# every connection's lines: the test counts them per host
	log_connections = both
	log_source_rate = 0
	log_rate_limit = 0
	tcp_rate_limit = 0
	EOF
	# Not through in_ns: a function in the background is a subshell, and
	# the test signals echod's master itself (ip netns exec execs it).
	ip netns exec "$tag-h$h" "$ECHOD" -f -c "$work/h$h.conf" \
	    >>"$work/h$h.log" 2>&1 &
	epid[$h]=$!
}
host_alive() { # the master, not its zombie (see README: PID 1 never reaps)
	grep -q '^State:[[:space:]]*[RSD]' "/proc/${epid[$1]}/status" 2>/dev/null
}

# ---- HAProxy ---------------------------------------------------------------
start_haproxy() {
	local h
	{
		cat <<-EOF
		global
		    maxconn 4000
		defaults
		    mode tcp
		    timeout connect 1s
		    timeout client 30s
		    timeout server 30s
		    retries 2
		    option redispatch 1
		frontend echo
		    bind 198.18.0.254:7
		    default_backend echod
		backend echod
		    balance roundrobin
		    # A health check that needs an answer: a host that is
		    # stopping closes the balancer's checks (PROXY v2 LOCAL)
		    # while it still serves everyone else.
		    option tcp-check
		    tcp-check send "health\n"
		    tcp-check expect string health
		EOF
		for h in "${HOSTS[@]}"; do
			echo "    server h$h 198.18.$h.2:7 send-proxy-v2 check-send-proxy check inter 200 fall 2 rise 2"
		done
		cat <<-EOF
		listen stats
		    mode http
		    bind 198.18.0.254:8404
		    stats enable
		    stats uri /stats
		EOF
	} >"$work/haproxy.cfg"
	ip netns exec "$LB" haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
	hpid=$!
}
# status H: HAProxy's view of host H (UP, DOWN, ...), from its CSV stats.
status() {
	in_ns "$CL" curl -s --max-time 2 'http://198.18.0.254:8404/stats;csv' |
	    awk -F, -v s="h$1" '$1 == "echod" && $2 == s { print $18 }'
}
is_up() { case $(status "$1") in UP*) return 0;; *) return 1;; esac; }
is_down() { case $(status "$1") in DOWN*) return 0;; *) return 1;; esac; }
all_up() { local h; for h in "${HOSTS[@]}"; do is_up "$h" || return 1; done; }

# ---- load and its figures ------------------------------------------------
# load NAME SECONDS ARGS...: cluster-load through the balancer, in the
# background, into $work/NAME.out.
load() {
	local name=$1 secs=$2; shift 2
	ip netns exec "$CL" "$LOAD" -b 198.18.0.1,198.18.0.2,198.18.0.3,198.18.0.4 \
	    -d "$secs" "$@" 198.18.0.254 7 >"$work/$name.out" 2>"$work/$name.err" &
	lpid=$!
}
# figures NAME: "total ok refused broken corrupt stalled" of a load.
figures() {
	awk '$1 == "S" { t++; c[$4]++ }
	    END { printf "%d %d %d %d %d %d\n", t, c["ok"], c["refused"],
	        c["broken"], c["corrupt"], c["stalled"] }' "$work/$1.out"
}
print_figures() { # print_figures NAME WHAT
	local t o r b c s
	read -r t o r b c s < <(figures "$1")
	echo "# $2: $t sessions, $o ok, $r refused, $b broken, $c corrupt, $s stalled"
}
# connected H: connections host H logged since its log began.
connected() { grep -c 'tcp connected to' "$work/h$1.log"; }

# ---- run ------------------------------------------------------------------
echo "1..10"
net || bail "cannot make the namespaces and links"
check "the test's namespaces have no default route and only 198.18.0.0/15 addresses" contained
for h in "${HOSTS[@]}"; do start_host "$h"; done
start_haproxy
wait_for 20 all_up || { cat "$work"/h*.log "$work/haproxy.log" | tail -40 | diag; bail "hosts not up behind HAProxy"; }

# 1. Spread, and the clients' own addresses in each host's log.
declare -A before
for h in "${HOSTS[@]}"; do before[$h]=$(connected "$h"); done
load spread 3 -c 30 -r 4 -i 50
wait "$lpid"
print_figures spread "spread"
read -r total okc rest < <(figures spread)
spread_ok=true
for h in "${HOSTS[@]}"; do
	got=$(( $(connected "$h") - before[$h] ))
	echo "# host $h: $got connections"
	[ "$got" -ge $((total / 5)) ] || spread_ok=false
done
check "every session of the spread load succeeded ($okc of $total)" [ "$okc" = "$total" -a "$total" -gt 0 ]
check "traffic spreads over all three hosts (each >= 1/5)" $spread_ok
logs_ok() {
	local h
	for h in "${HOSTS[@]}"; do
		grep -q 'tcp connected to 198\.18\.0\.[1-4] port' "$work/h$h.log" || return 1
		! grep -q "tcp connected to 198\.18\.$h\.1 " "$work/h$h.log" || return 1
		grep -q "198\.18\.$h\.1" "$work/h$h.log" || return 1	# the balancer, in its own place
	done
}
check "each host logs the clients' addresses, not the balancer's" logs_ok

# 2. kill -9 one master under load: only its connections break, and every
#    session that starts a second after the kill succeeds.
load kill 5 -c 60 -r 10 -i 100
wait_for 10 grep -qs '^S ' "$work/kill.out"
t_kill=$(ms)
kill -KILL "${epid[1]}"
wait "$lpid"
print_figures kill "kill -9 of host 1's master"
# Which host served a broken session: its client port in the host logs.
read -r bad late < <(awk -v k="$t_kill" -v logs="$work/h1.log" '
	BEGIN { while ((getline l < logs) > 0) if (match(l, /port [0-9]+/))
	    h1[substr(l, RSTART + 5, RLENGTH - 5)] = 1 }
	$1 == "S" && $4 != "ok" {
	    if ($2 <= k && !($6 in h1)) bad++
	    if ($2 >= k + 1000) late++ }
	END { print bad + 0, late + 0 }' "$work/kill.out")
check "of the sessions open at the kill, only host 1's broke ($bad others)" [ "$bad" = 0 ]
check "every session started 1 s after the kill succeeded ($late failed)" [ "$late" = 0 ]
wait_for 10 is_down 1
wait "${epid[1]}" 2>/dev/null
start_host 1
wait_for 20 all_up || bail "host 1 did not come back"

# 3. A rolling reload of the three under load: nothing breaks, nothing is
#    refused.
load rolling 8 -c 60 -r 10 -i 100
wait_for 10 grep -qs '^S ' "$work/rolling.out"
reloaded() { [ "$(grep -c 'configuration reloaded' "$work/h$1.log")" -gt "$2" ]; }
for h in "${HOSTS[@]}"; do
	c=$(grep -c 'configuration reloaded' "$work/h$h.log")
	kill -HUP "${epid[$h]}"
	wait_for 10 reloaded "$h" "$c" || notok "host $h did not log its reload"
	wait_for 10 all_up
done
wait "$lpid"
print_figures rolling "rolling reload"
read -r t o r b c s < <(figures rolling)
check "a rolling reload breaks and refuses nothing ($r refused, $b broken, $c corrupt, $s stalled of $t)" \
    [ "$o" = "$t" -a "$t" -gt 0 ]

# 4. A graceful stop of host 2 under load: its health check fails first
#    while it goes on serving, then it stops accepting; sessions shorter
#    than shutdown_timeout finish, longer ones are cut and reported.
#    Short sessions last about 1 s, one in ten lasts about 8 s.
load drain 6 -c 60 -r 10 -i 100 -L 10:80
wait_for 10 grep -qs '^S ' "$work/drain.out"
t_stop=$(ms)
kill -TERM "${epid[2]}"
wait_for 10 is_down 2
t_down=$(ms)
check "host 2's health check failed while it still ran" host_alive 2
wait_for $((SHUTDOWN_TIMEOUT + STOP_DELAY + 10)) eval '! host_alive 2'
wait "${epid[2]}" 2>/dev/null
wait "$lpid"
print_figures drain "graceful stop of host 2"
echo "# host 2 marked down $((t_down - t_stop)) ms after SIGTERM"
cut_logged=$(grep -c 'shutdown timeout' "$work/h2.log")
read -r short_bad long_bad < <(awk '$1 == "S" && $4 != "ok" {
	if ($7 == "long") l++; else s++ } END { print s + 0, l + 0 }' "$work/drain.out")
echo "# cut at shutdown_timeout: $long_bad long sessions broke, host 2 reported $cut_logged"
check "no session shorter than shutdown_timeout broke or was refused ($short_bad)" [ "$short_bad" = 0 ]
check "every long session cut was reported by host 2 ($long_bad broke, $cut_logged reported)" \
    [ "$long_bad" = "$cut_logged" ]

for h in "${HOSTS[@]}"; do echo "# host $h log:"; tail -3 "$work/h$h.log" | diag; done
[ "$failed" = 0 ]
