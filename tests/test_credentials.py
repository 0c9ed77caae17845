"""DMS credentials at rest: Fernet round trip, key rotation, the data migration, and the
location's connector settings."""

from __future__ import annotations

import json
import os
import stat

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from tests.conftest import dms_settings
from webapp import credentials
from webapp.credentials import CredentialsUnreadable
from webapp.extensions import db
from webapp.models import Location

SECRET = "s3cr3t-value-that-must-not-leak"


def test_round_trip_hides_the_plaintext(app):
    with app.app_context():
        token = credentials.encrypt({"client_id": "dealer-7", "client_secret": SECRET})
        assert SECRET not in token and "dealer-7" not in token
        assert credentials.decrypt(token) == {"client_id": "dealer-7", "client_secret": SECRET}
        # Each encryption is fresh (random IV): equal credentials give different tokens.
        assert credentials.encrypt({"client_secret": SECRET}) != credentials.encrypt({"client_secret": SECRET})


def test_instance_key_is_created_once_and_private(app):
    with app.app_context():
        assert not app.config.get("CREDENTIALS_KEYS")
        keys = credentials.configured_keys()
        key_file = app.config["INSTANCE_DIR"] / credentials.KEY_FILE_NAME
        assert keys == (key_file.read_text().strip(),)
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        assert credentials.configured_keys() == keys  # not regenerated
        Fernet(keys[0].encode())  # a valid Fernet key


def test_location_stores_only_the_token(app, make):
    location = make.location(dms_credentials={"api_key": SECRET})
    with app.app_context():
        raw = db.session.execute(
            text("SELECT dms_credentials FROM location WHERE id = :id"), {"id": location.id}
        ).scalar_one()
        assert raw and SECRET not in raw
        loaded = db.session.get(Location, location.id)
        assert loaded.dms_credentials == {"api_key": SECRET}
        assert SECRET not in repr(loaded)
        loaded.dms_credentials = {}
        assert loaded.dms_credentials_token is None and loaded.dms_credentials == {}


def test_connector_settings_shape_and_default_protocol(app, make):
    location = make.location(
        dms_vendor="reynolds",
        dms_account="r1",
        dms_base_url="http://dms.test",
        dms_credentials={"client_id": "r1", "client_secret": SECRET},
    )
    with app.app_context():
        loaded = db.session.get(Location, location.id)
        assert loaded.dms_protocol is None and loaded.effective_protocol == "star"  # Reynolds' default
        assert loaded.connector_settings() == {
            "protocol": "star",
            "base_url": "http://dms.test",
            "account": "r1",
            "credentials": {"client_id": "r1", "client_secret": SECRET},
            "extract_dir": None,
        }
        loaded.dms_protocol = "console"
        assert loaded.connector_settings()["protocol"] == "console"


def test_connect_dms_reaches_the_sandbox(app, make, sandbox):
    location = make.location(**dms_settings(sandbox, "alpha-cdk"))
    with app.app_context():
        with db.session.get(Location, location.id).connect_dms(5) as dms:
            page = next(iter(dms.iter_changes("customers", page_size=2)))
        assert len(page.records) == 2


def test_rotation_old_key_still_decrypts_then_rotate_re_encrypts(app, make, monkeypatch):
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setitem(app.config, "CREDENTIALS_KEYS", old_key)
    first = make.location(dms_credentials={"api_key": SECRET})
    second = make.location(dms_credentials={"api_key": "another"})
    make.location()  # no credentials: left alone
    with app.app_context():
        before = db.session.get(Location, first.id).dms_credentials_token

    monkeypatch.setitem(app.config, "CREDENTIALS_KEYS", f"{new_key}, {old_key}")
    with app.app_context():
        assert db.session.get(Location, first.id).dms_credentials == {"api_key": SECRET}  # old key decrypts
    result = app.test_cli_runner().invoke(args=["rotate-credentials"])
    assert result.exit_code == 0, result.output
    assert "2 location(s)" in result.output and SECRET not in result.output

    monkeypatch.setitem(app.config, "CREDENTIALS_KEYS", new_key)  # the old key is gone now
    with app.app_context():
        rotated = db.session.get(Location, first.id)
        assert rotated.dms_credentials_token != before
        assert rotated.dms_credentials == {"api_key": SECRET}
        assert db.session.get(Location, second.id).dms_credentials == {"api_key": "another"}


