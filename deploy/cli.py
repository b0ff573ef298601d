"""`counsel`: one command for every process of the platform and for the local stack.

counsel up [--ha]          start the whole platform locally (servers, migrations, demo data, every process);
                           --ha: PostgreSQL ×3 under Patroni, etcd ×3, NATS ×3, every stream and bucket at R3
counsel status [--json]    every process and server of the local stack: health, role, pid, restarts
counsel serve <service>    run one gRPC service      counsel worker   run the workflow worker
counsel gateway            run the HTTP gateway      counsel migrate  create databases, run every migration,
counsel portal             run the web portal                         create the event stream, buckets, consumers
                                                     (counsel migrate <service>|nats: only those)
counsel seed               load the demo data (idempotent)
counsel backup             a backup set of the running local stack: PostgreSQL base backup (its WAL is archived
                           continuously), JetStream, Temporal; in <data dir>/backups
counsel restore --to TIME --into DIR   the platform as it was at TIME (RFC 3339) into a new, empty data folder
counsel nats-config        print the NATS server's authorization block: one user per process (for a cluster)
counsel ledger verify      walk the payment ledger's hash chain; names the first broken entry
counsel audit verify       walk every service's staff access log and its signed anchors, against the
                           anchors published to the event stream; names the first broken record or anchor
counsel payment reconcile --date YYYY-MM-DD   compare the ledger with each provider's statement
counsel documents cancel <id> --reason TEXT   cancel a document order (its paid order is refunded)
counsel classifier report  held-out accuracy and per-field recall of the legal-nature classifier (generated, hand-written)
counsel classifier train   retrain its committed model (model.json.gz) after editing its questions
counsel --version          the installed counsel version

An expected failure (a bad argument or setting, a server that cannot be reached, a refused call) ends with one
line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.metadata
import sys
from datetime import date, datetime
from pathlib import Path

from services.runtime.config import SERVICE_NAMES, Settings, SettingsError, load_settings


def _serve(service: str) -> None:
    module = importlib.import_module(f"services.{service}.main")
    asyncio.run(module.serve(load_settings()))


def _worker() -> None:
    from workflows.worker import run_worker

    asyncio.run(run_worker(load_settings()))


def _gateway() -> None:
    import uvloop  # uvicorn[standard]'s event loop: the HTTP hot path spends less CPU per request on it

    module = importlib.import_module("services.gateway.main")
    uvloop.run(module.serve(load_settings()))


def _portal() -> None:
    import uvloop

    from services.portal.main import serve

    uvloop.run(serve(load_settings()))


def _migrate(targets: list[str]) -> None:
    from deploy.local.bootstrap import migrate_all, provision_bus

    settings = load_settings()
    services = [target for target in targets if target != "nats"] if targets else list(SERVICE_NAMES)
    if not targets or "nats" in targets:
        settings.nats_auth()  # in prod, refuse at once without the migrate user, before touching any database
    for database in asyncio.run(migrate_all(settings, services)):
        print(database, flush=True)
    if not targets or "nats" in targets:
        print(asyncio.run(provision_bus(settings)))


def _nats_config(stream: str, subject_root: str) -> int:
    from deploy.nats_auth import cluster_authorization

    # Only the stream and subject names matter here: no environment read, no secret needed.
    settings = Settings.model_construct(nats_stream=stream, subject_root=subject_root)
    print(cluster_authorization(settings), end="")
    return 0


def _seed() -> None:
    from deploy.local.bootstrap import seed_all

    asyncio.run(seed_all(load_settings()))


def _classifier(action: str) -> int:
    from services.legal_fields.classifier import MODEL, report, write_model

    if action == "train":
        write_model()
        print(f"wrote {MODEL}")
    print(report())
    return 0


def _analytics(action: str) -> int:
    from services.next_purchase.evaluation import report
    from services.next_purchase.training import MODEL, write_model

    if action == "train":
        write_model()
        print(f"wrote {MODEL}")
    print(report())
    return 0


def _up(ha: bool) -> int:
    from deploy.local.stack import run_stack

    return run_stack(ha)


def _status(as_json: bool) -> int:
    from deploy.local.stack import print_status

    return print_status(as_json)


def _backup() -> int:
    from deploy.local.backup import backup_lock, backups_dir, local_stack_sources, take_backup
    from deploy.local.stack import local_settings

    data_dir = local_settings().data_dir.resolve()
    sources = local_stack_sources(data_dir)
    with backup_lock(backups_dir(data_dir)):
        manifest = take_backup(sources, backups_dir(data_dir))
    print(f"backup set {manifest['label']} in {backups_dir(data_dir) / manifest['label']}")
    return 0


def _restore(target_time: datetime, into: Path, backups: Path | None) -> int:
    from deploy.local.backup import backups_dir, restore
    from deploy.local.stack import local_settings

    source = backups or backups_dir(local_settings().data_dir.resolve())
    report = restore(source, target_time, into.resolve())
    print(
        f"restored to {target_time.isoformat()} from backup set {report.backup_set} in {report.seconds:.1f} s; "
        f"start it with COUNSEL_DATA_DIR={into} counsel up{' --ha' if report.replicated else ''}"
    )
    return 0


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"not an RFC 3339 time with an offset (2026-12-06T14:05:00Z): {text!r}"
        )
    return moment


def _ledger_verify() -> int:
    from services.payment.tools import verify_ledger

    return asyncio.run(verify_ledger(load_settings()))


def _audit_verify() -> int:
    from deploy.audit import verify_all

    return asyncio.run(verify_all(load_settings()))


def _payment_reconcile(day: date) -> int:
    from services.payment.tools import reconcile

    return asyncio.run(reconcile(load_settings(), day))


def _migrate_target(text: str) -> str:
    # argparse's `choices` refuses the empty list nargs="*" gives by default (Python 3.11).
    if text not in (*SERVICE_NAMES, "nats"):
        raise argparse.ArgumentTypeError(f"not a service or nats: {text!r}")
    return text


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _operator_settings() -> Settings:
    """Settings for an operator command: its own COUNSEL_TLS_* identity when set, else the `operator`
    identity the local stack (`counsel up`) issued in its data directory."""
    from deploy.local.stack import operator_files

    settings = load_settings()
    operator = operator_files(settings.data_dir.resolve())
    if settings.tls_cert_file or not operator.cert_file.exists():
        return settings
    return load_settings(
        tls_ca_file=str(operator.ca_file),
        tls_cert_file=str(operator.cert_file),
        tls_key_file=str(operator.key_file),
    )


def _keys_rotate() -> int:
    from deploy.keys import rotate

    return asyncio.run(rotate(load_settings()))


def _documents_cancel(document_order_id: str, reason: str) -> int:
    from services.documents.tools import cancel

    return asyncio.run(cancel(_operator_settings(), document_order_id, reason))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="counsel", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--version", action="version", version=f"counsel {importlib.metadata.version('counsel')}"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the whole platform locally")
    up.add_argument(
        "--ha", action="store_true", help="on replicated servers: PostgreSQL, etcd and NATS three of each"
    )
    status = commands.add_parser("status", help="show every process and server of the local platform")
    status.add_argument("--json", action="store_true", help="print it as JSON")
    serve = commands.add_parser("serve", help="run one gRPC service")
    serve.add_argument("service", choices=SERVICE_NAMES)
    commands.add_parser("worker", help="run the Temporal workflow worker")
    commands.add_parser("gateway", help="run the HTTP gateway")
    commands.add_parser("portal", help="run the web portal (a client of the gateway)")
    migrate = commands.add_parser(
        "migrate", help="create the databases and run every service's migrations, then provision NATS"
    )
    # In a cluster each service's database belongs to its own role: the chart migrates each as that role.
    migrate.add_argument(
        "targets",
        nargs="*",
        type=_migrate_target,
        metavar="SERVICE|nats",
        help="only these services' databases and/or the NATS stream, buckets and consumers (default: all)",
    )
    commands.add_parser("seed", help="load the demo data")
    commands.add_parser("backup", help="back up the running local stack into <data dir>/backups")
    restore = commands.add_parser("restore", help="restore the platform as it was at a moment")
    restore.add_argument(
        "--to", required=True, type=_moment, metavar="TIME", help="RFC 3339, with its offset"
    )
    restore.add_argument("--into", required=True, type=Path, metavar="DIR", help="a new or empty data folder")
    restore.add_argument(
        "--from", dest="backups", type=Path, metavar="DIR", help="the backups (default: <data dir>/backups)"
    )
    nats_config = commands.add_parser(
        "nats-config",
        help="print the NATS server's authorization block (passwords from COUNSEL_NATS_PASSWORD_<PROCESS>)",
    )
    nats_config.add_argument("--stream", default=Settings.model_fields["nats_stream"].default)
    nats_config.add_argument("--subject-root", default=Settings.model_fields["subject_root"].default)
    ledger = commands.add_parser("ledger", help="payment ledger tools")
    ledger.add_argument("action", choices=["verify"])
    audit = commands.add_parser("audit", help="the staff access logs (docs/privacy.md)")
    audit.add_argument("action", choices=["verify"])
    payment = commands.add_parser("payment", help="payment tools")
    payment.add_argument("action", choices=["reconcile"])
    payment.add_argument(
        "--date", required=True, type=_day, help="the day to reconcile, YYYY-MM-DD (Beijing time)"
    )
    keys = commands.add_parser("keys", help="the key hierarchy (docs/privacy.md)")
    keys.add_argument("action", choices=["rotate"], help="re-wrap every data key with the current master key")
    documents = commands.add_parser("documents", help="document order tools")
    documents.add_argument("action", choices=["cancel"])
    documents.add_argument("document_order_id")
    documents.add_argument("--reason", required=True, help="why it is cancelled (told to the client)")
    classifier = commands.add_parser("classifier", help="the consultation's legal-nature classifier")
    classifier.add_argument("action", choices=["report", "train"])
    analytics = commands.add_parser(
        "analytics", help="the next-purchase and purchase-intent models, evaluated on held-out histories"
    )
    analytics.add_argument("action", choices=["report", "train"])
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except SettingsError as exc:
        # e.g. prod (the default) without COUNSEL_SECRET_KEY: stop at start with the reason, no traceback.
        print(f"counsel {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        reason = expected_failure(exc)
        if reason is None:
            raise  # a bug: its traceback is the report
        print(f"counsel {args.command}: {reason}", file=sys.stderr)
        return 1


def expected_failure(exc: BaseException) -> str | None:
    """One line saying what went wrong for a failure an operator can act on — a server that cannot be reached
    or refuses the call — and None for anything else."""
    import asyncpg
    import grpc
    import nats.errors
    import sqlalchemy.exc
    import temporalio.service

    from deploy.local.backup import BackupError
    from services.runtime.errors import DomainError

    if isinstance(exc, BackupError):
        return str(exc)
    if isinstance(exc, DomainError):  # e.g. Unavailable: the database has no primary
        cause = exc.__cause__
        return f"{exc.message} ({cause})" if isinstance(cause, OSError) else exc.message
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"the call failed: {exc.code().name}: {exc.details()}"
    if isinstance(exc, temporalio.service.RPCError):
        return f"Temporal refused the call: {exc.status.name}: {exc.message}"
    if isinstance(exc, nats.errors.Error):
        return f"NATS: {exc}"
    if isinstance(exc, asyncpg.PostgresError | sqlalchemy.exc.DBAPIError):
        return f"PostgreSQL: {str(exc).splitlines()[0]}"
    if isinstance(exc, OSError):  # refused, unreachable, timed out, a missing file
        return (
            f"cannot reach a server: {exc}" if isinstance(exc, ConnectionError | TimeoutError) else str(exc)
        )
    return None


def _run(args: argparse.Namespace) -> int:
    try:
        if args.command == "up":
            return _up(args.ha)
        if args.command == "status":
            return _status(args.json)
        if args.command == "backup":
            return _backup()
        if args.command == "restore":
            return _restore(args.to, args.into, args.backups)
        if args.command == "ledger":
            return _ledger_verify()
        if args.command == "audit":
            return _audit_verify()
        if args.command == "payment":
            return _payment_reconcile(args.date)
        if args.command == "keys":
            return _keys_rotate()
        if args.command == "documents":
            return _documents_cancel(args.document_order_id, args.reason)
        if args.command == "classifier":
            return _classifier(args.action)
        if args.command == "analytics":
            return _analytics(args.action)
        if args.command == "nats-config":
            return _nats_config(args.stream, args.subject_root)
        if args.command == "serve":
            _serve(args.service)
        elif args.command == "worker":
            _worker()
        elif args.command == "gateway":
            _gateway()
        elif args.command == "portal":
            _portal()
        elif args.command == "migrate":
            _migrate(args.targets)
        elif args.command == "seed":
            _seed()
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
