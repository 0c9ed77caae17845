"""Work queued on a session runs after its commit, once, and is forgotten with a rollback; a
rolled-back savepoint inside the transaction forgets nothing the rest of it queued."""

from __future__ import annotations

from webapp import after_commit
from webapp.extensions import db
from webapp.models import Location

ran: list[list] = []
after_commit.handler("test.kind")(ran.append)


def test_items_run_after_the_commit_once_each(app):
    ran.clear()
    with app.app_context():
        after_commit.defer(db.session, "test.kind", 1)
        after_commit.defer(db.session, "test.kind", 1)
        after_commit.defer(db.session, "test.kind", 2)
        assert ran == []
        db.session.commit()
        db.session.commit()  # nothing left to run
    assert ran == [[1, 2]]


def test_a_rollback_forgets_them(app, make):
    location = make.location()
    ran.clear()
    with app.app_context():
        db.session.get(Location, location.id).name = "Renamed"
        after_commit.defer(db.session, "test.kind", 3)
        db.session.rollback()
        db.session.commit()
    assert ran == []


def test_a_rolled_back_savepoint_forgets_nothing_of_its_transaction(app, make):
    """The outbox's wakes and the notification e-mails were forgotten by any savepoint rollback
    (SQLAlchemy's after_soft_rollback fires for savepoints too) while the outer work committed."""
    location = make.location()
    ran.clear()
    with app.app_context():
        db.session.get(Location, location.id).name = "Renamed"
        after_commit.defer(db.session, "test.kind", "wake")
        savepoint = db.session.begin_nested()
        savepoint.rollback()
        db.session.commit()
    assert ran == [["wake"]]
