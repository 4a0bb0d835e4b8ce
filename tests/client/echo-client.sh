#!/bin/sh
# echo-client against the real echod (TCP and UDP, IPv4 and IPv6) and
# against bad-echo, a server wrong on purpose; every exit code.  TAP.
set -u
: "${ECHOD:?}" "${ECHO_CLIENT:?}" "${top_builddir:?}"
BAD="$top_builddir/tests/client/bad-echo"
T="${TMPDIR:-/tmp}/echo-client-test.$$"
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

# TAP goes to fd 3, so that a test may redirect its command's output.
exec 3>&1
ok() { n=$((n + 1)); echo "ok $n - $1" >&3; }
notok() { n=$((n + 1)); echo "not ok $n - $1" >&3; }
skip() { n=$((n + 1)); echo "ok $n # SKIP $1" >&3; }
# check NAME COMMAND...: ok if COMMAND succeeds.
check() { name=$1; shift; if "$@"; then ok "$name"; else notok "$name"; fi; }
# status WANT NAME COMMAND...: ok if COMMAND exits with WANT.
status() {
	want=$1 name=$2; shift 2
	"$@"; got=$?
	if [ "$got" -eq "$want" ]; then ok "$name"; else
		notok "$name (exit $got, want $want)"; fi
}
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
# port LOG PROTO ADDR: the port a server logged for PROTO at ADDR.
port() {
	sed -n "s/.*: listening on $2 $3:\([0-9][0-9]*\)\$/\1/p" "$1" | head -n 1
}
# C: the client, never left to hang.
C() { timeout 60 "$ECHO_CLIENT" "$@"; }

# These tests push thousands of datagrams and connections from one
# address: no per-source rate limit.
printf 'udp_rate_limit = 0\ntcp_rate_limit = 0\n' > "$T/echod.conf"
"$ECHOD" -f -c "$T/echod.conf" -w 1 -l 127.0.0.1:0 -l '[::1]:0' 2>"$T/echod.log" &
pids="$pids $!"
if ! wait_for "$T/echod.log" 'ready: 1 worker'; then
	echo "Bail out! echod did not start" >&3; cat "$T/echod.log" >&2; exit 1
fi
T4=$(port "$T/echod.log" tcp 127.0.0.1)
T6=$(port "$T/echod.log" tcp '\[::1\]')
U4=$(port "$T/echod.log" udp 127.0.0.1)
U6=$(port "$T/echod.log" udp '\[::1\]')
echo "# echod ports: tcp $T4 $T6, udp $U4 $U6"

printf 'hello, echo\n' > "$T/line"
for v in "tcp 127.0.0.1 $T4" "tcp ::1 $T6" "udp 127.0.0.1 $U4" "udp ::1 $U6"; do
	set -- $v
	u=; [ "$1" = udp ] && u=-u
	C $u "$2" "$3" < "$T/line" > "$T/out" 2>"$T/err"
	rc=$?
	check "$1 $2: a line comes back, exit 0" test $rc -eq 0 -a "$(cat "$T/out")" = "hello, echo"
done

head -c 16777216 /dev/urandom > "$T/big"
C 127.0.0.1 "$T4" < "$T/big" > "$T/out" 2>"$T/err"
rc=$?
check "tcp: 16 MiB through pipe mode, byte for byte, exit 0" \
    eval 'test $rc -eq 0 && cmp -s "$T/big" "$T/out"'
status 0 "tcp ::1: --check on 16 MiB" C -k ::1 "$T6" < "$T/big"
head -c 300000 "$T/big" > "$T/mid"
C -u -s 8192 127.0.0.1 "$U4" < "$T/mid" > "$T/out" 2>"$T/err"
rc=$?
check "udp: 300000 bytes in 8 KiB datagrams, exit 0" \
    eval 'test $rc -eq 0 && cmp -s "$T/mid" "$T/out"'
status 0 "udp ::1: --check" C -u -k ::1 "$U6" < "$T/mid"
status 0 "-4 with a name: localhost" C -4 -k localhost "$T4" < "$T/line"

