"""A client generated from /openapi.json by openapi-python-client builds cleanly and drives a booking, errors included.

The generator runs offline (it renders its templates locally) on the document the served app hands out,
must report no warning at all, and the package it writes is imported and used against the live server
over real HTTP: every documented refusal comes back parsed as the shared Problem model.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.integration.api.conftest import ServedApi

PACKAGE = "coachos_api_client"


@pytest.fixture(scope="module")
def generation(served_api: ServedApi, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Run openapi-python-client on the served /openapi.json: its output (stdout and stderr) and where it wrote."""
    home = tmp_path_factory.mktemp("generated-client")
    with urllib.request.urlopen(f"{served_api.url}/openapi.json", timeout=10) as answer:  # noqa: S310  # loopback
        (home / "openapi.json").write_bytes(answer.read())
    # No post hooks: formatting the generated code with ruff is cosmetic and needs ruff on PATH.
    (home / "config.json").write_text(json.dumps({"package_name_override": PACKAGE, "post_hooks": []}))
    run = subprocess.run(  # noqa: S603  # our own interpreter and fixed arguments
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(home / "openapi.json"),
            "--config",
            str(home / "config.json"),
            "--meta",
            "none",
            "--output-path",
            str(home / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    yield f"exit {run.returncode}\n{run.stdout}\n{run.stderr}", home
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(f"{PACKAGE}.")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def generated(generation: tuple[str, Path]) -> Iterator[Any]:
    """The generated package, imported, with its API modules and models as attributes."""
    output, home = generation
    if not (home / PACKAGE / "__init__.py").exists():
        pytest.fail(f"openapi-python-client wrote no package:\n{output}")
    sys.path.insert(0, str(home))
    try:
        yield _Generated(importlib.import_module(PACKAGE))
    finally:
        sys.path.remove(str(home))


class _Generated:
    """The generated package: its models, its client classes and its operations by `tag.operation_id`."""

    def __init__(self, package: ModuleType) -> None:
        self.models = importlib.import_module(f"{package.__name__}.models")
        self.client = importlib.import_module(f"{package.__name__}.client")
        self._name = package.__name__

    def op(self, dotted: str) -> Any:
        """The module of one operation, e.g. `op("bookings.book_session").sync_detailed(...)`."""
        return importlib.import_module(f"{self._name}.api.{dotted}")


class TestGeneration:
    def test_the_generator_reports_no_warning(self, generation: tuple[str, Path]) -> None:
        """openapi-python-client turns /openapi.json into a client with exit 0 and not one warning."""
        output, home = generation
        assert output.startswith("exit 0"), output
        assert "warning" not in output.lower(), output
        assert (home / PACKAGE / "models" / "problem.py").exists()


class TestBookingThroughTheGeneratedClient:
    def test_a_booking_scenario_with_its_refusals(self, served_api: ServedApi, generated: Any) -> None:
        """Create a client, sell credits, find a slot and book it; a second booking of it, an unknown id,
        a bad token and bad input each come back as a parsed Problem with the right status, code and field."""
        m = generated.models
        create_client, sell_package = generated.op("clients.create_client"), generated.op("packages.sell_package")
        find_slots, book = generated.op("bookings.find_slots"), generated.op("bookings.book_session")
        get_booking, cancel = generated.op("bookings.get_booking"), generated.op("bookings.cancel_booking")
        coach = generated.client.AuthenticatedClient(base_url=served_api.url, token=served_api.token)
        stranger = generated.client.AuthenticatedClient(base_url=served_api.url, token="coa_not-a-token")
        with coach, stranger:
            created = create_client.sync_detailed(
                client=coach, body=m.ClientInput(name="Sam Patel", email="sam@example.test")
            )
            assert created.status_code == 201, created.content
            person = created.parsed
            assert isinstance(person, m.Client)
            assert person.status == m.ClientStatus.LEAD
            assert created.headers["Location"].endswith(f"/api/v1/clients/{person.id}")

            services = generated.op("services.list_services").sync(client=coach)
            assert isinstance(services, m.ServiceList)
            pt = next(s for s in services.items if s.name == "PT")
            assert isinstance(pt.id, uuid.UUID)

            monday = datetime(2026, 3, 2, tzinfo=UTC)
            slots = find_slots.sync(client=coach, service_id=pt.id, start=monday, end=monday + timedelta(days=2))
            assert isinstance(slots, m.SlotList)
            assert slots.items, "the business has hours every day"
            slot = slots.items[0]
            assert slot.start.tzinfo is not None

            # Selling with a negative count is refused naming the request's own field, not the domain's.
            price = m.Money(amount_minor=40000, currency="USD")
            refused = sell_package.sync_detailed(
                person.id, client=coach, body=m.PackageInput(name="Five", sessions=-1, price=price)
            )
            assert refused.status_code == 400
            assert refused.headers["Content-Type"].startswith("application/problem+json")
            assert isinstance(refused.parsed, m.Problem)
            assert [e.field for e in refused.parsed.errors] == ["sessions"]
            sold = sell_package.sync(person.id, client=coach, body=m.PackageInput(name="Five", sessions=5, price=price))
            assert isinstance(sold, m.Package)
            assert sold.remaining == 5

            asked = m.BookingInput(client_id=person.id, service_id=pt.id, start=slot.start, confirm=True)
            booked = book.sync_detailed(client=coach, body=asked)
            assert booked.status_code == 201, booked.content
            booking = booked.parsed
            assert isinstance(booking, m.Booking)
            assert booking.status == m.BookingStatus.CONFIRMED

            # The same slot again, for the business's other client: taken.
            again = m.BookingInput(client_id=served_api.world.client.id, service_id=pt.id, start=slot.start)
            taken = book.sync_detailed(client=coach, body=again)
            assert taken.status_code == 409
            assert isinstance(taken.parsed, m.Problem)
            assert (taken.parsed.status, taken.parsed.code) == (409, "slot_unavailable")

            # Too soon: the policy refuses it.
            past = m.BookingInput(client_id=person.id, service_id=pt.id, start=monday)
            too_soon = book.sync_detailed(client=coach, body=past)
            assert too_soon.status_code == 422
            assert isinstance(too_soon.parsed, m.Problem)
            assert too_soon.parsed.code == "policy"

            missing = get_booking.sync_detailed(uuid.uuid4(), client=coach)
            assert missing.status_code == 404
            assert isinstance(missing.parsed, m.Problem)
            assert missing.parsed.code == "not_found"

            unknown = generated.op("account.get_me").sync_detailed(client=stranger)
            assert unknown.status_code == 401
            assert isinstance(unknown.parsed, m.Problem)
            assert unknown.parsed.status == 401

            backwards = find_slots.sync_detailed(
                client=coach, service_id=pt.id, start=monday, end=monday - timedelta(days=1)
            )
            assert backwards.status_code == 400
            assert isinstance(backwards.parsed, m.Problem)
            assert [e.field for e in backwards.parsed.errors] == ["end"]

            nameless = create_client.sync_detailed(client=coach, body=m.ClientInput(name=""))
            assert nameless.status_code == 400
            assert isinstance(nameless.parsed, m.Problem)
            assert [e.field for e in nameless.parsed.errors] == ["name"]

            # The cancel body is optional: the generated function can leave it out.
            cancelled = cancel.sync(booking.id, client=coach)
            assert isinstance(cancelled, m.Booking)
            assert cancelled.status == m.BookingStatus.CANCELLED
            fetched = get_booking.sync(booking.id, client=coach)
            assert isinstance(fetched, m.Booking)
            assert fetched.status == m.BookingStatus.CANCELLED
