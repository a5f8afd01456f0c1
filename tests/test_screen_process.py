"""Pilot tests of the process tabs, forms and slash commands on the command screen.

Each drives the real app on a real SQLite file and asserts on the Store afterwards.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from helpers.screen import (
    NOW,
    declared,
    dialog,
    events,
    fill,
    form_of,
    frozen,
    message_text,
    ready,
    running,
    save,
    seeded,
    shown,
    state,
    submit,
    until,
)
from textual.widgets import Static, TextArea

from ircmd import rules
from ircmd.app import IrcmdApp
from ircmd.models import ActionStatus, Audience, Kind, Role, Severity, Status
from ircmd.screens.modals import ConfirmScreen, TextScreen
from ircmd.screens.palette import actions_of
from ircmd.store import Store
from ircmd.widgets.header import IncidentHeader
from ircmd.widgets.process import CommsPanel
from ircmd.widgets.tabstrip import ProcessTabs

# ----------------------------------------------------------------- panels


async def test_tabs_switch_with_f_keys_and_show_each_panel(db_ref: Path | str) -> None:
    db = await seeded(db_ref)
    async with running(db, open_incident=1, size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: screen.timeline.rows != [])
        tabs = screen.query_one(ProcessTabs)
        assert tabs.active == "checklist"
        checklist = shown(screen, "checklist")
        assert "Containment 3/5" in checklist and "Recovery 0/5" in checklist
        assert checklist.index("Containment") < checklist.index("Recovery")
        for key, name in (("f5", "comms"), ("f6", "evidence"), ("f7", "review"), ("f8", "actions")):
            await pilot.press(key)
            await pilot.pause()
            assert tabs.active == name
            assert screen.query_one(f"#{name}").has_focus, "F-key moves into the tab"
            await pilot.press("escape")
            assert screen.bar.has_focus, "Escape goes back to the bar"
        comms = shown(screen, "comms")
        assert "Escalation (SEV1): 1/5 told" in comms
        assert "[ ] CTO  pending" in comms
        assert "Next update in 9m (by 12:09 UTC)" in comms
        evidence = shown(screen, "evidence")
        assert "EV-1" in evidence and "held by carol" in evidence
        review = shown(screen, "review")
        assert "Time to detect 6m 00s" in review and "ack 2m 00s" in review
        assert "review missing" in review and "ACT-1 has no owner or due date" in review
        actions = shown(screen, "actions")
        assert "ACT-1 Add a canary stage" in actions and "no owner, due -" in actions
        await pilot.press("f4")
        assert tabs.active == "checklist"


async def test_the_escalation_lists_are_the_users_once_the_screen_has_painted(
    db_ref: Path | str, tmp_path: Path
) -> None:
    """Read after the first frame: the user's escalation.toml still decides the Comms
    tab and the `n` key's next contact."""
    db = await seeded(db_ref)
    (tmp_path / "escalation.toml").write_text('SEV1 = ["Duty manager", "CTO"]\n')
    async with running(db, open_incident=1, size=(80, 24), config_dir=tmp_path) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: screen.escalation.get(Severity.SEV1) == ["Duty manager", "CTO"])
        await pilot.press("f5")
        await until(pilot, lambda: "Escalation (SEV1): 0/2 told" in shown(screen, "comms"))
        assert "[ ] Duty manager  pending" in shown(screen, "comms")
        assert "[x] Head of engineering  11:31 by alice  (extra)" in shown(screen, "comms")


async def test_a_broken_escalation_file_keeps_the_defaults_and_says_so(
    db_ref: Path | str, tmp_path: Path
) -> None:
    db = await seeded(db_ref)
    (tmp_path / "escalation.toml").write_text("SEV1 = [unclosed\n")
    async with running(db, open_incident=1, size=(80, 24), config_dir=tmp_path) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: "escalation list not loaded" in message_text(screen))
        assert "using the defaults" in message_text(screen)
        assert "CTO" in screen.escalation[Severity.SEV1]
        await pilot.press("f5")
        await until(pilot, lambda: "Escalation (SEV1): 1/5 told" in shown(screen, "comms"))


