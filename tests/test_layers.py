"""The layers run one way (README, "Code layout"): every import of every module of webapp/ and
jobs/, inside functions too, read from its source.

    connectors/   imports nothing of ours (tests/connectors/test_records.py)
    core          webapp/models, webapp/domain, webapp/services and the infrastructure modules
                  below: imports core and connectors only
    jobs/         imports core, connectors and jobs
    web           the rest of webapp/ (blueprint packages, search pages, ...): imports core,
                  connectors and web, never jobs (it enqueues jobs by name through a core service)
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CORE_PACKAGES = ("webapp.models", "webapp.domain", "webapp.services")
#: The infrastructure both sides need: the database and Redis handles, settings, the outbox, the
#: after-commit hook, the portal's record kinds, DMS credentials, where files are stored, the log format.
CORE_MODULES = (
    "webapp.after_commit",
    "webapp.config",
    "webapp.credentials",
    "webapp.extensions",
    "webapp.logging_setup",
    "webapp.outbox",
    "webapp.record_kinds",
    "webapp.redis_conn",
    "webapp.storage",
)
#: Entry points, and what each may import beyond its layer's rules: the worker builds the app its
#: jobs run in (``from webapp import create_app``); the runner starts every process, workers included.
ENTRY_POINTS = {
    "jobs.worker": ("webapp",),
    "jobs.scheduler": ("webapp",),
    "webapp.runner": ("jobs.*",),
}
ALLOWED = {
    "core": {"core", "connectors"},
    "jobs": {"core", "connectors", "jobs"},
    "web": {"core", "connectors", "web"},
}


def _in(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer_of(module: str) -> str | None:
    """The layer of one of our modules (None for a module not ours)."""
    if _in(module, "connectors"):
        return "connectors"
    if _in(module, "jobs"):
        return "jobs"
    if any(_in(module, package) for package in CORE_PACKAGES) or any(_in(module, m) for m in CORE_MODULES):
        return "core"
    if _in(module, "webapp"):
        return "web"
    return None


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def module_name(path: Path) -> str:
    """``webapp/search/live.py`` -> ``webapp.search.live``; a package is its ``__init__``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every module ``path`` imports, anywhere in it: ``from a import b`` names ``a.b`` when that is
    a module, else ``a``; relative imports are resolved."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                dotted = f"{base}.{alias.name}"
                found.append((node.lineno, dotted if _is_module(dotted) else base))
    return sorted(set(found))


def our_modules() -> list[Path]:
    return sorted(p for top in ("webapp", "jobs") for p in (ROOT / top).rglob("*.py"))


def _entry_point_may(module: str, imported: str) -> bool:
    return any(
        imported == reach or (reach.endswith(".*") and _in(imported, reach[:-2]))
        for reach in ENTRY_POINTS.get(module, ())
    )


def test_every_import_of_webapp_and_jobs_runs_down_the_layers():
    wrong = []
    for path in our_modules():
        here = module_name(path)
        allowed = ALLOWED[layer_of(here)]
        for line, imported in imports_of(path):
            target = layer_of(imported)
            if target is None or target in allowed:
                continue
            if _entry_point_may(here, imported):
                continue
            wrong.append(f"{path.relative_to(ROOT)}:{line} ({layer_of(here)}) imports {imported} ({target})")
    assert wrong == [], "imports against the layers:\n" + "\n".join(wrong)


def test_only_the_worker_entry_points_build_the_app():
    """``webapp.create_app`` (and with it every blueprint) is built by the entry points alone."""
    builders = [
        module_name(path)
        for path in our_modules()
        if module_name(path).startswith("jobs")
        for _line, imported in imports_of(path)
        if imported == "webapp"
    ]
    assert set(builders) <= {name for name, reach in ENTRY_POINTS.items() if "webapp" in reach}


def test_the_layer_rules_see_what_they_guard():
    """The classification the test relies on: a blueprint package is web, the named core modules
    are core, and imports inside functions and relative imports are read."""
    assert layer_of("webapp.update_requests.routes") == "web"
    assert layer_of("webapp.search") == "web"
    assert layer_of("webapp") == "web"
    assert layer_of("webapp.services.runs") == "core" and layer_of("webapp.outbox") == "core"
    assert layer_of("jobs.pulls") == "jobs" and layer_of("connectors.vendors") == "connectors"
    worker = {name for _line, name in imports_of(ROOT / "jobs" / "worker.py")}
    assert "webapp" in worker  # ``from webapp import create_app`` inside get_app()
    assert not _entry_point_may("jobs.worker", "webapp.background") and _entry_point_may("webapp.runner", "jobs.x")
    models = {name for _line, name in imports_of(ROOT / "webapp" / "models" / "__init__.py")}
    assert "webapp.models.location" in models


JOB_NAME = re.compile(r"^jobs(\.[a-z_][a-z0-9_]*)+$")


def _job_names() -> list[tuple[str, str]]:
    """Every ``"jobs.module.function"`` string of webapp/ (what the web and core enqueue by name)."""
    names = []
    for path in (ROOT / "webapp").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and JOB_NAME.match(node.value):
                if not _is_module(node.value):
                    names.append((str(path.relative_to(ROOT)), node.value))
    return sorted(set(names))


@pytest.mark.parametrize(("where", "name"), _job_names())
def test_every_job_enqueued_by_name_exists(where, name):
    module, _, function = name.rpartition(".")
    assert callable(getattr(importlib.import_module(module), function, None)), f"{where} names {name}"
