#!/bin/sh
# statusdash agent installer, as the hub serves it at /agent/install.sh:
#
#   curl -fsSL https://HUB/agent/install.sh | sudo sh -s -- --token TOKEN --name NAME
#
# The hub fills in its URL, its CA (and the CA's SHA-256 fingerprint), the agent version
# and the report interval below; everything this script fetches afterwards is checked
# against that CA and against SHA256SUMS. The host's private key is made here, by
# `python -m agent enroll`, and never leaves the host.
#
#   sh install.sh --token TOKEN [--name NAME]   install (or re-install) and enroll
#   sh install.sh --upgrade                     replace the agent in place, keep its identity
#   sh install.sh --uninstall                   remove the agent, its key, certificates and spool
#   --system-packages   use the distribution's python3-psutil, python3-requests and
#                       python3-cryptography instead of the package index
#
# Environment: DEST_ROOT (install under this directory, as any user: the service user is not
# created, ownership not set, the unit not started; agent.env names the files under DEST_ROOT),
# PYTHON (default python3), AGENT_USER (default statusdash-agent).
#
# Exit codes: 0 done; 1 the agent's first report was refused; 2 usage; 3 this system is
# not supported (root, Linux, systemd, Python, packages); 4 the hub is unreachable (DNS,
# connection, timeout, HTTP error); 5 the hub is not the one this script was made for
# (TLS verification, CA fingerprint); 6 a download does not match SHA256SUMS;
# 7 enrollment refused (token unknown, expired or used, name mismatch).
set -eu

HUB_URL='@HUB_URL@'
CA_FINGERPRINT='@CA_FINGERPRINT@'
AGENT_VERSION='@AGENT_VERSION@'
REPORT_INTERVAL='@REPORT_INTERVAL@'
CA_PEM='@CA_PEM@'

PYTHON=${PYTHON:-python3}
AGENT_USER=${AGENT_USER:-statusdash-agent}
root=${DEST_ROOT:-}
app=$root/opt/statusdash-agent
etc=$root/etc/statusdash
certs=$etc/certs
unit=$root/etc/systemd/system/host-agent.service
spool=$root/var/lib/statusdash-agent

say() { printf 'statusdash-agent: %s\n' "$*"; }
fail() {
    code=$1
    shift
    printf 'statusdash-agent: error: %s\n' "$*" >&2
    exit "$code"
}

usage() {
    cat <<'EOF'
usage: install.sh --token TOKEN [--name NAME] [--system-packages]
       install.sh --upgrade [--system-packages]
       install.sh --uninstall
EOF
}

mode=install
token=
name=
system_packages=0
while [ $# -gt 0 ]; do
    case $1 in
        --token)
            [ $# -ge 2 ] || fail 2 "--token needs a value"
            token=$2
            shift 2
            ;;
        --token=*) token=${1#--token=}; shift ;;
        --name)
            [ $# -ge 2 ] || fail 2 "--name needs a value"
            name=$2
            shift 2
            ;;
        --name=*) name=${1#--name=}; shift ;;
        --upgrade) mode=upgrade; shift ;;
        --uninstall) mode=uninstall; shift ;;
        --system-packages) system_packages=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; fail 2 "unknown argument: $1" ;;
    esac
done

case $HUB_URL in
    @*@) fail 2 "this is the installer's template; download it from your hub: https://HUB/agent/install.sh" ;;
esac

# --- The system ----------------------------------------------------------------------------

[ "$(uname -s)" = Linux ] || fail 3 "statusdash-agent runs on Linux only (this is $(uname -s))"
if [ -z "$root" ] && [ "$(id -u)" != 0 ]; then
    fail 3 "run as root (sudo sh install.sh ...): it installs into /opt and /etc and creates a user"
fi
if [ -z "$root" ] && { ! command -v systemctl >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; }; then
    fail 3 "systemd is not running here; install with DEST_ROOT=/some/dir and start 'python -m agent run' with your service manager"
fi

# --- Uninstall ------------------------------------------------------------------------------

if [ "$mode" = uninstall ]; then
    found=0
    for path in "$unit" "$app" "$etc" "$spool"; do
        if [ -e "$path" ]; then found=1; fi
    done
    if [ "$found" = 0 ]; then
        say "nothing to remove: no agent installed under ${root:-/}"
        exit 0
    fi
    if [ -z "$root" ]; then
        systemctl disable --now host-agent.service >/dev/null 2>&1 || true
    fi
    rm -f "$unit"
    if [ -z "$root" ]; then systemctl daemon-reload; fi
    # The key goes with the certificates: nothing secret stays behind.
    rm -rf "$app" "$etc" "$spool"
    if [ -z "$root" ] && id -u "$AGENT_USER" >/dev/null 2>&1; then
        userdel "$AGENT_USER" 2>/dev/null || deluser "$AGENT_USER" 2>/dev/null || true
    fi
    say "removed the agent, its unit, key, certificates and spool from ${root:-/}"
    say "on the hub, revoke its certificate: python manage.py certs revoke NAME (or delete the host)"
    exit 0
