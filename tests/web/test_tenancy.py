"""No route lets one organisation reach another's records: every id of another org answers 404.

The routes are discovered from the app's url_map, so pages and API routes added later are covered
without touching this file; only a parameter name nobody has met before needs a line here.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from uuid import UUID, uuid4

import attrs
from quart import Quart
from quart.typing import TestClientProtocol as Client
from werkzeug.routing import Rule

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.domain.ids import Actor
from coachos.domain.memberships import Membership, MembershipStatus
from coachos.domain.money import Money
from coachos.domain.todos import Todo
from coachos.domain.usecases import (
    AddDateOverride,
    BookSession,
    CreateApiToken,
    CreateClient,
    CreateHealthScreening,
    CreateMembershipPlan,
    CreatePackageOffer,
    CreateService,
    CreateWaiver,
    PublishForm,
    RecordClearance,
    SellPackage,
    SignWaiver,
    SubmitForm,
)
from tests.web.support import csrf, sign_up

#: Routes left out, by the parameter that marks them as the public side: whoever holds the slug or
#: token may use them by design (public booking pages, emailed links, feeds), and static files.
PUBLIC_PARAMETERS = {
    "slug": "public booking pages of a business, open to anyone",
    "token": "emailed links (password reset, client self-service): the token is the credential",
    "feed_token": "calendar feeds: the secret in the address is the credential",
    "filename": "static files",
}

#: Values for parameters that are not ids; every candidate is tried.
OTHER_PARAMETERS: dict[str, list[str]] = {
    "name": [
        "profile",
        "consent",
        "upcoming",
        "past",
        "packages",
        "notes",
        "payments",
        "messages",
        "waivers",
        "forms",
        "memberships",
    ],
    "day": ["2026-03-03"],
    "date": ["2026-03-03"],
    "view": ["day", "week"],
}

#: A JSON body that satisfies every API write's schema, so a refusal can only be about the id.
API_BODY: dict[str, Any] = {
    "name": "Probe",
    "sessions": 5,
    "price": {"amount_minor": 1000, "currency": "USD"},
    "rules": [{"weekday": 0, "start": "09:00", "end": "10:00"}],
    "reason": "probe",
    "channel": "sms",
    "method": "client_request",
    "wording": "probe",
}

#: Form fields a page's form might want, so a refusal can only be about the id.
FORM_BODY: dict[str, str] = {
    "name": "Probe",
    "booking_id": "00000000-0000-4000-8000-000000000000",
    "channel": "sms",
    "method": "client_request",
    "wording": "probe",
    "email": "probe@a.test",
    "sessions": "5",
    "price": "10.00",
    "reason": "probe",
    "date": "2026-03-04",
    "time": "10:00",
    "start": "10:00",
    "end": "11:00",
    "minutes": "60",
    "notes": "probe",
    "panel": "notes",
}

SAFE = {"HEAD", "OPTIONS"}
_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@attrs.frozen
class OrgB:
    """The other organisation's records, by the route parameter that names each."""

    ids: dict[str, str]
    bearer: dict[str, str]


