"""Template helpers (filters, globals, context processors) are registered in one module,
webapp/template_filters.py, and no name is registered twice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from jinja2.defaults import DEFAULT_FILTERS, DEFAULT_NAMESPACE

from webapp import template_filters
from webapp.models import Role

WEBAPP = Path(__file__).resolve().parent.parent / "webapp"
REGISTRATION = re.compile(
    r"\.(app_|add_)?template_(filter|global|test)\(|context_processor|jinja_env\.(filters|globals|tests)"
)
#: What Flask puts in every template's namespace itself.
FLASK_GLOBALS = {"url_for", "get_flashed_messages", "config", "request", "session", "g"}


def test_only_template_filters_registers_template_helpers():
    offenders = [
        f"{path.relative_to(WEBAPP.parent)}:{number}: {line.strip()}"
        for path in sorted(WEBAPP.rglob("*.py"))
        if path.name != "template_filters.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if REGISTRATION.search(line)
    ]
    assert offenders == []


def test_the_factory_registers_them_once():
    factory = (WEBAPP / "__init__.py").read_text()
    calls = [
        path for path in WEBAPP.rglob("*.py") for _ in re.finditer(r"template_filters\.init_app\(", path.read_text())
    ]
    assert calls == [WEBAPP / "__init__.py"] and "template_filters.init_app(app)" in factory


def test_every_webapp_helper_the_templates_see_comes_from_the_one_table(app):
    ours_filters = template_filters.filters()
    ours_globals = template_filters.template_globals(app)
    for table, ours in ((app.jinja_env.filters, ours_filters), (app.jinja_env.globals, ours_globals)):
        from_webapp = {
            name
            for name, value in table.items()
            if (getattr(value, "__module__", None) or "").startswith("webapp") and callable(value)
        }
        assert from_webapp <= set(ours), from_webapp - set(ours)
        for name, value in ours.items():
            if callable(value):
                assert table[name] is value, name
    processors = [p for funcs in app.template_context_processors.values() for p in funcs]
    ours_processors = [p for p in processors if p.__module__.startswith("webapp")]
    assert ours_processors == list(template_filters.CONTEXT_PROCESSORS)
    per_blueprint = [f for key, funcs in app.template_context_processors.items() if key for f in funcs]
    assert not [f for f in per_blueprint if f.__module__.startswith("webapp")]


def test_no_name_is_taken_twice(app, make):
    """Our filters shadow no Jinja filter; our globals shadow nothing Jinja or Flask provides; no two
    context processors (ours or the extensions') give the same name, nor one a global's name."""
    assert not set(template_filters.filters()) & set(DEFAULT_FILTERS)
    ours_globals = set(template_filters.template_globals(app))
    assert not ours_globals & (set(DEFAULT_NAMESPACE) | FLASK_GLOBALS)

    location = make.location()
    admin = make.user(Role.GLOBAL_ADMIN, location)
    with app.test_request_context("/"):
        from flask_login import login_user

        from webapp.extensions import db
        from webapp.models import User

        login_user(db.session.get(User, admin.id))
        given: dict[str, str] = {}
        for processor in app.template_context_processors[None]:
            names = processor()
            assert names is not None
            for name in names:
                assert name not in given, f"{name!r} comes from {given[name]} and {processor.__qualname__}"
                given[name] = processor.__qualname__
        ours_processors = {name for name, source in given.items() if source in {"navigation_context", "header_counts"}}
        assert ours_processors >= {"nav_main", "current_location", "failed_push_count", "notification_count"}
    assert not set(given) & ours_globals
    assert not set(given) & set(DEFAULT_NAMESPACE)
    assert {"g", "request", "current_user", "csrf_token"} <= set(given)  # the extensions' were asked too


def test_a_second_registration_of_a_name_is_refused(app):
    from webapp import create_app

    fresh = create_app(dict(app.config))
    with pytest.raises(RuntimeError, match="registered twice"):
        template_filters.init_app(fresh)


def test_customer_link_is_the_one_customer_page_helper(app):
    templates = WEBAPP / "templates"
    texts = "\n".join(path.read_text() for path in templates.rglob("*.html"))
    assert "customer_page_url" not in texts and "customer_link(" in texts
    assert "customer_page_url" not in app.jinja_env.globals
