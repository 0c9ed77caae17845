"""What the screens say is true (issue 19, Looks, items 20-21), checked in the markup and the CSS:
ids unique on every key page (the review page had two ``id="csrf_token"``), the header's role label
readable (AA contrast; it was 2.68:1), case numbers that never break ("CS-/000003"), and a Reviewer's
header that names no location it has nothing to do with."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest

from tests.conftest import soup
from tests.factories import PASSWORD
from webapp.models import Role

CSS_DIR = Path(__file__).resolve().parents[1] / "webapp" / "static" / "css"


# --------------------------------------------------------------------------- contrast helpers
def _luminance(hex_colour: str) -> float:
    """WCAG 2.1 relative luminance of #rgb / #rrggbb."""
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _css() -> str:
    return re.sub(r"/\*.*?\*/", "", (CSS_DIR / "app.css").read_text(), flags=re.S)


def _variables(css: str) -> dict[str, str]:
    root = re.search(r":root\s*\{(.*?)\}", css, re.S).group(1)
    return dict(re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", root))


def _resolve(value: str, variables: dict[str, str]) -> str:
    value = value.strip()
    while m := re.fullmatch(r"var\((--[\w-]+)(?:,[^)]*)?\)", value):
        value = variables[m.group(1)].strip()
    value = {"white": "#ffffff", "#fff": "#ffffff", "black": "#000000"}.get(value, value)
    assert re.fullmatch(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?", value), value
    return value


def _declaration(css: str, selector_part: str, prop: str) -> str:
    """The last ``prop`` declared by a rule whose selector list contains ``selector_part`` (the cascade's winner
    among equal selectors)."""
    found = None
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        if selector_part in [s.strip() for s in selectors.split(",")]:
            m = re.search(rf"(?:^|;)\s*{re.escape(prop)}\s*:\s*([^;]+)", body)
            if m:
                found = m.group(1)
    assert found, f"no {prop} for {selector_part}"
    return found


def test_header_texts_meet_aa_contrast():
    css = _css()
    variables = _variables(css)
    bar = _resolve(_declaration(css, ".topbar", "background"), variables)
    role_label = _resolve(_declaration(css, ".topbar .role-label", "color"), variables)
    text = _resolve(_declaration(css, ".topbar a", "color"), variables)
    assert contrast(role_label, bar) >= 4.5, (role_label, bar, round(contrast(role_label, bar), 2))
    assert contrast(text, bar) >= 4.5
    # Before: the role label took --muted (#5b6673) on #13243a.
    assert contrast(variables["--muted"], bar) < 4.5


def test_role_label_in_the_header_is_the_styled_one(client, auth, world):
    auth.login(world["users"][Role.SERVICE_ADVISOR].email, PASSWORD)
    label = soup(client.get("/")).select_one("header .user-name .role-label")
    assert label is not None and label.get_text(strip=True) == "(Service Advisor)"


# --------------------------------------------------------------------------- unique ids
def _duplicate_ids(response) -> list[str]:
    ids = [el["id"] for el in soup(response).find_all(attrs={"id": True})]
    return [i for i, n in collections.Counter(ids).items() if n > 1]


def test_review_page_has_unique_ids(client, auth, make):
    location = make.location(name="Northside Ford", code="NSF")
    customer = make.customer(location)
    request = make.update_request(location, customer, requested_values={"email": "new@example.com"})
    reviewer = make.user(Role.REVIEWER, None)
    auth.login(reviewer.email, PASSWORD)
    response = client.get(f"/review/update-requests/{request.id}")
    assert response.status_code == 200
    page = soup(response)
    assert len(page.select("form input[name=csrf_token]")) >= 3  # approve, reject (and sign out)
    assert _duplicate_ids(response) == []


KEY_PAGES: dict[Role, list[str]] = {
    Role.SERVICE_ADVISOR: [
        "/",
        "/customers?q=a",
        "/assets?q=a",
        "/cases",
        "/update-requests",
        "/appointments/",
        "/repair-orders/all",
        "/account/password",
    ],
    Role.SERVICE_MANAGER: ["/integrations/", "/integrations/failed/", "/advisors/", "/settings/external-interfaces"],
    Role.REVIEWER: ["/", "/review/update-requests"],
    Role.GLOBAL_ADMIN: [
        "/admin/users",
        "/admin/users/new",
        "/admin/locations",
        "/admin/audit",
        "/integrations/",
        "/review/update-requests",
    ],
    Role.FIELD_MANAGER: ["/", "/cases"],
}


@pytest.mark.parametrize("role", list(KEY_PAGES), ids=lambda r: r.value)
def test_key_pages_have_unique_ids(client, auth, world, role):
    auth.login(world["users"][role].email, PASSWORD)
    for path in KEY_PAGES[role]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert _duplicate_ids(response) == [], path


def test_failed_pushes_with_several_rows_have_unique_ids(client, auth, make):
    """Each row's Retry form rendered the CSRF field with id="csrf_token"."""
    location = make.location(name="Northside Ford", code="NSF")
    customer = make.customer(location)
    for _ in range(2):
        make.failed_push(location, make.appointment(location, customer))
    manager = make.user(Role.SERVICE_MANAGER, location)
    auth.login(manager.email, PASSWORD)
    response = client.get("/integrations/failed/")
    assert len(soup(response).select("tr.failed-push")) == 2
    assert _duplicate_ids(response) == []


# --------------------------------------------------------------------------- case numbers
def test_case_numbers_never_wrap(client, auth, make):
    location = make.location(name="Northside Ford", code="NSF")
    asset = make.asset(location, make.customer(location))
    case = make.case(location, asset)
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    auth.login(advisor.email, PASSWORD)
    cell = soup(client.get("/cases")).select_one(f'tr[data-case-id="{case.id}"] td')
    assert "case-number" in cell["class"] and cell.get_text(strip=True).startswith("CS-")
    assert soup(client.get(f"/cases/{case.id}")).select_one("h1 .case-number")
    assert _declaration(_css(), ".case-number", "white-space").strip() == "nowrap"


# --------------------------------------------------------------------------- the Reviewer's header
def test_reviewer_header_names_no_unrelated_location(client, auth, make):
    """A Reviewer spans every location: the header said the first one by name (here "Alpha Motors"),
    whichever location the request on screen belonged to."""
    make.location(name="Alpha Motors", code="ALPHA")
    zulu = make.location(name="Zulu Trucks", code="ZULU")
    request = make.update_request(zulu, make.customer(zulu))
    reviewer = make.user(Role.REVIEWER, None)
    auth.login(reviewer.email, PASSWORD)
    for path in ("/review/update-requests", f"/review/update-requests/{request.id}"):
        page = soup(client.get(path))
        session = page.select_one("header .session").get_text(" ", strip=True)
        assert "Alpha Motors" not in session, path
        assert page.select_one("header .location-name").get_text(strip=True) == "All locations"
    # The request's own page names its location.
    facts = soup(client.get(f"/review/update-requests/{request.id}")).select_one("dl.facts").get_text(" ", strip=True)
    assert "Zulu Trucks" in facts


def test_location_bound_header_still_names_the_location(client, auth, make):
    location = make.location(name="Northside Ford", code="NSF")
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    auth.login(advisor.email, PASSWORD)
    assert soup(client.get("/")).select_one("header .location-name").get_text(strip=True) == "Northside Ford"
