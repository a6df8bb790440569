import json
import subprocess
import sys
from pathlib import Path

from builders import AS_OF, run_cli


def test_demo_store_has_every_table(demo_tables):
    assert len(demo_tables["coachees"]) == 3
    assert demo_tables["applications"]["status"].notna().all()


def test_due_cli_json(demo_store):
    # A real process, on purpose: the installed ``followup`` entry point starts, reads
    # the store and prints JSON a script can parse (other command tests run ``main``
    # in this process).
    proc = run_cli(
        "due", "--coachee", "C001", "--as-of", AS_OF.isoformat(), "--format", "json", db=demo_store.url, check=True
    )
    actions = json.loads(proc.stdout)
    assert {a["coachee_id"] for a in actions} == {"C001"}


def test_due_into_a_pipe_closed_early_is_not_an_error(demo_store):
    # A real process, on purpose: ``followup due --all | head`` where the reader
    # leaves before anything is written. Only a real pipe shows the exit code and
    # stderr a shell would.
    exe = Path(sys.executable).with_name("followup")
    cmd = [str(exe), "--db", demo_store.url, "due", "--all", "--as-of", AS_OF.isoformat()]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # long before the command has started, let alone printed
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0, err
    assert err == ""
