"""The client page's consent panel and forms, through the real app on the fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import (
    BookAsGuest,
    Channel,
    CoachOS,
    ConfirmBooking,
    ConsentAction,
    ConsentLog,
    RecordConsent,
    WithdrawConsent,
)
from coachos.adapters.clock import FixedClock
from coachos.domain.bookings import GuestConsent
from tests.web.support import csrf
from tests.web.test_client_routes import add, open_business, text


class TestConsentPanel:
    async def test_shows_every_channel_and_purpose_in_plain_words(self, client: Client, core: CoachOS) -> None:
        """The panel names each consent as a client would ("Texts about bookings", …) and says none was given."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        status, fragment = await text(client, f"/clients/{jordan.id}/panels/consent")
        assert status == 200
        for words in ("Texts about bookings", "Marketing texts", "Marketing emails", "Emails about bookings"):
            assert words in fragment
        assert "never given" in fragment

    async def test_shows_the_date_method_and_wording_and_past_withdrawals(
        self, client: Client, core: CoachOS, clock: FixedClock
    ) -> None:
        """A given consent shows since when, how and its words; a withdrawn one when and how it ended."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee", phone="+12125550101")
        base = {"org_id": biz.org.id, "client_id": jordan.id, "actor": biz.me}
        core.execute(RecordConsent(channel="sms", method="booking_form", wording="Text me reminders", **base))  # type: ignore[arg-type]
        core.execute(RecordConsent(channel="sms_marketing", method="client_request", wording="Offers please", **base))  # type: ignore[arg-type]
        clock.advance(timedelta(days=1))
        core.execute(WithdrawConsent(channel="sms_marketing", method="sms_keyword", wording="STOP", **base))  # type: ignore[arg-type]
        fragment = (await text(client, f"/clients/{jordan.id}/panels/consent"))[1]
        assert "since 2 Mar 2026, 07:00 EST, on the booking form: <q>Text me reminders</q>" in fragment
        assert "withdrawn 3 Mar 2026, 07:00 EST, by text keyword: <q>STOP</q>" in fragment
        assert "History (1 withdrawal)" in fragment
        assert "Marketing texts: given" in fragment

    async def test_the_page_has_a_consent_panel(self, client: Client, core: CoachOS) -> None:
        """The client page lists the consent panel among the others."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee")
        assert 'id="panel-consent"' in (await text(client, f"/clients/{jordan.id}"))[1]


class TestConsentForms:
    async def test_recording_keeps_the_coachs_words(self, client: Client, core: CoachOS, clock: FixedClock) -> None:
        """The record form stores the consent entered by the coach with their words, and logs it."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee", email="jordan@example.com")
        token = await csrf(client, f"/clients/{jordan.id}")
        response = await client.post(
            f"/clients/{jordan.id}/consents",
            form={
                "csrf_token": token,
                "channel": "email_marketing",
                "method": "coach_entered",
                "wording": "Said yes to the newsletter at the gym",
            },
        )
        assert response.status_code == 303
        saved = core.read(lambda uow: uow.clients.get(biz.org.id, jordan.id)).consent(Channel.EMAIL_MARKETING)
        assert saved is not None
        assert (saved.method, saved.wording, saved.granted_at) == (
            "coach_entered",
            "Said yes to the newsletter at the gym",
            clock.now(),
        )

    async def test_withdrawing_keeps_how_and_when(self, client: Client, core: CoachOS, clock: FixedClock) -> None:
        """The withdraw form ends the consent and the log keeps the withdrawal with its method and note."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee", phone="+12125550101")
        core.execute(
            RecordConsent(
                org_id=biz.org.id, client_id=jordan.id, channel="sms", method="booking_form", wording="W", actor=biz.me
            )
        )
        token = await csrf(client, f"/clients/{jordan.id}")
        response = await client.post(
            f"/clients/{jordan.id}/consents/withdraw",
            form={"csrf_token": token, "channel": "sms", "method": "client_request", "wording": "Asked on the phone"},
        )
        assert response.status_code == 303
        assert core.read(lambda uow: uow.clients.get(biz.org.id, jordan.id)).consents == ()
        last = core.execute(ConsentLog(org_id=biz.org.id, client_id=jordan.id))[-1]
        assert (last.action, last.method, last.wording, last.at) == (
            ConsentAction.WITHDRAWN,
            "client_request",
            "Asked on the phone",
            clock.now(),
        )

    @pytest.mark.parametrize(
        ("path", "form", "field_words"),
        [
            ("consents", {"channel": "fax", "method": "coach_entered", "wording": "W"}, "is not a channel"),
            ("consents", {"channel": "sms", "method": "coach_entered", "wording": " "}, "Write down what the client"),
            ("consents", {"channel": "sms", "method": "sms_keyword", "wording": "W"}, "Choose how"),
            ("consents", {"channel": "sms", "wording": "W"}, "Choose how"),
            ("consents", {"channel": "sms", "method": "coach_entered", "wording": "x" * 2001}, "limited to 2,000"),
            ("consents/withdraw", {"channel": "sms", "method": "system"}, "Choose how"),
            ("consents/withdraw", {"channel": "pigeon", "method": "client_request"}, "is not a channel"),
        ],
    )
    async def test_bad_input_is_refused_with_the_reason_and_writes_nothing(
        self, client: Client, core: CoachOS, path: str, form: dict[str, str], field_words: str
    ) -> None:
        """A bad channel, method or wording answers 400 with the consent panel open and the reason; nothing changes."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee", phone="+12125550101")
        core.execute(
            RecordConsent(
                org_id=biz.org.id, client_id=jordan.id, channel="sms", method="booking_form", wording="W", actor=biz.me
            )
        )
        before = core.read(lambda uow: uow.clients.get(biz.org.id, jordan.id))
        token = await csrf(client, f"/clients/{jordan.id}")
        response = await client.post(f"/clients/{jordan.id}/{path}", form={"csrf_token": token, **form})
        assert response.status_code == 400
        assert field_words in await response.get_data(as_text=True)
        assert core.read(lambda uow: uow.clients.get(biz.org.id, jordan.id)) == before
        assert len(core.execute(ConsentLog(org_id=biz.org.id, client_id=jordan.id))) == 1

    async def test_a_form_without_the_csrf_token_is_refused(self, web: Quart, core: CoachOS) -> None:
        """Posting a consent without the page's CSRF token is refused and records nothing."""
        browser = web.test_client()
        biz = await open_business(browser, core)
        jordan = add(core, biz, "Jordan Lee", phone="+12125550101")
        response = await browser.post(
            f"/clients/{jordan.id}/consents", form={"channel": "sms", "method": "coach_entered", "wording": "W"}
        )
        assert response.status_code in (400, 403)
        assert core.read(lambda uow: uow.clients.get(biz.org.id, jordan.id)).consents == ()


