"""Pilot tests of every slash command, asserting on the Store afterwards."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from helpers.builders import Clock
from helpers.cli import assert_ok, ircmd
from helpers.screen import (
    NOW,
    declared,
    dialog,
    events,
    frozen,
    message_text,
    ready,
    running,
    seeded,
    state,
    submit,
    type_fast,
    until,
    write_lock_held,
)
from textual.events import Key, Paste
from textual.widgets import TextArea

from ircmd import entry
from ircmd.models import (
    ActionStatus,
    Audience,
    Kind,
    Phase,
    Role,
    Severity,
    Status,
)
from ircmd.screens.command import SAVING, SAY_DONE, SAY_ERROR
from ircmd.screens.forms import FormScreen
from ircmd.screens.modals import ConfirmScreen, HelpScreen
from ircmd.store import Store
from ircmd.widgets.entry_bar import EntryBar

# ------------------------------------------------------------------ tests


async def test_plain_text_adds_a_note_and_clears_the_bar(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        screen = await ready(pilot)
        bar = screen.query_one(EntryBar)
        assert bar.has_focus, "the entry bar is focused at start"
        await pilot.press(*"rollback started")
        await pilot.press("enter")
        await until(pilot, lambda: bar.value == "")
        await until(
            pilot,
            lambda: (
                "rollback started" in screen.timeline.line_text(screen.timeline.total_lines - 1)
            ),
        )
    evs = await events(db)
    assert (
        evs[-1].kind is Kind.NOTE
        and evs[-1].text == "rollback started"
        and evs[-1].actor == "alice"
    )


async def test_a_slow_write_neither_doubles_merges_nor_drops_entries(db_ref: Path | str) -> None:
    """Another writer holds the lock. Enter empties the bar at once: a second Enter
    records nothing twice, lines typed meanwhile queue as entries of their own, in
    order, and text typed without Enter stays in the bar."""
    db = await declared(db_ref)
    # The screen's write outwaits the lock, however slow the test.
    async with running(db, timeout=60) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        bar = screen.bar
        async with write_lock_held(db):
            type_fast(app, "first entry", enter=True)
            app.post_message(Key("enter", "\r"))  # a double press
            type_fast(app, "second entry", enter=True)
            type_fast(app, "half typed")
            # Every key handled, the first line's write waiting for the lock, the
            # second line queued behind it.
            await until(pilot, lambda: bar.value == "half typed" and screen._lines.qsize() == 1, 30)
            assert bar.history == []
            # The emptied bar is not a lost entry: the line above it says it waits.
            await until(pilot, lambda: message_text(screen) == SAVING, 30)
            assert [e.text for e in await events(db)] == ["Checkout down"]
        await until(pilot, lambda: bar.history == ["first entry", "second entry"], 30)
        assert bar.value == "half typed"
        assert message_text(screen) == "#3 added"  # the second entry's: "saving…" is gone
    notes = [e.text for e in await events(db) if e.kind is Kind.NOTE]
    assert notes == ["first entry", "second entry"]


async def test_keys_arriving_together_in_a_tab_all_go_to_the_bar(db_ref: Path | str) -> None:
    """`ok then` typed fast with focus in the Comms tab: its `n` must not reach the
    tab's notify key (a false notification), nor `u` the update form."""
    db = await seeded(db_ref)
    async with running(db, open_incident=1) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        told = len((await state(db)).notifications)
        for text in ("ok then", "bob burst in"):
            await pilot.press("f5")
            assert not screen.bar.has_focus
            type_fast(app, text, enter=True)
            await until(pilot, lambda text=text: text in screen.bar.history)
            assert app.screen is screen
    notes = [e.text for e in await events(db) if e.kind is Kind.NOTE]
    assert notes[-2:] == ["ok then", "bob burst in"]
    assert len((await state(db)).notifications) == told


async def test_a_pasted_block_of_lines_becomes_one_checked_note(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        await pilot.press(*"log: ")
        app.post_message(Paste("502 upstream\r\n503 upstream\nretry storm"))
        form = await dialog(pilot, FormScreen)
        area = form.query_one("#field-text", TextArea)
        assert area.text == "log: 502 upstream\n503 upstream\nretry storm"
        assert screen.bar.value == ""
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is screen)
    notes = [e.text for e in await events(db) if e.kind is Kind.NOTE]
    assert notes == ["log: 502 upstream\n503 upstream\nretry storm"]


