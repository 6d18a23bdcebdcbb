"""Sending due reminders on PostgreSQL: 10,000 reminders due within one minute across 200 businesses.

Each business texts from its own number, so the provider's rate (COACHOS_SMS_RATE_PER_SECOND, 1 per
number by default, Twilio's long-code rate) bounds the whole run at 200 texts a second. Texts go
through the real twilio SDK to a fake Twilio on loopback that answers after 50 ms. Worker threads
(standing in for worker processes: each runs the same use case on its own connections) send
until nothing is left.

Reported: the time to select and claim all 10,000 due rows (a separate pass, undone before the
send run), sends per second overall and per worker, and per number the most texts handed to the
database granted within any one rate interval (at the instants the bucket was asked), which must
never exceed the bucket (checked and reported, not a test: a breach fails the benchmark). The most
texts that reached the provider within one interval is reported beside it: a hand-off trails its
grant by however long the thread waits to run, so hand-offs can bunch up where grants cannot.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bench._pg import temp_postgres
from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.security import fast_test_hasher
from coachos.adapters.sql.engine import make_engine
from coachos.adapters.sql.messages import message_values
from coachos.adapters.sql.tables import messages
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.adapters.twilio_sms import TwilioSms
from coachos.domain.clients import Channel, Client, Consent
from coachos.domain.ids import ClientId
from coachos.domain.messages import MessageChannel, MessageStatus, Purpose, outgoing
from coachos.domain.sending import SendingOptions
from coachos.domain.usecases import CreateOrganization, SendDueMessages, SendReport
from coachos.domain.usecases.sending import THROTTLE_WAIT
from coachos.ports.storage import UnitOfWork
from tests.integration.fake_twilio import SID, TOKEN, fake_twilio

#: Seconds the fake Twilio takes to answer each request.
LATENCY = 0.05
#: How far a number's sends may be apart and still count as within one rate interval (thread wake-ups).
JITTER = 0.005


class TimedSms:
    """The Twilio sender, noting when each number handed a text to the provider."""

    def __init__(self, inner: TwilioSms) -> None:
        self._inner = inner
        self.handed: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def send(self, *, from_number: str, to: str, body: str, status_callback: str | None) -> Any:
        with self._lock:
            self.handed[from_number].append(time.monotonic())
        return self._inner.send(from_number=from_number, to=to, body=body, status_callback=status_callback)

    def find_sent(self, **kw: Any) -> Any:
        return self._inner.find_sent(**kw)


class GrantLog:
    """Every token the database granted, by number, at the instant the bucket was asked for it."""

    def __init__(self) -> None:
        self.granted: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def note(self, number: str, at: datetime) -> None:
        with self._lock:
            self.granted[number].append(at.timestamp())


class _Recorded:
    """A message repository whose granted tokens are noted in a GrantLog."""

    def __init__(self, inner: Any, log: GrantLog) -> None:
        self._inner, self._log = inner, log

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def take_send_token(self, number: str, now: datetime, rate_per_second: float, burst: int) -> bool:
        taken = bool(self._inner.take_send_token(number, now, rate_per_second, burst))
        if taken:
            self._log.note(number, now)
        return taken


class RecordingUnitOfWork(SqlUnitOfWork):
    """The SQL unit of work, noting the tokens it was granted."""

    def __init__(self, engine: sa.Engine, log: GrantLog) -> None:
        super().__init__(engine)
        self._log = log

    def __enter__(self) -> RecordingUnitOfWork:
        super().__enter__()
        self.messages = _Recorded(self.messages, self._log)
        return self


def _daytime_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about noon now, so quiet hours hold nothing back."""
    ahead = (12 - now.hour) % 24
    return f"Etc/GMT-{ahead}" if ahead <= 14 else f"Etc/GMT+{24 - ahead}"


def _seed(app: CoachOS, engine: sa.Engine, orgs: int, per_org: int) -> list[str]:
    """`orgs` businesses with `per_org` consenting clients and one due reminder each; their numbers."""
    now = datetime.now(UTC)
    zone = _daytime_zone(now)
    numbers = []
    for n in range(orgs):
        org, _ = app.execute(
            CreateOrganization(
                name=f"Bench {n}",
                slug=f"bench-{n}-{uuid.uuid4().hex[:6]}",
                timezone=zone,
                currency="USD",
                owner_name="Owner",
                owner_email=f"owner{n}@bench.test",
            )
        )
        number = f"+1555{n:07d}"
        numbers.append(number)
        consent = Consent(channel=Channel.SMS, granted_at=now, method="booking_form")
        rows = []
        with app.unit_of_work() as uow:
            for c in range(per_org):
                client = Client(
                    id=ClientId(uuid.uuid4()),
                    org_id=org.id,
                    name=f"Client {c}",
                    created_at=now,
                    phone=f"+1212{n:03d}{c:04d}",
                    consents=(consent,),
                )
                uow.clients.add(client)
                reminder = outgoing(
                    id=uuid.uuid4(),
                    org_id=org.id,
                    key=f"booking:{uuid.uuid4()}:reminder-24h",
                    channel=MessageChannel.SMS,
                    purpose=Purpose.TRANSACTIONAL,
                    to=client.phone or "",
                    body=f"Reminder: your session tomorrow at 9:00 (#{n}-{c}).",
                    now=now,
                    # Due at moments spread over the last minute.
                    not_before=now - timedelta(seconds=60 * c / per_org),
                    client_id=client.id,
                    template="reminder_24h",
                    sender=number,
                )
                rows.append(message_values(reminder))
            uow.commit()
        with engine.begin() as conn:
            conn.execute(messages.insert(), rows)
    return numbers


