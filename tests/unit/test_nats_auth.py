"""The NATS permission table (deploy/nats_auth.py) and how `counsel up` hands each process its user (R-OPS-3,
issue 17 item 3b). What the server does with the table is tested against a real nats-server in
tests/integration/test_nats_permissions.py; here, the shape of the grants, which no test on a server can
enumerate: a grant too wide is a hole even if no test exercises it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deploy.audit import audited_services
from deploy.local.stack import Stack, audit_password_file, local_settings
from deploy.nats_auth import (
    AUDIT,
    CLUSTER_NATS_USERS,
    GATEWAY,
    MIGRATE,
    NATS_USERS,
    Permissions,
    cluster_authorization,
    permissions,
    service_buckets,
    service_consumers,
)
from services.runtime.config import SERVICE_NAMES, Settings
from services.runtime.pki import TlsFiles

SETTINGS = Settings(env="test", nats_stream="S", subject_root="r")


def test_the_worker_has_no_user_because_it_never_connects() -> None:
    """R-OPS-3: the worker talks to Temporal and the services only; NATS has no user for it."""
    assert "worker" not in NATS_USERS
    with pytest.raises(KeyError):
        permissions("worker", SETTINGS)
    workflows = Path(__file__).resolve().parents[2] / "workflows"
    assert not [p for p in workflows.rglob("*.py") if "nats" in p.read_text()]


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_a_service_publishes_its_own_events_and_only_named_jetstream_operations(service: str) -> None:
    """R-OPS-3: the only event subjects a service may publish are its own; every JetStream grant names the
    stream, bucket or consumer it is for (no `$JS.API.>`, no consumer of another service, no stream
    creation or deletion), and it subscribes to its own inbox alone."""
    granted = permissions(service, SETTINGS)
    events = [s for s in granted.publish if s.startswith("r.")]
    assert events == [f"r.{service}.>"]
    consumers = {f"{service}-{name}" for name in service_consumers(service)}
    bucket = service_buckets().get(service)
    for subject in granted.publish:
        if subject.startswith("r."):
            continue
        assert "*" not in subject, subject
        assert not (subject.startswith("$JS.API.") and ">" in subject), (
            subject
        )  # API grants name their object
        assert not any(word in subject for word in ("CREATE.S", "DELETE", "UPDATE", "STREAM.CREATE")), subject
        if ".S." in subject:  # the event stream: its own consumers only
            assert subject.split(".S.", 1)[1].split(".")[0] in consumers, subject
        elif subject not in ("$JS.API.STREAM.INFO.S", "$JS.API.STREAM.NAMES"):
            assert bucket is not None and bucket in subject, subject
    assert granted.subscribe == (f"_INBOX_{service}.>",)


def test_only_catalog_documents_and_payment_have_a_bucket_each() -> None:
    """R-OPS-3: documents' bucket is documents' alone, invoices payment's alone, qualifications catalog's."""
    assert service_buckets() == {"catalog": "qualifications", "documents": "documents", "payment": "invoices"}
    for process in NATS_USERS:
        subjects = " ".join(permissions(process, SETTINGS).publish)
        assert ("$O.documents." in subjects) is (process == "documents"), process
        assert ("$O.invoices." in subjects) is (process == "payment"), process
        assert ("$O.qualifications." in subjects) is (process == "catalog"), process
        assert ("$O.exports." in subjects) is (process == GATEWAY), process


def test_the_gateway_publishes_no_event_touches_only_the_exports_bucket_and_listens_to_its_wake_ups() -> None:
    """R-OPS-3: the gateway's one bucket holds the exports it produces in the background (issue 20 item 5);
    it publishes on no event subject and hears its two wake-ups, the call signalling other gateways relay to
    it (issue 24 item 3) and its own inbox's answers."""
    gateway = permissions(GATEWAY, SETTINGS)
    # Besides the bucket, only online calls' signalling between gateways, outside the stream's `r.>`.
    signals = "call_signal.r.>"
    assert all(
        "exports" in subject or subject in ("$JS.API.STREAM.NAMES", signals) for subject in gateway.publish
    )
    assert "$O.exports.>" in gateway.publish and not any(s.startswith("r.") for s in gateway.publish)
    assert gateway.subscribe == (
        "r.notification.notification.sent",
        "r.consultation.chat.message_posted.*",
        signals,
        "_INBOX_gateway.>",
    )


