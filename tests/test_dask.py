"""``report --all --scheduler``: weekly reports on a real Dask distributed cluster
(a ``LocalCluster`` with a scheduler and two worker processes), with the same
progress bar, failure list and exit code as a local run (issue 12)."""

from __future__ import annotations

import re
import socket

import pytest

from followup_lib.data.demo import load_demo
from followup_lib.data.store import open_store
from followup_lib.errors import ReportError
from followup_lib.paths import safe_name
from followup_lib.reporting import dask_batch
from followup_lib.reporting.batch import run_reports

from builders import AS_OF

distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed (pip install -e '.[dask]')")
pytestmark = [pytest.mark.slow]

WEEK = AS_OF.isoformat()


@pytest.fixture(scope="module")
def store_url(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("dask")
    url = f"sqlite:///{root / 'followup.db'}"
    store = open_store(url)
    try:
        load_demo(store, shift=False)
    finally:
        store.engine.dispose()
    return url


@pytest.fixture(scope="module")
def cluster():
    """A scheduler and two single-threaded worker processes, closed after the module."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
    ) as c:
        yield c


def test_reports_on_the_cluster_one_failure_reported_the_others_written(store_url, cluster, tmp_path, capsys):
    out = tmp_path / "out"
    code = run_reports(store_url, ["C001", "C404", "C002"], WEEK, out, scheduler=cluster.scheduler_address)
    captured = capsys.readouterr()
    assert code == 1
    for cid in ("C001", "C002"):
        html = out / safe_name(cid, f"-weekly-{WEEK}.html")
        assert html.exists() and html.with_suffix(".ipynb").exists(), captured.err
        assert f"{cid}: {html}" in captured.out
    assert not (out / safe_name("C404", f"-weekly-{WEEK}.html")).exists()
    assert re.search(r"C404: FAILED .*no coachee 'C404'", captured.err), captured.err
    # The failed run's notebook is kept, and named, for inspection.
    assert f"(see {out / safe_name('C404', f'-weekly-{WEEK}.ipynb')})" in captured.err
    assert "weekly reports" in captured.err and "3/3" in captured.err  # the same progress bar
    assert f"2 report(s) written to {out.resolve()}" in captured.out


def test_all_succeeding_is_exit_code_zero(store_url, cluster, tmp_path, capsys):
    code = run_reports(store_url, ["C003"], WEEK, tmp_path, scheduler=cluster.scheduler_address)
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / safe_name("C003", f"-weekly-{WEEK}.html")).exists()


def test_an_unreachable_scheduler_is_one_line(store_url, tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    monkeypatch.setattr(dask_batch, "CONNECT_TIMEOUT", "2s")
    with pytest.raises(ReportError, match=rf"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:{port}") as err:
        run_reports(store_url, ["C001", "C002"], WEEK, tmp_path, scheduler=f"tcp://127.0.0.1:{port}")
    assert "\n" not in str(err.value)
    assert not list(tmp_path.glob("*.html"))


def test_without_distributed_the_message_says_what_to_install(store_url, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "distributed", None)
    with pytest.raises(ReportError, match=r"pip install -e '\.\[dask\]'"):
        run_reports(store_url, ["C001", "C002"], WEEK, tmp_path, scheduler="tcp://127.0.0.1:8786")