class TestApplyFromBooking:
    async def test_a_confirmed_bookings_ticks_are_offered_and_applied(
        self, client: Client, core: CoachOS, clock: FixedClock
    ) -> None:
        """The panel shows what was ticked on a matched booking, asks to confirm it first, then applies it."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee", phone="+12125550101")
        wording = "Send me marketing texts"
        booking = core.execute(
            BookAsGuest(
                org_id=biz.org.id,
                service_id=biz.service.id,
                start=datetime(2026, 3, 3, 14, tzinfo=UTC),
                name="Jordan L",
                phone="+1 212 555 0101",
                sms_consent=False,
                consent_wording="Text me reminders",
                marketing=(GuestConsent(Channel.SMS_MARKETING, wording),),
                idempotency_key="k",
                visitor="v",
            )
        )
        fragment = (await text(client, f"/clients/{jordan.id}/panels/consent"))[1]
        assert f"Marketing texts: <q>{wording}</q>" in fragment
        assert "Confirm the booking first" in fragment
        token = await csrf(client, f"/clients/{jordan.id}")
        refused = await client.post(
            f"/clients/{jordan.id}/consents/from-booking", form={"csrf_token": token, "booking_id": str(booking.id)}
        )
        assert refused.status_code == 400
        assert core.read(lambda uow: uow.clients.get(biz.org.id, jordan.id)).consents == ()
        core.execute(ConfirmBooking(org_id=biz.org.id, booking_id=booking.id, actor=biz.me))
        assert "Apply to Jordan Lee" in (await text(client, f"/clients/{jordan.id}/panels/consent"))[1]
        response = await client.post(
            f"/clients/{jordan.id}/consents/from-booking", form={"csrf_token": token, "booking_id": str(booking.id)}
        )
        assert response.status_code == 303
        held = core.read(lambda uow: uow.clients.get(biz.org.id, jordan.id)).consent(Channel.SMS_MARKETING)
        assert held is not None
        assert (held.method, held.wording, held.granted_at) == ("booking_form", wording, clock.now())
        assert "Apply to" not in (await text(client, f"/clients/{jordan.id}/panels/consent"))[1]

    @pytest.mark.parametrize("booking_id", ["", "not-a-uuid", "00000000-0000-4000-8000-000000000000"])
    async def test_a_bad_booking_id_is_refused(self, client: Client, core: CoachOS, booking_id: str) -> None:
        """A missing or malformed booking id is 400, an unknown one 404; nothing changes."""
        biz = await open_business(client, core)
        jordan = add(core, biz, "Jordan Lee", phone="+12125550101")
        token = await csrf(client, f"/clients/{jordan.id}")
        response = await client.post(
            f"/clients/{jordan.id}/consents/from-booking", form={"csrf_token": token, "booking_id": booking_id}
        )
        assert response.status_code == (404 if booking_id.startswith("0000") else 400)
        assert core.read(lambda uow: uow.clients.get(biz.org.id, jordan.id)) == jordan
