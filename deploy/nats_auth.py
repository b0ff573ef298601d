"""Who may do what on NATS (issue 17 item 3b, R-OPS-3; docs/security.md, "NATS"): one user per process that
connects, with subject permissions that nats-server itself enforces, rendered as the server's `authorization`
block — by `counsel up` for its local server, by `counsel nats-config` for a cluster's.

Everything a process does on NATS is a publish or a subscribe on a subject, JetStream included (its API,
acknowledgements and flow control are subjects too), so the grants below are the subjects nats-py 2.16 uses
for what each process does, read from its source (nats/js/client.py, manager.py, object_store.py):

- a service publishes its own events, `<root>.<service>.>`, and nothing of another's; it reads events only
  through its own durable consumers (`<service>-<name>`, declared in its events.py table), which `counsel
  migrate` creates: the service may fetch from them and acknowledge, never create or change one, so the
  subjects it reads are the ones its deployment declared;
- only documents touches the `documents` bucket, only payment the `invoices` bucket, only catalog the
  `qualifications` bucket;
- every process reads replies only on its own inbox (`_INBOX_<process>.>`, Settings.nats_auth), so no
  process reads another's answers;
- the gateway publishes no event and listens to the two subjects that wake its long-lived connections; it
  touches one bucket, `exports`, where it keeps the exports it produces in the background; gateways relay
  online calls' WebRTC signalling to one another under `call_signal.<root>.>` (outside the stream: never stored);
- `migrate` (the `counsel migrate` job, and `counsel up` before it starts anything) creates the stream, the
  buckets and every durable consumer, and reads no event;
- `backup`, a cluster's only (the chart's JetStream backup CronJob; a local stack copies the servers' stores
  instead), snapshots each stream the platform keeps (`nats stream backup`: JetStream's snapshot API) and
  nothing else: it reads no event one by one and changes nothing;
- `audit` (`counsel audit verify`) reads the anchors the services published, `<root>.<service>.access_log.
  anchored`, through one consumer per audited service (`audit-<service>`) that it creates, fetches from and
  deletes: the consumer's subject is part of the request's subject, so the server itself keeps it to the
  anchors. A message get by sequence would carry its subject in the request's body, out of the permissions'
  reach, so the user has none; it publishes no event;
- the worker never connects to NATS, so it has no user.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.runtime.config import SERVICE_NAMES, Settings, nats_inbox_prefix

GATEWAY = "gateway"
MIGRATE = "migrate"
BACKUP = "backup"
AUDIT = "audit"
# Every process that connects to NATS, each as its own user.
NATS_USERS: tuple[str, ...] = (*SERVICE_NAMES, GATEWAY, MIGRATE, AUDIT)
# A cluster's NATS users: the processes' and the JetStream backup's (charts/counsel: jetstreamBackup).
CLUSTER_NATS_USERS: tuple[str, ...] = (*NATS_USERS, BACKUP)
# Seconds after which the server removes an `audit-<service>` consumer a verify left behind.
AUDIT_CONSUMER_IDLE = 300


def audit_consumer(service: str) -> str:
    """The consumer through which `counsel audit verify` reads `service`'s published anchors."""
    return f"audit-{service}"


def service_consumers(service: str) -> dict[str, list[str]]:
    """The durable consumers a service declares (its events.py's CONSUMERS: name → subject suffixes)."""
    module = importlib.import_module(f"services.{service}.events")
    return {name: list(subjects) for name, subjects in module.CONSUMERS.items()}


def service_buckets() -> dict[str, str]:
    """The Object Store bucket each owning service keeps, by service."""
    from services.catalog.files import BUCKET as QUALIFICATIONS_BUCKET
    from services.documents.files import BUCKET as DOCUMENTS_BUCKET
    from services.payment.invoices import BUCKET as INVOICES_BUCKET

    return {"catalog": QUALIFICATIONS_BUCKET, "documents": DOCUMENTS_BUCKET, "payment": INVOICES_BUCKET}


def gateway_bucket() -> str:
    """The Object Store bucket of the gateway: exports produced in the background."""
    from services.gateway.export_files import BUCKET

    return BUCKET


def call_signal_prefix() -> str:
    """The subject prefix under which gateways relay online calls' WebRTC signalling to one another."""
    from services.gateway.call_signals import SUBJECT_PREFIX

    return SUBJECT_PREFIX


def gateway_subjects() -> list[str]:
    """The event subject suffixes the gateway's wake-ups listen to (a plain subscription each)."""
    from services.gateway.chat_waker import ChatWaker
    from services.gateway.routes.notifications import InboxWaker

    return [InboxWaker.SUBJECT, ChatWaker.SUBJECT]


@dataclass(frozen=True)
class Permissions:
    """What one user may publish and subscribe to; anything else nats-server refuses."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]

    def as_config(self) -> dict[str, object]:
        """The `permissions` map of nats-server's configuration. An empty list would mean "no limit" to the
        server, so a user that may publish nothing is denied `>` explicitly."""
        return {
            "publish": {"allow": list(self.publish)} if self.publish else {"deny": [">"]},
            "subscribe": {"allow": list(self.subscribe)} if self.subscribe else {"deny": [">"]},
        }


def _bucket_subjects(bucket: str) -> list[str]:
    stream = f"OBJ_{bucket}"
    return [
        f"$O.{bucket}.>",  # an object's chunks and metadata (put, delete)
        f"$JS.API.STREAM.INFO.{stream}",  # js.object_store(bucket)
        f"$JS.API.STREAM.MSG.GET.{stream}",  # an object's info; documents' chunk-by-chunk download
        f"$JS.API.STREAM.PURGE.{stream}",  # the chunks a replaced or deleted object leaves behind
        "$JS.API.STREAM.NAMES",  # get() looks its stream up by subject (answers stream names only)
        f"$JS.API.CONSUMER.CREATE.{stream}",  # get() reads through an ordered, unnamed consumer ...
        f"$JS.FC.{stream}.>",  # ... whose flow control it answers
    ]


def kept_streams(settings: Settings) -> list[str]:
    """Every JetStream stream the platform keeps: the event stream and each Object Store bucket's."""
    buckets = (*service_buckets().values(), gateway_bucket())
    return [settings.nats_stream, *(f"OBJ_{bucket}" for bucket in buckets)]


