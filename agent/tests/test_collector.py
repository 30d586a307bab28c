import json
import time
from collections import namedtuple

import pytest

from agent import collector
from agent.collector import Collector, nic_rates, os_pretty_name, rate, real_mounts, temperature_readings

Part = namedtuple("Part", "device mountpoint fstype opts")


@pytest.fixture(scope="module")
def report():
    c = Collector()
    c.prime()
    time.sleep(0.5)
    return c.collect()


def test_report_has_every_section_of_the_hub_schema(report):
    assert set(report) == {
        "collected_at",
        "cpu",
        "memory",
        "swap",
        "disks",
        "disk_io",
        "network",
        "uptime_seconds",
        "process_count",
        "temperatures",
        "system",
    }
    assert report["collected_at"].endswith("+00:00")
    assert set(report["system"]) == {"os", "kernel", "arch", "hostname", "agent_version", "boot_time"}


def test_percentages_are_within_0_and_100(report):
    values = [report["cpu"]["percent"], report["memory"]["percent"], report["swap"]["percent"]]
    values += report["cpu"]["per_core"] + [d["percent"] for d in report["disks"]]
    assert all(0 <= v <= 100 for v in values)
    assert len(report["cpu"]["per_core"]) == report["cpu"]["count"]


def test_cpu_is_measured_over_an_interval_not_first_call_zero():
    c = Collector()
    c.prime()
    end = time.monotonic() + 0.3
    while time.monotonic() < end:  # keep one core busy
        pass
    assert c.collect()["cpu"]["percent"] > 0


def test_rates_and_counts_are_non_negative(report):
    assert report["disk_io"]["read_bytes_per_s"] >= 0
    assert report["disk_io"]["write_bytes_per_s"] >= 0
    for nic in report["network"]:
        assert nic["rx_bytes_per_s"] >= 0 and nic["tx_bytes_per_s"] >= 0
    assert report["process_count"] > 0
    assert report["uptime_seconds"] > 0
    assert report["memory"]["total"] >= report["memory"]["available"] >= 0


def test_loopback_is_not_reported(report):
    assert "lo" not in [nic["interface"] for nic in report["network"]]


def test_root_mount_is_reported_without_pseudo_file_systems(report):
    mounts = {d["mount"]: d for d in report["disks"]}
    assert "/" in mounts
    assert not {d["fstype"] for d in report["disks"]} & collector.PSEUDO_FSTYPES


def test_report_is_strict_json_without_nan(report):
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text) == report


def test_collected_at_never_repeats():
    c = Collector()
    c.prime()
    stamps = [c.collect()["collected_at"] for _ in range(5)]
    assert len(set(stamps)) == 5 and stamps == sorted(stamps)


def test_real_mounts_skips_pseudo_loop_snap_and_overlay():
    parts = [
        Part("/dev/vda1", "/", "ext4", "rw"),
        Part("proc", "/proc", "proc", "rw"),
        Part("tmpfs", "/run", "tmpfs", "rw"),
        Part("overlay", "/var/lib/docker/overlay2/x/merged", "overlay", "rw"),
        Part("/dev/loop3", "/snap/core/1", "squashfs", "ro"),
        Part("/dev/loop4", "/mnt/image", "ext4", "ro"),
        Part("/dev/sdb1", "/snap/thing", "ext4", "rw"),
        Part("/dev/sda1", "/mnt/bigdisk", "xfs", "rw"),
        Part("nas:/export", "/mnt/nas", "nfs4", "rw"),
    ]
    assert [p.mountpoint for p in real_mounts(parts)] == ["/", "/mnt/bigdisk", "/mnt/nas"]


def test_real_mounts_keeps_one_entry_per_bind_mounted_device():
    parts = [
        Part("/dev/vda1", "/srv/data/bind", "ext4", "rw"),
        Part("/dev/vda1", "/", "ext4", "rw"),
        Part("/dev/vda1", "/tmp", "ext4", "rw"),
    ]
    assert [p.mountpoint for p in real_mounts(parts)] == ["/"]


def test_rate_of_a_wrapped_or_reset_counter_is_zero():
    assert rate(1000, 3000, 2.0) == 1000.0
    assert rate(2**32 - 10, 5, 1.0) == 0.0
    assert rate(10, 20, 0.0) == 0.0


def test_new_interface_gets_a_rate_from_its_second_sample():
    assert nic_rates({"eth0": (100, 100)}, {"eth0": (300, 100), "wg0": (50, 50)}, 2.0) == [
        {"interface": "eth0", "rx_bytes_per_s": 100.0, "tx_bytes_per_s": 0.0}
    ]


def test_vanished_interface_is_dropped_and_reset_counter_reads_zero():
    assert nic_rates({"eth0": (300, 100), "wg0": (50, 50)}, {"wg0": (10, 60)}, 1.0) == [
        {"interface": "wg0", "rx_bytes_per_s": 0.0, "tx_bytes_per_s": 10.0}
    ]


def test_os_name_comes_from_os_release(tmp_path):
    release = tmp_path / "os-release"
    release.write_text('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    assert os_pretty_name(str(release)) == "Debian GNU/Linux 12 (bookworm)"
    assert os_pretty_name(str(tmp_path / "missing")) == ""


Temp = namedtuple("Temp", "label current high critical")


def test_temperatures_keep_sane_readings_and_name_unlabelled_sensors():
    chips = {
        "coretemp": [Temp("Package id 0", 45.04, 80, 100), Temp("", 41.0, 80, 100)],
        "acpitz": [Temp("", 65261.8, None, None), Temp("", -300.0, None, None), Temp("", float("nan"), None, None)],
    }
    assert temperature_readings(chips) == [
        {"sensor": "coretemp Package id 0", "celsius": 45.0},
        {"sensor": "coretemp 1", "celsius": 41.0},
    ]


def test_temperatures_stay_within_the_hubs_list_limit():
    chips = {"nvme": [Temp(f"Sensor {i}", 40.0, None, None) for i in range(300)]}
    assert len(temperature_readings(chips)) == collector.MAX_ITEMS
