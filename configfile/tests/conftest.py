from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.models import AlertRule, NotificationChannel, Silence
from checks.models import Check
from hosts.models import Host

CHANNEL_URL = "json://127.0.0.1:9/hook?token=s3cret-channel"
CHECK_PASSWORD = "s3cret-check-pw"
# What export names these secrets, so a test can give them to apply.
SECRET_ENV = {
    "STATUSDASH_CHANNEL_OPS_URL": CHANNEL_URL,
    "STATUSDASH_CHECK_SITE_PASSWORD": CHECK_PASSWORD,
}


@pytest.fixture
def configured(db: Any) -> dict[str, Any]:
    """A hub with one of everything a person configures."""
    web1 = Host.objects.create(name="web-1", display_name="Web 1", tags=["prod", "eu"])
    Host.objects.create(name="db-1", enabled=False, agent_auto_update=True)
    AlertRule.objects.create(
        name="web-disk", metric="disk", warning_level=80, critical_level=95, host=web1, subject="/"
    )
    NotificationChannel.objects.create(name="ops", url=CHANNEL_URL, tags=["prod"], send_resolved=False)
    site = Check(name="site", kind="http", target="https://example.test/")
    site.apply_changes(
        {"options": {"keyword": "Welcome", "method": "GET"}, "username": "probe", "password": CHECK_PASSWORD}
    )
    tcp = Check(name="db-port", kind="tcp", target="db.internal:5432")
    tcp.apply_changes({"runs_on": "tag:prod", "interval": 30, "timeout": 5})
    start = datetime(2030, 1, 2, 3, 0, tzinfo=UTC)
    silence = Silence.objects.create(starts_at=start, ends_at=start + timedelta(hours=2), reason="deploy", tags=["eu"])
    silence.hosts.add(web1)
    return {"web1": web1, "silence": silence}