def permissions(process: str, settings: Settings) -> Permissions:
    """The subjects `process` may publish to and subscribe to, for the stream and subject root of
    `settings`. KeyError for a process that does not connect to NATS (the worker)."""
    stream, root = settings.nats_stream, settings.subject_root
    inbox = f"{nats_inbox_prefix(process)}.>"
    if process == GATEWAY:
        # Online calls' signalling, relayed between gateway processes (services/gateway/call_signals.py).
        signals = f"{call_signal_prefix()}.{root}.>"
        return Permissions(
            publish=(*_bucket_subjects(gateway_bucket()), signals),
            subscribe=(*(f"{root}.{s}" for s in gateway_subjects()), signals, inbox),
        )
    if process == MIGRATE:
        publish = [f"$JS.API.STREAM.INFO.{stream}", f"$JS.API.STREAM.CREATE.{stream}"]
        for bucket in (*service_buckets().values(), gateway_bucket()):
            publish += [f"$JS.API.STREAM.INFO.OBJ_{bucket}", f"$JS.API.STREAM.CREATE.OBJ_{bucket}"]
        for service in SERVICE_NAMES:
            for name in service_consumers(service):
                consumer = f"{service}-{name}"
                publish += [
                    f"$JS.API.CONSUMER.INFO.{stream}.{consumer}",
                    f"$JS.API.CONSUMER.CREATE.{stream}.{consumer}",
                ]
        return Permissions(publish=tuple(publish), subscribe=(inbox,))
    if process == BACKUP:
        publish = []
        for kept in kept_streams(settings):
            publish += [
                f"$JS.API.STREAM.INFO.{kept}",
                f"$JS.API.STREAM.SNAPSHOT.{kept}",  # the server streams the snapshot to the inbox ...
                f"$JS.SNAPSHOT.ACK.{kept}.>",  # ... paced by these acknowledgements
            ]
        # The nats CLI has the snapshot streamed to an inbox of the default prefix, whatever --inbox-prefix
        # says (jsm.go's SnapshotToDirectory: nats.NewInbox()); no other user's answers go there, as every
        # process has a prefix of its own (`_INBOX_<process>`).
        return Permissions(publish=tuple(publish), subscribe=(inbox, "_INBOX.>"))
    if process == AUDIT:
        from deploy.audit import audited_services

        publish = []
        for service in audited_services():
            consumer = f"{stream}.{audit_consumer(service)}"
            publish += [
                f"$JS.API.CONSUMER.CREATE.{consumer}.{root}.{service}.access_log.anchored",
                f"$JS.API.CONSUMER.MSG.NEXT.{consumer}",
                f"$JS.API.CONSUMER.DELETE.{consumer}",
            ]
        return Permissions(publish=tuple(publish), subscribe=(inbox,))
    if process not in SERVICE_NAMES:
        raise KeyError(f"{process} does not connect to NATS")
    publish = [f"{root}.{process}.>", f"$JS.API.STREAM.INFO.{stream}"]
    for name in service_consumers(process):
        consumer = f"{process}-{name}"
        publish += [
            f"$JS.API.CONSUMER.INFO.{stream}.{consumer}",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}",
            f"$JS.ACK.{stream}.{consumer}.>",  # ack, nak with delay, term
        ]
    owned = service_buckets().get(process)
    if owned is not None:
        publish += _bucket_subjects(owned)
    return Permissions(publish=tuple(dict.fromkeys(publish)), subscribe=(inbox,))


@dataclass(frozen=True)
class PasswordFromEnv:
    """A password nats-server reads from its own environment when it loads the configuration."""

    variable: str


def password_variable(process: str) -> str:
    """The environment variable a cluster's nats-server reads `process`'s password from."""
    return f"COUNSEL_NATS_PASSWORD_{process.upper()}"


def authorization_block(settings: Settings, passwords: Mapping[str, str | PasswordFromEnv]) -> str:
    """nats-server's `authorization { users = [...] }` for every process in `passwords` (user name →
    password), each with its permissions. The configuration format takes JSON values; a PasswordFromEnv is
    written as a bare `$VARIABLE`, which the server resolves from its environment."""
    users = []
    for process, password in passwords.items():
        secret = f"${password.variable}" if isinstance(password, PasswordFromEnv) else json.dumps(password)
        grants = json.dumps(permissions(process, settings).as_config())
        users.append(f'    {{"user": {json.dumps(process)}, "password": {secret}, "permissions": {grants}}}')
    return "authorization {\n  users = [\n" + ",\n".join(users) + "\n  ]\n}\n"


def cluster_authorization(settings: Settings, processes: Sequence[str] = CLUSTER_NATS_USERS) -> str:
    """The block for a cluster's nats-server, every password read from COUNSEL_NATS_PASSWORD_<PROCESS>."""
    return authorization_block(settings, {p: PasswordFromEnv(password_variable(p)) for p in processes})
