#!/usr/bin/env bash
# Deploy the statusdash agent to one host: ./agent/deploy.sh HOST
#
# Copies the agent, agent/deploy/HOST.env and the host's certificate from the vault
# over ssh, installs into /opt/statusdash-agent with its own venv, installs
# /etc/statusdash/agent.env and the host-agent unit, starts it and reports its status.
#
# Overridable by environment:
#   SSH_TARGET  ssh destination (default: HOST, e.g. an alias in ~/.ssh/config)
#   SSH, SCP    commands (default: ssh, scp)
#   VAULT_PATH  certificates: certs/clients/HOST.crt|key, certs/ca/ca.crt (default: var/vault,
#               relative to the repository)
#   DEST_ROOT   install under this prefix on the target (default: empty, i.e. /)
#   AGENT_USER  the unprivileged service user (default: statusdash-agent, created if missing)
#   PYTHON      the target's Python for the venv (default: python3)
#   SKIP_PIP=1  do not pip install the requirements (offline test targets)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
host=${1:?usage: $0 HOST (one of: $(cd "$here/deploy" && ls -- *.env | sed 's/\.env$//' | tr '\n' ' '))}
env_file="$here/deploy/$host.env"
[ -f "$env_file" ] || { echo "no env file for $host: $env_file" >&2; exit 2; }

SSH=${SSH:-ssh}
SCP=${SCP:-scp}
SSH_TARGET=${SSH_TARGET:-$host}
VAULT_PATH=${VAULT_PATH:-var/vault}
case "$VAULT_PATH" in /*) vault=$VAULT_PATH ;; *) vault="$repo/$VAULT_PATH" ;; esac

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bundle/agent"
(cd "$here" && tar -cf - --exclude=tests --exclude=__pycache__ --exclude='*.pyc' --exclude=deploy \
    --exclude=deploy.sh --exclude=Makefile -- *.py) | tar -xf - -C "$stage/bundle/agent"
cp "$here/requirements.txt" "$here/README.md" "$stage/bundle/agent/"
cp "$here/deploy/install.sh" "$here/deploy/host-agent.service" "$stage/bundle/"
cp "$env_file" "$stage/bundle/agent.env"

if grep -Eiq '^[[:space:]]*MTLS_ENABLED[[:space:]]*=[[:space:]]*"?(false|0|no|off)' "$env_file"; then
    echo "mTLS is off for $host: no certificates copied"
else
    mkdir -m 0700 "$stage/bundle/certs"
    for pair in "clients/$host.crt:agent.crt" "clients/$host.key:agent.key" "ca/ca.crt:ca.crt"; do
        src="$vault/certs/${pair%%:*}"
        [ -f "$src" ] || { echo "missing certificate for $host: $src (make certs?)" >&2; exit 2; }
        cp "$src" "$stage/bundle/certs/${pair##*:}"
    done
    chmod 0600 "$stage/bundle/certs/agent.key"
fi
tar -czf "$stage/bundle.tar.gz" -C "$stage/bundle" .

echo "deploying statusdash agent to $host ($SSH_TARGET)"
remote_tmp=$($SSH "$SSH_TARGET" "mktemp -d")
$SCP "$stage/bundle.tar.gz" "$SSH_TARGET:$remote_tmp/bundle.tar.gz"
$SSH "$SSH_TARGET" "cd '$remote_tmp' && tar -xzf bundle.tar.gz && \
    DEST_ROOT='${DEST_ROOT:-}' AGENT_USER='${AGENT_USER:-statusdash-agent}' PYTHON='${PYTHON:-python3}' \
    SKIP_PIP='${SKIP_PIP:-0}' START_WAIT='${START_WAIT:-2}' bash install.sh; rc=\$?; rm -rf '$remote_tmp'; exit \$rc"
