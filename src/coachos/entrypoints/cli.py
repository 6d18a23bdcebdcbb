"""The `coachos` command: database migrations, the demo business, the web app and the background worker."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

import click
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from coachos.adapters.sql import migrate
from coachos.adapters.sql.engine import Timeouts, make_engine
from coachos.bootstrap import MEMORY_URL, bootstrap
from coachos.domain.errors import CoachOSError
from coachos.domain.platform import RevenueReport
from coachos.domain.timezones import label
from coachos.logs import configure_logging
from coachos.settings import Settings, redact_url


@click.group()
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Coach OS — run a personal-training business."""
    try:
        settings = Settings.from_env()
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    configure_logging(settings)
    ctx.obj = settings


@cli.group()
def db() -> None:
    """Manage the database schema."""


def _sql_settings(settings: Settings) -> Settings:
    if settings.database_url == MEMORY_URL:
        raise click.ClickException("COACHOS_DATABASE_URL is memory://; there is no schema to manage.")
    return settings


@contextmanager
def _schema_engine(settings: Settings) -> Iterator[Engine]:
    """An engine for schema work (`Timeouts.for_migrations`), whose database errors end the command readably."""
    timeouts = Timeouts.from_settings(settings).for_migrations()
    engine = make_engine(_sql_settings(settings).database_url, pool_size=1, timeouts=timeouts)
    try:
        yield engine
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).split("\n", 1)[0]
        raise click.ClickException(
            f"The database {redact_url(settings.database_url)} did not answer as expected: {reason} "
            "(check it is running and reachable; if a lock timed out, try again when it is quieter)"
        ) from exc
    finally:
        engine.dispose()


@db.command("upgrade")
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Bring the schema up to date (safe to run on every deploy)."""
    with _schema_engine(settings) as engine:
        migrate.upgrade(engine)
        click.echo(f"Database {redact_url(settings.database_url)} is at revision {migrate.current_revision(engine)}.")


@db.command("current")
@click.pass_obj
def db_current(settings: Settings) -> None:
    """Show the schema revision and whether it is the newest."""
    with _schema_engine(settings) as engine:
        current = migrate.current_revision(engine)
        state = "up to date" if migrate.is_current(engine) else f"behind (newest is {migrate.head_revision()})"
        click.echo(f"{current or 'empty'}: {state}")


def _require_current_schema(settings: Settings) -> None:
    """Refuse to serve a database whose schema is behind this code: serving never migrates."""
    with _schema_engine(settings) as engine:
        current = migrate.current_revision(engine)
    head = migrate.head_revision()
    if current == head:
        return
    where = redact_url(settings.database_url)
    if current is not None and not migrate.is_known(current):
        # A newer release migrated it (a rolling deploy); its migrations keep older code working.
        click.echo(f"Warning: {where} is at revision {current}, newer than this version knows ({head}).", err=True)
        return
    raise click.ClickException(
        f"The database {where} is at revision {current or 'none (empty)'}, but this version needs {head}. "
        "Run `coachos db upgrade` first, then start `coachos serve` again."
    )


@cli.command()
@click.pass_obj
def prune(settings: Settings) -> None:
    """Delete expired sessions, dead reset links, stale throttle counters and old security events (safe any time)."""
    from coachos.domain.usecases import PruneExpired

    with bootstrap(settings) as app:
        click.echo(f"Deleted {app.execute(PruneExpired())} expired rows.")


@cli.group()
def outbox() -> None:
    """Inspect and requeue outbox deliveries that were given up on."""


@outbox.command("dead")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=1), help="Most letters to list.")
@click.pass_obj
def outbox_dead(settings: Settings, limit: int) -> None:
    """List dead letters: event id, type, consumer, attempts and the last error's kind."""
    with bootstrap(settings) as app:
        letters = app.relay.dead_letters(limit)
    if not letters:
        click.echo("No dead letters.")
    for d in letters:
        click.echo(f"{d.event_id}  {d.event_type}  {d.consumer}  attempts={d.attempts}  last_error={d.last_error}")


@outbox.command("retry")
@click.argument("event_id", type=click.UUID)
@click.option("--consumer", default=None, help="Requeue only this consumer's delivery (default: every dead one).")
@click.pass_obj
def outbox_retry(settings: Settings, event_id: UUID, consumer: str | None) -> None:
    """Requeue an event's dead deliveries with fresh attempts; the worker's next tick runs them."""
    with bootstrap(settings) as app:
        count = app.relay.retry(event_id, consumer)
    if count == 0:
        raise click.ClickException(f"Event {event_id} has no dead deliveries{f' for {consumer}' if consumer else ''}.")
    click.echo(f"Requeued {count} {'delivery' if count == 1 else 'deliveries'} of event {event_id}.")


@cli.group()
def numbers() -> None:
    """The phone numbers each business receives texts on (one business per number)."""


@contextmanager
def _readable_errors() -> Iterator[None]:
    """Turn a refusal (unknown business, number taken, malformed number) into the command's error message."""
    try:
        yield
    except CoachOSError as exc:
        raise click.ClickException(exc.message) from exc


@numbers.command("add")
@click.argument("business")
@click.argument("number")
@click.option("--label", default="", help="A name for the number, e.g. 'Studio line'.")
@click.pass_obj
def numbers_add(settings: Settings, business: str, number: str, label: str) -> None:
    """Connect NUMBER (with its country code) to the business whose address is BUSINESS."""
    from coachos.domain.ids import SYSTEM
    from coachos.domain.usecases import AddPhoneNumber
    from coachos.entrypoints.web.views.inbound import ROUTE

    with _readable_errors(), bootstrap(settings) as app:
        org = app.read(lambda uow: uow.orgs.by_slug(business))
        added = app.execute(AddPhoneNumber(org_id=org.id, number=number, label=label, actor=SYSTEM))
    click.echo(f"Added {added.number} to {org.slug}.")
    click.echo(f"In Twilio, set its 'A message comes in' webhook to HTTP POST {settings.public_url}{ROUTE}")


