"""Stripe webhook ingest on PostgreSQL: throughput with 10% duplicates, latency at 100 events/s, exactly once.

`coachos serve` runs in its own process on a throwaway PostgreSQL database; a second process
(`bench.loadgen`) posts signed `checkout.session.completed` events for packages a client is paying
for by card, the way Stripe delivers them: each signed (`Stripe-Signature`, HMAC-SHA256 over
"<t>.<body>"), one in ten a copy of an event sent shortly before (Stripe's redeliveries and its
concurrent duplicates).

Two runs:
- throughput: 16 connections sending back to back, events per second;
- latency: an open-loop 100 events/s (each request timed from when it was due, so a slow server
  shows as latency instead of a lower rate), p50 and p99.

Then the check that matters: every event id stored once, every package paid once, one ledger sale
per package, and every delivery answered 2xx. A miss fails the benchmark.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bench._pg import temp_postgres
from bench.bench_web import Server, _load
from coachos import CreateClient, Money, Settings, SignUp, bootstrap
from coachos.domain.catalog import PaymentMethod, PaymentState, SessionPackage
from coachos.domain.ids import Actor, ClientId, OrgId, PackageId

SECRET = "whsec_bench_" + "x" * 24  # a throwaway endpoint secret
ACCOUNT = "acct_benchcoach0001"
PRICE = 12000


def _seed(url: str, packages: int) -> tuple[OrgId, list[PackageId]]:
    """A business with a connected account and `packages` card packages waiting for their payment."""
    with bootstrap(Settings(database_url=url)) as app:
        org, coach = app.execute(
            SignUp(
                business_name="Bench Gym",
                slug="bench-gym",
                timezone="America/New_York",
                currency="USD",
                name="Bench",
                email="bench@example.com",
                password="bench-password-1",  # noqa: S106  # a throwaway benchmark account
            )
        )
        me = Actor("coach", coach.id)
        client = app.execute(CreateClient(org_id=org.id, name="Bench Client", email="client@example.com", actor=me))
        now = datetime.now(UTC)
        ids = [PackageId(uuid.uuid4()) for _ in range(packages)]
        with app.unit_of_work() as uow:
            uow.stripe.link_account(org.id, ACCOUNT, now)
            for package_id in ids:
                uow.packages.add(
                    SessionPackage(
                        id=package_id,
                        org_id=org.id,
                        client_id=ClientId(client.id),
                        name="10 sessions",
                        total=10,
                        price=Money(PRICE, "USD"),
                        purchased_at=now,
                        expires_at=now + timedelta(days=365),
                        payment_state=PaymentState.PENDING,
                        payment_method=PaymentMethod.CARD,
                    )
                )
            uow.commit()
    return org.id, ids


def _event(org_id: OrgId, package_id: PackageId, n: int) -> str:
    created = int(time.time())
    return json.dumps(
        {
            "id": f"evt_bench{package_id.hex}",
            "object": "event",
            "type": "checkout.session.completed",
            "api_version": "2025-01-27.acacia",
            "created": created,
            "livemode": False,
            "account": ACCOUNT,
            "data": {
                "object": {
                    "id": f"cs_bench{n}",
                    "object": "checkout.session",
                    "mode": "payment",
                    "status": "complete",
                    "payment_status": "paid",
                    "amount_total": PRICE,
                    "currency": "usd",
                    "payment_intent": f"pi_bench{n}",
                    "created": created,
                    "metadata": {"coachos_kind": "package", "org_id": str(org_id), "package_id": str(package_id)},
                }
            },
        }
    )


def _signed(body: str) -> dict[str, Any]:
    t = int(time.time())
    mac = hmac.new(SECRET.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "method": "POST",
        "path": "/webhooks/stripe",
        "headers": {"Content-Type": "application/json", "Stripe-Signature": f"t={t},v1={mac}"},
        "body": body,
    }


def _deliveries(bodies: list[str], rng: random.Random, duplicates: float) -> list[dict[str, Any]]:
    """Each body once, plus a `duplicates` share of copies of bodies sent a little earlier."""
    out = list(bodies)
    for _ in range(round(len(bodies) * duplicates)):
        at = rng.randrange(1, len(out))
        out.insert(at, out[rng.randrange(max(0, at - 20), at)])  # a copy close behind its original
    return [_signed(body) for body in out]


def _stored(engine: sa.Engine, org_id: OrgId) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            "events": conn.execute(sa.text("SELECT count(*) FROM stripe_events")).scalar_one(),
            "paid": conn.execute(
                sa.text("SELECT count(*) FROM packages WHERE org_id = :o AND payment_state = 'paid'"), {"o": org_id}
            ).scalar_one(),
            "sales": conn.execute(
                sa.text("SELECT count(*) FROM ledger_transactions WHERE org_id = :o AND key LIKE 'sale:package:%'"),
                {"o": org_id},
            ).scalar_one(),
        }


def run(
    events: int = 1500, rate_events: int = 1000, rate: float = 100.0, connections: int = 16
) -> list[dict[str, Any]]:
    """Both runs on one server; the exactly-once check after each."""
    rng = random.Random(9)  # shuffling a benchmark, not a secret
    rows: list[dict[str, Any]] = []
    with temp_postgres(pool_size=24) as engine:
        url = engine.url.render_as_string(hide_password=False)
        org_id, ids = _seed(url, events + rate_events)
        bodies = [_event(org_id, package_id, n) for n, package_id in enumerate(ids)]
        env = {"COACHOS_STRIPE_WEBHOOK_SECRET": SECRET, "COACHOS_STRIPE_CONNECT_WEBHOOK_SECRET": SECRET}
        server = Server(url, env)
        try:
            unique = 0
            for name, chunk, spec in (
                ("webhook_ingest_throughput", bodies[:events], {"connections": connections, "seconds": 600}),
                (f"webhook_ingest_at_{rate:g}_per_s", bodies[events:], {"connections": connections, "rate": rate}),
            ):
                requests = _deliveries(chunk, rng, duplicates=0.10)
                result = _load({"host": "127.0.0.1", "port": server.port, "requests": requests, "cycle": False, **spec})
                unique += len(chunk)
                stored = _stored(engine, org_id)
                answered = sum(v for k, v in result["statuses"].items() if k.startswith("2"))
                once = stored == {"events": unique, "paid": unique, "sales": unique} and answered == len(requests)
                rows.append(
                    {
                        "name": name,
                        "deliveries": len(requests),
                        "unique_events": len(chunk),
                        "events_per_second": result["requests_per_second"],
                        **{k: result[k] for k in ("p50_ms", "p99_ms", "statuses")},
                        "exactly_once": once,
                        "stored": stored,
                    }
                )
                if not once:
                    raise AssertionError(f"{name}: expected {unique} of each and all 2xx, got {stored}, {result}")
        finally:
            server.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--rate-events", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args()
    for row in run(args.events, args.rate_events, args.rate):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