def test_nothing_to_publish_is_an_explicit_deny() -> None:
    """An empty allow list would mean "anything" to nats-server, so nothing is an explicit deny."""
    assert Permissions(publish=(), subscribe=()).as_config() == {
        "publish": {"deny": [">"]},
        "subscribe": {"deny": [">"]},
    }


def test_migrate_makes_the_stream_buckets_and_consumers_and_reads_nothing() -> None:
    """R-OPS-3: the provisioning user creates; it may not publish events, fetch or acknowledge."""
    migrate = permissions(MIGRATE, SETTINGS)
    assert not [
        s for s in migrate.publish if s.startswith("r.") or "MSG." in s or "$JS.ACK" in s or "$O." in s
    ]
    expected = sum(len(service_consumers(s)) for s in SERVICE_NAMES)
    assert len([s for s in migrate.publish if s.startswith("$JS.API.CONSUMER.CREATE.S.")]) == expected


def test_audit_reads_only_the_published_anchors_through_consumers_of_its_own() -> None:
    """Issue 20: `counsel audit verify`'s user creates, fetches from and deletes one consumer per audited
    service, whose subject filter — part of the request's subject — is that service's anchors; it publishes no
    event, gets no message by sequence (whose subject the server could not check) and reads its own inbox."""
    audit = permissions(AUDIT, SETTINGS)
    expected = []
    for service in audited_services():
        expected += [
            f"$JS.API.CONSUMER.CREATE.S.audit-{service}.r.{service}.access_log.anchored",
            f"$JS.API.CONSUMER.MSG.NEXT.S.audit-{service}",
            f"$JS.API.CONSUMER.DELETE.S.audit-{service}",
        ]
    assert audit.publish == tuple(expected)
    assert audit.subscribe == ("_INBOX_audit.>",)


def test_a_clusters_block_reads_every_password_from_the_servers_environment() -> None:
    block = cluster_authorization(SETTINGS)
    for process in CLUSTER_NATS_USERS:  # the processes' users and the JetStream backup's
        assert f'"user": "{process}", "password": $COUNSEL_NATS_PASSWORD_{process.upper()},' in block


def test_counsel_up_gives_each_process_its_own_nats_user_and_the_worker_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """R-OPS-3: on the stack's own NATS each child gets its own user and password, never one inherited from
    the shell; the worker and the portal, which never connect, get none."""
    monkeypatch.setenv("COUNSEL_NATS_USER", "inherited")
    monkeypatch.setenv("COUNSEL_NATS_PASSWORD", "inherited-password")
    stack = Stack(local_settings())
    stack.plan()
    stack.nats_passwords = {process: f"pw-{process}" for process in NATS_USERS}
    files = TlsFiles(tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem")
    stack.identities = {child.name: files for child in stack.children}
    for child in stack.children:
        env = stack.child_env(child.name)
        if child.name in ("worker", "portal"):
            assert "COUNSEL_NATS_USER" not in env and "COUNSEL_NATS_PASSWORD" not in env
        else:
            assert env["COUNSEL_NATS_USER"] == child.name
            assert env["COUNSEL_NATS_PASSWORD"] == f"pw-{child.name}"
    assert os.environ["COUNSEL_NATS_USER"] == "inherited"  # the stack's own environment is left alone


def test_counsel_up_keeps_the_audit_password_for_the_operator_alone(tmp_path: Path) -> None:
    """Issue 20: `counsel audit verify` is no child of the stack; the audit user's password is kept where the
    operator finds it, readable by the owner only, fresh at every start."""
    stack = Stack(local_settings(data_dir=tmp_path))
    stack._new_nats_passwords()
    path = audit_password_file(tmp_path)
    assert path.read_text() == stack.nats_passwords[AUDIT]
    assert path.stat().st_mode & 0o777 == 0o600
    stack._new_nats_passwords()
    assert path.read_text() == stack.nats_passwords[AUDIT]
