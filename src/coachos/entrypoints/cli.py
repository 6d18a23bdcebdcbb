"""The `coachos` command: database migrations, the demo business, and (soon) the web app and worker."""

from __future__ import annotations

import sys

import click

from coachos.adapters.sql import migrate
from coachos.adapters.sql.engine import make_engine
from coachos.bootstrap import MEMORY_URL, bootstrap
from coachos.domain.errors import CoachOSError
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


@db.command("upgrade")
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Bring the schema up to date (safe to run on every deploy)."""
    engine = make_engine(_sql_settings(settings).database_url)
    try:
        migrate.upgrade(engine)
        click.echo(f"Database {redact_url(settings.database_url)} is at revision {migrate.current_revision(engine)}.")
    finally:
        engine.dispose()


@db.command("current")
@click.pass_obj
def db_current(settings: Settings) -> None:
    """Show the schema revision and whether it is the newest."""
    engine = make_engine(_sql_settings(settings).database_url)
    try:
        current = migrate.current_revision(engine)
        state = "up to date" if migrate.is_current(engine) else f"behind (newest is {migrate.head_revision()})"
        click.echo(f"{current or 'empty'}: {state}")
    finally:
        engine.dispose()


@cli.command()
@click.pass_obj
def prune(settings: Settings) -> None:
    """Delete expired sessions, dead password-reset links and old failed log-ins (safe to run any time)."""
    from coachos.domain.usecases import PruneExpired

    with bootstrap(settings) as app:
        click.echo(f"Deleted {app.execute(PruneExpired())} expired rows.")


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
    """Run the web app (dashboard, booking pages, API) with hypercorn."""
    import asyncio

    from hypercorn.asyncio import serve as hypercorn_serve
    from hypercorn.config import Config

    from coachos.entrypoints.web.app import asgi_app

    if settings.database_url != MEMORY_URL:
        engine = make_engine(settings.database_url)
        try:
            migrate.upgrade(engine)
        finally:
            engine.dispose()
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


def main() -> None:
    """Entry point of the `coachos` script."""
    try:
        cli(standalone_mode=True)
    except CoachOSError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
