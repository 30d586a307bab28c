"""The Nagios plugin protocol (agent/nagios.py), which the agent's probes and the hub's
plugin runner share: capped output, exit codes, performance data."""

from __future__ import annotations

import sys

import pytest

from agent import nagios


def test_output_kept_is_at_most_the_limit() -> None:
    output, code = nagios.run_capped(["/bin/sh", "-c", "head -c 5000000 /dev/zero"], timeout=20)
    assert code == 0
    assert len(output) == nagios.OUTPUT_LIMIT


def test_output_arriving_in_uneven_pieces_is_cut_at_the_limit() -> None:
    # Two writes of 40,000 bytes: the second read crosses the limit and must be cut there.
    script = "import sys, time; w = sys.stdout.buffer; w.write(b'a' * 40000); w.flush(); time.sleep(0.2); w.write(b'b' * 40000)"
    output, code = nagios.run_capped([sys.executable, "-c", script], timeout=20)
    assert code == 0
    assert output == b"a" * 40000 + b"b" * (nagios.OUTPUT_LIMIT - 40000)


def test_a_program_that_cannot_start_is_unknown_saying_why(tmp_path) -> None:
    output, code = nagios.run_capped([str(tmp_path / "missing")], timeout=5)
    assert code == 3 and nagios.EXIT_STATES[code] == nagios.UNKNOWN
    assert output.decode().startswith(f"cannot start {tmp_path / 'missing'}")


def test_perfdata_time_is_the_latency() -> None:
    assert nagios.parse_output(b"TCP OK - 0.001 second response time|time=0.000870s;;;0.000000;10\n") == (
        "TCP OK - 0.001 second response time",
        0.87,
    )


def test_only_the_first_line_is_the_message() -> None:
    assert nagios.parse_output(b"DISK OK\n/ 40% used\n") == ("DISK OK", None)


def test_no_output_says_so() -> None:
    assert nagios.parse_output(b"") == ("(no output)", None)


@pytest.mark.parametrize(
    ("perfdata", "latency"),
    [("time=0.012s;;;0", 12.0), ("'rta'=3.5ms", 3.5), ("response_time=250us", 0.25), ("size=120B", None), ("", None)],
)
def test_latency_from_perfdata(perfdata: str, latency: float | None) -> None:
    assert nagios.latency_from(perfdata) == latency
