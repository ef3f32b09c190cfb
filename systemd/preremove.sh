#!/bin/sh
# Before removing the rostersync package (not on upgrade): stop the service.
set -e
case "$1" in
remove | purge | 0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now rostersync.service >/dev/null 2>&1 || true
	fi
	;;
esac
