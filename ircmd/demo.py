"""A realistic sample record for `ircmd demo` and for the screen's snapshot tests.

Written through the Store's own verbs (back-dated with `at=`), so the demo is a
genuine record that verifies; `now` is a parameter so tests can freeze it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

from .models import Audience, Kind, Level, Phase, Role, Severity, Status
from .playbooks import find_playbook
from .store import Store
from .store.store import utc_now


async def build_demo(
    db: Path | str,
    user: str,
    *,
    now: datetime | None = None,
    playbook_dirs: Iterable[Path] = (),
) -> None:
    """Three incidents: INC-1 (SEV1, mid-response, `user` in command), INC-2, INC-3."""
    now = now or utc_now()
    dirs = tuple(playbook_dirs)

    def ago(minutes: float) -> datetime:
        assert now is not None
        return now - timedelta(minutes=minutes)

    store = await Store.open(db, clock=lambda: now)
    try:
        outage = find_playbook("service-outage", dirs)
        inc = await store.declare(
            "Checkout API returns 502 for EU customers",
            actor="dave",
            type="service-outage",
            impact=Level.HIGH,
            urgency=Level.HIGH,
            summary="Card payments fail at the last step for about 40% of EU traffic.",
            at=ago(47),
            detected_at=ago(52),
            started_at=ago(58),
            playbook=outage,
            commander="",  # handed to `user` below, so the demo shows a hand-off
        )
        n = inc.id
        await store.assign(n, Role.COMMANDER, user, actor="dave", at=ago(45))
        await store.assign(n, Role.SCRIBE, "carol", actor=user, at=ago(44))
        await store.assign(n, Role.DEPUTY, "bob", actor=user, at=ago(44))
        await store.assign(n, Role.RESPONDER, "dave", actor=user, at=ago(43))
        await store.assign(n, Role.RESPONDER, "erin", actor=user, at=ago(43))
        await store.set_status(n, Status.TRIAGED, actor=user, at=ago(42))
        await store.log(
            n,
            "5xx rate on checkout-api at 38%, EU only; US and APAC clean",
            actor="dave",
            at=ago(41),
        )
        await store.log(
            n,
            "Deploy 4812 of payments-gateway went out 6 min before the first alert",
            actor="erin",
            at=ago(39),
        )
        await store.check(n, 1, actor="dave", at=ago(38))
        await store.check(n, 2, actor="erin", at=ago(37))
        await store.log(
            n,
            "Roll back payments-gateway to 4811 rather than hotfix forward",
            actor=user,
            kind=Kind.DECISION,
            at=ago(36),
        )
        wrong = await store.log(
            n, "Rollback of 4812 started on eu-west-2", actor="erin", at=ago(35)
        )
        await store.amend(
            n, wrong.id, "Rollback of 4812 started on eu-west-1 (not -2)", actor="erin", at=ago(33)
        )
        await store.notify(n, "Head of engineering", actor=user, at=ago(29))
        await store.add_evidence(
            n,
            "payments-gateway logs 09:55-10:20 UTC",
            actor="carol",
            location="s3://ir-evidence/inc-1/gw.log.gz",
            at=ago(28),
        )
        await store.send_update(
            n,
            Audience.INTERNAL,
            "SEV1 checkout outage in EU; rollback under way, next update 30m",
            actor=user,
            at=ago(21),
        )
        await store.check(n, 3, actor="erin", at=ago(20))
        await store.log(
            n, "Error rate down to 4% after rollback; watching", actor="dave", at=ago(18)
        )
        await store.add_item(
            n,
            "Ask the PSP to replay failed authorisations",
            actor="bob",
            phase=Phase.RECOVERY,
            assignee="bob",
            at=ago(15),
        )
        await store.add_action(
            n, "Add a canary stage for payments-gateway in EU", actor=user, at=ago(12)
        )
        await store.set_status(n, Status.CONTAINED, actor=user, at=ago(10))
        await store.log(
            n, "Support confirms new EU orders are going through", actor="carol", at=ago(6)
        )

        second = await store.declare(
            "Search latency p99 above 2 s",
            actor="bob",
            severity=Severity.SEV3,
            at=ago(160),
            commander="",
        )
        await store.assign(second.id, Role.COMMANDER, "bob", actor="bob", at=ago(158))
        await store.set_status(second.id, Status.TRIAGED, actor="bob", at=ago(150))
        await store.log(
            second.id,
            "Index rebuild running on search-3; latency follows it",
            actor="bob",
            at=ago(140),
        )

        third = await store.declare(
            "Unusual admin-portal logins from one ASN",
            actor="erin",
            severity=Severity.SEV2,
            type="security-breach",
            at=ago(25),
            commander="",  # just reported: nobody has taken command yet
        )
        await store.log(
            third.id,
            "42 failed logins in 10 min, 3 succeeded (MFA passed)",
            actor="erin",
            at=ago(24),
        )
    finally:
        await store.close()
