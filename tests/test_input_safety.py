"""NUL characters in query strings, form fields, URL paths and webhook JSON (issue 20, item 6).

psycopg refuses NUL in text, so without webapp/input_safety.py a ``%00`` in a search or a
form field answers 500 on PostgreSQL (run this file with DATABASE_URL set to check that).
"""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import soup
from tests.factories import PASSWORD
from tests.routes_catalogue import ROUTE_ROLES, SIGNED, app_routes, build_url
from webapp.extensions import db
from webapp.models import Location, Role

NUL_VALUE = "x\x00y"
# Query parameters the list and search pages read, each with a NUL.
QUERY = "q=Sm%00ith&page=1%00&status=%00open&sort=name%00&next=/%00&data_type=cust%00omers&tab=dms%00"


def _form_field_names(html: str) -> set[str]:
    """The names of every input, select and textarea of a page."""
    page = soup_of(html)
    return {
        tag["name"] for tag in page.select("input[name], select[name], textarea[name]") if tag["name"] != "csrf_token"
    }


def soup_of(html: str):
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser")


def test_nul_anywhere_in_any_route_is_never_a_server_error(app, client, auth, world):
    """Every catalogued route, as a Global Admin (who may open all of them): a NUL in the query
    string of every GET and in every form field of every POST answers below 500 — on PostgreSQL
    that means nothing with a NUL reached the database. (The hook runs before every view, htmx
    or not, so plain requests cover both.)"""
    auth.login(world["users"][Role.GLOBAL_ADMIN].email, PASSWORD)
    field_names: set[str] = {"q", "name", "email", "note", "notes", "description", "reason", "location_id"}
    posts = []
    checked = 0
    for rule, method in app_routes(app):
        if rule.endpoint == "auth.logout" or ROUTE_ROLES[rule.endpoint] == SIGNED:
            continue
        url = build_url(app, rule, world)
        if method == "GET":
            response = client.get(f"{url}?{QUERY}")
            assert response.status_code < 500, (rule.endpoint, response.status_code)
            if response.mimetype == "text/html":
                field_names |= _form_field_names(response.get_data(as_text=True))
            checked += 1
        else:
            posts.append((rule, method, url))
    for rule, method, url in posts:
        data = {name: NUL_VALUE for name in field_names}
        response = client.open(url, method=method, data=data)
        assert response.status_code < 500, (rule.endpoint, method, response.status_code)
        checked += 1
    assert checked >= 60 and len(posts) >= 20, (checked, len(posts))
    assert len(field_names) > 20  # the forms of the app were really found and filled


def test_search_with_nul_keeps_the_rest_of_the_term(app, client, auth, make):
    """A NUL is removed, not the search: ``Sm%00ith`` finds Smith."""
    location = make.location()
    make.customer(location, first_name="Wanda", last_name="Smith")
    auth.login(make.user(Role.SERVICE_ADVISOR, location).email, PASSWORD)
    response = client.get("/customers?q=Sm%00ith")
    assert response.status_code == 200
    assert "Smith" in soup(response).select_one("main").get_text()
    assert client.get("/customers?q=%00").status_code == 200


def test_form_field_with_nul_is_saved_without_it(app, client, auth, make):
    """A form accepts the value and stores it without the NUL (nothing else is lost)."""
    admin = make.user(Role.GLOBAL_ADMIN, None)
    auth.login(admin.email, PASSWORD)
    page = client.get("/admin/locations/new")
    form = soup(page).select_one("form[method=post]")
    data = {tag["name"]: tag.get("value", "") for tag in form.select("input[name]") if tag.get("type") != "checkbox"}
    data.update(
        {
            "name": "Gamma\x00 Ford",
            "code": "GAM\x00MA",
            "timezone": "America/Chicago",
            "dms_vendor": "",
            "brand_list": "Ford\x00",
            "is_active": "y",
        }
    )
    response = client.post("/admin/locations/new", data=data)
    assert response.status_code in (302, 303), soup(response).get_text()[:500]
    with app.app_context():
        saved = db.session.scalar(select(Location).where(Location.code == "GAMMA"))
        assert saved is not None and saved.name == "Gamma Ford" and saved.brands == ["Ford"]


def test_nul_in_a_url_path_segment_is_404(client, auth, world):
    auth.login(world["users"][Role.GLOBAL_ADMIN].email, PASSWORD)
    assert client.post("/integrations/webhooks/ALPHA%00", data=b"{}", csrf=False).status_code == 404


def test_nul_in_form_field_names_and_repeated_values(app, client, auth, make):
    """Every value of a repeated field and the field names are cleaned too."""
    from werkzeug.datastructures import ImmutableMultiDict

    from webapp.input_safety import _cleaned

    data = ImmutableMultiDict([("a\x00", "1"), ("tag", "x\x00"), ("tag", "y\x00z"), ("plain", "ok")])
    cleaned = _cleaned(data)
    assert isinstance(cleaned, ImmutableMultiDict)
    assert cleaned.getlist("tag") == ["x", "yz"] and cleaned["a"] == "1" and cleaned["plain"] == "ok"
    assert _cleaned(ImmutableMultiDict([("a", "b")])) is None  # untouched when clean


def test_contains_nul_walks_deep_documents_without_recursion():
    from webapp.input_safety import contains_nul

    deep: list = []
    node = deep
    for _ in range(50_000):
        child: list = []
        node.append(child)
        node = child
    node.append("a\x00")
    assert contains_nul(deep)
    assert contains_nul({"k\x00": 1}) and not contains_nul({"k": ["v", 1, None, {"x": "y"}]})
