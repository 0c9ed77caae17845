"""A pull reads its first page itself and forks its reading process only when more pages follow
(issue 22, many rooftops: most scheduled pulls are one page of a few changes)."""

from __future__ import annotations

import pytest

import jobs.pull_pages
from tests.conftest import dms_settings
from tests.test_pulls import dms_ids, mirror_ids, pull
from webapp.models import RunStatus


@pytest.fixture()
def readers(monkeypatch):
    """The cursors reading processes were started from (the real ones run)."""
    started = []
    real = jobs.pull_pages._from_reading_process

    def recording(vendor, settings, data_type, resume):
        started.append(resume)
        return real(vendor, settings, data_type, resume)

    monkeypatch.setattr("jobs.pull_pages.READER", "process")
    monkeypatch.setattr("jobs.pull_pages._from_reading_process", recording)
    return started


@pytest.fixture()
def location(make, sandbox):
    return make.location(code="ALPHA", **dms_settings(sandbox, "alpha-cdk"))


def test_a_one_page_pull_forks_no_reading_process(app, run_jobs, sandbox, location, readers):
    run = pull(app, run_jobs, location.id, "customers")  # 120 customers, pages of 1,000
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert sorted(mirror_ids(app, location.id, "customers")) == sorted(dms_ids(sandbox, "alpha-cdk", "customers"))
    assert readers == []


def test_a_pull_of_many_pages_reads_the_rest_in_a_process_after_the_first(
    app, run_jobs, sandbox, location, readers, monkeypatch
):
    monkeypatch.setattr("jobs.pull_pages.PAGE_SIZE", 25)
    run = pull(app, run_jobs, location.id, "customers")
    assert run.status == RunStatus.SUCCEEDED, run.error
    mirrored = mirror_ids(app, location.id, "customers")
    assert len(mirrored) == len(set(mirrored)) and set(mirrored) == dms_ids(sandbox, "alpha-cdk", "customers")
    assert run.fetched == 120 and run.created == 120
    assert len(readers) == 1 and readers[0] is not None  # from the first page's cursor, not from the start
