#!/bin/bash
# End to end, as a user would: build the Debian package, boot Debian 12
# under its own systemd (systemd-nspawn on a cached debootstrap tree, a
# fresh overlay each run, private network), install the package there and
# use the service through systemctl, the sockets and the journal, run the
# package's autopkgtest (debian/tests) there; then upgrade, remove and purge
# it.  TAP on stdout; where it cannot run (no root, no systemd-nspawn) a TAP
# skip ("1..0 # SKIP why", exit 0), except in CI (ECHOD_CI set), where the
# tools are installed: there a skip is a failure.
#
# Environment:
#   ECHOD_DEB        use this .deb instead of building one
#   ECHOD_E2E_CACHE  where the Debian tree is cached (/var/cache/echod-e2e)
#   ECHOD_E2E_KEEP   keep the work directory (logs, overlay) when set
set -u
here=$(cd "$(dirname "$0")" && pwd)
srcdir=$(cd "$here/../.." && pwd)
cache=${ECHOD_E2E_CACHE:-/var/cache/echod-e2e}

. "$here/../tap.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root (systemd-nspawn, mount)"
for c in systemd-nspawn nsenter debootstrap dpkg-deb mount; do
	command -v "$c" >/dev/null 2>&1 || skip_all "$c not installed"
done
[ -e /proc/self/ns/net ] || skip_all "no namespaces"

