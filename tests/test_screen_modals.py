"""Pilot tests of the modal dialogs, the palette and F1, asserting on the Store."""

from __future__ import annotations

from pathlib import Path

from helpers.screen import (
    NOW,
    declared,
    dialog,
    events,
    message_text,
    ready,
    running,
    seeded,
    state,
    submit,
    until,
)
from textual.command import CommandList, CommandPalette
from textual.widgets import Input, Select

from ircmd import entry
from ircmd.models import Kind, Level, Role, Severity, Status
from ircmd.screens.modals import (
    KEYS,
    AssignScreen,
    DeclareScreen,
    HelpScreen,
    ReopenScreen,
    TextScreen,
)


async def test_declare_form_suggests_severity(tmp_path: Path) -> None:
    db = tmp_path / "ircmd.db"
    async with running(db, size=(100, 40)) as pilot:
        app = pilot.app
        await ready(pilot)
        await pilot.press("f2")
        form = await dialog(pilot, DeclareScreen)
        form.query_one("#declare-title", Input).value = "Payments down"
        form.query_one("#declare-type", Input).value = "service-outage"
        form.query_one("#declare-impact", Select).value = "high"
        form.query_one("#declare-urgency", Select).value = "medium"

        def suggestion() -> str:
            return str(form.query_one("#declare-suggestion").render())

        await until(pilot, lambda: "SEV2" in suggestion())
        assert Severity.SEV2.meaning in suggestion()
        form.query_one("#declare-playbook", Select).value = "service-outage"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.command_screen.current == 1)
    st = await state(db)
    assert st.incident.title == "Payments down"
    assert st.incident.severity is Severity.SEV2
    assert st.incident.impact is Level.HIGH and st.incident.urgency is Level.MEDIUM
    assert [p.name for p in st.playbooks] == ["service-outage"]


async def test_declare_form_picks_the_playbook_of_the_type(tmp_path: Path) -> None:
    db = tmp_path / "ircmd.db"
    async with running(db, size=(100, 40)) as pilot:
        app = pilot.app
        await ready(pilot)
        await pilot.press("f2")
        form = await dialog(pilot, DeclareScreen, focused="#declare-title")
        await pilot.press(*"Admin logins", "tab")
        typed = form.query_one("#declare-type", Input)
        await until(pilot, lambda: typed.has_focus)
        await pilot.press(*"securit")
        book = form.query_one("#declare-playbook", Select)
        await until(pilot, lambda: typed.value == "securit")
        assert book.is_blank()
        await pilot.press("y")  # "security" is in security-breach's types
        await until(pilot, lambda: book.value == "security-breach")
        await pilot.press("ctrl+s")
        # The message is said once the incident is open and its playbook applied.
        await until(
            pilot, lambda: "playbook security-breach applied" in message_text(app.command_screen)
        )
        assert app.command_screen.current == 1
    st = await state(db)
    assert st.incident.type == "security"
    assert [p.name for p in st.playbooks] == ["security-breach"]


async def test_declare_form_keeps_a_playbook_chosen_by_hand(tmp_path: Path) -> None:
    db = tmp_path / "ircmd.db"
    async with running(db, size=(100, 40)) as pilot:
        app = pilot.app
        await ready(pilot)
        await pilot.press("f2")
        form = await dialog(pilot, DeclareScreen, focused="#declare-title")
        await pilot.press(*"Admin logins", "tab")
        await until(pilot, lambda: form.query_one("#declare-type", Input).has_focus)
        await pilot.press(*"security")
        book = form.query_one("#declare-playbook", Select)
        await until(pilot, lambda: book.value == "security-breach")
        book.clear()  # "none", chosen by hand
        await pilot.pause()
        await pilot.press("backspace", *"y", "ctrl+s")  # the type moves again
        await until(pilot, lambda: app.command_screen.current == 1)
        assert book.is_blank()
    st = await state(db)
    assert st.incident.type == "security" and st.playbooks == ()


async def test_declare_form_needs_a_title_and_escape_cancels(tmp_path: Path) -> None:
    db = tmp_path / "ircmd.db"
    async with running(db, size=(100, 40)) as pilot:
        app = pilot.app
        screen = await submit(pilot, "/declare")
        form = await dialog(pilot, DeclareScreen, focused="#declare-title")
        await pilot.press("ctrl+s")
        await until(
            pilot, lambda: "title is needed" in str(form.query_one("#dialog-error").render())
        )
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        # Nothing left in the bar for the next line to glue onto; Up brings it back.
        assert screen.bar.value == ""
        await pilot.press("up")
        assert screen.bar.value == "/declare"
        assert screen.current is None