# Every address in order: needs a name that is both ::1 and 127.0.0.1.
if getent ahosts localhost | grep -q '^::1 ' &&
    getent ahosts localhost | grep -q '^127\.0\.0\.1 '; then
	status 0 "localhost: falls through to the address that answers" \
	    C -k localhost "$T4" < "$T/line"
else
	skip "localhost is not both ::1 and 127.0.0.1 here"
fi

# Interactive mode, on a pseudo-terminal: a line, its echo.
if command -v script >/dev/null 2>&1; then
	printf 'ping one\nping two\n' |
	    timeout 30 script -qec "$ECHO_CLIENT 127.0.0.1 $T4; echo rc=\$?" /dev/null \
	    > "$T/tty" 2>&1
	c=$(grep -c 'ping two' "$T/tty")
	# The terminal shows each line once as typed and once as echoed.
	if [ "$c" -eq 2 ] && grep -q 'rc=0' "$T/tty"; then ok "interactive: lines echoed on a terminal"
	else notok "interactive: lines echoed on a terminal"; sed 's/^/# /' "$T/tty"; fi
else
	skip "no script(1) for a pseudo-terminal"
fi

# Load mode against echod: every byte verified, figures printed.
C -b -c 20 -j 2 -n 2000 127.0.0.1 "$T4" > "$T/bench" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '^round_trips  *2' "$T/bench" &&
    grep -q '^mismatches  *0$' "$T/bench" && grep -q '^lat_p99_us' "$T/bench"; then
	ok "--bench pingpong: 2000 round trips, no mismatch"
else notok "--bench pingpong (exit $rc)"; sed 's/^/# /' "$T/bench" "$T/err"; fi
status 0 "--bench connect" C -b -p connect -c 4 -d 0.5 127.0.0.1 "$T4" > "$T/bench"
status 0 "--bench bulk" C -b -p bulk -d 0.5 ::1 "$T6" > "$T/bench"
status 0 "--bench bulk, 1m writes, 4m window" \
    C -b -p bulk -s 1m -W 4m -d 0.5 127.0.0.1 "$T4" > "$T/bench"
status 0 "--bench bulk, 1 KiB reads" \
    C -b -p bulk -r 1k -d 0.5 127.0.0.1 "$T4" > "$T/bench"
C -b -u -c 8 -j 2 -d 0.5 -t 0.25 127.0.0.1 "$U4" > "$T/bench" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '^sources  *8$' "$T/bench" &&
    awk '$1 == "datagrams" && $2 > 0 { f = 1 } END { exit !f }' "$T/bench" &&
    grep -q '^mismatches  *0$' "$T/bench"; then
	ok "--bench -u: 8 sources, datagrams echoed and checked"
else notok "--bench -u (exit $rc)"; sed 's/^/# /' "$T/bench" "$T/err"; fi
# A window of 4 datagrams per source: 4 sockets (ports) per source address.
C -b -u -c 2 -W 4 -d 0.5 -t 0.25 127.0.0.1 "$U4" > "$T/bench" 2>"$T/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '^sources  *2$' "$T/bench" &&
    grep -q '^opened  *8$' "$T/bench" && grep -q '^mismatches  *0$' "$T/bench"; then
	ok "--bench -u -W 4: 2 sources, 8 datagrams in flight"
else notok "--bench -u -W 4 (exit $rc)"; sed 's/^/# /' "$T/bench" "$T/err"; fi

# A deliberately wrong server: --check and --bench must say so.
"$BAD" -m flip -o 100000 2>"$T/flip.log" &
pids="$pids $!"
"$BAD" -m short -o 1000 2>"$T/short.log" &
pids="$pids $!"
"$BAD" -m reset -o 1000 2>"$T/reset.log" &
pids="$pids $!"
"$BAD" -m silent 2>"$T/silent.log" &
pids="$pids $!"
"$BAD" -u -m silent 2>"$T/usilent.log" &
pids="$pids $!"
"$BAD" -m hold 2>"$T/hold.log" &
pids="$pids $!"
"$BAD" -m deaf 2>"$T/deaf.log" &
pids="$pids $!"
"$BAD" -m flood 2>"$T/flood.log" &
pids="$pids $!"
for f in flip short reset silent usilent hold deaf flood; do
	wait_for "$T/$f.log" listening || exit 1
