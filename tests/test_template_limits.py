"""A coach's own template cannot hang the drafts, fill the disk or read outside
its folder: each is stopped and reported by name, and the other drafts still come."""

from __future__ import annotations

import time

import pytest

from followup_lib.logic.drafts import MAX_DRAFT_CHARS, render_drafts
from followup_lib.logic.rules import due_actions

from builders import AS_OF

HEAD = "Subject: Hi\nDear {{ recipient_first_name }},\n\n"


def drafts_with(demo_tables, folder, body: str):
    (folder / "thank_you_note.email.j2").write_text(HEAD + body + "\n\nThanks\n\nMaya\n")
    actions = due_actions(demo_tables, AS_OF)
    return render_drafts(actions, demo_tables, override_dir=folder, as_of=AS_OF, upcoming=False)


def test_a_template_that_never_ends_is_stopped_and_reported(demo_tables, tmp_path):
    start = time.monotonic()
    result = drafts_with(
        demo_tables, tmp_path, "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    )
    assert time.monotonic() - start < 30
    assert result.problems and all("ran for more than" in p for p in result.problems)
    assert result.drafts  # the other kinds are still drafted


@pytest.mark.parametrize(
    "body", ["{{ 'x' * 10**8 }}", "{{ ['x'] * 10**7 }}", "{% for i in range(99999) %}xxxxxxxxxx{% endfor %}"]
)
def test_a_template_that_writes_too_much_is_stopped(demo_tables, tmp_path, body):
    result = drafts_with(demo_tables, tmp_path, body)
    assert result.problems
    assert all(len(d.body) <= MAX_DRAFT_CHARS for d in result.drafts)


def test_a_template_linked_from_outside_its_folder_is_refused(demo_tables, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0")
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "thank_you_note.email.j2").symlink_to(secret)
    actions = due_actions(demo_tables, AS_OF)
    result = render_drafts(actions, demo_tables, override_dir=folder, as_of=AS_OF, upcoming=False)
    assert any("outside the templates folder" in p for p in result.problems)
    assert not any("root:x" in d.body for d in result.drafts)
    # An include of a file outside the folder is refused the same way.
    (folder / "thank_you_note.email.j2").unlink()
    (folder / "thank_you_note.email.j2").write_text(HEAD + '{% include "leak.j2" %}')
    (folder / "leak.j2").symlink_to(secret)
    result = render_drafts(actions, demo_tables, override_dir=folder, as_of=AS_OF, upcoming=False)
    assert any("outside the templates folder" in p for p in result.problems)
    assert not any("root:x" in d.body for d in result.drafts)
