"""`coachos numbers add|list|remove` on a SQLite file: what a deployer runs to connect a Twilio number."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from coachos import Settings, bootstrap
from coachos.entrypoints.cli import cli
from tests.helpers import make_world
from tests.unit.test_inbound import fresh_number


def test_add_list_and_remove_a_number(tmp_path: Path) -> None:
    """A number is added to a business by its address, listed, refused for a second business, and removed."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {"COACHOS_DATABASE_URL": url, "COACHOS_PUBLIC_URL": "https://coach.example.com", "COACHOS_LOG_FORMAT": "json"}
    with bootstrap(Settings(database_url=url), upgrade_schema=True) as app:
        make_world(app, slug="first-biz")
        second = make_world(app, slug="second-biz")
    runner = CliRunner()
    number = fresh_number()

    added = runner.invoke(cli, ["numbers", "add", "first-biz", number, "--label", "Studio"], env=env)
    assert added.exit_code == 0, added.output
    assert f"Added {number} to first-biz." in added.output
    assert "https://coach.example.com/webhooks/twilio/sms" in added.output

    listed = runner.invoke(cli, ["numbers", "list", "first-biz"], env=env)
    assert number in listed.output
    assert "Studio" in listed.output
    assert "EST" in listed.output  # when it was added, on the business's New York clock

    taken = runner.invoke(cli, ["numbers", "add", "second-biz", number], env=env)
    assert taken.exit_code == 1
    assert "already connected to a Coach OS business" in taken.output
    assert "no phone numbers" in runner.invoke(cli, ["numbers", "list", second.org.slug], env=env).output

    unknown = runner.invoke(cli, ["numbers", "list", "nobody-here"], env=env)
    assert unknown.exit_code == 1
    assert "No such business" in unknown.output

    removed = runner.invoke(cli, ["numbers", "remove", "first-biz", number], env=env)
    assert removed.exit_code == 0, removed.output
    assert "no phone numbers" in runner.invoke(cli, ["numbers", "list", "first-biz"], env=env).output
    again = runner.invoke(cli, ["numbers", "remove", "first-biz", number], env=env)
    assert again.exit_code == 1
    assert "is not one of first-biz's numbers" in again.output