done
F=$(port "$T/flip.log" tcp 127.0.0.1)
S=$(port "$T/short.log" tcp 127.0.0.1)
R=$(port "$T/reset.log" tcp 127.0.0.1)
Q=$(port "$T/silent.log" tcp 127.0.0.1)
QU=$(port "$T/usilent.log" udp 127.0.0.1)
H=$(port "$T/hold.log" tcp 127.0.0.1)
D=$(port "$T/deaf.log" tcp 127.0.0.1)
FL=$(port "$T/flood.log" tcp 127.0.0.1)
# says STATUS TEXT NAME COMMAND...: exits STATUS and says TEXT on stderr.
says() {
	want=$1 text=$2 name=$3; shift 3
	"$@" > "$T/out" 2>"$T/err"; got=$?
	if [ "$got" -eq "$want" ] && grep -qF -- "$text" "$T/err"; then ok "$name"
	else notok "$name (exit $got, want $want and '$text')"; sed 's/^/# /' "$T/err"; fi
}

C -k 127.0.0.1 "$F" < "$T/big" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q 'byte 100000$' "$T/err"; then
	ok "--check: a flipped byte, exit 1 with its offset"
else notok "--check: a flipped byte (exit $rc)"; sed 's/^/# /' "$T/err"; fi
status 1 "--check: a short echo is a mismatch" C -k 127.0.0.1 "$S" < "$T/big" 2>/dev/null
status 1 "--bench: a flipped byte is a mismatch" \
    C -b -s 1000 -n 1000 127.0.0.1 "$F" >/dev/null 2>&1
status 74 "connection reset mid-echo: exit 74" C 127.0.0.1 "$R" < "$T/big" >/dev/null 2>&1
says 75 "no echo within 300 ms: 0 of 12 bytes sent came back" \
    "tcp: no reply within --timeout: exit 75, says what is missing" \
    C -t 0.3 127.0.0.1 "$Q" < "$T/line"
says 75 "no echo within 300 ms of the datagram of 12 bytes sent at byte 0" \
    "udp: no reply within --timeout: exit 75, says what is missing" \
    C -u -t 0.3 127.0.0.1 "$QU" < "$T/line"
# Every byte back, but no end of the echo: the missing EOF is what to say,
# not "12 of 12 bytes back", which reads as success.
says 75 "all 12 bytes came back, but the server did not close the connection within 300 ms" \
    "tcp: echo complete but never closed: exit 75, says the close is missing" \
    C -t 0.3 127.0.0.1 "$H" < "$T/line"
says 75 "and the server takes no more of the input" \
    "tcp: a server that stops reading: exit 75, says so" \
    C -t 1 127.0.0.1 "$D" < "$T/big"
# A server that sends without end: more than was sent is no echo, and it
# must not keep re-arming -t (the client used to run, and print, for ever).
timeout 10 "$ECHO_CLIENT" -t 0.3 127.0.0.1 "$FL" < "$T/line" >/dev/null 2>"$T/err"
rc=$?
if [ $rc -eq 75 ] && grep -qF "(more than was sent), and the server did not stop within 300 ms" "$T/err"; then
	ok "tcp: a server that sends without end: exit 75 after -t"
else notok "tcp: a server that sends without end (exit $rc, want 75)"; sed 's/^/# /' "$T/err"; fi
status 1 "--check: a server that sends without end is a mismatch" \
    timeout 10 "$ECHO_CLIENT" -k -t 0.3 127.0.0.1 "$FL" < "$T/line" 2>/dev/null
if command -v script >/dev/null 2>&1; then
	printf 'ping one\n' |
	    timeout 30 script -qec "$ECHO_CLIENT -t 0.3 127.0.0.1 $H; echo rc=\$?" /dev/null \
	    > "$T/tty" 2>&1
	if grep -q 'all 9 bytes came back, but the server did not close the connection within 300 ms' "$T/tty" &&
	    grep -q 'rc=75' "$T/tty"; then
		ok "interactive: echo complete but never closed: exit 75, says the close is missing"
	else notok "interactive: echo complete but never closed"; sed 's/^/# /' "$T/tty"; fi