async def test_assign_form(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db, size=(100, 40)) as pilot:
        app = pilot.app
        await ready(pilot)
        await pilot.press("f3")
        form = await dialog(pilot, AssignScreen, focused="#assign-person")
        # The form starts at the role the incident lacks most: nobody commands yet.
        assert form.query_one("#assign-role", Select).value == "commander"
        form.query_one("#assign-role", Select).value = "comms"
        await pilot.press(*"carol")
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, AssignScreen))
        await until(pilot, lambda: "carol" in str(app.command_screen.query_one("#roles").render()))
    assert (await state(db)).people(Role.COMMS) == ["carol"]


async def test_reopen_asks_for_a_reason(db_ref: Path | str) -> None:
    """Also: the next line, typed for the bar before the dialog showed, lands in its
    field. Enter must not record that line as the reason: the dialog says why, waits."""
    db = await seeded(db_ref)  # INC-1 is contained
    before = len(await events(db))
    async with running(db, open_incident=1, size=(100, 40)) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        screen.bar.value = "/status triaged"
        await pilot.press("enter")
        form = await dialog(pilot, ReopenScreen, focused="#reopen-reason")

        def error() -> str:
            return str(form.query_one("#dialog-error").render())

        await pilot.press("enter")
        await until(pilot, lambda: "needs a reason" in error())
        await pilot.press(*"/status triaged false alarm", "enter")
        await until(pilot, lambda: error().startswith("/status … is a command typed ahead"))
        assert app.screen is form and len(await events(db)) == before
        form.query_one("#reopen-reason", Input).value = ""
        await pilot.press(*"errors are back")
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen)
        await until(pilot, lambda: screen.bar.value == "")
        # The write follows the dialog: the test ends once the screen has read it back.
        await until(
            pilot,
            lambda: screen.state is not None and screen.state.incident.status is Status.TRIAGED,
        )
    st = await state(db)
    assert st.incident.status is Status.TRIAGED
    added = (await events(db))[before:]
    assert [(e.kind, e.text) for e in added] == [(Kind.STATUS, "errors are back")]


async def test_the_declare_form_refuses_a_command_typed_ahead(tmp_path: Path) -> None:
    async with running(tmp_path / "ircmd.db", size=(100, 40)) as pilot:
        app = pilot.app
        await ready(pilot)
        await pilot.press("f2")
        form = await dialog(pilot, DeclareScreen, focused="#declare-title")
        await pilot.press(*"/declare SEV2 db down", "ctrl+s")  # Enter: the next field
        await until(pilot, lambda: "typed ahead" in str(form.query_one("#dialog-error").render()))
        assert app.screen is form
        assert not app.command_screen.board.incidents


async def test_reopen_with_reason_inline(db_ref: Path | str) -> None:
    db = await seeded(db_ref)
    async with running(db, open_incident=1, size=(100, 40)) as pilot:
        await submit(pilot, "/status reported errors are back")
    assert (await state(db)).incident.status is Status.REPORTED


async def test_f1_help_keeps_each_description_beside_its_command_at_80x24(
    db_ref: Path | str,
) -> None:
    """Two columns, each wrapping under itself: padded into one text, a long command
    pushed its description's first word to the right edge and the rest under it."""
    db = await seeded(db_ref)
    async with running(db, open_incident=1, size=(80, 24)) as pilot:
        app = pilot.app
        await ready(pilot)
        await pilot.press("f1")
        expected = [*KEYS, *((u.syntax, u.help) for u in entry.COMMANDS)]
        await until(
            pilot,
            lambda: (
                isinstance(app.screen, HelpScreen)
                and len(app.screen.query(".help-columns > Static")) == 2 * len(expected)
            ),
        )
        cells = list(app.screen.query(".help-columns > Static"))
        await until(pilot, lambda: all(c.region.width > 0 for c in cells))  # laid out
        pairs = list(zip(cells[::2], cells[1::2], strict=True))
        assert [(str(a.render()), str(b.render())) for a, b in pairs] == expected
        for left, right in pairs:
            assert right.region.y == left.region.y
            assert right.region.x >= left.region.right  # beside it, never under it
            assert right.region.right <= app.size.width


async def test_f1_help_and_palette(db_ref: Path | str) -> None:
    db = await seeded(db_ref)
    async with running(db, open_incident=1, size=(100, 40)) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        await pilot.press("f1")
        await dialog(pilot, HelpScreen)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("ctrl+p")
        palette = await dialog(pilot, CommandPalette, focused="CommandInput")
        await pilot.press(*"check step 4")
        hits = palette.query_one(CommandList)
        # The palette searches in a worker: Enter before the hit is listed picks nothing.
        await until(
            pilot,
            lambda: (
                hits.highlighted == 0
                and str(hits.get_option_at_index(0).prompt).startswith("Check step 4:")
            ),
        )
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen)
        await until(
            pilot,
            lambda: any(
                i.n == 4 and i.done for i in (screen.state.checklist if screen.state else ())
            ),
        )
    st = await state(db)
    assert next(i for i in st.checklist if i.n == 4).done


