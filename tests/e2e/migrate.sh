# migrate.sh, sourced by e2e.sh after the purge: the upgrade from the
# previous package (native 0.1.0: echo-client inside echod, the service run
# as the user "echod") to this one.  usermod -l cannot rename a user that
# runs processes, and the old echod does: the upgrade must create _echod,
# restart echod as it, then delete echod, which then runs and owns nothing.
# Then a purge deletes _echod.  Uses e2e.sh's helpers and runs_as, echo_ok.

if [ ! -f "$work/debs/echod_old.deb" ]; then
	ok "upgrade from the previous package # SKIP it could not be built"
	return 0 2>/dev/null || exit 0
fi

check "apt-get install the previous package (native 0.1.0, user echod)" \
	apt_get "$work/install-old.log" install /var/tmp/e2e/echod_old.deb
old_running() {
	in_ct systemctl -q is-active echod.service && runs_as echod &&
	echo_ok tcp 127.0.0.1
}
check "the previous package's echod runs as user echod and echoes" wait_for 20 old_running
old_pid=$(main_pid) old_uid=$(in_ct id -u echod)

check "apt-get install ./echod.deb ./echo-client.deb over it" \
	apt_get "$work/upgrade-old.log" install /var/tmp/e2e/echod.deb /var/tmp/e2e/echo-client.deb
check "that upgrade's log shows no hidden failure" log_clean "$work/upgrade-old.log"
migrated() {
	in_ct systemctl -q is-active echod.socket echod.service &&
	[ "$(main_pid)" != "$old_pid" ] && runs_as _echod
}
check "the upgrade restarted echod as _echod" wait_for 20 migrated
check "the old user and group echod are deleted" \
	eval '! in_ct getent passwd echod && ! in_ct getent group echod'
check "no process runs as echod's old uid ${old_uid:-?}" \
	eval '[ -n "$old_uid" ] && [ -z "$(in_ct ps -o pid= -U "$old_uid" -u "$old_uid")" ]'
for proto in tcp udp; do
	check "port 7 echoes over $proto after the move to _echod" echo_ok "$proto" 127.0.0.1
done
check "echo-client moved to its own package" \
	eval 'in_ct dpkg -S /usr/bin/echo-client | grep -q "^echo-client:"'

check "apt-get purge echod echo-client (after the move)" \
	apt_get "$work/purge-old.log" purge echod echo-client
check "that purge deletes _echod too" \
	eval '! in_ct getent passwd _echod && ! in_ct getent group _echod'
