#!/bin/sh
# check_echo against the real echod (TCP and UDP, IPv4 and IPv6) and
# against bad-echo, a server wrong on purpose: each monitoring state, its
# exit code, its one line and its performance data.  TAP.
set -u
: "${ECHOD:?}" "${CHECK_ECHO:?}" "${top_builddir:?}"
BAD="$top_builddir/tests/client/bad-echo"
T="${TMPDIR:-/tmp}/check-echo-test.$$"
mkdir -p "$T" || exit 1
n=0
pids=
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; }
# Waits until FILE has a line matching RE; 10 s at most.
wait_for() {
	i=0
	while [ $i -lt 100 ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1; i=$((i + 1))
	done
	echo "# timed out waiting for '$2' in $1" >&2
	return 1
}
port() {
	sed -n "s/.*: listening on $2 $3:\([0-9][0-9]*\)\$/\1/p" "$1" | head -n 1
}
# probe WANT-EXIT LINE-RE NAME ARGS...: check_echo ARGS exits WANT-EXIT and
# prints one line matching LINE-RE.
probe() {
	want=$1 re=$2 name=$3; shift 3
	out=$(timeout 60 "$CHECK_ECHO" "$@" 2>/dev/null); got=$?
	lines=$(printf '%s\n' "$out" | wc -l)
	if [ "$got" -eq "$want" ] && [ "$lines" -eq 1 ] &&
	    printf '%s\n' "$out" | grep -Eq -- "$re"; then
		ok "$name"
	else
		notok "$name (exit $got, want $want)"
		echo "# $out"
	fi
}

echo "udp_rate_limit = 0" > "$T/echod.conf"
"$ECHOD" -f -c "$T/echod.conf" -w 1 -l 127.0.0.1:0 -l '[::1]:0' 2>"$T/echod.log" &
pids="$pids $!"
if ! wait_for "$T/echod.log" 'ready: 1 worker'; then
	echo "Bail out! echod did not start"; cat "$T/echod.log" >&2; exit 1
fi
T4=$(port "$T/echod.log" tcp 127.0.0.1)
T6=$(port "$T/echod.log" tcp '\[::1\]')
U4=$(port "$T/echod.log" udp 127.0.0.1)
U6=$(port "$T/echod.log" udp '\[::1\]')
perf='\|rtt=[0-9]+\.[0-9]{3}ms;100;500;0 loss=0%;20;60;0;100$'

for v in "tcp 127.0.0.1 $T4" "tcp ::1 $T6" "udp 127.0.0.1 $U4" "udp ::1 $U6"; do
	set -- $v
	u=; [ "$1" = udp ] && u=-u
	probe 0 "^ECHO OK - .*/$1: 5 of 5 echoed, loss 0%, rtt avg .*$perf" \
	    "$1 $2: OK, exit 0, perfdata" $u -H "$2" -p "$3"
done
probe 0 "^ECHO OK - .*: 20 of 20 echoed" "udp: -n 20 -s 1400" \
    -u -H 127.0.0.1 -p "$U4" -n 20 -s 1400
probe 1 '^ECHO WARNING - .*rtt=[0-9.]+ms;0;500;0 loss=0%;100;100;0;100$' \
    "a round trip above -w is WARNING" -H 127.0.0.1 -p "$T4" -w 0,100% -c 500,100%
probe 2 '^ECHO CRITICAL - .*loss 0%' "a round trip above -c is CRITICAL" \
    -u -H 127.0.0.1 -p "$U4" -w 0,0% -c 0,0%

# A port nobody listens on: refused, TCP and UDP (ICMP on a connected socket).
"$BAD" -m silent 2>"$T/closed.log" &
cp=$!
wait_for "$T/closed.log" 'listening' && CLOSED=$(port "$T/closed.log" tcp 127.0.0.1)
kill "$cp"; wait "$cp" 2>/dev/null
probe 2 '^ECHO CRITICAL - connect .*refused' "tcp: nothing listens: CRITICAL" \
    -H 127.0.0.1 -p "$CLOSED"
probe 2 '^ECHO CRITICAL - .*0 of 5 echoed, loss 100%; receive: Connection refused\|rtt=U;' \
    "udp: port unreachable: CRITICAL, rtt U" -u -H 127.0.0.1 -p "$CLOSED"

"$BAD" -u -m silent 2>"$T/usilent.log" &
pids="$pids $!"
"$BAD" -u -m drop -o 2 2>"$T/udrop.log" &
pids="$pids $!"
"$BAD" -u -m flip -o 30 2>"$T/uflip.log" &
pids="$pids $!"
"$BAD" -m flip -o 100 2>"$T/flip.log" &
pids="$pids $!"
"$BAD" -m short -o 100 2>"$T/short.log" &
pids="$pids $!"
for f in usilent udrop uflip flip short; do
	wait_for "$T/$f.log" 'listening' || { echo "Bail out! bad-echo $f"; exit 1; }
done
started=$(date +%s)
probe 2 '^ECHO CRITICAL - .*0 of 3 echoed, loss 100%\|rtt=U;100;500;0 loss=100%' \
    "udp: a silent server: CRITICAL, loss 100%" \
    -u -H 127.0.0.1 -p "$(port "$T/usilent.log" udp 127.0.0.1)" -n 3
took=$(( $(date +%s) - started ))
if [ "$took" -le 8 ]; then ok "udp: 3 lost probes take ~3 s, not the whole -t ($took s)"
else notok "udp: 3 lost probes took $took s"; fi
probe 1 '^ECHO WARNING - .*5 of 10 echoed, loss 50%' \
    "udp: half lost: WARNING between -w and -c" \
    -u -H 127.0.0.1 -p "$(port "$T/udrop.log" udp 127.0.0.1)" -n 10 -w 100,20% -c 500,60%
probe 2 '^ECHO CRITICAL - .*5 of 10 echoed, loss 50%' "udp: half lost over -c: CRITICAL" \
    -u -H 127.0.0.1 -p "$(port "$T/udrop.log" udp 127.0.0.1)" -n 10 -w 100,10% -c 500,40%
probe 2 '^ECHO CRITICAL - .*that no probe sent' "udp: an altered echo: CRITICAL" \
    -u -H 127.0.0.1 -p "$(port "$T/uflip.log" udp 127.0.0.1)"
probe 2 '^ECHO CRITICAL - .*differs' "tcp: an altered echo: CRITICAL" \
    -H 127.0.0.1 -p "$(port "$T/flip.log" tcp 127.0.0.1)" -n 3
probe 2 '^ECHO CRITICAL - .*closed the connection' "tcp: cut short: CRITICAL" \
    -H 127.0.0.1 -p "$(port "$T/short.log" tcp 127.0.0.1)" -n 3
probe 2 '^ECHO CRITICAL - .*timed out' "tcp: -t bounds the whole check" \
    -H 127.0.0.1 -p "$(port "$T/usilent.log" udp 127.0.0.1)" -u -t 0.5 -c 5000,60%

probe 3 '^ECHO UNKNOWN - missing -H' "no -H: UNKNOWN"
probe 3 '^ECHO UNKNOWN - -w "100": want RTT,LOSS%' "a bad -w: UNKNOWN" -H ::1 -w 100
probe 3 '^ECHO UNKNOWN - -c "1,101%"' "a loss above 100%: UNKNOWN" -H ::1 -c 1,101%
probe 3 '^ECHO UNKNOWN - -w is above -c' "-w above -c: UNKNOWN" -H ::1 -w 600,20% -c 500,60%
probe 3 '^ECHO UNKNOWN - -n "0"' "-n 0: UNKNOWN" -H ::1 -n 0
probe 3 '^ECHO UNKNOWN - -s "8"' "-s below the probe's header: UNKNOWN" -H ::1 -s 8
probe 3 '^ECHO UNKNOWN - no-such-host.invalid port' "a name that does not resolve: UNKNOWN" \
    -H no-such-host.invalid -p 7

echo "1..$n"