work=$(mktemp -d /var/tmp/echod-e2e.XXXXXX) || bail "mktemp"
nspawn_pid= pid1=
cleanup() {
	if [ -n "$pid1" ] && kill -0 "$pid1" 2>/dev/null; then
		in_ct systemctl poweroff >/dev/null 2>&1
		wait_for 30 eval '! kill -0 "$nspawn_pid" 2>/dev/null' ||
			kill -KILL "$nspawn_pid" 2>/dev/null
	fi
	[ -n "$nspawn_pid" ] && wait "$nspawn_pid" 2>/dev/null
	mountpoint -q "$work/root" && umount "$work/root"
	if [ -n "${ECHOD_E2E_KEEP:-}" ]; then
		echo "# kept $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# clean_copy DEST PATH: the sources under PATH (. for all), tracked and new
# files only, not a build tree's droppings, copied into DEST.
clean_copy() {
	mkdir -p "$1"
	if git -C "$srcdir" rev-parse --git-dir >/dev/null 2>&1; then
		(cd "$srcdir" && git ls-files -z -c -o --exclude-standard -- "$2" |
			xargs -0 cp --parents -t "$1" 2>/dev/null)
	else
		(cd "$srcdir" && cp -a --parents "$2" "$1")
	fi
}

# --- the packages --------------------------------------------------------
. "$here/debbuild.sh"
# The previous release's layout, to upgrade from: the native package 0.1.0,
# whose echod shipped echo-client and ran as the user "echod".
old_ref=${ECHOD_E2E_OLD_REF:-15806cb4be1333c5e95d87a0bb4319cb56fb9d36}
if [ -n "${ECHOD_DEB:-}" ]; then
	deb=$ECHOD_DEB
	client_deb=$(ls "$(dirname "$deb")"/echo-client_*.deb 2>/dev/null | head -n 1)
else
	echo "# building the source package and its binaries (log: $work/build.log)"
	if deb_build_new > "$work/build.err" 2>&1; then
		ok "make dist, then dpkg-buildpackage -us -uc on the tarball with debian/"
	else
		notok "make dist, then dpkg-buildpackage -us -uc on the tarball with debian/"
		diag < "$work/build.err"
		bail "no package to test"
	fi
	if ! command -v lintian >/dev/null 2>&1; then
		if [ -n "${ECHOD_CI:-}" ]; then
			notok "lintian: not installed, and ECHOD_CI is set"
		else
			ok "lintian # SKIP lintian not installed"
		fi
	else
		# Every tag counts, info, pedantic and experimental ones too;
		# overrides (with their reasons) are in debian/.
		lintian -I -E --pedantic "$work"/pkg/echod_*.changes 2>&1 |
			grep -v '^running with root privileges' > "$work/lintian.log"
		if [ ! -s "$work/lintian.log" ]; then
			ok "lintian -I -E --pedantic: no tag on the source or either binary"
		else
			notok "lintian -I -E --pedantic: no tag on the source or either binary"
			diag < "$work/lintian.log"
		fi
	fi
fi
if deb_build_old "$old_ref" > "$work/build-old.err" 2>&1; then
	ok "the previous package (native, user echod) built from $old_ref"
elif [ -n "${ECHOD_CI:-}" ]; then
	notok "the previous package (native, user echod) built from $old_ref"
	diag < "$work/build-old.err"
else
	ok "the previous package # SKIP $(head -n 1 "$work/build-old.err")"
fi
[ -f "${client_deb:-}" ] || bail "no echo-client .deb beside '$deb'"
[ -f "$deb" ] || bail "no .deb at '$deb'"
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")

# The same package under a later version, to upgrade to.
version=$(dpkg-deb -f "$deb" Version)
mkdir -p "$work/repack" "$work/debs"
dpkg-deb -R "$deb" "$work/repack/echod" || bail "dpkg-deb -R"
sed -i "s/^Version: .*/Version: $version+e2e1/" "$work/repack/echod/DEBIAN/control"
dpkg-deb --root-owner-group -b "$work/repack/echod" "$work/debs/echod_new.deb" >/dev/null ||
	bail "dpkg-deb -b"
sed -i "s/^Version: .*/Version: $version+e2e2/" "$work/repack/echod/DEBIAN/control"
dpkg-deb --root-owner-group -b "$work/repack/echod" "$work/debs/echod_new2.deb" >/dev/null ||
	bail "dpkg-deb -b"
cp "$deb" "$work/debs/echod.deb"
cp "$client_deb" "$work/debs/echo-client.deb"
[ -n "${old_deb:-}" ] && cp "$old_deb" "$work/debs/echod_old.deb"
chmod 0755 "$work/debs"; chmod 0644 "$work/debs"/*.deb

check "the package lists /etc/echod.conf as a conffile" \
	grep -qx /etc/echod.conf "$work/repack/echod/DEBIAN/conffiles"

# --- the container -----------------------------------------------------------
"$here/mkroot.sh" "$cache" >"$work/mkroot.log" 2>&1 ||
	{ diag < "$work/mkroot.log"; bail "could not build the Debian tree in $cache"; }

mkdir -p "$work/upper" "$work/wd" "$work/root"
mount -t overlay overlay \
	-o "lowerdir=$cache/prometheus:$cache/autopkgtest:$cache/bookworm,upperdir=$work/upper,workdir=$work/wd" \
	"$work/root" || bail "overlay mount"
mkdir -p "$work/root/var/tmp/e2e"
cp "$work"/debs/*.deb "$here/echo.pl" "$work/root/var/tmp/e2e/"
# The package's own tests (debian/tests), for autopkgtest.
clean_copy "$work/root/var/tmp/e2e/src" debian
chmod 0755 "$work/root/var/tmp/e2e"

systemd-nspawn -q -D "$work/root" -b --register=no --keep-unit --private-network \
	--machine="echod-e2e-$$" >"$work/console.log" 2>&1 </dev/null &
nspawn_pid=$!

find_pid1() { # the container's PID 1: systemd, a child of systemd-nspawn
	local p
	for p in $(cat /proc/"$nspawn_pid"/task/*/children 2>/dev/null); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = systemd ] && { pid1=$p; return 0; }
	done
	return 1
}
wait_for 30 find_pid1 || { diag < "$work/console.log"; bail "the container did not boot"; }

in_ct() { # run a command inside the container, with a plain environment
	nsenter -t "$pid1" -a -- /usr/bin/env -i \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TERM=dumb "$@"
}
# journal_cursor: the container's journal's cursor now, for --after-cursor.
journal_cursor() { in_ct journalctl -q -n 0 --show-cursor | sed -n 's/^-- cursor: //p'; }
booted() {
	local s
	s=$(in_ct systemctl is-system-running 2>/dev/null)
	[ "$s" = running ] || [ "$s" = degraded ]
}
if wait_for 90 booted; then
	ok "the container boots systemd ($(in_ct systemctl --version | head -n 1))"
else
	notok "the container boots systemd"
	tail -n 30 "$work/console.log" | diag
	bail "no systemd to test with"
fi