fi

# --- Python ---------------------------------------------------------------------------------

command -v "$PYTHON" >/dev/null 2>&1 || fail 3 "no $PYTHON found; install Python 3.9 to 3.13 (e.g. apt-get install python3 python3-venv)"
version=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || fail 3 "$PYTHON does not run"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 9))' ||
    fail 3 "$PYTHON is Python $version, too old: statusdash-agent needs Python 3.9 to 3.13"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] > (3, 13))' ||
    say "warning: Python $version is newer than the versions tested (3.9 to 3.13)"
"$PYTHON" -c 'import venv, ensurepip' 2>/dev/null ||
    fail 3 "$PYTHON cannot make a venv; install its venv module (Debian/Ubuntu: apt-get install python3-venv)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

# Downloads go through Python (already required): its errors tell DNS, refusal, timeout and
# TLS apart, which is the message the person at the terminal needs.
cat >"$work/fetch.py" <<'EOF'
import email.utils, json, socket, ssl, sys, time, urllib.error, urllib.request
url, cafile, out, fingerprint = sys.argv[1:5]
context = ssl.create_default_context(cafile=cafile)
try:
    with urllib.request.urlopen(url, context=context, timeout=30) as answer, open(out, "wb") as f:
        f.write(answer.read())
        date = answer.headers.get("Date")
except urllib.error.HTTPError as error:
    try:
        detail = json.loads(error.read().decode()).get("detail", "")
    except (ValueError, AttributeError):
        detail = ""
    print(f"{url}: HTTP {error.code} {error.reason}{': ' + str(detail) if detail else ''}", file=sys.stderr)
    sys.exit(4)
except urllib.error.URLError as error:
    reason = error.reason
    if isinstance(reason, ssl.SSLCertVerificationError):
        print(f"{url}: the hub's certificate is not signed by the CA this script carries "
              f"(SHA-256 {fingerprint}): {reason.verify_message}. Refusing to talk to it: "
              "download install.sh again from your hub", file=sys.stderr)
        sys.exit(5)
    if isinstance(reason, ssl.SSLError):
        print(f"{url}: TLS failed: {reason}", file=sys.stderr)
        sys.exit(5)
    if isinstance(reason, socket.gaierror):
        print(f"{url}: cannot resolve the hub's name (DNS): {reason}", file=sys.stderr)
    elif isinstance(reason, ConnectionRefusedError):
        print(f"{url}: connection refused: is the hub running and the port open?", file=sys.stderr)
    elif isinstance(reason, (socket.timeout, TimeoutError)):
        print(f"{url}: no answer within 30 s (firewall? VPN?)", file=sys.stderr)
    else:
        print(f"{url}: cannot reach the hub: {reason}", file=sys.stderr)
    sys.exit(4)
except (socket.timeout, TimeoutError):
    print(f"{url}: no answer within 30 s (firewall? VPN?)", file=sys.stderr)
    sys.exit(4)
if date:
    skew = time.time() - email.utils.parsedate_to_datetime(date).timestamp()
    if abs(skew) > 60:
        print(f"warning: this host's clock is {skew:+.0f} s off the hub's; reports are refused "
              "beyond 5 minutes ahead: fix the clock (NTP)", file=sys.stderr)
EOF

fetch() { # URL-PATH OUT
    "$PYTHON" "$work/fetch.py" "$HUB_URL$1" "$work/ca.crt" "$2" "$CA_FINGERPRINT"
}

sha256() {
    "$PYTHON" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
}

# --- The hub's CA: this script carries it; check it is the one the hub announced --------------

printf '%s\n' "$CA_PEM" >"$work/ca.crt"
actual=$("$PYTHON" - "$work/ca.crt" <<'EOF'
import base64, hashlib, sys
pem = open(sys.argv[1]).read()
body = pem.split("-----BEGIN CERTIFICATE-----")[1].split("-----END CERTIFICATE-----")[0]
print(hashlib.sha256(base64.b64decode("".join(body.split()))).hexdigest().upper())
EOF
) || fail 5 "the CA in this script is not a PEM certificate; download install.sh again from your hub"
expected=$(printf '%s' "$CA_FINGERPRINT" | tr -d ':' | tr 'abcdef' 'ABCDEF')
[ "$actual" = "$expected" ] ||
    fail 5 "the CA in this script does not have the fingerprint it announces ($CA_FINGERPRINT); download install.sh again from your hub"
say "hub $HUB_URL, CA SHA-256 $CA_FINGERPRINT"

