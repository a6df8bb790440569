"""The practice's commands through the CLI, as a coach types them: copy-store (and
its refusals), settings --suggest, report --format and --scheduler."""

from __future__ import annotations

import socket

import pytest

from followup_lib.data.store import open_store
from followup_lib.data.transfer import export_store
from followup_lib.paths import safe_name

from builders import AS_OF
from conftest import store_data


def exported(url: str, dest) -> dict[str, bytes]:
    store = open_store(url, create=False)
    try:
        export_store(store, dest)
    finally:
        store.engine.dispose()
    return {p.name: p.read_bytes() for p in sorted(dest.iterdir())}


def test_copy_store_moves_the_practice_and_the_exports_agree(followup, demo_store, store_url, tmp_path):
    result = followup("copy-store", "--to", store_url, db=demo_store.url)
    assert result.returncode == 0, result.stderr
    assert "rows into" in result.stdout and "coachees: 3" in result.stdout
    assert "password" not in result.stdout
    assert exported(store_url, tmp_path / "target") == exported(demo_store.url, tmp_path / "source")


def test_copy_store_refuses_a_target_with_data(followup, demo_store, tmp_path):
    target = f"sqlite:///{tmp_path / 'full.db'}"
    assert followup("copy-store", "--to", target, db=demo_store.url).returncode == 0
    before = store_data(target)
    again = followup("copy-store", "--to", target, db=demo_store.url)
    assert again.returncode == 2 and "not empty" in again.stderr and "Traceback" not in again.stderr
    assert store_data(target) == before


def test_copy_store_is_for_the_whole_store_not_one_coach(followup, demo_store, tmp_path):
    result = followup(
        "--coach", "Dana Reyes", "copy-store", "--to", f"sqlite:///{tmp_path / 'x.db'}", db=demo_store.url
    )
    assert result.returncode == 2 and "whole store" in result.stderr
    assert not (tmp_path / "x.db").exists()


def test_copy_store_hides_a_password_in_its_messages(followup, demo_store):
    url = "postgresql+psycopg://dana:s3cret@127.0.0.1:1/nowhere"
    result = followup("copy-store", "--to", url, db=demo_store.url)
    assert result.returncode in (1, 2) and "Traceback" not in result.stderr
    assert "s3cret" not in result.stderr + result.stdout


def test_settings_suggest_says_how_many_cases_it_rests_on(followup, demo_store):
    result = followup("settings", "--suggest", "--as-of", AS_OF.isoformat(), db=demo_store.url)
    assert result.returncode == 0, result.stderr
    # The demo has few late answers: no suggestion, and the current setting named.
    assert "at least 20" in result.stdout and "grace_business_days = 2" in result.stdout


def test_report_scheduler_that_does_not_answer_is_one_line(followup, demo_store, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = followup(
        "report",
        "--coachee",
        "C001",
        "--week-ending",
        AS_OF.isoformat(),
        "--out",
        str(tmp_path / "reports"),
        "--scheduler",
        f"tcp://127.0.0.1:{port}",
        db=demo_store.url,
    )
    assert result.returncode == 1 and "Dask scheduler" in result.stderr and "Traceback" not in result.stderr
    assert "connection refused" in result.stderr  # said at once, not after Dask's 15 s of retries
    assert not list((tmp_path / "reports").glob("*"))


def test_a_scheduler_address_is_refused_at_once_only_when_nothing_listens():
    from followup_lib.reporting.dask_batch import _refused

    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert _refused(f"tcp://127.0.0.1:{port}") == ""  # something answers: Dask decides
    assert f"nothing listens on port {port}" in _refused(f"tcp://127.0.0.1:{port}")
    for other in ("tls://127.0.0.1:1", "inproc://x", "tcp://127.0.0.1", "tcp://127.0.0.1:99999", "nonsense"):
        assert _refused(other) == "", other


@pytest.mark.browser
def test_report_format_pdf_through_the_cli(followup, demo_store, tmp_path):
    from builders import require_chromium

    require_chromium()
    result = followup(
        "report",
        "--coachee",
        "C002",
        "--week-ending",
        AS_OF.isoformat(),
        "--out",
        str(tmp_path),
        "--format",
        "pdf",
        db=demo_store.url,
    )
    assert result.returncode == 0, result.stderr
    pdf = tmp_path / safe_name("C002", f"-weekly-{AS_OF.isoformat()}.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert not (tmp_path / safe_name("C002", f"-weekly-{AS_OF.isoformat()}.html")).exists()


def test_report_format_is_checked(followup, demo_store, tmp_path):
    result = followup("report", "--coachee", "C001", "--format", "docx", db=demo_store.url)
    assert result.returncode == 2 and "docx" in result.stderr
