"""Every action kind is described once, in ``followup_lib.kinds``, and completely:
a label, a priority, a calendar title, its two templates if it is a message, and a
"Mark sent" record that names real columns. No template is left for a kind that
does not exist."""

from __future__ import annotations

import string
from pathlib import Path

import pytest

import followup_lib
from followup_lib.kinds import ACTION_KINDS, KINDS, MESSAGE_KINDS
from followup_lib.logic.rules import ACTION_COLUMNS
from followup_lib.schema import CONTACT_CHANNELS, DATE, TABLES

TEMPLATES = Path(followup_lib.__file__).resolve().parent / "templates"
AUDIENCES = ("employer", "reference", "self")


def test_there_are_kinds_and_templates_to_check():
    assert len(KINDS) >= 9 and set(ACTION_KINDS) == set(KINDS)
    assert MESSAGE_KINDS and set(MESSAGE_KINDS) < set(KINDS)
    assert len(list(TEMPLATES.glob("*.j2"))) >= 2 * len(MESSAGE_KINDS)


@pytest.mark.parametrize("name", list(KINDS))
def test_every_kind_has_a_label_a_priority_and_a_calendar_title(name):
    kind = KINDS[name]
    assert kind.name == name
    assert isinstance(kind.label, str) and kind.label.strip(), f"{name} has no label"
    assert type(kind.priority) is int and kind.priority >= 1, f"{name}: priority {kind.priority!r}"
    assert isinstance(kind.calendar_title, str) and kind.calendar_title.strip(), f"{name} has no calendar title"
    fields = {f for _, f, _, _ in string.Formatter().parse(kind.calendar_title) if f is not None}
    assert fields <= {"recipient", "company"}, f"{name}: the calendar title fills in {fields}"
    assert kind.calendar_title.format(recipient="Priya", company="Northwind")
    assert kind.audience in AUDIENCES, f"{name}: audience {kind.audience!r}"


def test_labels_are_told_apart():
    labels = [k.label for k in KINDS.values()]
    assert len(set(labels)) == len(labels), labels


@pytest.mark.parametrize("name", MESSAGE_KINDS)
def test_every_message_kind_ships_both_templates(name):
    for channel in CONTACT_CHANNELS:  # email and phone
        path = TEMPLATES / f"{name}.{channel}.j2"
        assert path.is_file(), f"{name} is a message but {path.name} is not shipped"
        assert path.read_text(encoding="utf-8").strip(), f"{path.name} is empty"


def test_no_template_for_a_kind_that_does_not_exist_or_sends_nothing():
    for path in sorted(TEMPLATES.iterdir()):
        name, _, rest = path.name.partition(".")
        assert rest in {f"{channel}.j2" for channel in CONTACT_CHANNELS}, f"{path.name}: not KIND.email.j2 or .phone.j2"
        assert name in KINDS, f"{path.name}: no kind {name!r} in followup_lib.kinds"
        assert KINDS[name].needs_message, f"{path.name}: {name} sends no message, so has no draft"


@pytest.mark.parametrize("name", [k for k, v in KINDS.items() if v.sent_records])
def test_what_marking_sent_records_names_real_columns(name):
    for record in KINDS[name].sent_records:
        assert record.table in TABLES, f"{name}: no table {record.table!r}"
        table = TABLES[record.table]
        assert record.column in table.column_names, f"{name}: {record.table} has no column {record.column!r}"
        assert table.column(record.column).kind == DATE, f"{name}: {record.table}.{record.column} is not a date"
        assert record.key, f"{name}: a record with no key"
        for k in record.key:
            assert k in table.column_names, f"{name}: {record.table} has no key column {k!r}"
            assert k in ACTION_COLUMNS, f"{name}: an action carries no {k!r} to find the {record.table} row"
        assert set(record.key) >= set(table.key), f"{name}: {record.key} does not find one {record.table} row"
        for column, value in record.values:
            assert column in table.column_names, f"{name}: {record.table} has no column {column!r}"
            choices = table.column(column).choices
            assert not choices or value in choices, f"{name}: {value!r} is not one of {choices}"


def test_a_kind_that_sends_nothing_records_nothing():
    for name, kind in KINDS.items():
        if not kind.needs_message:
            assert not kind.sent_records, f"{name} sends no message, so nothing can be marked sent"


def test_a_received_rejection_suggests_recording_the_status():
    from followup_lib.kinds import status_to_record

    assert status_to_record("received", "Rejection", "active") == "rejected"
    assert status_to_record("received", "rejection", "offer") == "rejected"
    assert status_to_record("received", "rejection", "rejected") is None
    assert status_to_record("sent", "rejection", "active") is None
    assert status_to_record("received", "update", "active") is None


def test_one_action_id_format_written_and_read_in_one_place(demo_tables):
    """Every action id the rules make on the demo reads back into its parts, and an
    id written from those parts is the same id (one format, in kinds.py)."""
    import pandas as pd

    from followup_lib.kinds import action_id, again_id, parse_action_id
    from followup_lib.logic.rules import due_actions

    actions = due_actions(demo_tables, pd.Timestamp("2026-11-16"))
    assert len(actions) > 10
    for value, kind, app in actions[["action_id", "kind", "application_id"]].itertuples(index=False):
        ref = parse_action_id(value)
        assert (ref.kind, ref.application_id) == (kind, app), value
        made = action_id(ref.kind, ref.application_id, *ref.detail)
        assert (again_id(made) if ref.again else made) == value
        again = parse_action_id(again_id(made))
        assert again.again and again.detail == ref.detail
    # The demo's one-pager that bounced is due again, under its own id.
    assert any(parse_action_id(v).again for v in actions["action_id"])
    assert parse_action_id("") is None and parse_action_id(None) is None and parse_action_id("loose") is None


@pytest.mark.parametrize("typed", ["Offer letter", "offer-letter", " OFFER_LETTER ", "offer \t letter"])
def test_a_typed_message_kind_reads_the_same_one_by_one_and_by_column(typed):
    import pandas as pd

    from followup_lib.kinds import WRITTEN_OFFER, normal_kind, normal_kinds

    assert normal_kind(typed) == WRITTEN_OFFER
    assert normal_kinds(pd.Series([typed, None])).tolist() == [WRITTEN_OFFER, ""]
