"""The labelled corpus (tests/fixtures/mail: replies shaped like Gmail, Outlook,
Apple Mail, iPhone, Thunderbird and Yahoo messages, out-of-office replies, bounces,
ATS notifications, calendar invitations; labels.csv says what a careful person
would log): precision and recall of what ``followup mail`` would log, and each
message's application and kind."""

from __future__ import annotations

import csv

from followup_lib.faces.mail import read_mail

from builders import FIXTURES

CORPUS = FIXTURES / "mail"


def test_the_corpus_is_logged_as_a_careful_person_would(demo_store):
    labels = {r["file"]: r for r in csv.DictReader(open(CORPUS / "labels.csv", encoding="utf-8"))}
    result, summary = read_mail(demo_store, "C001", CORPUS / "corpus")
    assert "skipped" not in summary
    logged = {p.where: p for p in result.proposals if p.writes}
    shown = {p.where: p for p in result.proposals}
    to_log = {f for f, r in labels.items() if r["application_id"]}
    right = {f for f, p in logged.items() if labels[f]["application_id"] == p.application_id}
    precision, recall = len(right) / max(1, len(logged)), len(right) / len(to_log)
    wrong = {f: (p.application_id, p.kind) for f, p in logged.items() if f not in right}
    missed = {f: (shown[f].status, shown[f].why) if f in shown else "not shown" for f in to_log - right}
    assert (precision, recall) == (1.0, 1.0), (wrong, missed)
    for f, p in logged.items():
        assert p.kind == labels[f]["kind"], f
    # What is not logged but shown says what it is.
    for f, r in labels.items():
        if not r["application_id"] and r["kind"] and f in shown:
            assert shown[f].kind == r["kind"], f
