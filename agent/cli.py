"""Command line: python -m agent [run|check|enroll|version] [--once|--dry-run] [flags]."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
import warnings

from agent import __version__, config

# Flag -> variable; every flag overrides the env file and the process environment.
CONFIG_FLAGS = {
    "--server-url": "SERVER_URL",
    "--tls-cert": "TLS_CERT",
    "--tls-key": "TLS_KEY",
    "--tls-ca": "TLS_CA",
    "--api-key": "API_KEY",
    "--interval": "REPORT_INTERVAL",
    "--timeout": "REQUEST_TIMEOUT",
    "--spool-dir": "SPOOL_DIR",
    "--spool-max-mb": "SPOOL_MAX_MB",
    "--log-level": "LOG_LEVEL",
}
FIRST_SAMPLE_SECONDS = 1.0  # CPU and rates of a one-off report are measured over this
# requests imports a character-set detector only to guess the encoding of a body that names
# none, and falls back to UTF-8 without one (Response.apparent_encoding). The agent reads JSON
# and short error texts from the hub and decodes check bodies as UTF-8 itself, so it needs no
# guess; charset_normalizer would cost 2.6 MB of RSS, a tenth of the agent's 30 MB goal.
CHARSET_DETECTORS = ("charset_normalizer", "chardet")


def skip_charset_detection() -> None:
    """Start requests without a charset detector. Call before anything imports requests."""
    for name in CHARSET_DETECTORS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: importing it raises ImportError
    # requests says so at import (RequestsDependencyWarning); here it is on purpose.
    warnings.filterwarnings("ignore", message="Unable to find acceptable character detection")


def build_parser() -> argparse.ArgumentParser:
    # SUPPRESS keeps a flag given before the subcommand from being reset by the subparser.
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common.add_argument("--env-file", metavar="PATH", help=f"env file (default {config.DEFAULT_ENV_FILE})")
    for flag, variable in CONFIG_FLAGS.items():
        common.add_argument(flag, dest=variable, metavar="VALUE", help=f"overrides {variable}")
    common.add_argument("--mtls", dest="MTLS_ENABLED", action="store_const", const="true", help="MTLS_ENABLED=true")
    common.add_argument(
        "--no-mtls", dest="MTLS_ENABLED", action="store_const", const="false", help="MTLS_ENABLED=false"
    )

    modes = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = modes.add_mutually_exclusive_group()
    group.add_argument("--once", action="store_true", help="collect and send one report, exit non-zero on failure")
    group.add_argument("--dry-run", action="store_true", help="print one JSON report, send nothing")

    parser = argparse.ArgumentParser(prog="python -m agent", parents=[common, modes], description=__doc__)
    commands = parser.add_subparsers(dest="command", metavar="{run,check,enroll,version}")
    commands.add_parser("run", parents=[common, modes], help="run the daemon (the default)")
    commands.add_parser("check", parents=[common], help="check configuration, certificates and the hub")
    commands.add_parser("version", help="print the agent version")
    enroll = commands.add_parser("enroll", help="get a client certificate from the hub with a token")
    enroll.add_argument("--server", required=True, help="hub URL, e.g. https://status.example.internal:5000")
    enroll.add_argument("--token", required=True, help="one-time enrollment token from the hub")
    enroll.add_argument("--name", help="host name for the certificate's CN (default: this host's name)")
    enroll.add_argument("--out", default="/etc/statusdash/certs", help="where to write agent.key, agent.crt, ca.crt")
    enroll.add_argument("--ca", help="CA file to verify the hub with (default: system trust)")
    enroll.add_argument(
        "--insecure-first-contact",
        action="store_true",
        help="do not verify the hub (bootstrapping); compare the printed CA fingerprint by hand",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    skip_charset_detection()
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    if command == "version":
        print(f"statusdash-agent {__version__}")
        return 0
    if command == "enroll":
        from agent.enroll import enroll

        return enroll(args)

    dry_run = getattr(args, "dry_run", False)
    overrides = {v: getattr(args, v) for v in (*CONFIG_FLAGS.values(), "MTLS_ENABLED") if hasattr(args, v)}
    try:
        cfg = config.load(getattr(args, "env_file", None), overrides=overrides, require_server=not dry_run)
    except config.ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=cfg.log_level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if cfg.mtls_enabled and not dry_run:
        from agent.renew import finish_replacing

        finish_replacing(cfg.tls_cert, cfg.tls_key)

    if command == "check":
        from agent.check import run_checks

        return run_checks(cfg)
    if dry_run:
        print(json.dumps(one_report(), indent=2))
        return 0
    if getattr(args, "once", False):
        return send_once(cfg)
    return run_daemon(cfg)


def one_report() -> dict:
    from agent.collector import Collector

    collector = Collector()
    collector.prime()
    time.sleep(FIRST_SAMPLE_SECONDS)
    return collector.collect()


def send_once(cfg: config.Config) -> int:
    """Collect and send one report directly; the spool is not used."""
    from agent.transport import Transport, encode

    report = one_report()
    transport = Transport(cfg)
    outcome = transport.send(encode(report))
    transport.close()
    if outcome.ok:
        print(
            f"sent report {report['collected_at']} (HTTP {outcome.status}, accepted {outcome.accepted}, duplicates {outcome.duplicates})"
        )
        return 0
    where = f"HTTP {outcome.status}: " if outcome.status else ""
    print(f"failed to send report to {cfg.report_url}: {where}{outcome.detail}", file=sys.stderr)
    return 1


def run_daemon(cfg: config.Config) -> int:
    from agent.daemon import Agent
    from agent.spool import Spool
    from agent.transport import Transport

    try:
        spool = Spool(cfg.spool_dir, int(cfg.spool_max_mb * 1e6), cfg.spool_max_age_hours * 3600)
    except OSError as exc:
        print(f"configuration error: SPOOL_DIR: cannot use {cfg.spool_dir}: {exc}", file=sys.stderr)
        return 2
    from agent.renew import Renewer
    from agent.update import Updater, installed_app_dir, restart

    transport = Transport(cfg)
    app = installed_app_dir()
    updater = Updater(cfg, app, transport.fetch) if app else None
    renewer = Renewer(cfg, transport.post_json, transport.reconnect) if cfg.mtls_enabled else None
    checks = None
    if cfg.run_checks:
        from agent.service_checks import ServiceChecks

        checks = ServiceChecks(transport.get, cfg.check_plugin_dirs)
    agent = Agent(cfg, transport, spool, updater=updater, renewer=renewer, checks=checks)
    # The handlers only set a flag: the loop finishes the report in hand into the spool.
    signal.signal(signal.SIGTERM, lambda *_: agent.stop.set())
    signal.signal(signal.SIGINT, lambda *_: agent.stop.set())
    try:
        agent.run()
    finally:
        if checks is not None:
            checks.close()
        agent.transport.close()
        spool.close()
    if agent.restart:
        restart()
    return 0
