"""The mailbox simulator's pieces that need no server: which addresses it simulates, its
settings, the SES-style events it posts, and the trust the stack's functions get."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from local_stack.config import DEFAULT_SMTPS_PORT, LocalConfig
from local_stack.environment import trust_local_ca
from local_stack.simulator_events import events_for
from local_stack.smtp.capture import Received
from local_stack.smtp.simulator import (
    Deferrals,
    Mailbox,
    SimulatorSettings,
    simulated,
    simulator_addresses,
)


@pytest.mark.parametrize(
    ("address", "mailbox"),
    [
        ("success@simulator.example.com", Mailbox.SUCCESS),
        ("Bounce@Simulator.Example.Com", Mailbox.BOUNCE),
        ("defer+signup@simulator.example.com", Mailbox.DEFER),
        ("complaint@simulator.example.com", Mailbox.COMPLAINT),
        ("nobody@simulator.example.com", None),
        ("bounce@example.com", None),
        ("bounce@simulator.example.com.example.com", None),
        ("simulator.example.com", None),
    ],
)
def test_which_addresses_are_simulated(address: str, mailbox: Mailbox | None) -> None:
    assert simulated(address) is mailbox


def test_every_simulator_address_is_listed() -> None:
    assert simulator_addresses() == [
        "success@simulator.example.com",
        "bounce@simulator.example.com",
        "defer@simulator.example.com",
        "drop@simulator.example.com",
        "slow@simulator.example.com",
        "complaint@simulator.example.com",
    ]


def test_settings_default_and_come_from_the_environment() -> None:
    assert SimulatorSettings.from_env({}) == SimulatorSettings(deferrals=1, slow_seconds=3.0)
    assert SimulatorSettings.from_env(
        {"LOCAL_SIMULATOR_DEFERRALS": "3", "LOCAL_SIMULATOR_SLOW_SECONDS": "12.5"}
    ) == SimulatorSettings(deferrals=3, slow_seconds=12.5)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("LOCAL_SIMULATOR_DEFERRALS", "-1"),
        ("LOCAL_SIMULATOR_DEFERRALS", "1.5"),
        ("LOCAL_SIMULATOR_SLOW_SECONDS", "soon"),
        ("LOCAL_SIMULATOR_SLOW_SECONDS", "nan"),
    ],
)
def test_a_bad_setting_names_itself(name: str, raw: str) -> None:
    with pytest.raises(SystemExit, match=name):
        SimulatorSettings.from_env({name: raw})


def test_deferrals_are_counted_per_message() -> None:
    deferrals = Deferrals(2)

    assert [deferrals.defer("<a>") for _ in range(3)] == [1, 2, None]
    assert deferrals.defer("<b>") == 1
    assert Deferrals(0).defer("<a>") is None


def test_the_implicit_tls_port_is_a_setting_checked_like_the_others() -> None:
    assert LocalConfig.from_env({}).smtps_port == DEFAULT_SMTPS_PORT
    assert LocalConfig.from_env({"LOCAL_SMTPS_PORT": "2465"}).smtps_port == 2465
    config = LocalConfig.from_env({"LOCAL_SMTP_PORT": "2465", "LOCAL_SMTPS_PORT": "2465"})
    with pytest.raises(SystemExit, match="LOCAL_SMTP_PORT and LOCAL_SMTPS_PORT are both 2465"):
        config.require_free_ports()


def _received(*recipients: str) -> Received:
    return Received("app@example.com", list(recipients), b"Subject: x\r\n\r\nx\r\n", True, None)


def test_events_follow_what_ses_s_simulator_publishes() -> None:
    message = _received(
        "success@simulator.example.com",
        "complaint@simulator.example.com",
        "bounce@simulator.example.com",
        "john@example.com",
        "defer@simulator.example.com",
    )

    events = events_for(message, "0100-abc")

    assert [event["eventType"] for event in events] == ["Delivery", "Bounce", "Complaint"]
    assert {event["mail"]["messageId"] for event in events} == {"0100-abc"}
    delivery, bounce, complaint = events
    assert delivery["delivery"]["recipients"] == [
        "success@simulator.example.com",
        "complaint@simulator.example.com",
    ]
    assert bounce["bounce"]["bounceType"] == "Permanent"
    assert [r["emailAddress"] for r in bounce["bounce"]["bouncedRecipients"]] == [
        "bounce@simulator.example.com"
    ]
    assert complaint["complaint"]["complainedRecipients"] == [
        {"emailAddress": "complaint@simulator.example.com"}
    ]


def test_no_event_for_mail_to_anyone_else() -> None:
    assert events_for(_received("john@example.com", "drop@simulator.example.com"), "id") == []


def test_the_functions_trust_the_local_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(b"LOCAL CA\n")
    monkeypatch.delenv("SMTP_CA_FILE", raising=False)

    trust_local_ca(ca_file)

    assert os.environ["SMTP_CA_FILE"] == str(ca_file)


def test_a_ca_bundle_the_developer_named_is_still_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(b"LOCAL CA\n")
    theirs = tmp_path / "corporate.pem"
    theirs.write_bytes(b"CORPORATE CA\n")
    monkeypatch.setenv("SMTP_CA_FILE", str(theirs))

    trust_local_ca(ca_file)

    bundle = Path(os.environ["SMTP_CA_FILE"])
    assert bundle != theirs
    assert bundle.read_bytes() == b"LOCAL CA\n\nCORPORATE CA\n"
