"""``flask seed-demo``: three locations, one user per role, a few hundred customers each."""
from __future__ import annotations

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Asset, Customer, Location, Role, User


def test_seed_demo_loads_and_refuses_twice(app, client):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.test" in result.output
    with app.app_context():
        locations = db.session.scalars(select(Location)).all()
        assert len({loc.dms_vendor for loc in locations}) == 3
        assert {u.role for u in db.session.scalars(select(User))} == set(Role)
        for loc in locations:
            assert db.session.scalar(select(func.count(Customer.id)).where(Customer.location_id == loc.id)) >= 200
            assert db.session.scalar(select(func.count(Asset.id)).where(Asset.location_id == loc.id)) >= 200
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code != 0 and "already has data" in again.output
    for email in ("admin@demo.test", "manager@demo.test", "advisor@demo.test", "fieldmanager@demo.test", "reviewer@demo.test"):
        response = client.post("/login", data={"email": email, "password": "demo-password"})
        assert response.status_code == 302, email
        client.post("/logout")


def test_create_user_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "--email", "Boss@Example.test", "--name", "Boss"], input="a long enough password\na long enough password\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "boss@example.test"))
        assert user.role == Role.GLOBAL_ADMIN and user.password_hash.startswith("$argon2id$")