# Files before the package, to compare with after the purge.
snapshot() {
	in_ct find / -xdev \( -path /proc -o -path /sys -o -path /run -o -path /dev \
		-o -path /var/log -o -path /var/cache -o -path /var/lib/apt \
		-o -path /var/lib/dpkg -o -path /var/tmp -o -path /tmp \) -prune -o -print |
		sort
}
snapshot > "$work/files.before"

# Maintainer scripts from debhelper run systemctl with "|| true": a failure
# there does not fail the install, so the log is read for one.
log_clean() { # log_clean LOG: no sign of a hidden failure
	! grep -Ei 'fail|error|warn|job for|invalid|not found|denied|cannot|can.t' "$1" |
		grep -Ev '^(Get|Selecting|Preparing|Unpacking|Setting up|Processing|Removing|Purging)' \
			> "$1.bad" || { diag < "$1.bad"; return 1; }
}
apt_get() { # apt_get LOG ARGS...
	local log=$1; shift
	in_ct env DEBIAN_FRONTEND=noninteractive apt-get -y -q "$@" >"$log" 2>&1
	local rc=$?
	[ $rc -eq 0 ] || tail -n 20 "$log" | diag
	return $rc
}

# --- the client alone -----------------------------------------------------------
# Installing echo-client must not open port 7: no listener on it, TCP or
# UDP, IPv4 or IPv6, and no echod unit or user.
port7_bound() { # a socket of any state bound to local port 7
	in_ct awk 'FNR > 1 && $2 ~ /:0007$/ { found = 1 } END { exit !found }' \
		/proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6
}
check "apt-get install ./echo-client.deb (the client alone)" \
	apt_get "$work/install-client.log" install /var/tmp/e2e/echo-client.deb
check "the client alone binds nothing on port 7 and installs no echod unit or user" \
	eval '! port7_bound && ! in_ct systemctl cat echod.socket >/dev/null 2>&1 &&
		! in_ct getent passwd _echod >/dev/null && ! in_ct test -e /usr/sbin/echod'
check "echo-client runs (-h)" in_ct echo-client -h

# --- install -------------------------------------------------------------------
check "apt-get install ./echod.deb" apt_get "$work/install.log" install /var/tmp/e2e/echod.deb
check "the install log shows no hidden failure" log_clean "$work/install.log"
check "echod.socket and echod.service are enabled" \
	in_ct systemctl -q is-enabled echod.socket echod.service
check "echod.socket and echod.service are active" \
	wait_for 20 in_ct systemctl -q is-active echod.socket echod.service
check "the _echod system user exists and cannot log in; no user echod" \
	in_ct sh -c 'getent passwd _echod | grep -q ":/usr/sbin/nologin$" &&
		! getent passwd echod'
runs_as() { # runs_as USER: the master and its workers, all as USER, no capability
	local m; m=$(in_ct systemctl show -p MainPID --value echod)
	[ "${m:-0}" -gt 0 ] &&
	[ "$(in_ct ps -o user= -p "$m" --ppid "$m" | sort -u)" = "$1" ] &&
	in_ct grep -q '^CapEff:[[:space:]]*0*$' "/proc/$m/status"
}
check "echod runs as user _echod with no capability" runs_as _echod
check "README.Debian and NEWS.Debian are installed" \
	in_ct test -s /usr/share/doc/echod/README.Debian -a -s /usr/share/doc/echod/NEWS.Debian.gz

# echo_ok PROTO HOST: one message over TCP or UDP to port 7 comes back
echo_ok() { in_ct timeout 10 perl /var/tmp/e2e/echo.pl "$1" "$2" 7 2>/dev/null; }
for proto in tcp udp; do
	for host in 127.0.0.1 ::1; do
		check "port 7 echoes over $proto to $host" echo_ok "$proto" "$host"
	done
done

status_line() { in_ct systemctl status echod 2>/dev/null | grep -q '^ *Status: "..*"'; }
if wait_for 15 status_line; then
	ok "systemctl status shows the STATUS line"
	in_ct systemctl status echod 2>/dev/null | grep '^ *Status:' | diag
else
	notok "systemctl status shows the STATUS line"
	in_ct systemctl status echod 2>&1 | diag
fi

