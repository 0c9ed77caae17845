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


def _inherited_target(element):
    """The hx-target a boosted link or form would inherit from its ancestors (htmx's rules:
    the closest ancestor carrying it, unless that ancestor disinherits it), or None."""
    for ancestor in element.parents:
        if ancestor.name is None:
            break
        if ancestor.get("hx-boost") == "false":
            return None
        if ancestor.has_attr("hx-target"):
            disinherit = ancestor.get("hx-disinherit", "")
            if "*" in disinherit.split() or "hx-target" in disinherit.split():
                continue
            return ancestor.get("hx-target")
    return None


@pytest.mark.parametrize("role", [Role.GLOBAL_ADMIN, Role.SERVICE_MANAGER, Role.SERVICE_ADVISOR],
                         ids=lambda r: r.value)
def test_boosted_links_and_forms_replace_the_page_not_a_region(app, client, auth, world, make, role):
    """hx-boost makes every plain link and form an htmx request, which inherits hx-target from
    its ancestors: a link inside a live-results region would load the next page *into* that
    region (a page within the page). Regions that swap themselves must disinherit hx-target."""
    assert auth.login(world["users"][role].email, PASSWORD).status_code == 302
    loc = world["a"]
    customer = make.customer(loc, first_name="Ann", last_name="Able")
    make.asset(loc, customer, vin="1FTFW1ET5DFC10312")
    extra = ["/customers?q=able", "/assets?q=able", "/customers?q=able&tab=dms", "/assets?q=able&tab=dms"]
    pages = list(_html_pages(app, client, world, role))
    pages += [(url, url, soup(client.get(url))) for url in extra]
    wrong: set[str] = set()
    for endpoint, url, page in pages:
        plain = [a for a in page.select("a[href]") if not any(a.has_attr(v) for v in HTMX_VERBS)
                 and not a.get("href", "").startswith(("#", "http", "mailto:")) and not a.has_attr("download")
                 and a.get("target") != "_blank"]
        plain += [f for f in page.select("form") if not any(f.has_attr(v) for v in HTMX_VERBS)]
        for element in plain:
            target = _inherited_target(element)
            if target not in (None, "body"):
                wrong.add(f"{endpoint}: boosted {element.name} {element.get('href') or element.get('action')} "
                          f"would load into {target}")
    assert not wrong, "\n".join(sorted(wrong))