else
	skip "no script(1) for a pseudo-terminal"
fi
says 75 "no echo within 300 ms: 0 of 64 bytes of the message came back" \
    "--bench: no reply: exit 75, says what is missing" \
    C -b -n 1 -t 0.3 127.0.0.1 "$Q"
# Timed-out connections count towards -n: this one used to start over for ever.
says 75 "the whole echo came back, but the server did not close the connection within 300 ms of the half-close" \
    "--bench connect -n 2, a server that never closes: ends, exit 75" \
    timeout 20 "$ECHO_CLIENT" -b -p connect -n 2 -t 0.3 127.0.0.1 "$H"
# -t bounds the opening of idle connections too: this one used to hang.
says 75 "no echo within 300 ms: 0 of 64 bytes of the message came back" \
    "--bench idle, a server that never echoes: -t applies, exit 75" \
    timeout 20 "$ECHO_CLIENT" -b -p idle -c 2 -d 0.3 -t 0.3 127.0.0.1 "$Q"

# Name and connection failures: 69.  echod's UDP port has no TCP listener.
status 69 "connection refused: exit 69" C 127.0.0.1 "$U4" < "$T/line" 2>/dev/null
status 69 "unknown name: exit 69" C no-such-host.invalid < "$T/line" 2>/dev/null
status 69 "-6 with an IPv4 address: exit 69" C -6 127.0.0.1 "$T4" < "$T/line" 2>/dev/null
status 69 "udp port unreachable: exit 69" C -u 127.0.0.1 "$T4" < "$T/line" 2>/dev/null

# Usage errors: 64.
status 64 "no host: exit 64" C 2>/dev/null
status 64 "unknown option: exit 64" C -Z localhost 2>/dev/null
status 64 "bad number: exit 64" C -b -c 0 localhost 2>/dev/null
# usage WHAT ARG WHY OPTIONS...: exit 64 with 'WHAT "ARG": WHY' first.
# echod's port is open, so a number that wrapped onto it would connect.
usage() {
	what=$1 arg=$2 why=$3; shift 3
	C "$@" < "$T/line" > /dev/null 2>"$T/err"; got=$?
	line=$(head -n 1 "$T/err")
	if [ "$got" -eq 64 ] && [ "$line" = "echo-client: $what \"$arg\": $why" ]; then
		ok "$what \"$arg\": exit 64, $why"
	else
		notok "$what \"$arg\": exit $got, want 64 and '$why'"
		sed 's/^/# /' "$T/err"
	fi
}
usage port $((T4 + 65536)) "out of range (1..65535)" 127.0.0.1 $((T4 + 65536))
usage port 99999 "out of range (1..65535)" 127.0.0.1 99999
usage port 0 "out of range (1..65535)" 127.0.0.1 0
usage port -$T4 negative -- 127.0.0.1 -$T4
usage port "${T4}x" 'trailing garbage "x" after the number' 127.0.0.1 "${T4}x"
usage port "" empty 127.0.0.1 ""
usage port " $T4" "not a number" 127.0.0.1 " $T4"
usage port "$((U4 + 65536))" "out of range (1..65535)" -u 127.0.0.1 $((U4 + 65536))
usage port no-such-service "not a port number (1..65535) nor a service known for tcp" \
    127.0.0.1 no-such-service
