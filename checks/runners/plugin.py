"""Nagios-compatible plugins: a subprocess (never a shell), its exit code and first line.

The protocol (exit codes, the first line and its performance data, output capped at
OUTPUT_LIMIT, the process group killed at the timeout) is agent/nagios.py's, the same code
the agents run, so a plugin reads alike on the hub and on a host.
"""

from __future__ import annotations

import os

from django.conf import settings

from agent.nagios import EXIT_STATES as EXIT_CODES
from agent.nagios import parse_output, run_capped
from checks.models import Check, CheckState, Outcome
from checks.options import PluginOptions
from checks.targets import is_inside, validate_plugin_path

EXIT_STATES = {code: CheckState(state) for code, state in EXIT_CODES.items()}


def run(check: Check) -> Outcome:
    options = check.parsed_options()
    assert isinstance(options, PluginOptions)
    validate_plugin_path(check.target, settings.CHECK_PLUGIN_DIRS)
    # Checked again here with links resolved: a link inside the directory may point anywhere.
    real = os.path.realpath(check.target)
    if not is_inside(real, settings.CHECK_PLUGIN_DIRS):
        return Outcome(CheckState.UNKNOWN, f"{check.target} leads outside the plugin directories ({real})")
    if not os.access(real, os.X_OK) or not os.path.isfile(real):
        return Outcome(CheckState.UNKNOWN, f"{check.target} is not an executable file")
    output, code = run_capped([check.target, *options.args], check.timeout)
    if code is None:
        return Outcome(CheckState.UNKNOWN, f"the plugin did not finish within {check.timeout:g} s (killed)")
    state = EXIT_STATES.get(code, CheckState.UNKNOWN)
    text, latency = parse_output(output)
    if code not in EXIT_STATES:
        text = f"exit code {code}: {text}"
    return Outcome(state, text, latency)
