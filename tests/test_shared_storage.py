"""No state on one machine's disk that another needs (issue 22): the files of an install live under
one storage setting, ``STORAGE_DIR``, which a multi-machine install points at shared storage.

Two console instances with instance folders of their own and the same ``STORAGE_DIR`` see the same
screenshot; a worker process started elsewhere (another working directory, instance folder and
mount point of the storage) imports the daily file dropped in a location's folder under it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import CsrfClient, dms_settings
from tests.factories import PASSWORD, screenshot_png
from tests.worker_process import ROOT, worker_env
from webapp import create_app, uploads
from webapp.credentials import configured_keys
from webapp.extensions import db
from webapp.models import Location, Role, RunStatus, RunTrigger, SyncRun, UpdateRequest


def console_on(app, instance_dir):
    """Another console process's app: its own instance folder, the test database and Redis, and the
    ``STORAGE_DIR`` of the environment (as ``Config`` reads it)."""
    settings = {key: value for key, value in app.config.items() if key != "STORAGE_DIR"}
    other = create_app({**settings, "INSTANCE_DIR": instance_dir})
    other.test_client_class = CsrfClient
    return other


@pytest.fixture()
def two_consoles(app, tmp_path, monkeypatch):
    shared = tmp_path / "shared-storage"
    monkeypatch.setenv("STORAGE_DIR", str(shared))
    consoles = [console_on(app, tmp_path / "host-a" / "instance"), console_on(app, tmp_path / "host-b" / "instance")]
    yield shared, consoles
    for other in consoles:
        with other.app_context():
            db.engine.dispose()  # no idle connection may outlive the test (PostgreSQL TRUNCATE)


def _login(client, user) -> None:
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302


def test_a_screenshot_uploaded_on_one_console_is_shown_by_another(app, make, tmp_path, two_consoles):
    shared, (host_a, host_b) = two_consoles
    assert host_a.config["STORAGE_DIR"] == host_b.config["STORAGE_DIR"] == str(shared)
    location = make.location(name="Alpha Motors", code="ALPHA", dms_vendor="dealertrack")
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    reviewer = make.user(Role.REVIEWER, None)
    customer = make.customer(location, first_name="Jon", last_name="Smyth", dms_id="C-100")

    on_a = host_a.test_client()
    _login(on_a, advisor)
    response = on_a.post(
        f"/customers/{customer.id}/update-request",
        data={
            "screenshot": (io.BytesIO(screenshot_png()), "dms.png", "image/png"),
            "update_name": "y",
            "first_name": "John",
            "last_name": "Smith",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    with app.app_context():
        row = db.session.scalars(select(UpdateRequest)).one()
        name = row.screenshot_name
    stored = shared / "update_requests" / name
    assert stored.is_file()
    assert not list((tmp_path / "host-a").rglob(name)) and not list((tmp_path / "host-b").rglob(name))

    on_b = host_b.test_client()
    _login(on_b, reviewer)
    shown = on_b.get(f"/review/update-requests/{row.id}/screenshot")
    assert shown.status_code == 200 and shown.headers["Content-Type"] == "image/png"
    assert shown.get_data() == stored.read_bytes()

    # A console with the storage elsewhere (its instance folder, the default) does not have it.
    elsewhere = console_on(app, tmp_path / "host-c" / "instance")
    elsewhere.config["STORAGE_DIR"] = ""
    try:
        on_c = elsewhere.test_client()
        _login(on_c, reviewer)
        assert on_c.get(f"/review/update-requests/{row.id}/screenshot").status_code == 404
    finally:
        with elsewhere.app_context():
            db.engine.dispose()


def test_without_the_setting_screenshots_stay_where_they_always_were(app):
    """An upgraded install keeps reading its screenshots from <instance>/uploads/update_requests."""
    assert not app.config["STORAGE_DIR"]
    with app.test_request_context():
        assert uploads.upload_dir() == app.config["INSTANCE_DIR"] / "uploads" / "update_requests"


def test_a_worker_elsewhere_imports_the_daily_file_dropped_under_the_storage(app, make, sandbox, tmp_path, monkeypatch):
    shared = tmp_path / "shared-storage"
    # The dispatching machine mounts the storage here; the worker's machine elsewhere (a symlink).
    mounted_elsewhere = tmp_path / "mnt" / "console-storage"
    mounted_elsewhere.parent.mkdir()
    mounted_elsewhere.symlink_to(shared, target_is_directory=True)
    location = make.location(
        name="Alpha Ford", code="ALPHA", **{**dms_settings(sandbox, "alpha-cdk"), "dms_extract_dir": "alpha-ford"}
    )
    dropped = sandbox.control.write_extract("alpha-cdk", "customers", directory=shared / "daily_files" / "alpha-ford")

    monkeypatch.setitem(app.config, "STORAGE_DIR", str(shared))
    with app.app_context():
        from jobs.extracts import enqueue_import_if_new

        run = enqueue_import_if_new(db.session.get(Location, location.id), "customers")
        assert run is not None and run.cursor_before == dropped.name
        run_id = run.id
        key = configured_keys(app)[0]

    cwd = tmp_path / "worker-host" / "cwd"
    cwd.mkdir(parents=True)
    env = worker_env(
        app,
        {
            "INSTANCE_PATH": str(tmp_path / "worker-host" / "instance"),
            "STORAGE_DIR": str(mounted_elsewhere),
            "CREDENTIALS_KEYS": key,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        },
    )
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    with open(ROOT / "test-artifacts" / "shared_storage_worker.log", "ab") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "jobs.worker", "--burst", "pulls"],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert worker.wait(timeout=120) == 0
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, 9)
            worker.wait(timeout=10)

    with app.app_context():
        run = db.session.get(SyncRun, run_id)
        assert run.trigger == RunTrigger.FILE
        assert run.status == RunStatus.SUCCEEDED, (run.error, run.fix_hint)
        assert run.fetched == 120 and run.cursor_after == dropped.name
        assert not (tmp_path / "worker-host" / "instance" / "uploads").exists()


@pytest.mark.parametrize(("folder", "saved"), [("northside", True), ("/srv/drops/northside", True), ("../etc", False)])
def test_the_admin_gives_a_drop_folder_by_name_under_the_storage(app, client, make, folder, saved):
    """Admin → Locations takes a folder name (under STORAGE_DIR/daily_files) or a full path, never a
    name that climbs out of the storage."""
    admin = make.user(Role.GLOBAL_ADMIN)
    _login(client, admin)
    response = client.post(
        "/admin/locations/new",
        data={
            "name": "Eastside",
            "code": "EST",
            "timezone": "America/New_York",
            "is_active": "y",
            "dms_vendor": "cdk",
            "dms_protocol": "console",
            "dms_fields_for": "console",
            "dms_base_url": "http://dms.test",
            "dms_account": "est-1",
            "dms_extract_dir": folder,
            "cred_api_key": "typed-secret",
        },
    )
    with app.app_context():
        location = db.session.scalar(select(Location).where(Location.code == "EST"))
        if not saved:
            assert response.status_code == 422 and location is None
            assert "without “..”" in response.get_data(as_text=True)
            return
        assert response.status_code == 303 and location.dms_extract_dir == folder
        seen = location.connector_settings()["extract_dir"]
    expected = (
        Path(folder) if folder.startswith("/") else app.config["INSTANCE_DIR"] / "uploads" / "daily_files" / folder
    )
    assert seen == expected