usage -t -1 negative -t -1 127.0.0.1 "$T4"
usage -t 0.1ms "shorter than 1 ms" -t 0.1ms 127.0.0.1 "$T4"
usage -t 0x10 "not a duration (write 10, 0.5, 2s or 250ms)" -t 0x10 127.0.0.1 "$T4"
usage -t nan "not a duration (write 10, 0.5, 2s or 250ms)" -t nan 127.0.0.1 "$T4"
usage -t 5x "not a duration (write 10, 0.5, 2s or 250ms)" -t 5x 127.0.0.1 "$T4"
usage -t "" empty -t "" 127.0.0.1 "$T4"
usage -t 1000001 "out of range (0 ms..1000000 s)" -t 1000001 127.0.0.1 "$T4"
usage -c 100001 "out of range (1..100000)" -b -c 100001 127.0.0.1 "$T4"
usage -c " 5" "not a number" -b -c " 5" 127.0.0.1 "$T4"
usage -c 5x 'trailing garbage "x" after the number' -b -c 5x 127.0.0.1 "$T4"
usage -j 65 "out of range (1..64)" -b -j 65 127.0.0.1 "$T4"
usage -j -1 negative -b -j -1 127.0.0.1 "$T4"
usage -n 0 "out of range (1..9223372036854775807)" -b -n 0 127.0.0.1 "$T4"
usage -n 18446744073709551617 "out of range (1..9223372036854775807)" \
    -b -n 18446744073709551617 127.0.0.1 "$T4"
usage -n "" empty -b -n "" 127.0.0.1 "$T4"
usage -d 0 "out of range (1 ms..31536000 s)" -b -d 0 127.0.0.1 "$T4"
usage -d -5 negative -b -d -5 127.0.0.1 "$T4"
usage -s 0 "out of range (1..1m)" -b -s 0 127.0.0.1 "$T4"
usage -s 2m "out of range (1..1m)" -b -s 2m 127.0.0.1 "$T4"
usage -s 1kk 'trailing garbage "kk" after the number' -b -s 1kk 127.0.0.1 "$T4"
usage -s 64k "out of range (1..65507 with -u: the largest datagram)" \
    -u -s 64k 127.0.0.1 "$U4"
usage -s 4 "out of range (8..65507 with -b -u: each datagram carries its source and number)" \
    -b -u -s 4 127.0.0.1 "$U4"
usage -W 0 "out of range (1..1024m)" -b -p bulk -W 0 127.0.0.1 "$T4"
# These have nothing for -n to count: they used to run for ever.
for p in bulk idle; do
	says 64 "-n counts round trips or connections; -p $p runs for -d" \
	    "--bench -p $p -n: exit 64" \
	    timeout 20 "$ECHO_CLIENT" -b -p $p -n 5 127.0.0.1 "$T4"
done
status 64 "-s without -b or -u: exit 64" C -s 100 127.0.0.1 "$T4" < "$T/line" 2>/dev/null
status 64 "-c without -b: exit 64" C -c 5 localhost 2>/dev/null
status 64 "-b -u with -p: exit 64" C -b -u -p bulk localhost 2>/dev/null
status 64 "-W without -b -p bulk or -b -u: exit 64" C -b -W 1m localhost 2>/dev/null
status 64 "-r without -b: exit 64" C -r 1k localhost 2>/dev/null
status 64 "-b -u -r: exit 64" C -b -u -r 1k localhost 2>/dev/null
usage -r 0 "out of range (1..256k)" -b -r 0 127.0.0.1 "$T4"
status 64 "-b -u -W 65: exit 64" C -b -u -W 65 localhost 2>/dev/null
status 0 "--help: exit 0" C --help >/dev/null

# An echod with the default udp_rate_limit drops past 100 datagrams a
# second from one address: -b -u from one source says that is why.
: > "$T/limited.conf"
"$ECHOD" -f -c "$T/limited.conf" -w 1 -l 127.0.0.1:0 2>"$T/limited.log" &
pids="$pids $!"
if wait_for "$T/limited.log" 'ready: 1 worker'; then
	UL=$(port "$T/limited.log" udp 127.0.0.1)
	C -b -u -c 1 -d 1 -t 0.05 127.0.0.1 "$UL" > "$T/bench" 2>"$T/err"
	if grep -q '^echo-client: note: [0-9]* datagrams\{0,1\} lost while each source address could send about [0-9]* a second; echod answers one address 100 a second by default (udp_rate_limit' "$T/err"; then
		ok "--bench -u against the default udp_rate_limit: a note names it"
	else notok "--bench -u against the default udp_rate_limit"
		sed 's/^/# /' "$T/bench" "$T/err"; fi
else notok "the echod with the default udp_rate_limit did not start"; fi

echo "1..$n"