async def test_palette_lists_every_slash_command(db_ref: Path | str) -> None:
    from ircmd import entry
    from ircmd.screens.palette import actions_of

    db = await seeded(db_ref)
    async with running(db, open_incident=1, size=(100, 40)) as pilot:
        screen = await ready(pilot)
        names = [label.plain for label, _, _ in actions_of(screen)]
        for usage in entry.COMMANDS:
            if usage.name != "help":
                assert any(n.startswith("/" + usage.name) for n in names), usage.name
        assert any(n.startswith("Open INC-2") for n in names)
        # What a command alone opens is listed under the registry's title, and runs as
        # the bar would: the help entry opens the help.
        forms = {label.plain: (run, hint) for label, run, hint in actions_of(screen)}
        for spec in entry.COMMANDS:
            if spec.form:
                assert forms[spec.form][1] == f"{spec.key}, /{spec.name}"
        await forms[entry.usage_of("help").form][0]()  # type: ignore[operator]
        await dialog(pilot, HelpScreen)


async def test_bar_completes_from_the_open_incident(db_ref: Path | str) -> None:
    """The registry says what each argument is: the bar completes it from the open
    incident (its people, its open steps), and Tab takes the suggestion."""
    from ircmd.widgets.entry_bar import EntryBar

    db = await seeded(db_ref)
    async with running(db, open_incident=1, size=(100, 40)) as pilot:
        screen = await ready(pilot)
        assert screen.state is not None
        person = screen.state.roles[0].person
        bar = screen.query_one(EntryBar)
        assert await bar.slash.get_suggestion(f"/ic {person[:2]}") == f"/ic {person} "
        assert await bar.slash.get_suggestion("/check 999") is None
        await pilot.press(*f"/assign scribe {person[:2]}", "tab")
        await until(pilot, lambda: bar.value == f"/assign scribe {person} ")


async def test_palette_hits_show_step_text_as_data(db_ref: Path | str) -> None:
    """A step's text is user text: searching the palette neither runs it as markup
    (no click action, no style from it) nor loses the other steps to a broken tag."""
    from ircmd.screens.palette import IrcmdCommands
    from ircmd.store import Store

    db = await seeded(db_ref)
    hostile = "[@click=app.quit]boom[/] [red]red[/] [link=http://x]L[/link] [/]"
    async with await Store.open(db) as store:
        await store.add_item(1, hostile, actor="alice")
        await store.add_item(1, "Normal plain step", actor="alice")
    async with running(db, open_incident=1, size=(100, 40)) as pilot:
        screen = await ready(pilot)
        provider = IrcmdCommands(screen)
        hits = [hit async for hit in provider.search("check step")]
        shown = [hit.match_display for hit in hits]
        plains = [getattr(c, "plain", str(c)) for c in shown]
        assert any(hostile in p for p in plains), plains
        assert any("Normal plain step" in p for p in plains), plains
        for content in shown:
            for span in getattr(content, "spans", []):
                assert "click" not in str(span.style) and "link" not in str(span.style)


async def test_typing_while_reading_a_pane_in_full_goes_to_the_bar(db_ref: Path | str) -> None:
    db = await seeded(db_ref)
    async with running(db, open_incident=1) as pilot:
        screen = await ready(pilot)
        await pilot.press("f4", "enter")
        await dialog(pilot, TextScreen, focused="VerticalScroll")
        await pilot.press(*"rotated key")
        await until(pilot, lambda: pilot.app.screen is screen)
        await until(pilot, lambda: screen.bar.value == "rotated key")
        assert screen.bar.has_focus


async def test_the_declare_form_takes_when_impact_began_and_when_it_was_detected(
    tmp_path: Path,
) -> None:
    db = tmp_path / "ircmd.db"
    async with running(db, size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await pilot.press("f2")
        form = await dialog(pilot, DeclareScreen, focused="#declare-title")
        form.query_one("#declare-title", Input).value = "EU checkout down"
        form.query_one("#declare-started", Input).value = "11:20"
        form.query_one("#declare-detected", Input).value = "soon"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "not a time" in str(form.query_one("#dialog-error").render()))
        await until(pilot, lambda: form.query_one("#declare-detected", Input).has_focus)
        form.query_one("#declare-detected", Input).value = "11:35"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: pilot.app.screen is screen and screen.state is not None)
    inc = (await state(db)).incident
    assert (inc.started_at, inc.detected_at) == (
        NOW.replace(hour=11, minute=20),
        NOW.replace(hour=11, minute=35),
    )
