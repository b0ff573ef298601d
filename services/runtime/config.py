"""The one configuration loader: every setting is a `COUNSEL_*` environment variable."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.pki import TlsFiles, TlsMaterial

SERVICE_NAMES: tuple[str, ...] = (
    "identity",
    "catalog",
    "consultation",
    "documents",
    "booking",
    "payment",
    "notification",
)

# Local default gRPC ports; in a cluster every service listens on 50051 and peers are found by DNS.
DEFAULT_GRPC_PORTS: dict[str, int] = {name: 50051 + i for i, name in enumerate(SERVICE_NAMES)}
DEFAULT_METRICS_PORTS: dict[str, int] = {name: 9101 + i for i, name in enumerate(SERVICE_NAMES)}
DEFAULT_METRICS_PORTS["worker"] = 9110
DEFAULT_METRICS_PORTS["gateway"] = 9100
DEFAULT_METRICS_PORTS["portal"] = 9112  # 9111 is the worker's Temporal SDK exporter locally


class Settings(BaseSettings):
    """Settings shared by every process: the ones more than one process reads. Read once at start-up with
    `load_settings()`, never at import. Each service (and the gateway and the portal) extends this class in
    its `config.py` with the fields it alone reads, under the same `COUNSEL_*` names."""

    model_config = SettingsConfigDict(env_prefix="COUNSEL_", extra="forbid", frozen=True)

    # Fails closed: without COUNSEL_ENV a process runs as prod — no dev routes (dev outbox, sandbox payments),
    # no gRPC reflection, a real COUNSEL_SECRET_KEY required. `counsel up` sets dev, the test fixtures test.
    env: Literal["dev", "test", "prod"] = "prod"
    data_dir: Path = Path(".counsel")
    log_level: str = "INFO"

    # Traces (services/runtime/tracing.py). The OpenTelemetry standard variable, not a COUNSEL_ one: the
    # collector's OTLP/HTTP base URL (`http://tempo:4318`); unset, no span is recorded or exported.
    otel_exporter_otlp_endpoint: str = Field(
        default="",
        validation_alias=AliasChoices("otel_exporter_otlp_endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )

    # Server-level PostgreSQL URL (no database name): each service uses `<database_prefix>_<service>`. A
    # replicated cluster is named by every node, `postgresql://u:p@h1:5432,h2:5432,h3:5432/?target_session_
    # attrs=read-write`, so connections find the primary wherever it is after a failover (database_url_of).
    database_url: str = ""
    database_prefix: str = "counsel"
    db_pool_size: int = 5

    # One server, or every server of a cluster comma-separated (clients then reconnect to any of them).
    nats_url: str = "nats://127.0.0.1:4222"
    # This process's own NATS user (issue 17 item 3b): the server's authorization block gives each process a
    # user whose subject permissions allow only its own events, consumers, bucket and reply inbox
    # (deploy/nats_auth.py). Required in prod by every process that connects; `counsel up` makes them locally.
    nats_user: str = ""
    nats_password: SecretStr = SecretStr("")
    # Stream name and subject root; tests change both so that runs never see each other's events.
    nats_stream: str = "COUNSEL"
    subject_root: str = "counsel"

    # Replicas of everything kept on JetStream — the event stream (its durable consumers inherit it) and the
    # Object Store buckets (documents, invoices): 1 on one server, 3 on a cluster (`counsel up --ha`, the chart).
    jetstream_replicas: int = Field(default=1, ge=1, le=5)

    temporal_address: str = "127.0.0.1:7233"
    # Mutual TLS to the Temporal frontend (docs/security.md, "Temporal"): this process presents its own counsel
    # certificate and trusts the frontend's if the counsel CA (or COUNSEL_TEMPORAL_TLS_CA_FILE) signed it for
    # COUNSEL_TEMPORAL_TLS_SERVER_NAME. Required in prod unless Temporal is on this machine's loopback.
    temporal_tls: bool = False
    temporal_tls_ca_file: str = ""
    temporal_tls_server_name: str = ""
    temporal_namespace: str = "default"
    # Names this deployment's task queues, one per domain (`counsel-orders`, …; workflows.shared.task_queue).
    temporal_task_queue: str = "counsel"
    # Temporal SDK metrics are served by the SDK's own exporter on this port (0 = off).
    temporal_metrics_port: int = 0
    # Worker tuning (services/runtime/temporal.worker_options). Cached workflows answer their next task
    # from memory instead of replaying their history; pollers scale between 2 and the maximum with load.
    temporal_max_cached_workflows: int = Field(default=10_000, ge=0)
    temporal_max_concurrent_workflow_tasks: int = Field(default=200, ge=2)
    temporal_max_concurrent_activities: int = Field(default=200, ge=1)
    temporal_max_workflow_task_pollers: int = Field(default=20, ge=2)
    temporal_max_activity_task_pollers: int = Field(default=10, ge=1)

    identity_addr: str = f"127.0.0.1:{DEFAULT_GRPC_PORTS['identity']}"
    catalog_addr: str = f"127.0.0.1:{DEFAULT_GRPC_PORTS['catalog']}"
    consultation_addr: str = f"127.0.0.1:{DEFAULT_GRPC_PORTS['consultation']}"
    documents_addr: str = f"127.0.0.1:{DEFAULT_GRPC_PORTS['documents']}"
    booking_addr: str = f"127.0.0.1:{DEFAULT_GRPC_PORTS['booking']}"
    payment_addr: str = f"127.0.0.1:{DEFAULT_GRPC_PORTS['payment']}"
    notification_addr: str = f"127.0.0.1:{DEFAULT_GRPC_PORTS['notification']}"
    # What a service binds; empty means the port of its own `<SVC>_ADDR` on 127.0.0.1.
    grpc_listen: str = ""
    # Where the health service alone is also served without TLS, for Kubernetes' gRPC probes ("" = nowhere).
    grpc_health_listen: str = ""
    # This process's identity for mutual TLS between processes (services/runtime/pki.py): the authority's
    # CA bundle, its certificate and its key, as PEM files. Every gRPC server and channel needs them;
    # `counsel up` makes them locally, cert-manager in a cluster.
    tls_ca_file: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    grpc_deadline_seconds: float = 10.0
    # Prometheus /metrics for a service or the worker; unset = the local default for that process, 0 = off.
    metrics_port: int | None = None
    # Interface for /metrics; 0.0.0.0 in a cluster so Prometheus can scrape the pod.
    metrics_host: str = "127.0.0.1"

    # Where the gateway listens, and the public address clients reach it at (empty = http://<host>:<port>).
    # Shared: the gateway serves there and sends OpenID Connect callbacks to the public address, the portal
    # calls the gateway there, payment gives the providers its notification URLs under the public address.
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    public_base_url: str = ""

    jwt_issuer: str = "https://counsel.local/identity"
    jwt_audience: str = "counsel-api"
    # How often a process asks identity for revoked tokens (logout, role change): the longest a revoked
    # access token still works.
    token_revocation_poll_seconds: float = Field(default=2.0, ge=0)
    # Encrypts private signing keys and personal data at rest. Required outside dev/test.
    secret_key: str = ""
    # The master key of the key hierarchy (services/runtime/keys.py, docs/privacy.md): it wraps the data keys
    # that seal case material and personal fields, and keys Temporal payloads. `v2=<base64 32 bytes>,v1=…`
    # (the first version current), or a mounted secret's folder (`current` + one file per version). Required
    # in prod; outside prod one is derived from COUNSEL_SECRET_KEY when neither is set.
    master_key: SecretStr = SecretStr("")
    master_key_dir: str = ""
    # How often each service signs the head of its staff access log and publishes the anchor
    # (services/runtime/access_log.py): the longest a rewritten tail goes unnoticed by `counsel audit verify`.
    access_log_anchor_seconds: float = Field(default=300.0, gt=0)
    # The privacy policy in force (PIPL): registering accepts this version, and a person whose last accepted
    # version is another is asked at their next login (docs/privacy.md, "Consent"). The portal links the URL.
    privacy_policy_version: str = "2026-12-01"
    privacy_policy_url: str = "https://counsel.local/privacy-policy"

    # Ports of the servers `counsel up` starts itself when no external URL is configured. With `--ha` each of
    # the three nodes of a cluster takes the port given and the next two (node 1: the port, node 2: +1, …).
    local_postgres_port: int = 15432
    local_nats_port: int = 14222
    local_nats_monitor_port: int = 18222
    local_nats_cluster_port: int = 16222  # --ha: the NATS nodes' routes to each other
    local_patroni_port: int = 18008  # --ha: each Patroni's REST API (role, lag)
    local_etcd_port: int = 12379  # --ha: etcd's client ports
    local_etcd_peer_port: int = 12390  # --ha: etcd's peer ports
    local_temporal_port: int = 7233
    local_temporal_ui_port: int = 8233
    # `counsel up` takes a backup set (deploy/local/backup_schedule.py) this often, and one at start when none
    # exists; 0 turns the schedule off. The newest `local_backup_keep` sets are kept, and the WAL they need.
    local_backup_every_hours: float = Field(default=24.0, ge=0)
    local_backup_keep: int = Field(default=7, ge=1)

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The settings as given, plus this class's own fields read from the environment (a service's
        `serve()` takes the shared settings and reads its own with this). Fields of another process's settings
        class are left behind (a test's IdentitySettings turned into the gateway's)."""
        try:
            return cls(**settings.model_dump(include=set(cls.model_fields)))
        except ValidationError as exc:
            raise settings_error(exc) from None

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_prod(self) -> Settings:
        if self.env == "prod" and (len(self.secret_key) < 32 or "change" in self.secret_key.lower()):
            raise ValueError(
                "COUNSEL_SECRET_KEY must be set to a random value of at least 32 characters in prod "
                "(COUNSEL_ENV is prod unless set; `counsel up` runs as dev)"
            )
        return self

    def tls(self) -> TlsMaterial:
        """This process's TLS material; SettingsError (one line at start, like every setting at fault) when
        it is not configured — there is no insecure mode to fall back to."""
        files = (self.tls_ca_file, self.tls_cert_file, self.tls_key_file)
        if not all(files):
            raise SettingsError(
                "COUNSEL_TLS_CA_FILE, COUNSEL_TLS_CERT_FILE and COUNSEL_TLS_KEY_FILE must name this process's "
                "mutual-TLS files (counsel up makes them locally; cert-manager in a cluster)"
            )
        try:
            return TlsFiles(*(Path(f) for f in files)).read()
        except OSError as exc:
            raise SettingsError(f"cannot read this process's TLS files: {exc}") from exc

    def nats_auth(self) -> dict[str, str]:
        """nats-py connect options naming this process's NATS user: `user`, `password` and its own reply
        inbox prefix (`_INBOX_<user>`, the only inbox its permissions let it subscribe to). Empty without a
        user, which only dev and test allow: SettingsError in prod, naming the variables."""
        if not self.nats_user:
            if self.env == "prod":
                raise SettingsError(
                    "COUNSEL_NATS_USER and COUNSEL_NATS_PASSWORD must name this process's NATS user in prod "
                    "(COUNSEL_ENV is prod unless set; `counsel up` makes one per process)"
                )
            return {}
        if not self.nats_password.get_secret_value():
            raise SettingsError(
                f"COUNSEL_NATS_PASSWORD must be set with COUNSEL_NATS_USER ({self.nats_user})"
            )
        return {
            "user": self.nats_user,
            "password": self.nats_password.get_secret_value(),
            "inbox_prefix": nats_inbox_prefix(self.nats_user),
        }

    @property
    def nats_servers(self) -> list[str]:
        """Every server COUNSEL_NATS_URL names."""
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]

    @property
    def dev_routes(self) -> bool:
        """Whether the unauthenticated development aids exist: the dev outbox (every code sent), sandbox
        payments and hand-made document orders. Only in dev and test, never in prod."""
        return self.env in ("dev", "test")

    @property
    def grpc_reflection(self) -> bool:
        """gRPC server reflection lists every method to anyone who connects: dev and test only."""
        return self.env != "prod"

    def peer_addr(self, service: str) -> str:
        """The gRPC address of a service (`COUNSEL_<SVC>_ADDR`)."""
        if service not in SERVICE_NAMES:
            raise KeyError(f"unknown service {service!r}")
        return str(getattr(self, f"{service}_addr"))

    def listen_addr(self, service: str) -> str:
        if self.grpc_listen:
            return self.grpc_listen
        port = self.peer_addr(service).rsplit(":", 1)[1]
        return f"127.0.0.1:{port}"

    def database_name(self, service: str) -> str:
        return f"{self.database_prefix}_{service}"

    def database_dsn(self, service: str) -> str:
        """SQLAlchemy async URL of the service's own database (see `database_url_of`)."""
        if not self.database_url:
            raise RuntimeError("COUNSEL_DATABASE_URL is not set")
        return database_url_of(self.database_url, self.database_name(service), driver="postgresql+asyncpg")

    def metrics_port_for(self, process: str) -> int:
        if self.metrics_port is not None:
            return self.metrics_port
        return DEFAULT_METRICS_PORTS.get(process, 0)

    def subject(self, suffix: str) -> str:
        """Full NATS subject for an event suffix such as `consultation.consultation.submitted`."""
        return f"{self.subject_root}.{suffix}"