def _claim_all(app: CoachOS, total: int, batch: int) -> float:
    """Seconds to select and claim every due row, `batch` at a time; the claims are undone afterwards."""
    t0 = time.perf_counter()
    claimed = 0
    while True:
        now = datetime.now(UTC)
        with app.unit_of_work() as uow:
            got = len(uow.messages.claim_due(now, now + timedelta(minutes=5), batch))
            uow.commit()
        if not got:
            break
        claimed += got
    seconds = time.perf_counter() - t0
    if claimed != total:
        raise AssertionError(f"claimed {claimed} of {total} due reminders")
    return seconds


def _unclaim(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            messages.update().values(status=MessageStatus.QUEUED.value, attempts=0, lease_until=None, status_at=None)
        )


def _left(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        q = sa.select(sa.func.count()).where(
            messages.c.status.in_([MessageStatus.QUEUED.value, MessageStatus.SENDING.value])
        )
        return int(conn.execute(q).scalar_one())


def _most_per_interval(times: list[float], interval: float, jitter: float) -> int:
    """The most events within any window of `interval` seconds (less `jitter`) starting at an event."""
    times = sorted(times)
    most, j = 0, 0
    for i, start in enumerate(times):
        j = max(j, i)
        while j + 1 < len(times) and times[j + 1] - start < interval - jitter:
            j += 1
        most = max(most, j - i + 1)
    return most


def run(orgs: int = 200, per_org: int = 50, workers: int = 10, rate: float = 1.0, burst: int = 1) -> dict[str, Any]:
    """Seed, time the claim pass, send everything with `workers` threads, and check the per-number rate."""
    total = orgs * per_org
    with temp_postgres(pool_size=4) as owner, fake_twilio(latency=LATENCY) as twilio:
        engine = make_engine(owner.url.render_as_string(hide_password=False), pool_size=workers + 4, role="coachos_app")
        sms = TimedSms(TwilioSms(SID, TOKEN, api_url=twilio.url))
        options = SendingOptions(rate_per_second=rate, burst=burst, default_sms_from=None, status_callback_url=None)

        grants = GrantLog()

        def uow() -> UnitOfWork:
            return RecordingUnitOfWork(engine, grants)

        try:
            with bootstrap(
                Settings(database_url="memory://"), uow=uow, hasher=fast_test_hasher(), sms=sms, sending=options
            ) as app:
                t0 = time.perf_counter()
                numbers = _seed(app, owner, orgs, per_org)
                seed_seconds = time.perf_counter() - t0
                claim_seconds = _claim_all(app, total, options.batch)
                _unclaim(owner)
                result = _send(app, owner, workers)
        finally:
            engine.dispose()
        most = max(_most_per_interval(grants.granted[n], 1 / rate, 0.0) for n in numbers)
        arriving = max(_most_per_interval(sms.handed[n], 1 / rate, JITTER) for n in numbers)
        created = sum(twilio.created.values())
        if most > burst:
            raise AssertionError(
                f"a number was granted {most} tokens within one rate interval; its bucket holds {burst}"
            )
        if created != total or max(twilio.created.values()) != 1:
            raise AssertionError(f"Twilio received {created} texts for {total} reminders (or one twice)")
        return {
            "name": f"sending_{total}_reminders_{orgs}_orgs",
            "workers": workers,
            "seed_seconds": round(seed_seconds, 1),
            "claim_all_seconds": round(claim_seconds, 2),
            "claims_per_second": round(total / claim_seconds),
            **result,
            "per_number_rate": rate,
            "most_granted_per_rate_interval": most,
            "rate_ever_exceeded": most > burst,
            # Informational: hand-offs trail their grants by thread scheduling, so they can bunch up.
            "most_handed_to_provider_per_rate_interval": arriving,
        }


def _send(app: CoachOS, engine: sa.Engine, workers: int) -> dict[str, Any]:
    done = threading.Event()
    reports = [SendReport() for _ in range(workers)]

    def worker(n: int) -> None:
        while not done.is_set():
            report = app.execute(SendDueMessages(budget_seconds=5))
            reports[n] += report
            if report.claimed == 0 or report.throttled:
                if _left(engine) == 0:
                    done.set()
                    return
                time.sleep(THROTTLE_WAIT.total_seconds() / 4)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    sent = sum(r.sent for r in reports)
    return {
        "send_seconds": round(seconds, 1),
        "sent": sent,
        "sends_per_second": round(sent / seconds, 1),
        "sends_per_second_per_worker": round(sent / seconds / workers, 1),
        "throttled_deferrals": sum(r.throttled for r in reports),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=200)
    parser.add_argument("--per-org", type=int, default=50)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--rate", type=float, default=1.0)
    args = parser.parse_args()
    print(run(args.orgs, args.per_org, args.workers, args.rate))


if __name__ == "__main__":
    main()
