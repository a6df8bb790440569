from conftest import AS_OF


def test_demo_store_has_every_table(demo_tables):
    assert len(demo_tables["coachees"]) == 3
    assert demo_tables["applications"]["status"].notna().all()


def test_due_cli_json(cli, demo_store):
    import json

    proc = cli(
        "due", "--coachee", "C001", "--as-of", AS_OF.isoformat(), "--format", "json", db=demo_store.url, check=True
    )
    actions = json.loads(proc.stdout)
    assert {a["coachee_id"] for a in actions} == {"C001"}