journal_has() { in_ct journalctl -q -u echod "$@" 2>/dev/null | grep -q .; }
check "journalctl -u echod shows connection events (ECHOD_EVENT, CLIENT_ADDRESS)" \
	wait_for 15 journal_has ECHOD_EVENT=close CLIENT_ADDRESS=127.0.0.1 CLIENT_PROTOCOL=tcp
close_fields() {
	in_ct journalctl -q -u echod -o verbose ECHOD_EVENT=close CLIENT_PROTOCOL=tcp > "$work/close.txt" 2>&1
	grep -q '^ *CLIENT_PORT=[0-9]' "$work/close.txt" &&
	grep -q '^ *BYTES=[0-9]' "$work/close.txt" &&
	grep -q '^ *DURATION_USEC=[0-9]' "$work/close.txt"
}
check "a TCP close event carries CLIENT_PORT, BYTES and DURATION_USEC" wait_for 15 close_fields

# --- a connection flood and the journal (issue 23) ------------------------------
. "$here/journal.sh"

# --- autopkgtest -----------------------------------------------------------------
# debian/tests run by the autopkgtest tool on this booted system against the
# package installed above (-B: nothing built, nothing reinstalled).  The null
# runner offers isolation-machine and, as root, needs-root; the test skips
# where PID 1 is not systemd.  Exit 0 means every test ran and passed: a
# skip (2, 8) fails here.  No bytecode written: the purge check below
# compares the files before the install with those after the purge.
autopkgtest_passes() {
	in_ct env PYTHONDONTWRITEBYTECODE=1 autopkgtest -B \
		--summary=/var/tmp/e2e/autopkgtest.summary \
		/var/tmp/e2e/src -- null > "$work/autopkgtest.log" 2>&1
	local rc=$? sum=$work/root/var/tmp/e2e/autopkgtest.summary
	# What it installs to satisfy the tests' Depends must not outlive it.
	in_ct sh -c 'dpkg -s autopkgtest-satdep >/dev/null 2>&1 &&
		dpkg --purge autopkgtest-satdep' >/dev/null 2>&1
	[ "$rc" -eq 0 ] && grep -q '^smoke[[:space:]][[:space:]]*PASS' "$sum" &&
		! grep -Eqv '[[:space:]]PASS' "$sum" && return 0
	echo "autopkgtest exit status $rc; summary:" | diag
	[ -f "$sum" ] && diag < "$sum"
	tail -n 30 "$work/autopkgtest.log" | diag
	return 1
}
check "autopkgtest runs debian/tests on the installed package: all pass, none skipped" \
	autopkgtest_passes

# --- reload ----------------------------------------------------------------------
main_pid() { in_ct systemctl show -p MainPID --value echod 2>/dev/null; }
workers() { # the master's children (0 if there is no master)
	local m; m=$(main_pid)
	[ "${m:-0}" -gt 0 ] || { echo 0; return; }
	in_ct sh -c "ps -o pid= --ppid $m | wc -l"
}
pid_before=$(main_pid)
want=$(($(workers) + 1))
in_ct sh -c "sed -i '/^[[:space:]]*workers[[:space:]]*=/d' /etc/echod.conf && echo 'workers = $want' >> /etc/echod.conf"
check "systemctl reload echod succeeds" in_ct systemctl reload echod
has_workers() { [ "$(workers)" -eq "$want" ]; }
check "the reload applies the edited file ($want workers)" wait_for 30 has_workers
check "the main PID is kept across the reload" test "$(main_pid)" = "$pid_before"

in_ct sh -c 'cp /etc/echod.conf /var/tmp/good.conf && echo "no_such_key = 1" >> /etc/echod.conf'
check "systemctl reload fails visibly on a bad file" eval '! in_ct systemctl reload echod 2>/dev/null'
check "after the failed reload echod is still active, same PID, still echoing" \
	eval 'in_ct systemctl -q is-active echod && [ "$(main_pid)" = "$pid_before" ] && echo_ok tcp 127.0.0.1'
in_ct cp /var/tmp/good.conf /etc/echod.conf

# --- status and metrics ------------------------------------------------------------
check "echod --status (as root) answers over /run/echod/control" \
	in_ct sh -c 'echod --status | grep -q "^total: "'
check "echod --status --json is valid JSON" \
	in_ct sh -c 'echod --status --json | python3 -m json.tool >/dev/null'