async def test_comms_countdown_ticks_with_the_clock_and_redraws_rarely(db_ref: Path | str) -> None:
    db = await seeded(db_ref)  # SEV1, last update 21 minutes before NOW: due in 9m
    now = [NOW]
    async with running(db, open_incident=1, clock=lambda: now[0]) as pilot:
        screen = await ready(pilot)
        await pilot.press("f5")
        comms = screen.query_one("#comms", CommsPanel)
        await until(pilot, lambda: "Next update in 9m" in str(comms.render()))
        now[0] = NOW + timedelta(seconds=65)
        await until(pilot, lambda: "Next update in 7m" in str(comms.render()))
        updates: list[object] = []
        original = comms.update

        def counting(content: Any = "", **kw: Any) -> None:
            updates.append(content)
            original(content, **kw)

        comms.update = counting  # type: ignore[method-assign]
        ticks: list[datetime] = []
        real_tick = comms.tick

        def tick(at: datetime) -> None:
            ticks.append(at)
            real_tick(at)

        comms.tick = tick  # type: ignore[method-assign]
        now[0] = NOW + timedelta(seconds=80)
        await until(pilot, lambda: now[0] in ticks)  # the screen's tick has seen the new time
        assert updates == [], "no redraw while the shown text stays the same"
        now[0] = NOW + timedelta(minutes=15)
        await until(pilot, lambda: "Update OVERDUE by 6m" in str(comms.render()))
        assert len(updates) == 1


async def test_roles_panel_flags_playbook_roles(db_ref: Path | str) -> None:
    db = await declared(db_ref)  # SEV2: commander and comms required
    async with running(db) as pilot:
        screen = await submit(pilot, "/playbook security-breach")
        roles = screen.query_one("#roles")
        await until(pilot, lambda: "liaison" in str(roles.render()))
        text = str(roles.render())
        for role in ("commander", "scribe", "comms", "liaison"):
            assert any(role in line and "missing" in line for line in text.splitlines()), role
        assert roles.border_title == "Roles ⚠4"
        await submit(pilot, "/assign liaison legal-lee")
        await until(pilot, lambda: roles.border_title == "Roles ⚠3")


async def test_metrics_follow_new_events(db_ref: Path | str) -> None:
    db = await declared(db_ref)  # declared 5 minutes before NOW
    async with running(db) as pilot:
        screen = await ready(pilot)
        await pilot.press("f7")
        review = screen.query_one("#review")
        await until(pilot, lambda: "ack -" in str(review.render()))
        await submit(pilot, "/ic alice")
        await submit(pilot, "/status contained")
        await until(pilot, lambda: "contain 5m 00s" in str(review.render()))
        assert "ack 5m 00s" in str(review.render())


# ---------------------------------------------------------- slash commands


