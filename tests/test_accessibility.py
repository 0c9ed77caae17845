"""Accessibility bars checked on every page of the app, for every role that may open it.

Generated from app.url_map (like the authorization matrix), so a new page is covered the
day it is added: every form control has a label, every htmx request has a loading
indicator that exists, every swapped region that reports status is announced.
"""
from __future__ import annotations

import pytest

from tests.conftest import soup
from tests.factories import PASSWORD
from tests.routes_catalogue import PUBLIC, ROUTE_ROLES, SIGNED
from tests.test_authorization import app_routes, build_url
from webapp.models import Role

HTMX_VERBS = ("hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete")


@pytest.fixture()
def world(make):
    return make.world()


def _html_pages(app, client, world, role):
    """(endpoint, url, page) of every GET page ``role`` may open that answers with HTML."""
    for rule, method in app_routes(app):
        expected = ROUTE_ROLES[rule.endpoint]
        if method != "GET" or expected == SIGNED or rule.endpoint == "auth.logout":
            continue
        if rule.endpoint.startswith("rq_dashboard."):  # rq-dashboard's own pages, not our markup
            continue
        if expected != PUBLIC and role not in expected:
            continue
        url = build_url(app, rule, world)
        response = client.get(url)
        if response.status_code != 200 or not response.mimetype == "text/html":
            continue
        yield rule.endpoint, url, soup(response)


def _labelled(page, control) -> bool:
    control_id = control.get("id")
    if control_id and page.select_one(f'label[for="{control_id}"]'):
        return True
    if control.get("aria-label") or control.get("aria-labelledby") or control.get("title"):
        return True
    return control.find_parent("label") is not None


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_every_page_labels_its_inputs_and_shows_htmx_progress(app, client, auth, world, role):
    assert auth.login(world["users"][role].email, PASSWORD).status_code == 302
    checked = 0
    for endpoint, url, page in _html_pages(app, client, world, role):
        checked += 1
        for control in page.select("input:not([type=hidden]), select, textarea"):
            assert _labelled(page, control), f"{endpoint} {url}: {control} has no label"
        body = page.select_one("body")
        for element in page.select(",".join(f"[{verb}]" for verb in HTMX_VERBS)):
            holder = element if element.has_attr("hx-indicator") else element.find_parent(attrs={"hx-indicator": True})
            indicator = holder.get("hx-indicator") if holder else (body.get("hx-indicator") if body else None)
            assert indicator, f"{endpoint} {url}: {element.name} makes htmx requests without a loading indicator"
            if indicator.startswith("#"):
                assert page.select_one(indicator), f"{endpoint} {url}: indicator {indicator} is missing"
        for element in page.select("[hx-trigger*='every']"):  # polled status regions are announced
            live = element if element.has_attr("aria-live") else element.find_parent(attrs={"aria-live": True})
            assert live or element.get("role") in ("status", "progressbar", "alert"), \
                f"{endpoint} {url}: polled region without aria-live"
    assert checked >= 3, f"{role}: too few pages checked ({checked})"