async def build_org_b(web: Quart, core: CoachOS, clock: FixedClock) -> tuple[Client, OrgB]:
    """Sign up 'summit' with a client, a package, a booking, an extra service, a date override and a token."""
    browser = web.test_client()
    await sign_up(browser, email="sam@summit.test", slug="summit", business="Summit Strength", name="Sam Okafor")
    org = core.read(lambda uow: uow.orgs.by_slug("summit"))
    (coach,) = core.read(lambda uow: uow.coaches.list(org.id))
    me = Actor("coach", coach.id)
    person = core.execute(CreateClient(org_id=org.id, name="Jo Bloggs", email="jo@summit.test", actor=me))
    package = core.execute(
        SellPackage(org_id=org.id, client_id=person.id, name="Ten", sessions=10, price=Money(50000, "USD"), actor=me)
    )
    service = core.execute(
        CreateService(org_id=org.id, name="Group", duration=timedelta(minutes=45), price=Money(2000, "USD"), actor=me)
    )
    (pt,) = [s for s in core.read(lambda uow: uow.services.list(org.id)) if s.id != service.id]
    start = clock.now().replace(hour=14, minute=0) + timedelta(days=1)
    booking = core.execute(
        BookSession(org_id=org.id, coach_id=coach.id, service_id=pt.id, client_id=person.id, start=start, actor=me)
    )
    override = core.execute(
        AddDateOverride(org_id=org.id, coach_id=coach.id, on=date(2026, 3, 10), available=False, actor=me)
    )
    token = core.execute(CreateApiToken(org_id=org.id, coach_id=coach.id, name="B's script"))
    offer = core.execute(
        CreatePackageOffer(org_id=org.id, name="Five", sessions=5, price=Money(10000, "USD"), actor=me)
    )
    todo = Todo(id=uuid4(), org_id=org.id, title="Call Jo", created_at=clock.now(), client_id=person.id)
    with core.unit_of_work() as uow:
        uow.todos.add(todo)
        uow.commit()
    form = core.execute(CreateHealthScreening(org_id=org.id, actor=me))
    version = core.execute(PublishForm(org_id=org.id, form_id=form.id, actor=me))
    no = {q.key: "no" for q in version.questions}
    submission = core.execute(
        SubmitForm(org_id=org.id, client_id=person.id, form_id=form.id, version_id=version.id, answers=no, key="b")
    )
    clearance = core.execute(
        RecordClearance(org_id=org.id, client_id=person.id, note="GP", actor=me, document=b"%PDF-1.4 letter")
    )
    waiver, waiver_version = core.execute(CreateWaiver(org_id=org.id, title="Waiver", body="Text", actor=me))
    signature = core.execute(
        SignWaiver(
            org_id=org.id,
            client_id=person.id,
            waiver_id=waiver.id,
            version_id=waiver_version.id,
            shown_sha256=waiver_version.sha256,
            typed_name="Jo Bloggs",
            consent=True,
            date_of_birth=date(1990, 1, 1),
        )
    )
    plan = core.execute(
        CreateMembershipPlan(org_id=org.id, actor=me, name="Monthly", price=Money(9000, "USD"), sessions=4)
    )
    membership = Membership(
        id=uuid4(),
        org_id=org.id,
        client_id=person.id,
        plan_id=plan.id,
        status=MembershipStatus.ACTIVE,
        created_at=clock.now(),
    )
    with core.unit_of_work() as uow:
        uow.memberships.add(membership)
        uow.commit()
    ids = {
        "org_id": org.id,
        "plan_id": plan.id,
        "membership_id": membership.id,
        "clearance_id": clearance.id,
        "form_id": form.id,
        "submission_id": submission.id,
        "coach_id": coach.id,
        "client_id": person.id,
        "package_id": package.id,
        "service_id": service.id,
        "booking_id": booking.id,
        "appointment_id": booking.appointment_id,
        "override_id": override.id,
        "token_id": token.token.id,
        "todo_id": todo.id,
        "waiver_id": waiver.id,
        "signature_id": signature.id,
        "offer_id": offer.id,
    }
    return browser, OrgB(
        ids={name: str(value) for name, value in ids.items()},
        bearer={"Authorization": f"Bearer {token.secret}"},
    )


def is_public(rule: Rule) -> bool:
    """Whether the rule is on the public side (see PUBLIC_PARAMETERS)."""
    return bool(rule.arguments & PUBLIC_PARAMETERS.keys())


def takes_an_id(rule: Rule) -> bool:
    """Whether any of the rule's parameters is a record id."""
    return any(name == "id" or name.endswith("_id") for name in rule.arguments)


def urls(rule: Rule, ids: dict[str, str]) -> Iterator[str]:
    """The rule's path with org B's ids, once for every candidate of its other parameters."""
    unknown = sorted(rule.arguments - ids.keys() - OTHER_PARAMETERS.keys())
    assert not unknown, f"{rule.rule}: no value for {unknown}; add org B's record (or a value) in test_tenancy.py"
    names = sorted(rule.arguments - ids.keys())
    for combination in itertools.product(*(OTHER_PARAMETERS[n] for n in names)):
        values = ids | dict(zip(names, combination, strict=True))
        yield _PARAMETER.sub(lambda m, v=values: v[m.group(1)], rule.rule)


def id_rules(web: Quart) -> list[Rule]:
    """Every non-public rule of the app that takes an id."""
    return [r for r in web.url_map.iter_rules() if takes_an_id(r) and not is_public(r)]