async def test_a_one_line_paste_lands_once(db_ref: Path | str) -> None:
    """Textual runs the Input's own paste handler after the bar's: the bar must not
    call it as well (every paste landed twice)."""
    db = await declared(db_ref)
    async with running(db) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        await pilot.press(*"x ")
        app.post_message(Paste("abc"))
        await until(pilot, lambda: "abc" in screen.bar.value)
        await pilot.pause()
        assert screen.bar.value == "x abc"
        app.post_message(Paste(" copied with its line break\r\n"))  # a triple click
        await until(pilot, lambda: "copied" in screen.bar.value)
        await pilot.pause()
        assert screen.bar.value == "x abc copied with its line break"
        assert app.screen is screen  # one line: no form


async def test_cancelling_a_pasted_note_gives_back_what_was_typed(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        before = len(await events(db))
        await pilot.press(*"half typed ")
        app.post_message(Paste("l1\nl2\n"))
        await until(pilot, lambda: bool(app.screen.query("#field-text")))  # the form, composed
        area = app.screen.query_one("#field-text", TextArea)
        assert area.text == "half typed l1\nl2"
        await until(pilot, lambda: area.cursor_location == (1, 2))  # typing goes on from there
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        assert screen.bar.value == "half typed "
    assert len(await events(db)) == before


CHAT = "11:41 carol: primary is gone\n11:48 <bob> restoring from last night\n\n[11:52:30] dave: ok"


async def test_a_pasted_chat_log_becomes_one_entry_per_line_at_its_time(db_ref: Path | str) -> None:
    db = await declared(db_ref)  # declared at 11:55, NOW is 12:00
    async with running(db) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        before = len(await events(db))
        app.post_message(Paste(CHAT))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await until(pilot, lambda: "3 entries added" in message_text(screen))
    added = (await events(db))[before:]
    assert [(e.kind, e.text) for e in added] == [
        (Kind.NOTE, "carol: primary is gone"),
        (Kind.NOTE, "bob: restoring from last night"),
        (Kind.NOTE, "dave: ok"),
    ]
    assert [e.occurred_at.strftime("%H:%M:%S") for e in added] == [
        "11:41:00",
        "11:48:00",
        "11:52:30",
    ]


async def test_escape_on_a_pasted_chat_log_makes_it_one_note(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        app = pilot.app
        await ready(pilot)
        app.post_message(Paste(CHAT))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))

        def said() -> str:  # once the dialog has composed, not merely been pushed
            return " ".join(str(w.render()) for w in app.screen.query("Static"))

        await until(pilot, lambda: "Escape: one note instead" in said())
        assert "Escape: no" not in said()
        await pilot.press("escape")
        form = await dialog(pilot, FormScreen)
        assert form.query_one("#field-text", TextArea).text == CHAT


