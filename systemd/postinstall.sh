#!/bin/sh
# After installing the rostersync package: a system user and group of its
# own (the unit runs as it; give it read access to CSV exports with
# "chgrp rostersync FILE; chmod 0640 FILE"), and systemd told of the unit.
# The service is not started: it needs its settings first (README.md,
# "Install from the .deb").
set -e
if ! getent group rostersync >/dev/null 2>&1; then
	groupadd --system rostersync
fi
if ! getent passwd rostersync >/dev/null 2>&1; then
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	useradd --system --gid rostersync --no-create-home --home-dir /var/lib/rostersync \
		--shell "$nologin" --comment "rostersync service" rostersync
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
cat <<'MSG'
rostersync installed. Before starting it:
  1. set at least ROSTERSYNC_EVALUAGENT_KEY_ID in /etc/rostersync/rostersync.env
  2. put your sources and mapping in /etc/rostersync/mapping.yaml
  3. put the API secret in /etc/rostersync/credentials/evaluagent-key-secret (mode 0600)
  4. sudo systemctl enable --now rostersync, then open http://127.0.0.1:9380/
MSG
