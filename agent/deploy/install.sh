#!/usr/bin/env bash
# Runs on the target host, as root, from the unpacked bundle that agent/deploy.sh copied.
set -euo pipefail

bundle=$(cd "$(dirname "$0")" && pwd)
root=${DEST_ROOT:-}
user=${AGENT_USER:-statusdash-agent}
app=$root/opt/statusdash-agent
etc=$root/etc/statusdash
units=$root/etc/systemd/system

if ! id -u "$user" >/dev/null 2>&1; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
fi
# Ownership needs root; a non-root dry run still installs the files and modes.
owner=() key_owner=()
if [ "$(id -u)" = 0 ]; then
    owner=(-o root -g "$user")
    key_owner=(-o "$user" -g "$user")
fi

install -d -m 0755 "$app"
rm -rf "$app/agent.new"
cp -R "$bundle/agent" "$app/agent.new"
rm -rf "$app/agent"
mv "$app/agent.new" "$app/agent"
chmod -R u=rwX,go=rX "$app/agent"
install -m 0644 "$bundle/agent/requirements.txt" "$app/requirements.txt"
if [ ! -x "$app/venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$app/venv"
fi
if [ "${SKIP_PIP:-0}" = 1 ]; then
    echo "SKIP_PIP=1: requirements not installed into $app/venv"
else
    "$app/venv/bin/pip" install --quiet --disable-pip-version-check -r "$app/requirements.txt"
fi
(cd "$app" && venv/bin/python -m agent version)

install -d -m 0755 "$etc"
install -m 0640 "${owner[@]}" "$bundle/agent.env" "$etc/agent.env"
if [ -d "$bundle/certs" ]; then
    install -d -m 0750 "${owner[@]}" "$etc/certs"
    install -m 0644 "$bundle/certs/ca.crt" "$etc/certs/ca.crt"
    install -m 0644 "$bundle/certs/agent.crt" "$etc/certs/agent.crt"
    install -m 0600 "${key_owner[@]}" "$bundle/certs/agent.key" "$etc/certs/agent.key"
fi

install -d -m 0755 "$units"
install -m 0644 "$bundle/host-agent.service" "$units/host-agent.service"
systemctl daemon-reload
systemctl enable host-agent.service
systemctl restart host-agent.service
sleep "${START_WAIT:-2}"  # Restart=always hides a crash loop from an immediate check
systemctl --no-pager --lines=10 status host-agent.service || true
if ! systemctl is-active --quiet host-agent.service; then
    echo "host-agent is not running on $(hostname); see: journalctl -u host-agent -e" >&2
    exit 1
fi
echo "host-agent is running on $(hostname)"
