"""Run Daphne on a mutual-TLS port: `python -m statusdash.tls_server -p 5000`.

The certificate, key and CA default to the vault (`python manage.py certs init-ca`
and `certs server` create them). Browsers without a client certificate are
welcome in the default "optional" mode; agents' reports still need one.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import django
from daphne.utils import import_by_path
from OpenSSL import SSL

from hosts import pki
from statusdash.lib.tls import CLIENT_CERT_MODES, MutualTLSContextFactory, MutualTLSServer, TLSFiles


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m statusdash.tls_server", description=__doc__.splitlines()[0])
    parser.add_argument("-b", "--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("-p", "--port", type=int, required=True)
    parser.add_argument("--client-certs", choices=CLIENT_CERT_MODES, default="optional")
    parser.add_argument("--cert", type=Path, help="server certificate (default: the vault's server/status.crt)")
    parser.add_argument("--key", type=Path, help="server key (default: the vault's server/status.key)")
    parser.add_argument("--ca", type=Path, help="CA that signs client certificates (default: the vault's ca/ca.crt)")
    parser.add_argument("--application", default="statusdash.asgi:application")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "statusdash.settings")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    django.setup()
    server_cert, server_key = pki.server_paths()
    files = TLSFiles(certificate=args.cert or server_cert, key=args.key or server_key, ca=args.ca or pki.ca_paths()[0])
    missing = [str(path) for path in (files.certificate, files.key, files.ca) if not path.exists()]
    if missing:
        print(
            f"statusdash.tls_server: missing {', '.join(missing)}; run `python manage.py certs init-ca` "
            "and `python manage.py certs server` first",
            file=sys.stderr,
        )
        return 2
    try:
        context_factory = MutualTLSContextFactory(files, args.client_certs)
    except (OSError, SSL.Error) as error:
        print(f"statusdash.tls_server: cannot load the TLS files: {error}", file=sys.stderr)
        return 2
    MutualTLSServer(
        import_by_path(args.application),
        listen=[(args.bind, args.port)],
        context_factory=context_factory,
        action_logger=None,
    ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