def database_url_of(server_url: str, database: str, *, driver: str = "postgresql") -> str:
    """The URL of `database` on the server or servers of `server_url`, a libpq-style URL
    `postgresql://user:password@host:port[,host:port…][/…][?parameters]` (COUNSEL_DATABASE_URL): its path
    becomes `/<database>`, its parameters (e.g. `target_session_attrs=read-write`) are kept. asyncpg takes
    several hosts as written; for SQLAlchemy (`driver="postgresql+asyncpg"`) they move into `host=host:port`
    parameters, the only form its asyncpg dialect reads, each with a port (5432 unless given). SettingsError
    for a URL that is not PostgreSQL's."""
    scheme, separator, rest = server_url.partition("://")
    if not separator or scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise SettingsError(
            "COUNSEL_DATABASE_URL must look like postgresql://user:password@host:port[,host:port…][?params]"
        )
    rest, _, query = rest.partition("?")
    userinfo, at, hosts = rest.split("/", 1)[0].rpartition("@")
    credentials = f"{userinfo}{at}"
    parameters = [p for p in query.split("&") if p]
    servers = hosts.split(",")
    if driver != "postgresql" and len(servers) > 1:
        host_parameters = [f"host={h if ':' in h else h + ':5432'}" for h in servers]
        return f"{driver}://{credentials}/{database}?" + "&".join(host_parameters + parameters)
    suffix = "?" + "&".join(parameters) if parameters else ""
    return f"{driver}://{credentials}{hosts}/{database}{suffix}"


def nats_inbox_prefix(user: str) -> str:
    """The reply inbox prefix of a NATS user: its requests' answers arrive under `<prefix>.>`, which only it may
    subscribe to, so no other process reads them."""
    return f"_INBOX_{user}"


class SettingsError(RuntimeError):
    """The environment does not configure a process that may start (e.g. prod without a secret key); the
    message names each `COUNSEL_*` variable at fault."""


def settings_error(error: ValidationError) -> SettingsError:
    """One readable line per problem of a pydantic ValidationError, named by environment variable."""
    problems = []
    for item in error.errors():
        name = "COUNSEL_" + "_".join(str(part) for part in item["loc"]).upper() if item["loc"] else ""
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{name}: {message}" if name and not message.startswith(name) else message)
    return SettingsError("invalid settings — " + "; ".join(problems))


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; keyword overrides win (used by tests and the local stack).
    SettingsError, naming the variables at fault, when they do not allow the process to start."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise settings_error(exc) from None
