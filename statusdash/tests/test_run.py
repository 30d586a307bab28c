"""statusdash.run, the `make run` supervisor: small, and starting a right-sized worker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from statusdash import run

BASE_DIR = Path(__file__).resolve().parents[2]


def test_the_supervisor_imports_no_django_or_celery() -> None:
    code = "import sys, statusdash.run; print(sorted({m.split('.')[0] for m in sys.modules}))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=BASE_DIR, capture_output=True, text=True, check=True)
    for heavy in ("django", "celery", "kombu", "channels", "daphne", "cryptography"):
        assert f"'{heavy}'" not in loaded.stdout, heavy


def test_the_worker_is_one_process_with_beat_embedded() -> None:
    worker = run.commands(Path("/data/agent/local.env"), 5071, mtls=False)["worker"]
    assert worker[worker.index("--pool") + 1] == "solo"
    assert "--beat-thread" in worker and "--beat" not in worker
    assert "--concurrency" not in worker


def test_web_serves_plain_http_or_mutual_tls_on_the_agents_port() -> None:
    plain = run.commands(Path("/data/agent/local.env"), 5071, mtls=False)["web"]
    assert plain[plain.index("-p") + 1] == "5071" and "statusdash.lib.server" in plain
    tls = run.commands(Path("/data/agent/local.env"), 5071, mtls=True)["web"]
    assert "statusdash.tls_server" in tls and tls[tls.index("-p") + 1] == "5071"


def test_reads_the_agent_env_file(tmp_path: Path) -> None:
    path = tmp_path / "local.env"
    path.write_text("SERVER_URL=http://127.0.0.1:5071\nAPI_KEY=sd_a=b\n")
    assert run.read_env_file(str(path)) == {"SERVER_URL": "http://127.0.0.1:5071", "API_KEY": "sd_a=b"}
