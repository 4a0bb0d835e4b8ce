#!/bin/sh
# The anycast health check: announces the service address (BIRD's static
# protocols svc4 and svc6) while echod serves and echoes, and withdraws it
# at once when echod stops (stop_delay: before the drain) or fails to echo.
# Runs as root or as a user the control socket admits, beside bird.
: "${ECHOD:=echod}" "${CHECK_ECHO:=check_echo}" "${BIRDC:=birdc}"
: "${ECHOD_CONF:=/etc/echod.conf}" "${BIRD_CTL:=/run/bird/bird.ctl}"
: "${SERVICE4:=198.18.200.7}" "${INTERVAL:=0.2}"
good=0 up=no
while :; do
	# serving (not stopping) and answering an echo on the service address
	if "$ECHOD" --status --health -c "$ECHOD_CONF" >/dev/null 2>&1 &&
	    "$CHECK_ECHO" -H "$SERVICE4" -u -n 1 -t 1 -c 500,50% >/dev/null 2>&1
	then
		good=$((good + 1))
	else
		good=0
	fi
	if [ "$good" -ge 2 ] && [ "$up" = no ]; then	# rise 2
		"$BIRDC" -s "$BIRD_CTL" enable svc4 >/dev/null &&
		    "$BIRDC" -s "$BIRD_CTL" enable svc6 >/dev/null &&
		    up=yes && echo "announced"
	elif [ "$good" = 0 ] && [ "$up" = yes ]; then	# fall 1
		"$BIRDC" -s "$BIRD_CTL" disable svc4 >/dev/null
		"$BIRDC" -s "$BIRD_CTL" disable svc6 >/dev/null
		up=no
		echo "withdrawn"
	fi
	sleep "$INTERVAL"
done
