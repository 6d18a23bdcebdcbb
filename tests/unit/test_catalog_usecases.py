"""Editing and retiring services (UpdateService), and listing recently sold packages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from coachos import (
    CoachOS,
    CurrencyMismatch,
    FindSlots,
    Money,
    NotFound,
    SellPackage,
    UpdateService,
    ValidationError,
)
from coachos.adapters.clock import FixedClock
from tests.helpers import World, local, make_world


def _slots(app: CoachOS, world: World) -> int:
    return len(
        app.execute(
            FindSlots(
                org_id=world.org.id,
                coach_id=world.coach.id,
                service_id=world.pt.id,
                start=local(world, 3, 0),
                end=local(world, 4, 0),
            )
        )
    )


class TestUpdateService:
    def test_changes_only_the_given_fields(self, app: CoachOS, world: World) -> None:
        """Name, length and price change as asked while capacity and credit use stay as they were."""
        updated = app.execute(
            UpdateService(
                org_id=world.org.id,
                service_id=world.pt.id,
                actor=world.me,
                name="Strength session",
                duration=timedelta(minutes=45),
                price=Money(9550, "USD"),
            )
        )
        stored = app.read(lambda uow: uow.services.get(world.org.id, world.pt.id))
        assert stored == updated
        assert (stored.name, stored.duration, stored.price) == (
            "Strength session",
            timedelta(minutes=45),
            Money(9550, "USD"),
        )
        assert (stored.capacity, stored.uses_credit, stored.active) == (1, True, True)

    def test_records_what_changed_once(self, app: CoachOS, world: World) -> None:
        """An edit records ServiceUpdated naming the changed fields; an edit changing nothing records none."""
        from coachos.domain.events import ServiceUpdated

        def updates() -> list[ServiceUpdated]:
            return app.read(
                lambda uow: [
                    e
                    for e in uow.outbox.pending(limit=100_000)
                    if isinstance(e, ServiceUpdated) and e.org_id == world.org.id
                ]
            )

        edit = {"org_id": world.org.id, "service_id": world.pt.id, "actor": world.me}
        app.execute(UpdateService(**edit, name="Strength session", capacity=1, price=Money(9550, "USD")))
        (event,) = updates()
        assert event.changed == ("name", "price")
        assert event.service_id == world.pt.id
        app.execute(UpdateService(**edit, name="Strength session"))
        assert len(updates()) == 1

    def test_deactivated_service_offers_no_slots(self, app: CoachOS, world: World) -> None:
        """A retired service can no longer be booked, and reactivating it brings its slots back."""
        before = _slots(app, world)
        app.execute(UpdateService(org_id=world.org.id, service_id=world.pt.id, actor=world.me, active=False))
        assert not app.read(lambda uow: uow.services.get(world.org.id, world.pt.id)).active
        with pytest.raises(ValidationError, match="no longer offered"):
            _slots(app, world)
        app.execute(UpdateService(org_id=world.org.id, service_id=world.pt.id, actor=world.me, active=True))
        assert _slots(app, world) == before

    def test_invalid_values_are_refused_and_write_nothing(self, app: CoachOS, world: World) -> None:
        """A zero length, a capacity of 0 or a price in another currency is refused and the service is unchanged."""
        refused: list[dict[str, object]] = [
            {"duration": timedelta(0)},
            {"capacity": 0},
            {"name": "  "},
            {"price": Money(-1, "USD")},
        ]
        for change in refused:
            with pytest.raises(ValidationError):
                app.execute(
                    UpdateService(org_id=world.org.id, service_id=world.pt.id, actor=world.me, **change)  # type: ignore[arg-type]
                )
        with pytest.raises(CurrencyMismatch):
            app.execute(
                UpdateService(org_id=world.org.id, service_id=world.pt.id, actor=world.me, price=Money(100, "EUR"))
            )
        assert app.read(lambda uow: uow.services.get(world.org.id, world.pt.id)) == world.pt

    def test_other_orgs_service_is_not_found(self, app: CoachOS, world: World) -> None:
        """A service id from another organisation behaves as if it did not exist and is left untouched."""
        other = make_world(app)
        with pytest.raises(NotFound):
            app.execute(UpdateService(org_id=world.org.id, service_id=other.pt.id, actor=world.me, name="Hijacked"))
        assert app.read(lambda uow: uow.services.get(other.org.id, other.pt.id)).name == "PT"

    def test_unchanged_service_is_returned_as_it_is(self, app: CoachOS, world: World) -> None:
        """Asking for no change returns the stored service."""
        same = app.execute(UpdateService(org_id=world.org.id, service_id=world.pt.id, actor=world.me, capacity=1))
        assert same == world.pt


class TestRecentPackages:
    def test_newest_first_and_only_this_business(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """Recently sold packages list this organisation's newest sale first and never another's."""
        other = make_world(app)
        clock.advance(timedelta(hours=1))
        newer = app.execute(
            SellPackage(
                org_id=world.org.id,
                client_id=world.client.id,
                name="Five pack",
                sessions=5,
                price=Money(35000, "USD"),
                actor=world.me,
            )
        )
        recent = app.read(lambda uow: uow.packages.recent(world.org.id))
        assert [p.id for p in recent] == [newer.id, world.package.id]
        assert other.package.id not in {p.id for p in recent}
        assert [p.id for p in app.read(lambda uow: uow.packages.recent(world.org.id, limit=1))] == [newer.id]
