"""Accounting and Payments: reports over the ledger with charts, the journal CSV export, money events.

The accounting page is a shell whose sections load on their own (like the client page's panels):
each section is a GET returning an HTML fragment, so a section whose data fails shows its error
and a Retry button while the others still work. Ranges are whole local months in the business's
zone (`from` and `to` as YYYY-MM); anything else is a 400 naming the parameter.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import attrs
from quart import Blueprint, Response, abort, render_template, request, stream_with_context, url_for

from coachos.domain import accounting
from coachos.domain.accounting import MONEY_EVENTS, MoneyEvent, Report
from coachos.domain.errors import CorruptRecord, NotFound, ValidationError
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.money import Money
from coachos.domain.orgs import Organization
from coachos.domain.usecases import AccountingReport, OutstandingPayments
from coachos.entrypoints.web.charts import bar_chart, split_bar
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.entrypoints.web.unreadable import report
from coachos.entrypoints.web.views.refunds import sale_link
from coachos.ports.storage import UnitOfWork

bp = Blueprint("accounting", __name__)

_MONTH = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)
#: Sections of the accounting page: (name, title).
SECTIONS = (
    ("summary", "Totals and fees"),
    ("months", "Revenue by month"),
    ("items", "By item"),
    ("clients", "By client"),
    ("outstanding", "Outstanding and failed payments"),
)
PER_PAGE = 50
#: Transactions read per query while the CSV streams.
EXPORT_CHUNK = 500
_EVER = (datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


@attrs.frozen
class MonthRange:
    """Whole local months, from `first`'s to `last`'s (both the first day of their month)."""

    first: date
    last: date

    @property
    def args(self) -> dict[str, str]:
        """As query parameters."""
        return {"from": self.first.strftime("%Y-%m"), "to": self.last.strftime("%Y-%m")}

    @property
    def label(self) -> str:
        """For people, e.g. 'Jan 2026 to Mar 2026'."""
        a, b = self.first.strftime("%b %Y"), self.last.strftime("%b %Y")
        return a if a == b else f"{a} to {b}"


def _month(text: str, field: str) -> date:
    found = _MONTH.fullmatch(text)
    if found is None or not 1 <= int(found[2]) <= 12 or not 1900 <= int(found[1]) <= 2199:
        raise ValidationError(f"'{field}' is a month written like 2026-03.", field=field)
    return date(int(found[1]), int(found[2]), 1)


def _shift(month: date, months: int) -> date:
    n = month.year * 12 + month.month - 1 + months
    return date(n // 12, n % 12 + 1, 1)


def parse_range(args: Mapping[str, str], today: date) -> MonthRange:
    """The months asked for; the last six months (this one included) when none are; a ValidationError if bad."""
    this = today.replace(day=1)
    first = _month(args["from"], "from") if "from" in args else _shift(this, -5)
    last = _month(args["to"], "to") if "to" in args else max(this, first)
    accounting.months_between(first, last)  # refuses backwards and too-long ranges, naming the field
    return MonthRange(first, last)


def presets(today: date) -> list[tuple[str, MonthRange]]:
    """The ranges offered as one-tap buttons."""
    this = today.replace(day=1)
    return [
        ("This month", MonthRange(this, this)),
        ("Last month", MonthRange(_shift(this, -1), _shift(this, -1))),
        ("Last 3 months", MonthRange(_shift(this, -2), this)),
        ("Last 12 months", MonthRange(_shift(this, -11), this)),
        ("This year", MonthRange(this.replace(month=1), this)),
        ("Last year", MonthRange(date(this.year - 1, 1, 1), date(this.year - 1, 12, 1))),
    ]


@attrs.frozen
class Who:
    """A client as a report shows them: their name, or why it cannot be shown."""

    id: UUID | None
    name: str | None = None
    deleted: bool = False
    unreadable: bool = False

    @property
    def text(self) -> str:
        """The name, or what stands in for it."""
        if self.id is None:
            return "No client"
        if self.unreadable:
            return "Client record could not be read"
        return self.name if self.name is not None else "Deleted client"


def resolve_clients(uow: UnitOfWork, org_id: OrgId, ids: Iterable[UUID | None]) -> tuple[dict[Any, Who], list[Any]]:
    """Each client id's `Who`, and the records that could not be read (for the page's marker)."""
    found: dict[Any, Who] = {None: Who(None)}
    broken: list[CorruptRecord] = []
    for cid in ids:
        if cid in found or cid is None:
            continue
        try:
            found[cid] = Who(cid, uow.clients.get(org_id, ClientId(cid)).name)
        except NotFound:
            found[cid] = Who(cid, deleted=True)
        except CorruptRecord as exc:
            broken.append(exc)
            found[cid] = Who(cid, unreadable=True)
    return found, broken


def _today(org: Organization) -> date:
    return core().clock.now().astimezone(org.tz).date()


async def _org() -> Organization:
    who = require_principal()
    return await core().read_async(lambda uow: uow.orgs.get(who.org_id))


@bp.route("/accounting")
@login_required
async def page() -> Any:
    """The accounting page: a range of local months, its sections loading on their own, and the export."""
    org = await _org()
    today = _today(org)
    months = parse_range(request.args, today)
    return await render_template(
        "accounting.html",
        org=org,
        months=months,
        presets=presets(today),
        sections=SECTIONS,
        zone_label=core().clock.now().astimezone(org.tz).tzname(),
    )


@bp.route("/accounting/sections/<name>")
@login_required
async def section(name: str) -> Any:
    """One section of the accounting page as an HTML fragment (an error status if its data cannot be read)."""
    if name not in dict(SECTIONS):
        abort(404)
    org = await _org()
    months = parse_range(request.args, _today(org))
    context: dict[str, Any] = {"org": org, "months": months}
    if name == "outstanding":
        rows = await core().execute_async(OutstandingPayments(org_id=org.id))
        names, broken = await core().read_async(lambda uow: resolve_clients(uow, org.id, (r.client_id for r in rows)))
        context.update(rows=rows, names=names, unreadable=report(rows, broken))
    else:
        r = await core().execute_async(AccountingReport(org_id=org.id, first=months.first, last=months.last))
        context.update(r=r, unreadable=None, charts=_charts(r))
        if name == "clients":
            ids = [cid for cid, _ in r.by_client]
            names, broken = await core().read_async(lambda uow: resolve_clients(uow, org.id, ids))
            context.update(names=names, unreadable=report(broken))
    marker = await render_template("_unreadable.html", unreadable=context["unreadable"])
    return marker + await render_template(f"accounting/{name}.html", **context)


def _charts(r: Report) -> dict[str, Any]:
    def shown(amount: int) -> str:
        return str(Money(amount, r.currency))

    months = bar_chart(
        "revenue-by-month",
        f"Recognised revenue by month, {r.currency}",
        [m.strftime("%b %y") for m in r.months],
        list(r.revenue_by_month),
        [shown(v) for v in r.revenue_by_month],
    )
    fees = split_bar(
        "fees-split",
        "Where the sales went: Stripe's fees, the platform's fee, refunds and what the coach kept",
        [
            ("Stripe fees", r.stripe_fees, shown(r.stripe_fees), "stripe"),
            ("Platform fees", r.platform_fees, shown(r.platform_fees), "platform"),
            ("Refunds", r.refunds, shown(r.refunds), "refunds"),
            ("Net to you", r.net, shown(r.net), "net"),
        ],
    )
    return {"months": months, "fees": fees}


@bp.route("/accounting/export.csv")
@login_required
async def export() -> Any:
    """The range's ledger as manual-journal lines (CSV) for Xero or QuickBooks, streamed."""
    org = await _org()
    months = parse_range(request.args, _today(org))
    bounds = accounting.month_boundaries(accounting.months_between(months.first, months.last), org.tz)
    start, end = bounds[0], bounds[-1]

    def chunk(after: tuple[datetime, str] | None) -> Any:
        def read(uow: UnitOfWork) -> tuple[list[Any], dict[Any, Who]]:
            txs = list(uow.ledger.window(org.id, start, end, limit=EXPORT_CHUNK, after=after))
            names, _ = resolve_clients(uow, org.id, (t.client_id for t in txs))
            return txs, names

        return core().read_async(read)

    @stream_with_context
    async def rows() -> AsyncIterator[bytes]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(accounting.JOURNAL_COLUMNS)
        after: tuple[datetime, str] | None = None
        while True:
            txs, names = await chunk(after)
            for tx in txs:
                who = names.get(tx.client_id)
                name = who.text if who is not None and tx.client_id is not None else None
                writer.writerows(accounting.journal_rows(tx, org.tz, name))
            yield out.getvalue().encode("utf-8")
            out.seek(0)
            out.truncate()
            if len(txs) < EXPORT_CHUNK:
                return
            after = (txs[-1].occurred_at, txs[-1].key)

    filename = f"journal-{months.args['from']}-to-{months.args['to']}.csv"
    response = Response(rows(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _page_number(args: Mapping[str, str]) -> int:
    text = args.get("page", "1")
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise ValidationError("'page' is a page number from 1.", field="page")
    return int(text)


@bp.route("/payments")
@login_required
async def payments() -> Any:
    """The ledger's money events (sales, refunds, payouts), newest first, with what is still owed."""
    org = await _org()
    number = _page_number(request.args)

    def read(uow: UnitOfWork) -> tuple[list[MoneyEvent], bool, dict[Any, Who], list[Any]]:
        found = uow.ledger.window(
            org.id, *_EVER, newest_first=True, limit=PER_PAGE + 1, offset=(number - 1) * PER_PAGE, kinds=MONEY_EVENTS
        )
        events = [MoneyEvent.of(tx) for tx in found[:PER_PAGE]]
        names, broken = resolve_clients(uow, org.id, (e.tx.client_id for e in events))
        return events, len(found) > PER_PAGE, names, broken

    events, more, names, broken = await core().read_async(read)
    owed = await core().execute_async(OutstandingPayments(org_id=org.id))
    owed_names, owed_broken = await core().read_async(
        lambda uow: resolve_clients(uow, org.id, (r.client_id for r in owed))
    )
    return await render_template(
        "payments.html",
        org=org,
        money_of=Money,
        refund_link=sale_link,
        events=events,
        names=names | owed_names,
        owed=owed,
        page=number,
        newer=url_for("accounting.payments", page=number - 1) if number > 1 else None,
        older=url_for("accounting.payments", page=number + 1) if more else None,
        unreadable=report(owed, broken, owed_broken),
    )