async def test_evidence_and_transfer_commands(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        screen = await submit(pilot, "/evidence web-3 auth.log [/] copy")
        assert "EV-1 registered, held by alice" in message_text(screen)
        await submit(pilot, "/transfer EV-1 carol to forensics for imaging")
        assert "EV-1 now held by carol" in message_text(screen)
        screen = await submit(pilot, "/transfer EV-1 carol again")
        assert "already held by carol" in message_text(screen)
        assert screen.bar.value == "/transfer EV-1 carol again"
        await submit(pilot, "/transfer EV-9 bob x")
        assert "no evidence EV-9" in message_text(screen)
        await pilot.press("f6")
        evidence = screen.query_one("#evidence")
        await until(pilot, lambda: "to forensics for imaging" in str(evidence.render()))
        assert "web-3 auth.log [/] copy" in str(evidence.render())
    [item] = (await state(db)).evidence
    assert item.description == "web-3 auth.log [/] copy"
    assert item.custodian == "carol" and item.sha256 is None
    assert [(t.from_person, t.to_person, t.reason) for t in item.transfers] == [
        ("alice", "carol", "to forensics for imaging")
    ]


async def test_act_moves_an_action_through_its_states(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        screen = await submit(pilot, "/action add a canary stage")
        await submit(pilot, "/act ACT-1 in_progress")
        assert "ACT-1 in_progress" in message_text(screen)
        await submit(pilot, "/act ACT-1 verified")
        assert "verified needs a note" in message_text(screen)
        await submit(pilot, "/act ACT-1 done canary live in EU")
        await submit(pilot, "/act ACT-1 verified no 502s in two weeks")
        await submit(pilot, "/act ACT-1 open")
        assert "cannot go from verified" in message_text(screen)
        await pilot.press("f8")
        actions = screen.query_one("#actions")
        await until(pilot, lambda: "verified: no 502s in two weeks" in str(actions.render()))
    [action] = (await state(db)).actions
    assert action.status is ActionStatus.VERIFIED
    assert action.verification == "no 502s in two weeks"
    kinds = [e.kind for e in await events(db)]
    assert kinds.count(Kind.ACTION_SET) == 3


async def test_close_lists_what_is_missing_then_override(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db, size=(80, 24)) as pilot:
        await submit(pilot, "/ic alice")
        await submit(pilot, "/action add a canary stage")
        screen = await submit(pilot, "/close")
        text = message_text(screen)
        assert "cannot close INC-1, 3 missing" in text
        assert "review missing: summary, root cause, lessons" in text
        assert "ACT-1 has no owner or due date" in text and "no final update sent" in text
        assert "/close REASON" in text
        assert screen.bar.value == "/close"
        assert screen.query_one(ProcessTabs).active == "review"
        await submit(pilot, "/act ACT-1 wont_do covered by the platform team")
        await submit(pilot, "/status closed")
        assert "cannot close INC-1, 2 missing" in message_text(screen)
        await submit(pilot, "/close CTO waived the review for this drill")
        assert "override of 2 missing" in message_text(screen)
    st = await state(db)
    assert st.incident.status is Status.CLOSED
    last = (await events(db))[-1]
    assert (
        last.kind is Kind.STATUS and last.data["override"] == "CTO waived the review for this drill"
    )
    assert len(last.data["gaps"]) == 2 and last.actor == "alice"


async def test_responder_may_not_close(db_ref: Path | str) -> None:
    db = await seeded(db_ref)  # alice commands INC-1, dave is a responder
    async with running(db, user="dave", open_incident=1) as pilot:
        screen = await submit(pilot, "/close everyone agreed")
        text = message_text(screen)
        assert "only the commander or deputy" in text and "you are dave" in text
        assert screen.bar.value == "/close everyone agreed"
        # what a responder may do, they can: evidence, updates, actions
        await submit(pilot, "/evidence dave's shell history")
        assert "EV-2 registered" in message_text(screen)
    st = await state(db)
    assert st.incident.status is Status.CONTAINED
    assert st.evidence[-1].collected_by == "dave"


async def test_notify_pending_from_the_comms_tab(db_ref: Path | str) -> None:
    db = await seeded(db_ref)
    async with running(db, open_incident=1) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        await pilot.press("f5")
        comms = screen.query_one("#comms")
        await until(pilot, lambda: "1/5 told" in str(comms.render()))
        await pilot.press("n")
        assert isinstance(app.screen, ConfirmScreen), "n asks before it writes"
        await pilot.press("escape")
        await until(pilot, lambda: "not recorded: CTO" in message_text(screen))
        await pilot.press("f5", "n", "enter")
        await until(pilot, lambda: "2/5 told" in str(comms.render()))
        assert "CTO notified" in message_text(screen)
        await submit(pilot, "/notify legal counsel")  # not on the SEV1 list: asked first
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")
        await until(pilot, lambda: "[x] legal counsel" in str(comms.render()))
    told = [n.who for n in (await state(db)).notifications]
    assert told == ["Head of engineering", "CTO", "legal counsel"]


async def test_typing_in_a_tab_goes_to_the_bar_and_writes_nothing_else(db_ref: Path | str) -> None:
    """Someone who thinks they are in the entry bar types a note into the Comms tab,
    whose `n` is a key: no notification is recorded, and the note is, whole."""
    db = await seeded(db_ref)
    async with running(db, open_incident=1) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        before = len((await state(db)).notifications)
        for tab in ("f5", "f6", "f7", "f8"):  # keys n u / e t / r / a
            await pilot.press(tab)
            assert not screen.bar.has_focus
            said = message_text(screen)
            await pilot.press(*"need eyes on dns", "enter")
            await until(pilot, lambda said=said: message_text(screen) != said)
            assert app.screen is screen and screen.bar.value == ""
        notes = [e.text for e in await events(db) if e.kind is Kind.NOTE]
    assert notes[-4:] == ["need eyes on dns"] * 4
    assert len((await state(db)).notifications) == before


# ------------------------------------------------------------------ forms


async def test_update_alone_opens_the_draft_and_sends_it(db_ref: Path | str) -> None:
    db = await seeded(db_ref)
    async with running(db, open_incident=1, size=(80, 24)) as pilot:
        screen = await ready(pilot)
        await until(pilot, lambda: screen.timeline.rows != [])
        screen.bar.value = "/update"
        await pilot.press("enter")
        form = await form_of(pilot)
        area = form.query_one("#field-text", TextArea)
        assert area.has_focus, "the comms lead starts in the message"
        assert "INC-1 SEV1 (critical), contained" in area.text
        assert "Latest decision: Roll back payments-gateway" in area.text
        fill(form, audience="external")  # the draft follows the audience
        await until(
            pilot,
            lambda: area.text.startswith(
                "The impact is contained and we are working on a full fix"
            ),
        )
        fill(form, text=area.text + " Thanks for your patience.", channel="status page")
        await save(pilot, form)
        assert screen.bar.value == "", "the /update line is done with"
        assert "update sent" in message_text(screen)
        await pilot.press("f5")
        comms = screen.query_one("#comms")
        await until(pilot, lambda: "Thanks for your patience" in str(comms.render()))
    last = (await state(db)).updates[-1]
    assert last.audience is Audience.EXTERNAL and last.channel == "status page"
    assert last.text.endswith("Thanks for your patience.") and not last.final


async def test_u_in_comms_tab_and_escape_cancels(db_ref: Path | str) -> None:
    db = await seeded(db_ref)
    async with running(db, open_incident=1) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        before = len((await state(db)).updates)
        await pilot.press("f5", "u")
        await form_of(pilot)
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen)
        assert len((await state(db)).updates) == before


async def test_review_form_from_slash_review(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db, size=(80, 24)) as pilot:
        screen = await submit(pilot, "/review")
        form = await form_of(pilot)
        fill(
            form,
            summary="bad deploy [b]x[/b]",
            root_cause="no canary",
            whys="deploy broke\nno canary caught it",
            lessons="canary everything",
            customer_impact="EU checkouts failed for 40 minutes",
        )
        await save(pilot, form)
        assert "review saved" in message_text(screen)
        await pilot.press("f7")
        review = screen.query_one("#review")
        await until(pilot, lambda: "bad deploy [b]x[/b]" in str(review.render()))
        assert "Why 2: no canary caught it" in str(review.render())
        await pilot.press("f7", "r")
        form = await form_of(pilot)
        assert form.query_one("#field-root_cause", TextArea).text == "no canary"
    after = await state(db)
    saved = after.review
    assert saved.recorded and saved.whys == ("deploy broke", "no canary caught it")
    assert after.impact.customer_impact == "EU checkouts failed for 40 minutes"


async def test_action_form_from_slash_action_and_a_key(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db, size=(80, 24)) as pilot:
        screen = await submit(pilot, "/action")
        form = await form_of(pilot)
        fill(form, title="Add a canary stage", owner="dave", due="2026-12-01", type="preventive")
        await save(pilot, form)
        assert "follow-up action added" in message_text(screen)
        await pilot.press("f8", "a")
        form = await form_of(pilot)
        fill(form, title="Alert on 502 rate", due="someday")
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = form.query_one("#form-error")
        assert "not a due date" in str(error.render())
        # At 80x24 the line sits below the fold: it is scrolled into view.
        box = form.query_one("#form")
        await until(
            pilot,
            lambda: (
                box.scroll_y <= error.virtual_region.y
                and error.virtual_region.bottom
                <= box.scroll_y + box.scrollable_content_region.height
            ),
        )
        fill(form, due="2026-12-15", owner="erin")
        await save(pilot, form)
    acts = (await state(db)).actions
    assert [(a.title, a.owner, a.due, a.type.value) for a in acts] == [
        ("Add a canary stage", "dave", "2026-12-01", "preventive"),
        ("Alert on 502 rate", "erin", "2026-12-15", "corrective"),
    ]


async def test_a_form_refuses_a_command_typed_ahead_into_a_one_line_field(
    db_ref: Path | str,
) -> None:
    """F8 then `a` opens the action form with its title focused; a bar line typed right
    behind the keys lands there, and its Enter would save it as the action's title."""
    db = await declared(db_ref)
    async with running(db, size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("f8", "a")
        form = await form_of(pilot)
        await until(pilot, lambda: getattr(pilot.app.focused, "id", None) == "field-title")
        await pilot.press(*"/status contained", "enter")
        await until(pilot, lambda: "typed ahead" in str(form.query_one("#form-error").render()))
        assert pilot.app.screen is form
        fill(form, title="Alert on 502 rate")
        await save(pilot, form)
    assert [a.title for a in (await state(db)).actions] == ["Alert on 502 rate"]


async def test_evidence_forms_from_keys(tmp_path: Path, db_ref: Path | str) -> None:
    db = await declared(db_ref)
    log = tmp_path / "auth.log"
    log.write_bytes(b"Failed password for root\n")
    async with running(db, size=(80, 24)) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        await pilot.press("f6", "t")
        await pilot.pause()
        assert "no evidence to transfer" in message_text(screen)
        assert app.screen is screen
        screen = await submit(pilot, "/evidence")
        form = await form_of(pilot)
        fill(form, description="auth log", file=str(log))
        await save(pilot, form)
        await pilot.press("f6", "t")
        form = await form_of(pilot)
        fill(form, to="carol", reason="forensics")
        await save(pilot, form)
        assert "custody transferred" in message_text(screen)
    [item] = (await state(db)).evidence
    assert item.sha256 is not None and item.filename == "auth.log"
    assert item.custodian == "carol"


async def test_forms_refused_when_read_only(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db, read_only=True) as pilot:
        app = pilot.app
        screen = await submit(pilot, "/review")
        assert "read-only" in message_text(screen)
        assert app.screen is screen
        # The dialogs too say so before anything is filled in.
        for key in ("f2", "f3"):
            screen.say("")
            await pilot.press(key)
            await until(pilot, lambda: "read-only" in message_text(screen))
            assert app.screen is screen, key
        await pilot.press("f5", "n")
        await until(pilot, lambda: "read-only" in message_text(screen))
        assert app.screen is screen


async def test_the_full_view_of_an_entry_says_when_and_who(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        screen = await submit(pilot, "a note to read in full")
        tl = screen.timeline
        await until(pilot, lambda: len(tl.rows) == 2)
        tl.focus()
        await pilot.press("end", "enter")
        full = await dialog(pilot, TextScreen)
        shown = " ".join(str(w.render()) for w in full.query(Static))
        assert "#2 2026-11-23 12:00:00 UTC  alice  note" in shown
        assert "a note to read in full" in shown


async def test_palette_lists_the_process_actions(db_ref: Path | str) -> None:
    db = await seeded(db_ref)
    async with running(db, open_incident=1) as pilot:
        screen = await ready(pilot)
        # The escalation lists are read once the first frame has painted.
        await until(pilot, lambda: screen.state is not None and bool(screen.escalation))
        names = [name.plain for name, _, _ in actions_of(screen)]
        for wanted in (
            "Draft a stakeholder update (form)",
            "Register evidence (form)",
            "Transfer evidence custody (form)",
            "Edit the post-incident review (form)",
            "Add a follow-up action (form)",
            "Close the incident",
            "Show the Comms tab",
            "Notify CTO (escalation)",
            "/act ACT-n STATUS [NOTE] | ACT-n owner|due|review VALUE",
            "/close [OVERRIDE REASON]",
        ):
            assert wanted in names, wanted
        run = next(r for n, r, _ in actions_of(screen) if n.plain == "Register evidence (form)")
        await run()  # type: ignore[misc]
        await form_of(pilot)


# ------------------------------------------------------ a whole incident


async def test_whole_incident_from_the_screen_alone(tmp_path: Path) -> None:
    """Declare with a playbook, run it, review it and close it: only keys and lines."""
    db = tmp_path / "ircmd.db"
    now = [NOW]

    def later(minutes: int) -> None:
        now[0] += timedelta(minutes=minutes)

    async with running(db, clock=lambda: now[0], size=(80, 24)) as pilot:
        app = pilot.app
        screen = await submit(pilot, "/declare SEV1 Card payments failing in EU")
        assert screen.current == 1
        await submit(pilot, "/playbook service-outage")
        later(2)  # alice commands from her /declare
        await submit(pilot, "/assign comms carol")
        await submit(pilot, "/assign scribe bob")
        await submit(pilot, "/assign responder dave")
        roles = screen.query_one("#roles")
        await until(pilot, lambda: "⚠" not in str(roles.render()))
        later(3)
        await submit(pilot, "/decision roll back payments-gateway")
        for n in (1, 2, 3):
            await submit(pilot, f"/check {n}")
        await submit(pilot, "/recovery replay failed authorisations")
        # first update through the draft form
        await pilot.press("f5", "u")
        form = await form_of(pilot)
        assert (
            "Latest decision: roll back payments-gateway"
            in form.query_one("#field-text", TextArea).text
        )
        await save(pilot, form)
        await pilot.press("escape")
        assert screen.bar.has_focus
        for who in ("head of engineering", "CTO", "customer support lead"):
            await submit(pilot, f"/notify {who}")
        # evidence and its custody
        await submit(pilot, "/evidence payments-gateway logs 09:55-10:20")
        await submit(pilot, "/transfer EV-1 erin handed to security for analysis")
        later(25)
        await submit(pilot, "/status contained")
        later(30)
        await submit(pilot, "/status resolved")
        # the final update, again from the draft
        await submit(pilot, "/update")
        form = await form_of(pilot)
        assert "The problem is resolved" not in form.query_one("#field-text", TextArea).text
        fill(form, audience="external", final=True)
        await pilot.pause()
        assert form.query_one("#field-text", TextArea).text.startswith("The problem is resolved")
        await save(pilot, form)
        await submit(pilot, "/status in_review")
        await submit(pilot, "/review")
        form = await form_of(pilot)
        fill(
            form,
            summary="A bad deploy broke EU card payments for 60 minutes.",
            root_cause="No canary stage for payments-gateway in EU.",
            whys="the deploy went everywhere at once\nthere is no canary stage",
            went_well="rollback in 10 minutes",
            lessons="Canary every region.",
        )
        await save(pilot, form)
        await submit(pilot, "/action")
        form = await form_of(pilot)
        due = (NOW.date() + timedelta(days=14)).isoformat()
        fill(form, title="Add a canary stage in EU", owner="dave", due=due)
        await save(pilot, form)
        await submit(pilot, "/act ACT-1 in_progress")
        await submit(pilot, "/act ACT-1 done canary live")
        await submit(pilot, "/act ACT-1 verified no 502s through two deploys")
        await submit(pilot, "/close")
        assert "containment steps not done (4, 5)" in message_text(screen)
        for n in range(4, 11):
            await submit(pilot, f"/check {n}")
        await submit(pilot, "/close")
        assert message_text(screen) == "status closed"
        header = screen.query_one("#header")
        await until(pilot, lambda: "closed" in str(header.render()))
        await pilot.press("f7")
        review = screen.query_one("#review")
        await until(pilot, lambda: "To close: closed" in str(review.render()))
        assert "resolve 1h 00m" in str(review.render())

    async with await Store.open(db) as store:
        st = await store.state(1)
        assert st.incident.status is Status.CLOSED
        assert st.people(Role.COMMANDER) == ["alice"] and st.people(Role.COMMS) == ["carol"]
        assert [p.name for p in st.playbooks] == ["service-outage"]
        assert [i.done for i in st.checklist] == [True] * 10
        assert len(st.updates) == 2 and st.updates[-1].final
        assert st.updates[-1].audience is Audience.EXTERNAL
        assert len(st.notifications) == 3
        [ev] = st.evidence
        assert ev.custodian == "erin" and ev.transfers[0].from_person == "alice"
        assert st.review.recorded and st.review.lessons == "Canary every region."
        [act] = st.actions
        assert act.status is ActionStatus.VERIFIED and act.owner == "dave"
        assert act.due == (date(2026, 11, 23) + timedelta(days=14)).isoformat()
        assert rules.closure_gaps(st, st.incident.resolved_at) == []
        evs = await store.events(1)
        assert (await store.verify()).ok
        m = rules.metrics(evs)
        assert m.time_to_acknowledge == 0
        assert m.time_to_contain == 30 * 60
        assert m.time_to_resolve == 60 * 60
        assert evs[-1].kind is Kind.STATUS and "override" not in evs[-1].data
    assert isinstance(app, IrcmdApp)


async def test_an_action_gets_its_owner_and_dates_and_a_final_update_from_the_bar(
    db_ref: Path | str,
) -> None:
    db = await declared(db_ref)
    async with running(db) as pilot:
        screen = await submit(pilot, "/action add a canary stage")
        await submit(pilot, "/act ACT-1 owner dave")
        assert "ACT-1: owner dave, due -" in message_text(screen)
        await submit(pilot, "/act ACT-1 due 2026-12-01")
        await submit(pilot, "/act ACT-1 review 2027-01-15")
        await submit(pilot, "/act ACT-1 due next week")
        assert "not a due date" in message_text(screen)
        await submit(pilot, "/update external --final All fixed")
        assert "external update logged (final)" in message_text(screen)
    st = await state(db)
    [action] = st.actions
    assert (action.owner, action.due, action.review_date) == ("dave", "2026-12-01", "2027-01-15")
    assert st.updates[-1].final and st.updates[-1].text == "All fixed"


async def test_roles_that_do_not_fit_say_so_and_enter_shows_them_all(db_ref: Path | str) -> None:
    db = await declared(db_ref)
    async with await Store.open(db, clock=frozen) as store:
        await store.assign(1, Role.COMMANDER, "alice", actor="alice")
        for role, who in [
            (Role.DEPUTY, "bob"),
            (Role.SCRIBE, "carol"),
            (Role.RESPONDER, "erin"),
            (Role.RESPONDER, "gina"),
            (Role.LIAISON, "frank"),
        ]:
            await store.assign(1, role, who, actor="alice")
        await store.add_item(
            1, "Restore capacity, then remove mitigations one by one " * 3, actor="alice"
        )
        for title in ("Search slow", "Login errors", "Mail delayed"):  # a fuller board
            await store.declare(title, actor="alice", severity=Severity.SEV3)
    async with running(db, size=(80, 24), open_incident=1) as pilot:
        app = pilot.app
        screen = await ready(pilot)
        roles = screen.query_one("#roles")
        await until(pilot, lambda: "more: Enter shows all" in str(roles.render()))
        assert "frank" not in str(roles.render())
        roles.focus()
        await pilot.press("enter")
        first = await dialog(pilot, TextScreen)
        shown = " ".join(str(w.render()) for w in first.query(Static))
        assert "liaison" in shown and "frank" in shown and "erin, gina" in shown
        await pilot.press("escape")  # F4 pressed while the view is still up would be lost
        await until(pilot, lambda: app.screen is screen)
        await pilot.press("f4", "enter")
        steps = await dialog(pilot, TextScreen, after=first)
        shown = " ".join(str(w.render()) for w in steps.query(Static))
        assert shown.count("remove mitigations one by one") == 3  # whole, not cut


async def test_notify_uses_the_lists_spelling_and_marks_extras(db_ref: Path | str) -> None:
    db = await seeded(db_ref)  # INC-1 is SEV1: its list names the CTO
    async with running(db, open_incident=1) as pilot:
        screen = await submit(pilot, "/notify cto")
        assert "CTO notified" in message_text(screen)
        await submit(pilot, "/notify Bob's mum")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press("enter")
        await until(pilot, lambda: "Bob's mum notified" in message_text(screen))
        await pilot.press("f5")
        comms = screen.query_one("#comms")
        await until(pilot, lambda: "Bob's mum" in str(comms.render()))
        text = str(comms.render())
        assert "(extra)" in text.split("Bob's mum")[1].split("\n")[0]
        assert "(extra)" not in text.split("[x] CTO")[1].split("\n")[0]
    told = [n.who for n in (await state(db)).notifications]
    assert "CTO" in told and "Bob's mum" in told and "cto" not in told


async def test_an_unlisted_name_is_asked_about_and_escape_records_nothing(
    db_ref: Path | str,
) -> None:
    """`/notify St` + a stray key: the typo is not on the list, so it is asked about,
    and no is the answer any key but Enter gives."""
    db = await seeded(db_ref)
    async with running(db, open_incident=1) as pilot:
        before = len((await state(db)).notifications)
        screen = await submit(pilot, "/notify St/notify Status page")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        assert "not on the SEV1 escalation list" in str(
            pilot.app.screen.query_one(".dialog-title").render()
        )
        await pilot.press("escape")
        await until(pilot, lambda: "not recorded" in message_text(screen))
        assert len((await state(db)).notifications) == before


NOTIFIED_AT = (NOW - timedelta(minutes=7)).replace(second=0, microsecond=0)


async def test_a_back_dated_command_keeps_its_time_through_the_question(db_ref: Path | str) -> None:
    db = await seeded(db_ref)
    async with running(db, open_incident=1) as pilot:
        when = NOTIFIED_AT.strftime("%Y-%m-%dT%H:%MZ")
        screen = await submit(pilot, f"/at {when} /notify Bob's mum")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press("enter")
        await until(pilot, lambda: "Bob's mum notified" in message_text(screen))
    told = {n.who: n for n in (await state(db)).notifications}
    assert told["Bob's mum"].notified_at == NOTIFIED_AT


async def test_the_wide_layout_grows_the_roles_pane_to_fit(db_ref: Path | str) -> None:
    db = await seeded(db_ref)
    async with running(db, open_incident=1, size=(160, 48)) as pilot:
        screen = await ready(pilot)
        roles = screen.query_one("#roles")
        await until(pilot, lambda: "responder" in str(roles.render()))
        assert "more: Enter shows all" not in str(roles.render())


async def test_every_structured_change_is_corrected_from_the_bar(db_ref: Path | str) -> None:
    """A wrong assignment, notification, step, title and impact start, each put right
    from the bar: the projections follow, and the originals stay on the record."""
    db = await seeded(db_ref)  # INC-1: bob is deputy, step 4 open
    async with running(db, open_incident=1) as pilot:
        screen = await submit(pilot, "/unassign deputy bob")
        assert "bob is no longer deputy" in message_text(screen)
        await submit(pilot, "/notify Customer support lead")
        screen = await submit(pilot, '/unnotify "Customer support lead" told the wrong team')
        assert "Customer support lead is to be told again" in message_text(screen)
        screen = await submit(pilot, "/skip 5 the status page is already up")
        assert "step 5 skipped" in message_text(screen)
        screen = await submit(pilot, "/own 4 erin")
        screen = await submit(pilot, "/title EU checkout: payments gateway overloaded")
        header = screen.query_one(IncidentHeader)
        await until(pilot, lambda: "payments gateway overloaded" in str(header.render()))
        when = (NOW - timedelta(hours=2)).strftime("%H:%M")
        screen = await submit(pilot, f"/mark impact {when} errors began before the page")
        assert "metrics measure from it" in message_text(screen)
    st = await state(db)
    assert "bob" not in st.people(Role.DEPUTY)
    assert "Customer support lead" not in [n.who for n in st.notifications]
    step5 = next(i for i in st.checklist if i.n == 5)
    assert step5.skipped and step5.skip_reason == "the status page is already up"
    assert next(i for i in st.checklist if i.n == 4).assignee == "erin"
    assert st.incident.title == "EU checkout: payments gateway overloaded"
    kinds = [e.kind for e in await events(db)]
    for kind in (Kind.UNASSIGN, Kind.UNNOTIFY, Kind.SKIP, Kind.ITEM_OWN, Kind.RETITLE, Kind.MARK):
        assert kind in kinds
    assert Kind.NOTIFY in kinds, "the retracted notification stays on the record"


async def test_handing_command_to_someone_not_on_the_incident_asks_first(
    db_ref: Path | str,
) -> None:
    db = await seeded(db_ref)  # INC-1: alice commands; bob, carol, dave, erin on it
    async with running(db, open_incident=1) as pilot:
        screen = await submit(pilot, "/ic nobody?")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press("escape")
        await until(pilot, lambda: "not recorded" in message_text(screen))
        assert (await state(db)).people(Role.COMMANDER) == ["alice"]
        screen = await submit(pilot, "/ic frank")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen))
        await pilot.press("enter")
        await until(pilot, lambda: "frank is commander" in message_text(screen))
    assert (await state(db)).people(Role.COMMANDER) == ["frank"]
    async with running(db, user="bob", open_incident=1) as pilot:
        screen = await submit(pilot, "/ic carol")  # bob is deputy; carol is on it: no question
        assert "carol is commander" in message_text(screen)