# --- State of this host -----------------------------------------------------------------------

enrolled=0
if [ -f "$certs/agent.crt" ] && [ -f "$certs/agent.key" ] && [ -f "$etc/agent.env" ]; then enrolled=1; fi
if [ "$mode" = upgrade ] && [ "$enrolled" = 0 ]; then
    fail 2 "--upgrade: no enrolled agent under ${root:-/} ($certs); install it with --token first"
fi
if [ "$enrolled" = 0 ] && [ -z "$token" ]; then
    usage >&2
    fail 2 "--token is required for a first install (the hub's \"Add host\" page gives one)"
fi
if [ -n "$token" ] && [ "$enrolled" = 1 ]; then
    say "already enrolled ($certs/agent.crt): keeping that identity, the token is not used"
fi

# --- Download and verify ----------------------------------------------------------------------

tarball=statusdash-agent-$AGENT_VERSION.tar.gz
fetch /agent/SHA256SUMS "$work/SHA256SUMS" || exit $?
fetch "/agent/$tarball" "$work/$tarball" || exit $?
want=$(awk -v f="$tarball" '$2 == f {print $1}' "$work/SHA256SUMS")
[ -n "$want" ] || fail 6 "SHA256SUMS from the hub does not list $tarball"
got=$(sha256 "$work/$tarball")
[ "$got" = "$want" ] || fail 6 "$tarball does not match SHA256SUMS (got $got, expected $want); nothing was installed"
say "downloaded $tarball (SHA-256 verified)"

mkdir "$work/unpacked"
tar -xzf "$work/$tarball" -C "$work/unpacked"
source_dir=$work/unpacked/statusdash-agent-$AGENT_VERSION/agent
[ -f "$source_dir/__init__.py" ] || fail 6 "$tarball does not hold the agent package"

# --- User, files, venv ------------------------------------------------------------------------

if [ -z "$root" ] && ! id -u "$AGENT_USER" >/dev/null 2>&1; then
    if command -v useradd >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$AGENT_USER"
    else
        adduser -S -D -H -h /nonexistent -s /sbin/nologin "$AGENT_USER"
    fi
    say "created the user $AGENT_USER"
fi

mkdir -p "$app" "$etc" "$spool"
chmod 0755 "$app" "$etc"
chmod 0700 "$spool"
# Layout (the agent's own updates keep it, agent/update.py): each version in its own directory
# under versions/, and $app/agent a symlink to the current one, replaced in one rename; the
# previous version stays beside it until the new one has reported.
versions=$app/versions
mkdir -p "$versions"
previous=
if [ -f "$app/agent/__init__.py" ]; then
    previous=$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$app/agent/__init__.py")
fi
if [ -d "$app/agent" ] && [ ! -L "$app/agent" ]; then
    # Installed before versions/ (or by deploy.sh): becomes the previous version.
    mv "$app/agent" "$versions/${previous:-unknown}-old"
    ln -s "versions/${previous:-unknown}-old/agent" "$app/agent"
fi
previous_target=
if [ -L "$app/agent" ]; then previous_target=$(readlink "$app/agent"); fi
# A new directory even for the same version: the previous one must stay whole for a rollback.
release=$AGENT_VERSION-$(date -u +%Y%m%dT%H%M%S)-$$
rm -rf "$versions/.stage"
mkdir "$versions/.stage"
cp -R "$source_dir" "$versions/.stage/agent"
chmod -R u=rwX,go=rX "$versions/.stage"
mv "$versions/.stage" "$versions/$release"
swap_to() { # TARGET (relative to $app): a new symlink renamed over the old one, atomically
    "$PYTHON" -c 'import os, sys
os.symlink(sys.argv[1], sys.argv[2] + ".swap")
os.replace(sys.argv[2] + ".swap", sys.argv[2])' "$1" "$app/agent"
}
swap_to "versions/$release/agent"

venv=$app/venv
wanted_system=false
if [ "$system_packages" = 1 ]; then wanted_system=true; fi
if [ -x "$venv/bin/python" ] && ! grep -q "^include-system-site-packages = $wanted_system" "$venv/pyvenv.cfg"; then
    rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
    if [ "$system_packages" = 1 ]; then
        "$PYTHON" -m venv --system-site-packages "$venv"
    else
        "$PYTHON" -m venv "$venv"
    fi
fi
if [ "$system_packages" = 1 ]; then
    "$venv/bin/python" -c 'import psutil, requests, cryptography' 2>/dev/null ||
        fail 3 "--system-packages: psutil, requests or cryptography is missing; install them (Debian/Ubuntu: apt-get install python3-psutil python3-requests python3-cryptography; RHEL: dnf install python3-psutil python3-requests python3-cryptography; Alpine: apk add py3-psutil py3-requests py3-cryptography)"
