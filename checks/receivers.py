"""What checks does when a lower app announces something (connected in ChecksConfig.ready())."""

from __future__ import annotations

from typing import Any

from checks.models import Check
from hosts.models import Host
from metrics.signals import CheckResultCounts


def agent_results(sender: Any, host: Host, results: list[dict[str, Any]], **kwargs: Any) -> CheckResultCounts:
    """An agent's report carried check results: store them in the report's transaction."""
    return Check.record_agent_results(host, results)