async def test_a_refused_line_of_a_chat_log_records_none_of_it(db_ref: Path | str) -> None:
    """A line four minutes ahead of the clock (read as today, so in the future): the
    whole paste is refused, nothing half-recorded."""
    db = await declared(db_ref)
    async with running(db) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        before = len(await events(db))
        app.post_message(Paste("11:41 carol: one\n12:04 bob: too soon"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await until(pilot, lambda: "future" in message_text(screen))
        assert len(await events(db)) == before


async def test_ctrl_q_with_a_form_open_asks_for_a_second_press(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        app = pilot.app
        await submit(pilot, "/action")
        await dialog(pilot, FormScreen)
        await pilot.press(*"draft", "ctrl+q")
        await pilot.pause()
        assert app.is_running and isinstance(app.screen, FormScreen)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: not app.is_running)


async def test_declare_open_sev_status(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        screen = await submit(pilot, "/declare SEV3 search slow")
        assert screen.current == 2
        await submit(pilot, "/sev 1")
        await submit(pilot, "/status contained")
        await submit(pilot, "/open INC-1")
        assert screen.current == 1
        assert "INC-1" in str(screen.query_one("#header").render())
    second = await state(db, 2)
    assert second.incident.title == "search slow"
    assert second.incident.severity is Severity.SEV1
    assert second.incident.status is Status.CONTAINED


async def test_sev_takes_a_reason_as_the_cli_does(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        await submit(pilot, "/sev 1 EU also down")
    (change,) = [e for e in await events(db) if e.kind is Kind.SEVERITY]
    assert (change.text, change.data) == ("EU also down", {"from": "SEV2", "to": "SEV1"})


async def test_assign_and_handoff(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        await submit(pilot, "/assign scribe carol")
        await submit(pilot, "/ic alice")
        screen = await submit(pilot, "/ic bob")  # not on it yet: asked first
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press("enter")
        roles = screen.query_one("#roles")
        await until(pilot, lambda: "bob" in str(roles.render()))
    st = await state(db)
    assert st.people(Role.SCRIBE) == ["carol"]
    assert st.people(Role.COMMANDER) == ["bob"]
    evs = await events(db)
    assert evs[-1].data.get("previous") == "alice"


async def test_checklist_commands(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        await submit(pilot, "/add isolate the host")
        await submit(pilot, "/recovery restore from backup")
        await submit(pilot, "/check 1")
        screen = await submit(pilot, "/check 2")
        await submit(pilot, "/uncheck 2")
        checklist = screen.query_one("#checklist")
        await until(pilot, lambda: "[x]" in str(checklist.render()))
    st = await state(db)
    assert [(i.n, i.phase, i.done) for i in st.checklist] == [
        (1, Phase.CONTAINMENT, True),
        (2, Phase.RECOVERY, False),
    ]


async def test_entries_decision_at_amend(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        await submit(pilot, "/decision fail over to eu-west-2")
        await submit(pilot, "/at 11:50 vendor called back")
        await submit(pilot, "first entry with a typo")
        evs = await events(db)
        screen = await submit(pilot, f"/amend {evs[-1].id} first entry, typo fixed")
        tl = screen.timeline
        await until(pilot, lambda: any("✎" in tl.line_text(i) for i in range(tl.total_lines)))
        lines = [tl.line_text(i) for i in range(tl.total_lines)]
        typo = next(i for i, line in enumerate(lines) if "first entry with a typo" in line)
        assert "✎" in lines[typo], "the corrected entry carries a marker"
        assert f"#{evs[-1].id + 1}" in lines[typo + 1] and "typo fixed" in lines[typo + 1]
    evs = await events(db)
    kinds = [e.kind for e in evs]
    assert Kind.DECISION in kinds and Kind.AMEND in kinds
    backdated = next(e for e in evs if e.text == "vendor called back")
    assert backdated.occurred_at == NOW.replace(hour=11, minute=50)
    assert evs[-1].data["amends"] == evs[-2].id


async def test_update_action_playbook_notify(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        await submit(pilot, "/update external we are investigating")
        await submit(pilot, "/action add a canary stage")
        await submit(pilot, "/playbook service-outage")
        await submit(pilot, "/notify head of engineering")
    st = await state(db)
    assert st.updates[0].audience is Audience.EXTERNAL
    assert st.actions[0].title == "add a canary stage" and st.actions[0].status is ActionStatus.OPEN
    assert [p.name for p in st.playbooks] == ["service-outage"]
    assert st.notifications[0].who == "Head of engineering"  # the list's spelling
    assert len(st.checklist) >= 5


async def test_help_opens_the_help(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        app = pilot.app
        await ready(pilot)
        bar = app.command_screen.bar
        bar.value = "/help"
        await pilot.press("enter")
        help_ = await dialog(pilot, HelpScreen)
        shown = " ".join(str(w.render()) for w in help_.query("Static"))
        assert "/amend ID TEXT" in shown and "Ctrl+P" in shown
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is app.command_screen)


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("/frobnicate now", "unknown command /frobnicate; /help lists them"),
        ("/check 99", "no checklist item 99 on INC-1"),
        ("/sev 7", "/sev: unknown severity '7' (use SEV1..SEV4)"),
        ("/amend 999 x", "no entry #999 in INC-1"),
        ("/open INC-42", "no incident INC-42"),
        (
            "/playbook nope",
            "no playbook 'nope' (known: data-loss, degraded-performance, security-breach,"
            " service-outage)",
        ),
    ],
)
async def test_errors_are_inline_and_keep_the_text(
    db_ref: Path | str, line: str, said: str
) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        app = pilot.app
        screen = await submit(pilot, line)
        assert message_text(screen) == said
        assert screen.bar.value == line, "nothing typed is lost"
    assert app.return_code in (None, 0)


async def test_rule_violation_says_who_may(db_ref: Path | str) -> None:
    db = await seeded(db_ref)  # alice commands INC-1, dave is a responder
    async with running(db, user="dave", open_incident=1) as pilot:
        screen = await submit(pilot, "/sev 2")
        text = message_text(screen)
        assert "only the commander or deputy" in text and "alice" in text
        assert screen.bar.value == "/sev 2"
    assert (await state(db)).incident.severity is Severity.SEV1


async def test_history_recall(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        await submit(pilot, "first")
        screen = await submit(pilot, "second")
        bar = screen.bar
        await pilot.press(*"draft")
        await pilot.press("up")
        assert bar.value == "second"
        await pilot.press("up")
        assert bar.value == "first"
        await pilot.press("down", "down")
        assert bar.value == "draft", "the half-typed line comes back"


async def test_completion_with_tab(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        screen = await ready(pilot)
        await pilot.press("/", "s", "t")
        await until(pilot, lambda: screen.bar._suggestion == "/status ")  # a worker finds it
        await pilot.press("tab")
        assert screen.bar.value == "/status "


async def test_tab_again_cycles_through_the_candidates(db_ref: Path | str) -> None:
    """`/a` + Tab, Tab, Tab: /assign, /add, /action... and round again; then the
    argument: playbook names and a contact whose name holds a space."""
    db = await seeded(db_ref)
    async with running(db, open_incident=1) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: screen.state is not None)
        await pilot.press("/", "a", "tab")
        seen = [screen.bar.value]
        for _ in range(6):
            await pilot.press("tab")
            seen.append(screen.bar.value)
        names = [n for n in entry.COMMAND_NAMES if n.startswith("a")]
        assert seen == [f"/{n} " for n in names] + [f"/{names[0]} "]
        screen.bar.value = ""
        await pilot.press(*"/playbook serv", "tab")
        assert screen.bar.value == "/playbook service-outage "
        screen.bar.value = ""
        await pilot.press(*"/notify customer s", "tab")
        assert screen.bar.value == "/notify Customer support lead "
        assert screen.bar.has_focus


async def test_tab_with_nothing_to_complete_keeps_a_typed_line_in_the_bar(
    db_ref: Path | str,
) -> None:
    """Nothing completes `zz`: Tab leaves the line and the focus where they are, and
    the keys typed next go on in the bar; from an empty bar Tab moves on as usual."""
    db = await declared(db_ref)
    async with running(db) as pilot:
        screen = await ready(pilot)
        await pilot.press(*"/notify zz", "tab")
        assert screen.bar.has_focus, "a pane took the focus (and grew) from a typed line"
        await pilot.press(*"top")
        assert screen.bar.value == "/notify zztop"
        screen.bar.value = ""
        await pilot.press("tab")
        assert not screen.bar.has_focus


async def test_leaving_and_returning_to_the_bar_keeps_a_half_typed_entry(
    db_ref: Path | str,
) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        screen = await ready(pilot)
        await pilot.press(*"rollback at")
        await pilot.press("escape")
        assert screen.timeline.has_focus
        await pilot.press("escape", *" 14:05")
        assert screen.bar.has_focus and screen.bar.value == "rollback at 14:05"
        await pilot.press("f5", *"x")  # typing in a tab goes on where the bar left off
        assert screen.bar.value == "rollback at 14:05x"


async def test_ctrl_q_with_unsent_text_asks_for_a_second_press(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        await pilot.press(*"half a note", "ctrl+q")
        await pilot.pause()
        assert app.is_running and screen.bar.value == "half a note"
        assert "Ctrl+Q again quits" in message_text(screen)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: not app.is_running)


async def test_ctrl_q_with_an_empty_bar_quits_at_once(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        app = pilot.app
        await ready(pilot)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: not app.is_running)


async def test_checking_a_step_someone_just_checked_says_so(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with await Store.open(db, clock=frozen) as other:
        await other.add_item(1, "Fail over to EU-2", actor="alice")
    async with running(db) as pilot:
        screen = await ready(pilot)
        async with await Store.open(db, clock=frozen) as other:
            await other.check(1, 1, actor="dave")
        await submit(pilot, "/check 1")
        assert "step 1 was already checked by dave" in message_text(screen)
    checks = [(e.actor, e.data.get("already")) for e in await events(db) if e.kind is Kind.CHECK]
    assert checks == [("dave", None), ("alice", "dave")]


def test_cli_check_says_who_checked_first(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    home = tmp_path / "home"
    home.mkdir()
    assert_ok(ircmd("declare", "t", "--severity", "SEV3", db=db, home=home))
    assert_ok(ircmd("checklist", "add", "INC-1", "step", db=db, home=home))
    assert assert_ok(ircmd("check", "INC-1", "1", db=db, home=home, user="dave")) == ""
    out = assert_ok(ircmd("check", "INC-1", "1", db=db, home=home))
    assert out == "step 1 was already checked by dave; yours is recorded too\n"


async def test_the_message_line_does_not_go_stale(db_ref: Path | str) -> None:
    """An error goes when its line is edited; a confirmation fades when the app's
    clock says its time is up (the clock moves only here: no wall-clock window)."""
    clock = Clock(NOW)
    db = await declared(db_ref)
    async with running(db, clock=clock) as pilot:
        screen = await submit(pilot, "/check 9")
        assert message_text(screen) == "no checklist item 9 on INC-1"
        await pilot.press("backspace")  # fixing the refused line: the error has done its job
        await until(pilot, lambda: message_text(screen) == "")
        await pilot.press(*"1")
        assert screen.bar.value == "/check 1"
        await submit(pilot, "a note")
        assert message_text(screen) == "#2 added"
        clock.now += SAY_DONE - timedelta(milliseconds=1)
        screen._tick()  # the once-a-second tick, driven here
        assert message_text(screen) == "#2 added"
        clock.now += timedelta(milliseconds=1)
        await until(pilot, lambda: message_text(screen) == "", timeout=30)  # the app's own tick
        await submit(pilot, "/sev 9")
        error = message_text(screen)
        assert error == "/sev: unknown severity '9' (use SEV1..SEV4)"
        clock.now += SAY_ERROR - timedelta(milliseconds=1)
        screen._tick()
        assert message_text(screen) == error
        clock.now += timedelta(milliseconds=1)
        screen._tick()
        assert message_text(screen) == ""


async def test_editing_keys_arriving_with_letters_act_in_order(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        for key in ["t", "e", "h", "backspace", "backspace", "h", "e", "left", "X", "end", "!"]:
            app.post_message(Key(key, key if len(key) == 1 else None))
        await until(pilot, lambda: screen.bar.value.endswith("!"))
        assert screen.bar.value == "thXe!"


async def test_at_back_dates_a_status_change_from_the_bar(db_ref: Path | str) -> None:
    """`/at TIME /status ...`: recorded at TIME, the confirmation says so, and the
    incident moves (the declared incident started five minutes before NOW)."""
    db = await declared(db_ref)
    when = (NOW - timedelta(minutes=3)).strftime("%H:%M")
    async with running(db) as pilot:
        screen = await submit(pilot, f"/at {when} /status triaged paged the db team")
        await until(pilot, lambda: "status triaged" in message_text(screen))
        assert f"(at {NOW.date()} {when}:00 UTC)" in message_text(screen)
    moved = [e for e in await events(db) if e.kind is Kind.STATUS][-1]
    assert moved.occurred_at.strftime("%H:%M") == when
    assert moved.occurred_at < moved.recorded_at
    assert (await state(db)).incident.status is Status.TRIAGED


async def test_at_does_not_back_date_a_form(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        before = len(await events(db))
        screen = await submit(pilot, "/at 11:00 /declare")
        await until(pilot, lambda: "not the declare form" in message_text(screen))
        assert screen.bar.value == "/at 11:00 /declare", "a refused line stays to fix"
        assert len(await events(db)) == before


async def test_a_time_of_day_ahead_of_now_is_not_silently_yesterday(db_ref: Path | str) -> None:
    """`/at 12:30` at 12:00 reads as yesterday's 12:30, before the incident began (it
    was declared at 11:55 today): refused, with the date to type if it was meant;
    for a note, a command, and a pasted chat log alike. Nothing is written."""
    db = await declared(db_ref)
    async with running(db) as pilot:
        app = pilot.app
        before = len(await events(db))
        for line in ("/at 12:30 replica restarted", "/at 12:30 /status contained x"):
            screen = await submit(pilot, line)
            assert "reads as yesterday" in message_text(screen), line
            assert "2026-11-22T12:30Z" in message_text(screen)
        screen.bar.value = ""
        app.post_message(Paste("12:30 carol: one\n12:40 bob: two"))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await until(pilot, lambda: "reads as yesterday" in message_text(screen))
        assert len(await events(db)) == before


async def test_a_declaration_back_dated_to_yesterday_declares(tmp_path: Path) -> None:
    """`/at 12:30 /declare ...` at 12:00 is a declaration made yesterday: there is no
    incident (or not this one) for it to come before, so it is not refused."""
    db = tmp_path / "ircmd.db"
    async with running(db) as pilot:
        await submit(pilot, "/at 12:30 /declare SEV3 overnight load --started 12:10")
        await submit(pilot, "/at 12:40 /declare SEV3 a second, also yesterday")
    first, second = await state(db, 1), await state(db, 2)
    assert first.incident.declared_at == NOW - timedelta(hours=23, minutes=30)
    assert first.incident.started_at == NOW - timedelta(hours=23, minutes=50)
    assert second.incident.declared_at == NOW - timedelta(hours=23, minutes=20)