async def call(client: Client, method: str, url: str, *, api: bool, bearer: dict[str, str], token: str) -> Any:
    """`method url` as a signed-in coach: JSON with a bearer token for the API, a form with CSRF for pages."""
    if method == "GET":
        return await client.get(url, headers=bearer if api else {})
    if api:
        return await client.open(url, method=method, json=API_BODY, headers=bearer)
    return await client.open(url, method=method, form=FORM_BODY | {"csrf_token": token})


class TestTenancy:
    async def test_every_id_route_answers_404_for_another_orgs_ids(
        self, web: Quart, core: CoachOS, clock: FixedClock
    ) -> None:
        """As org A, every route taking an id answers 404 for org B's ids, and B's records stay as they were."""
        browser_b, org_b = await build_org_b(web, core, clock)
        browser_a = web.test_client()
        await sign_up(browser_a)
        org_a = core.read(lambda uow: uow.orgs.by_slug("peak"))
        (coach_a,) = core.read(lambda uow: uow.coaches.list(org_a.id))
        secret_a = core.execute(CreateApiToken(org_id=org_a.id, coach_id=coach_a.id, name="A's script")).secret
        bearer_a = {"Authorization": f"Bearer {secret_a}"}
        token_a = await csrf(browser_a, "/today")
        rules = id_rules(web)
        checked = {r.rule for r in rules}
        for expected in (
            "/api/v1/clients/<uuid:client_id>",
            "/api/v1/bookings/<uuid:booking_id>/cancel",
            "/packages/<uuid:package_id>/refund",
            "/bookings/<uuid:booking_id>/refund",
        ):
            assert expected in checked, f"{expected} was not discovered"
        before = self._snapshot(core, org_b)

        # The ids are real: org B itself can read what org A will be refused.
        unreachable = []
        for rule in rules:
            if "GET" in rule.methods:
                headers = org_b.bearer if rule.rule.startswith("/api/") else {}
                answers = [(await browser_b.get(url, headers=headers)).status_code for url in urls(rule, org_b.ids)]
                if all(status == 404 for status in answers):
                    unreachable.append(f"GET {rule.rule} -> {answers}")
        assert not unreachable, (
            f"org B cannot read its own records, so the check below would prove nothing: {unreachable}"
        )

        leaks = []
        for rule in sorted(rules, key=lambda r: r.rule):
            api = rule.rule.startswith("/api/")
            for method in sorted(rule.methods - SAFE):
                for url in urls(rule, org_b.ids):
                    response = await call(browser_a, method, url, api=api, bearer=bearer_a, token=token_a)
                    if response.status_code != 404:
                        leaks.append(f"{method} {url} ({rule.endpoint}) -> {response.status_code}")
        assert not leaks, "routes answering other than 404 for another organisation's ids:\n" + "\n".join(leaks)
        assert self._snapshot(core, org_b) == before, "org A's requests changed org B's records"

    def _snapshot(self, core: CoachOS, org_b: OrgB) -> Any:
        """What org A must not be able to change in org B."""
        ids = {name: UUID(value) for name, value in org_b.ids.items()}
        org_id = ids["org_id"]

        def read(uow: Any) -> Any:
            return (
                uow.clients.get(org_id, ids["client_id"]),
                uow.packages.get(org_id, ids["package_id"]),
                uow.services.get(org_id, ids["service_id"]),
                uow.bookings.get(org_id, ids["booking_id"]),
                tuple(uow.availability.weekly(org_id, ids["coach_id"])),
                tuple(uow.availability.overrides(org_id, ids["coach_id"], date(2026, 3, 1), date(2026, 3, 31))),
                tuple(uow.accounts.api_tokens_of(org_id, ids["coach_id"])),
                uow.todos.get(org_id, ids["todo_id"]),
                uow.packages.offer(org_id, ids["offer_id"]),
            )

        return core.read(read)

    async def test_exclusions_are_only_public_routes(self, web: Quart) -> None:
        """The routes left out by PUBLIC_PARAMETERS are public pages, emailed links, static files or the client
        portal (whose routes tests/web/test_portal_routes.py walks with another business's client session)."""
        excluded = [r for r in web.url_map.iter_rules() if is_public(r)]
        # waiver_signing: the client's signed link to sign a waiver (its own tests: tests/web/test_waiver_routes.py).
        public = {"public", "account", "static", "portal", "waiver_signing"}
        assert all(r.endpoint.split(".")[0] in public for r in excluded), [(r.endpoint, r.rule) for r in excluded]
