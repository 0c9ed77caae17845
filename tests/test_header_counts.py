"""The header's counts (unread notifications, failed pushes) are queried for a full page only,
not for every fragment htmx swaps in (each type-ahead keystroke, each 2-second poll)."""

from __future__ import annotations

from sqlalchemy import event

from tests.conftest import soup
from tests.test_update_requests import _login
from webapp.extensions import db


def _count_queries(app, client, url, **kwargs) -> tuple[list[str], object]:
    seen: list[str] = []

    def listen(conn, cursor, statement, *args):
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listen)
    try:
        response = client.get(url, **kwargs)
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    return seen, response


def test_a_full_page_counts_once_and_a_fragment_not_at_all(app, client, update_request_shop):
    _login(client, update_request_shop["manager"])
    seen, page = _count_queries(app, client, "/customers")
    assert "Notifications (0)" in soup(page).select_one(".notifications-link").text
    assert sum("FROM notification" in s for s in seen) == 1
    assert sum("FROM outbox_message" in s for s in seen) == 1
    seen, fragment = _count_queries(app, client, "/customers?q=smyth", htmx=True)
    assert fragment.status_code == 200 and "Smyth" in fragment.get_data(as_text=True)
    assert not any("FROM notification" in s or "FROM outbox_message" in s for s in seen)
