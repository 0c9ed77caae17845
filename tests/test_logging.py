"""Logging (webapp/logging_setup.py): one key=value line per record, with the request id (taken
from X-Request-ID or made, and echoed), the user's location, and the job fields workers set."""

from __future__ import annotations

import logging
import re

import pytest

from tests.factories import PASSWORD
from webapp import logging_setup
from webapp.logging_setup import configure_logging, log_context
from webapp.models import Role


def access_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if "logger=webapp.access" in line]


def fields(line: str) -> dict[str, str]:
    """``key=value`` / ``key="quoted value"`` pairs of one line."""
    return {
        key: quoted[1:-1] if quoted else plain for key, quoted, plain in re.findall(r'(\w+)=(?:("[^"]*")|(\S+))', line)
    }


@pytest.fixture()
def restore_logging():
    """Tests that rename the process or change the level put them back."""
    name, level = logging_setup._process_name, logging.getLogger().level
    yield
    configure_logging(name, logging.getLevelName(level))


def test_a_request_logs_with_its_request_id_and_echoes_it(client, capsys):
    response = client.get("/login", headers={"X-Request-ID": "edge-7f3a.42"})
    assert response.headers["X-Request-ID"] == "edge-7f3a.42"
    lines = access_lines(capsys.readouterr().err)
    assert len(lines) == 1
    line = fields(lines[0])
    assert line["request_id"] == "edge-7f3a.42"
    assert line["process"] == "web" and line["level"] == "INFO"
    assert line["message"].startswith("GET /login 200 ")
    assert list(line)[:5] == ["time", "level", "process", "logger", "request_id"]


def test_a_request_without_an_id_gets_a_new_one_per_request(client, capsys):
    first, second = client.get("/login"), client.get("/login")
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", request_id) for request_id in ids) and ids[0] != ids[1]
    assert [fields(line)["request_id"] for line in access_lines(capsys.readouterr().err)] == ids


@pytest.mark.parametrize("given", ["two words", "x" * 129, "a\u00e9b", "<script>"])
def test_an_unusable_incoming_id_is_replaced(client, given):
    response = client.get("/login", headers={"X-Request-ID": given})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_a_signed_in_request_logs_the_users_location(client, auth, make, capsys):
    location = make.location()
    advisor = make.user(Role.SERVICE_ADVISOR, location)
    auth.login(advisor.email, PASSWORD)
    capsys.readouterr()
    client.get("/customers", headers={"X-Request-ID": "with-location"})
    (line,) = access_lines(capsys.readouterr().err)
    assert fields(line)["request_id"] == "with-location"
    assert fields(line)["location_id"] == str(location.id)


def test_the_query_string_stays_out_of_the_access_line(client, capsys):
    client.get("/login?next=/customers%3Fq%3Dsmith")
    (line,) = access_lines(capsys.readouterr().err)
    assert "smith" not in line and fields(line)["message"].startswith("GET /login 200")


def test_an_errors_log_line_carries_the_request_id(app, capsys):
    from tests.conftest import CsrfClient
    from webapp import create_app
    from webapp.permissions import public

    fresh = create_app({**app.config, "PROPAGATE_EXCEPTIONS": False})

    @public
    def boom():
        raise RuntimeError("broken on purpose")

    fresh.add_url_rule("/__boom", "boom_for_test", boom)
    fresh.test_client_class = CsrfClient
    assert fresh.test_client().get("/__boom", headers={"X-Request-ID": "boom-1"}).status_code == 500
    errors = [line for line in capsys.readouterr().err.splitlines() if "level=ERROR" in line]
    assert len(errors) == 1
    assert fields(errors[0])["request_id"] == "boom-1"
    assert "RuntimeError: broken on purpose" in errors[0]  # the traceback, escaped onto the same line


def test_jobs_log_with_their_job_and_location(capsys, restore_logging):
    configure_logging("worker")
    log = logging.getLogger("jobs.test")
    with log_context(job_id="pull-123", location_id=7):
        log.info("pulled %d customers", 5)
        with log_context(location_id=8):
            log.warning("inner")
    log.info("after")
    lines = [fields(line) for line in capsys.readouterr().err.splitlines() if "logger=jobs.test" in line]
    assert [(line["process"], line.get("job_id"), line.get("location_id"), line["message"]) for line in lines] == [
        ("worker", "pull-123", "7", "pulled 5 customers"),
        ("worker", "pull-123", "8", "inner"),
        ("worker", None, None, "after"),
    ]


def test_the_level_comes_from_log_level(monkeypatch, capsys, restore_logging):
    monkeypatch.setenv("LOG_LEVEL", "warning")
    configure_logging("scheduler")
    log = logging.getLogger("jobs.level_test")
    log.info("hidden")
    log.warning("shown")
    text = capsys.readouterr().err
    assert "hidden" not in text and "message=shown" in text and "process=scheduler" in text
    assert len(logging.getLogger().handlers) == len(set(logging.getLogger().handlers))
    assert sum(isinstance(h, logging_setup._StderrHandler) for h in logging.getLogger().handlers) == 1


def test_a_real_workers_job_logs_with_its_job_id_and_location(app, make, run_jobs, capsys, restore_logging):
    """jobs/worker.py: each job's lines carry its id and, for a job of one location, that location's
    id, found from the job's argument (a push delivery) or the row it names (a sync run)."""
    from webapp.models import RunStatus
    from webapp.outbox import DELIVERY_JOB
    from webapp.services.queues import MAINTENANCE, PULLS, PUSHES, get_queue
    from webapp.services.runs import PULL_JOB

    configure_logging("worker")  # as python -m jobs.worker does
    location, other = make.location(), make.location()
    finished = make.sync_run(other, status=RunStatus.SUCCEEDED)  # its job finds it done and does nothing
    with app.app_context():
        get_queue(PUSHES).enqueue(DELIVERY_JOB, location.id, job_id="log-test-delivery")
        get_queue(PULLS).enqueue(PULL_JOB, finished.id, job_id="log-test-pull")
        get_queue(MAINTENANCE).enqueue("jobs.housekeeping.record_scheduler_heartbeat", job_id="log-test-heartbeat")
    capsys.readouterr()
    run_jobs([PUSHES, PULLS, MAINTENANCE])

    lines = [fields(line) for line in capsys.readouterr().err.splitlines()]
    done = {line["job_id"]: line for line in lines if "Job OK" in line.get("message", "")}
    assert set(done) == {"log-test-delivery", "log-test-pull", "log-test-heartbeat"}
    assert done["log-test-delivery"]["location_id"] == str(location.id)
    assert done["log-test-pull"]["location_id"] == str(other.id)
    assert "location_id" not in done["log-test-heartbeat"]
    assert {line["process"] for line in done.values()} == {"worker"}
    # The worker's own lines outside its jobs carry no job id.
    (quitting,) = [line for line in lines if line.get("logger") == "rq.worker" and "done, quitting" in line["message"]]
    assert "job_id" not in quitting and "location_id" not in quitting