else
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$app/agent/requirements-enroll.txt" ||
        fail 4 "pip could not install psutil, requests and cryptography (no package index here? use --system-packages)"
fi

# --- Enroll -----------------------------------------------------------------------------------

if [ "$enrolled" = 1 ]; then
    # The identity is the certificate's: its CN is the host's name on the hub.
    name=$("$venv/bin/python" -c 'import sys
from cryptography import x509
from cryptography.x509.oid import NameOID
cert = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
print(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)' "$certs/agent.crt")
else
    [ -n "$name" ] || name=$(hostname)
    mkdir -p "$certs"
    chmod 0750 "$certs"
    if ! output=$(cd "$app" && "$venv/bin/python" -m agent enroll --server "$HUB_URL" --token "$token" \
        --name "$name" --ca "$work/ca.crt" --out "$certs" 2>&1); then
        printf '%s\n' "$output" >&2
        if [ -n "$previous_target" ]; then swap_to "$previous_target"; else rm -f "$app/agent"; fi
        rm -rf "$versions/$release"
        fail 7 "enrollment of $name refused; ask the hub's \"Add host\" page for a new line"
    fi
    say "enrolled as $name; the private key was made here ($certs/agent.key)"
fi

if [ "$enrolled" = 0 ] || [ "$mode" = upgrade ]; then
    {
        printf '# Written by install.sh from %s. The agent reads it at start.\n' "$HUB_URL"
        printf 'SERVER_URL=%s\nMTLS_ENABLED=true\n' "$HUB_URL"
        printf 'TLS_CERT=%s\nTLS_KEY=%s\nTLS_CA=%s\n' "$certs/agent.crt" "$certs/agent.key" "$certs/ca.crt"
        printf 'REPORT_INTERVAL=%s\n' "$REPORT_INTERVAL"
        if [ -n "$root" ]; then printf 'SPOOL_DIR=%s\n' "$spool"; fi
    } >"$work/agent.env"
    # Keep what an operator added below the lines this script owns.
    if [ -f "$etc/agent.env" ]; then
        grep -Ev '^(#|SERVER_URL|MTLS_ENABLED|TLS_CERT|TLS_KEY|TLS_CA|REPORT_INTERVAL|SPOOL_DIR)' "$etc/agent.env" \
            >>"$work/agent.env" || true
    fi
    cp "$work/agent.env" "$etc/agent.env"
fi
chmod 0640 "$etc/agent.env"
if [ -z "$root" ]; then
    chown root:"$AGENT_USER" "$etc/agent.env"
    # The agent renews its own certificate (agent/renew.py): new files renamed over the old pair.
    chown "$AGENT_USER":"$AGENT_USER" "$certs" "$certs/agent.crt" "$certs/agent.key" "$spool"
    # The agent installs its own updates (agent/update.py) beside the current version.
    chown "$AGENT_USER":"$AGENT_USER" "$app"
    chown -R "$AGENT_USER":"$AGENT_USER" "$versions"
fi

mkdir -p "$(dirname "$unit")"
cp "$app/agent/deploy/host-agent.service" "$unit"
chmod 0644 "$unit"

# --- The first report ---------------------------------------------------------------------------

if ! output=$(cd "$app" && "$venv/bin/python" -m agent --once --env-file "$etc/agent.env" 2>&1); then
    printf '%s\n' "$output" >&2
    if [ -n "$previous_target" ]; then
        swap_to "$previous_target"
        rm -rf "$versions/$release"
        say "rolled back to agent $previous"
    fi
    (cd "$app" && "$venv/bin/python" -m agent check --env-file "$etc/agent.env") >&2 || true
    fail 1 "the hub did not accept $name's first report (above: its reason and a step-by-step check)"
fi
# Only the version now running stays.
for old in "$versions"/*; do
    [ "$old" = "$versions/$release" ] || rm -rf "$old"
done
installed=$(cd "$app" && "$venv/bin/python" -m agent version)
if [ -n "$previous" ] && [ "$previous" != "$AGENT_VERSION" ]; then
    say "upgraded the agent from $previous to $AGENT_VERSION"
fi

if [ -z "$root" ]; then
    systemctl daemon-reload
    systemctl enable host-agent.service >/dev/null 2>&1
    systemctl restart host-agent.service
    sleep 3 # Restart=always hides a crash loop from an immediate check
    systemctl is-active --quiet host-agent.service ||
        fail 1 "host-agent did not stay running; see: journalctl -u host-agent -e"
else
    say "DEST_ROOT=$root: the unit is installed but not started"
fi
say "$installed installed in $app"
printf 'connected: %s reports to %s every %s s\n' "$name" "$HUB_URL" "$REPORT_INTERVAL"
