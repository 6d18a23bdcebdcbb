"""`coachos operator revenue` on a SQLite file: the operator's MRR, plans and fee income across businesses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from coachos import Settings, bootstrap
from coachos.domain import ledger
from coachos.domain.money import Money
from coachos.domain.usecases import ReceiveStripeEvent
from coachos.entrypoints.cli import cli
from tests.helpers import make_world
from tests.unit.test_stripe_events import event_body


def test_the_report_prints_mrr_plans_and_fees(tmp_path: Path) -> None:
    """Two businesses, one on Pro: MRR 49.00 USD, one per plan, and the month's platform fees from the ledger."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"COACHOS_DATABASE_URL": url, "COACHOS_LOG_FORMAT": "json"}
    with bootstrap(Settings(database_url=url), upgrade_schema=True) as app:
        pro = make_world(app, slug="pro-biz")
        make_world(app, slug="starter-biz")
        meta = {"coachos_kind": "platform", "org_id": str(pro.org.id), "plan": "pro"}
        obj = {"id": "sub_cli1", "object": "subscription", "status": "active", "metadata": meta}
        app.execute(ReceiveStripeEvent(body=event_body("customer.subscription.created", obj=obj)))
        header = ledger.Header(
            id=uuid.uuid4(),
            org_id=pro.org.id,
            key="sale:test:1",
            occurred_at=datetime(2026, 3, 31, 23, 59, tzinfo=UTC),
            source_id="test",
        )
        with app.deps.uow() as uow:
            cut = ledger.platform_fee(Money(2525, "GBP"), "2").amount_minor
            uow.ledger.record(ledger.sale(header, Money(2525, "GBP"), 0, cut))
            uow.commit()
    shown = CliRunner().invoke(cli, ["operator", "revenue"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "49.00 USD" in shown.output
    assert "Starter       1" in shown.output
    assert "Pro           1" in shown.output
    assert "2026-03  0.51 GBP" in shown.output