check "the control socket is _echod's, mode 0600, in RuntimeDirectory=" \
	in_ct sh -c 'test "$(stat -c "%U %a %F" /run/echod/control)" = "_echod 600 socket"'
# metrics_listen under socket activation: echod binds it itself (echod(8))
in_ct sh -c "echo 'metrics_listen = {\"127.0.0.1:9107\"}' >> /etc/echod.conf"
check "systemctl reload with metrics_listen set succeeds" in_ct systemctl reload echod
scrape() {
	in_ct timeout 10 perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new("127.0.0.1:9107") or exit 1;
		print $s "GET /metrics HTTP/1.0\r\n\r\n";
		print while <$s>;' > "$work/metrics.txt" 2>/dev/null &&
	grep -q "^echod_build_info{version=" "$work/metrics.txt" &&
	grep -q "^echod_connections_accepted_total [1-9]" "$work/metrics.txt"
}
check "under the shipped unit, GET /metrics on 127.0.0.1:9107 answers" wait_for 20 scrape
metrics_as_echod() { # the master's children: workers and the metrics process
	local m; m=$(main_pid)
	[ "$(in_ct ps -o user= --ppid "$m" | sort -u)" = _echod ] &&
	in_ct ps -o args= --ppid "$m" | grep -q .
}
check "the metrics process runs as _echod, like the workers" metrics_as_echod
in_ct cp /var/tmp/good.conf /etc/echod.conf
check "a reload without metrics_listen succeeds" in_ct systemctl reload echod
no_metrics() { ! in_ct timeout 5 perl -MIO::Socket::INET -e \
	'IO::Socket::INET->new("127.0.0.1:9107") or exit 1'; }
check "and port 9107 is closed again" wait_for 20 no_metrics

# --- socket activation ---------------------------------------------------------------
in_ct systemctl stop echod.service 2>&1 | grep -v "triggering units are still active" | diag
check "with echod.service stopped, echod.socket keeps listening" \
	eval '! in_ct systemctl -q is-active echod.service && in_ct systemctl -q is-active echod.socket'
check "the first connection starts echod and is echoed" echo_ok tcp ::1
check "echod.service is active again" wait_for 20 in_ct systemctl -q is-active echod.service

# --- stop ------------------------------------------------------------------------
# Only what the journal says from here on (a date has whole seconds).
cursor=$(journal_cursor)
in_ct systemctl stop echod.socket echod.service 2>&1 | diag
stopped_clean() {
	[ -n "$cursor" ] &&
	in_ct systemctl -q is-enabled echod.service 2>/dev/null &&
	[ "$(in_ct systemctl show -p Result --value echod)" = success ] &&
	[ "$(in_ct systemctl show -p ActiveState --value echod)" = inactive ] &&
	[ "$(in_ct ps -o pid= -u "$(in_ct id -u _echod)" | wc -l)" -eq 0 ] &&
	! in_ct journalctl -q -u echod --after-cursor="$cursor" | grep -Ei 'kill|timed out|fail'
}
check "systemctl stop is clean (result success, no process left, nothing killed)" stopped_clean
check "port 7 is closed after the stop" eval '! echo_ok tcp 127.0.0.1 2>/dev/null'
in_ct systemctl start echod.socket echod.service 2>&1 | diag

# --- upgrade ---------------------------------------------------------------------
in_ct sh -c 'echo "# edited locally by the e2e test" >> /etc/echod.conf'
wait_for 20 in_ct systemctl -q is-active echod.service
pid_before=$(main_pid)
check "apt-get install of a newer version (upgrade)" \
	apt_get "$work/upgrade.log" install /var/tmp/e2e/echod_new.deb
check "the upgrade log shows no hidden failure" log_clean "$work/upgrade.log"
check "the upgrade keeps the locally edited /etc/echod.conf" \
	in_ct grep -q '^# edited locally by the e2e test' /etc/echod.conf
check "echod serves after the upgrade" \
	eval 'wait_for 20 in_ct systemctl -q is-active echod.service && echo_ok udp 127.0.0.1'
check "the upgrade restarted echod (a new main PID) once its file was checked" \
	eval '[ -n "$pid_before" ] && [ "$(main_pid)" != "$pid_before" ]'