@numbers.command("list")
@click.argument("business")
@click.pass_obj
def numbers_list(settings: Settings, business: str) -> None:
    """List the numbers of the business whose address is BUSINESS."""
    from coachos.domain.usecases import ListPhoneNumbers

    with _readable_errors(), bootstrap(settings) as app:
        org = app.read(lambda uow: uow.orgs.by_slug(business))
        found = app.execute(ListPhoneNumbers(org_id=org.id))
    if not found:
        click.echo(f"{org.slug} has no phone numbers.")
    for n in found:
        click.echo(f"{n.number}  {n.label or '-'}  added {label(n.created_at, org.tz)}")


@numbers.command("remove")
@click.argument("business")
@click.argument("number")
@click.pass_obj
def numbers_remove(settings: Settings, business: str, number: str) -> None:
    """Disconnect NUMBER from the business whose address is BUSINESS (texts to it are then ignored)."""
    from coachos.domain.contact import normalise_phone
    from coachos.domain.ids import SYSTEM
    from coachos.domain.usecases import ListPhoneNumbers, RemovePhoneNumber

    with _readable_errors(), bootstrap(settings) as app:
        org = app.read(lambda uow: uow.orgs.by_slug(business))
        wanted = normalise_phone(number)
        found = [n for n in app.execute(ListPhoneNumbers(org_id=org.id)) if n.number == wanted]
        if not found:
            raise click.ClickException(f"{wanted} is not one of {org.slug}'s numbers (see `coachos numbers list`).")
        app.execute(RemovePhoneNumber(org_id=org.id, number_id=found[0].id, actor=SYSTEM))
    click.echo(f"Removed {wanted} from {org.slug}.")


@cli.group()
def operator() -> None:
    """Reports for whoever runs this Coach OS installation (across every business)."""


@operator.command("revenue")
@click.pass_obj
def operator_revenue(settings: Settings) -> None:
    """Subscription MRR by currency, businesses per plan, and platform-fee income by month (UTC) and currency."""
    from coachos.domain.usecases import OperatorRevenue

    with _readable_errors(), bootstrap(settings) as app:
        report = app.execute(OperatorRevenue())
    click.echo(revenue_table(report))


def revenue_table(report: RevenueReport) -> str:
    """The operator's report as plain-text tables."""
    lines = ["Subscription MRR (active subscriptions)"]
    lines += [f"  {m}" for m in report.mrr] or ["  none"]
    lines += ["", "Businesses per plan"]
    width = max((len(p.plan_name) for p in report.plans), default=4)
    lines += [f"  {p.plan_name:<{width}}  {p.orgs:>6}" for p in report.plans]
    lines += ["", "Platform fees taken (ledger platform_fees)", "  Month    Amount"]
    lines += [f"  {f.month}  {f.amount}" for f in report.fees] or ["  none yet"]
    return "\n".join(lines)


@cli.command()
@click.pass_obj
def demo(settings: Settings) -> None:
    """Create the demo business (once; running it again changes nothing)."""
    from coachos.entrypoints.demo import seed_demo

    with bootstrap(settings, upgrade_schema=settings.database_url != MEMORY_URL) as app:
        summary = seed_demo(app)
        org, coach = summary.org, summary.coach
        if summary.created:
            click.echo(
                f"Created the demo business '{org.name}' ({summary.clients} clients, {summary.bookings} bookings)."
            )
        else:
            click.echo(f"The demo business '{org.name}' is already there.")
        click.echo(f"  public address: /{org.slug}   time zone: {org.timezone}   coach login: {coach.email}")
        click.echo(f"  now in the business's zone: {label(app.clock.now(), org.tz)}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--demo/--no-demo", "with_demo", default=False, help="Seed the demo business first if it is missing.")
@click.pass_obj
def serve(settings: Settings, host: str, port: int, with_demo: bool) -> None:
    """Run the web app (dashboard, booking pages, API) with hypercorn; the schema must be current (`db upgrade`)."""
    import asyncio

    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    from coachos.entrypoints.web.app import asgi_app

    if settings.database_url != MEMORY_URL:
        _require_current_schema(settings)
    if with_demo:
        from coachos.entrypoints.demo import DEMO_PASSWORD, seed_demo

        with bootstrap(settings) as app:
            summary = seed_demo(app)
        click.echo(f"Demo coach login: {summary.coach.email} / {DEMO_PASSWORD}")
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None  # our own request log line carries the request id and no personal data
    click.echo(f"Coach OS is running at http://{host}:{port}/  (Ctrl+C to stop)")
    asyncio.run(hypercorn_serve(asgi_app(settings), config))


@cli.command()
@click.option("--threads", default=2, show_default=True, type=click.IntRange(1, 64), help="Tasks run at once.")
@click.option("--periodic/--no-periodic", default=True, help="Also enqueue the every-minute tick and the daily prune.")
@click.pass_obj
def worker(settings: Settings, threads: int, periodic: bool) -> None:
    """Run the background worker: queued emails, the every-minute tick and the daily prune (Ctrl+C to stop)."""
    from coachos.entrypoints.worker import run_worker

    if settings.database_url != MEMORY_URL:
        _require_current_schema(settings)
    try:
        run_worker(settings, threads=threads, periodic=periodic)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


def main() -> None:
    """Entry point of the `coachos` script."""
    try:
        cli(standalone_mode=True)
    except CoachOSError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
