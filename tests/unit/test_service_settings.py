"""Each process's settings class extends the shared `Settings` with the fields it alone reads
(docs/architecture.md, "The runtime kit"): no field is declared by two of them, and each lives beside its
service as `services/<name>/config.py`."""

from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path

import pytest

from services.gateway.config import GatewaySettings
from services.portal.config import PortalSettings
from services.runtime.config import SERVICE_NAMES, Settings

pytestmark = pytest.mark.unit

SERVICES = Path(__file__).resolve().parents[2] / "services"
PROCESSES = (*SERVICE_NAMES, "gateway", "portal")


def settings_class(process: str) -> type[Settings]:
    """The one `Settings` subclass `services/<process>/config.py` declares."""
    module = importlib.import_module(f"services.{process}.config")
    (found,) = {
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Settings) and value is not Settings
    }
    return found


def own_fields(process: str) -> set[str]:
    return set(settings_class(process).model_fields) - set(Settings.model_fields)


def test_every_service_the_gateway_and_the_portal_have_a_settings_class_of_their_own() -> None:
    assert {path.parent.name for path in SERVICES.glob("*/config.py")} >= set(PROCESSES)
    for process in PROCESSES:
        assert settings_class(process).__mro__[1] is Settings, process


def test_no_field_is_declared_by_two_processes() -> None:
    declared = Counter(field for process in PROCESSES for field in own_fields(process))
    shared = sorted(field for field, count in declared.items() if count > 1)
    assert not shared, f"in more than one process's settings (a shared one belongs in Settings): {shared}"


def test_a_field_one_process_reads_is_not_in_the_shared_settings() -> None:
    # Those that moved out of Settings stay out (their environment variables kept their names).
    moved = {
        "gateway": {"gateway_trusted_proxies", "gateway_rate_per_ip", "firm_grpc_port", "temporal_ui_origin"},
        "portal": {"portal_host", "portal_port", "portal_gateway_url"},
        "identity": {"access_token_ttl_seconds"},
        "payment": {"cache_dir"},
    }
    for process, fields in moved.items():
        assert fields <= own_fields(process), process
        assert not fields & set(Settings.model_fields), process


def test_a_process_reads_its_own_fields_from_the_same_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COUNSEL_GATEWAY_RATE_PER_IP", "7")
    monkeypatch.setenv("COUNSEL_PORTAL_PORT", "8181")
    shared = Settings(env="test")
    assert GatewaySettings.from_settings(shared).gateway_rate_per_ip == 7
    assert PortalSettings.from_settings(shared).portal_port == 8181


def test_a_misspelt_setting_passed_in_code_is_refused_not_silently_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A keyword the class does not declare is a mistake in the caller (a field read by another process, or a
    typo): dropping it would run with the default the caller meant to override."""
    with pytest.raises(ValueError, match="paymnet_provider"):
        GatewaySettings(env="test", paymnet_provider="alipay")  # type: ignore[call-arg]


def test_variables_for_other_processes_in_the_environment_do_not_stop_a_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One environment (a chart's shared Secret, `counsel up`) carries every process's variables."""
    monkeypatch.setenv("COUNSEL_PORTAL_PORT", "8080")
    monkeypatch.setenv("COUNSEL_SOMETHING_RETIRED", "1")
    assert "portal_port" not in GatewaySettings.model_fields
    assert GatewaySettings(env="test").env == "test"
