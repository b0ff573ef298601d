"""No service imports another (docs/architecture.md, "Boundaries"): a service talks to another over gRPC or
listens to its events. `services.runtime` (the kit every service runs on) and the shared domain packages
(pure words and rules several services use) are not services, so anyone may import them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"
NOT_SERVICES = {"runtime", "legal_fields", "rules", "next_purchase"}

pytestmark = pytest.mark.unit


def imported_packages(source: Path) -> set[str]:
    """The `services.<package>` each import statement of the module names."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), str(source))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return {name.split(".")[1] for name in names if name.startswith("services.") and name.count(".") >= 1}


def test_no_service_imports_another() -> None:
    crossings = []
    for module in sorted(SERVICES.rglob("*.py")):
        owner = module.relative_to(SERVICES).parts[0]
        if owner in NOT_SERVICES or not (SERVICES / owner).is_dir():
            continue
        crossings.extend(
            f"{module.relative_to(SERVICES.parent)} imports services.{other}"
            for other in imported_packages(module) - NOT_SERVICES - {owner}
        )
    assert not crossings, "a service imports another:\n" + "\n".join(crossings)


def test_the_shared_packages_import_no_service() -> None:
    crossings = [
        f"{module.relative_to(SERVICES.parent)} imports services.{other}"
        for package in NOT_SERVICES
        for module in sorted((SERVICES / package).rglob("*.py"))
        for other in imported_packages(module) - NOT_SERVICES
    ]
    assert not crossings, "a shared package depends on a service:\n" + "\n".join(crossings)


def test_the_check_sees_an_import_across_services(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import services.consultation.seed\nfrom services import documents\n")
    assert imported_packages(module) == {"consultation", "documents"}