# An upgrade whose echod refuses the installed file (as a stricter release
# would refuse a file the running one accepted): the running echod is left
# alone and the upgrade says why.  The running echod never reloads the edit.
in_ct cp /etc/echod.conf /var/tmp/good.conf
in_ct sh -c 'echo "no_such_key = 1" >> /etc/echod.conf'
pid_before=$(main_pid)
check "an upgrade with a file the new echod refuses still completes" \
	apt_get "$work/upgrade-refused.log" install /var/tmp/e2e/echod_new2.deb
check "the refused upgrade says why (not restarting, the file's error)" \
	eval 'grep -q "not restarting" "$work/upgrade-refused.log" &&
		grep -q "no_such_key" "$work/upgrade-refused.log" ||
		{ diag < "$work/upgrade-refused.log"; false; }'
check "the refused upgrade leaves the running echod alone (same PID, echoing)" \
	eval 'in_ct systemctl -q is-active echod.service &&
		[ "$(main_pid)" = "$pid_before" ] && echo_ok tcp 127.0.0.1 && echo_ok udp ::1'
in_ct cp /var/tmp/good.conf /etc/echod.conf
in_ct systemctl restart echod.service 2>&1 | diag
check "with the file fixed, systemctl restart brings up the new release" \
	eval 'wait_for 20 in_ct systemctl -q is-active echod.service &&
		[ "$(main_pid)" != "$pid_before" ] && echo_ok tcp ::1'

# --- connections through reload, restart and upgrade (issue 16) --------------------
. "$here/handoff.sh"

# --- day one for an admin: typo and restart, drop-ins, Prometheus (issue 24) ---
. "$here/dayone.sh"

# --- remove, purge ----------------------------------------------------------------
check "apt-get remove echod" apt_get "$work/remove.log" remove echod
check "the remove log shows no hidden failure" log_clean "$work/remove.log"
check "after remove the units are gone and port 7 is closed" \
	eval '! in_ct systemctl -q is-active echod.socket echod.service && ! echo_ok tcp 127.0.0.1 2>/dev/null'
check "after remove the edited conffile is still there" in_ct test -f /etc/echod.conf
check "apt-get purge echod echo-client" apt_get "$work/purge.log" purge echod echo-client
check "the purge log shows no hidden failure" log_clean "$work/purge.log"
check "the purge deletes the user and group _echod, which own no file" \
	eval '! in_ct getent passwd _echod && ! in_ct getent group _echod'
snapshot > "$work/files.after"
leftover() { comm -13 "$work/files.before" "$work/files.after"; }
if [ -z "$(leftover)" ]; then
	ok "purge leaves no file behind"
else
	notok "purge leaves no file behind"
	leftover | diag
fi

# --- upgrade from the previous package: user echod to _echod ----------------
. "$here/migrate.sh"

# --- port 7 already taken (as by inetd) ------------------------------------------
# What README and echod(8) promise: the install completes, echod.socket
# fails and says why, the other server keeps the port; once it is gone, a
# restart of the units brings echod up.
in_ct perl -MSocket -e '
	$| = 1;
	socket(S, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
	setsockopt(S, SOL_SOCKET, SO_REUSEADDR, 1);
	bind(S, pack_sockaddr_in(7, INADDR_ANY)) or die "bind: $!";
	listen(S, 5) or die "listen: $!";
	print "$$\n";
	alarm 120;
	sleep 120' > "$work/holder.pid" 2>&1 &
holder_started() { grep -q '^[0-9][0-9]*$' "$work/holder.pid"; }
if wait_for 10 holder_started; then
	check "with port 7 taken, apt-get install still completes" \
		apt_get "$work/install-busy.log" install /var/tmp/e2e/echod.deb
	port_taken_seen() {
		in_ct systemctl -q is-failed echod.socket &&
		in_ct journalctl -q -u echod.socket | grep -q 'Address already in use'
	}
	check "with port 7 taken, echod.socket fails with \"Address already in use\"" \
		wait_for 10 port_taken_seen
	in_ct kill "$(cat "$work/holder.pid")"
	wait $! 2>/dev/null
	in_ct systemctl restart echod.socket echod.service 2>&1 | diag
	check "once port 7 is free, restarting the units brings echod up" \
		eval 'echo_ok tcp 127.0.0.1 && echo_ok udp ::1'
else
	notok "a stand-in for inetd holds port 7"
	diag < "$work/holder.pid"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