def test_lost_key_is_an_authentication_error_with_a_hint(app, make, monkeypatch):
    import connectors

    monkeypatch.setitem(app.config, "CREDENTIALS_KEYS", Fernet.generate_key().decode())
    location = make.location(dms_credentials={"api_key": SECRET})
    monkeypatch.setitem(app.config, "CREDENTIALS_KEYS", Fernet.generate_key().decode())
    with app.app_context():
        loaded = db.session.get(Location, location.id)
        with pytest.raises(connectors.AuthenticationError) as caught:
            loaded.connect_dms(5)
        assert isinstance(caught.value, CredentialsUnreadable)
        assert "Admin" in caught.value.fix_hint and SECRET not in str(caught.value)
    result = app.test_cli_runner().invoke(args=["rotate-credentials"])
    assert result.exit_code != 0 and location.code in result.output


def test_bad_key_setting_is_refused_without_echoing_it(app, monkeypatch):
    monkeypatch.setitem(app.config, "CREDENTIALS_KEYS", "not-a-fernet-key-" + SECRET)
    with app.app_context(), pytest.raises(ValueError) as caught:
        credentials.encrypt({"api_key": "x"})
    assert SECRET not in str(caught.value)


def test_new_credentials_key_command(app):
    result = app.test_cli_runner().invoke(args=["new-credentials-key"])
    assert result.exit_code == 0
    Fernet(result.output.strip().encode())


@pytest.fixture()
def scratch_sqlite(app, tmp_path):
    """A scratch app on its own SQLite file (the data migration runs on it)."""
    from webapp import create_app

    url = f"sqlite:///{tmp_path / 'credentials-migration.sqlite'}"
    scratch = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": url})
    yield scratch, url
    with scratch.app_context():
        db.engine.dispose()


def test_migration_encrypts_existing_api_keys_and_back(scratch_sqlite):
    """0009 moves dms_api_key into the encrypted column (pinning vendors whose default moved
    off the console dialect to it) and drops the column; downgrade puts the keys back."""
    from flask_migrate import downgrade, upgrade

    scratch, url = scratch_sqlite
    engine = create_engine(url)
    with scratch.app_context():
        upgrade(revision="0008_dms_activity")
        with engine.begin() as conn:
            for code, vendor, key in (("A", "cdk", "key-a"), ("R", "reynolds", "key-r"), ("N", None, None)):
                conn.execute(
                    text(
                        "INSERT INTO location (name, code, timezone, brands, dms_vendor, dms_api_key, cadence_overrides,"
                        " write_back_mode, sync_mode, oem_build_data, related_ro_enabled, case_auto_close_requires_closed_ro,"
                        " is_active, dms_options, created_at, updated_at) VALUES (:code, :code, 'UTC', '[]', :vendor, :key,"
                        " '{}', 'portal_only', 'review', 0, 0, 1, 1, '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"code": code, "vendor": vendor, "key": key},
                )
        upgrade(revision="0009_dms_credentials")
        with engine.connect() as conn:
            rows = {
                code: (protocol, token)
                for code, protocol, token in conn.execute(
                    text("SELECT code, dms_protocol, dms_credentials FROM location")
                )
            }
            columns = {row[1] for row in conn.execute(text("PRAGMA table_info(location)"))}
        assert "dms_api_key" not in columns
        assert credentials.decrypt(rows["A"][1]) == {"api_key": "key-a"} and rows["A"][0] is None
        assert credentials.decrypt(rows["R"][1]) == {"api_key": "key-r"} and rows["R"][0] == "console"
        assert rows["N"] == (None, None)
        assert "key-a" not in rows["A"][1]

        downgrade(revision="0008_dms_activity")
        with engine.connect() as conn:
            keys = dict(conn.execute(text("SELECT code, dms_api_key FROM location")).all())
        assert keys == {"A": "key-a", "R": "key-r", "N": None}
    engine.dispose()


def test_credentials_json_is_compact_and_sorted(app):
    """One canonical plaintext per dict (what rotate/compare rely on)."""
    with app.app_context():
        token = credentials.encrypt({"b": "2", "a": "1"})
        keys = credentials.configured_keys()
        plain = Fernet(keys[0].encode()).decrypt(token.encode())
    assert json.loads(plain) == {"a": "1", "b": "2"} and plain == b'{"a":"1","b":"2"}'
