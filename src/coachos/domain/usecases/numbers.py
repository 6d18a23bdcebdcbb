"""Use cases for the phone numbers a business receives texts on: add, remove, list."""

from __future__ import annotations

from uuid import UUID

import attrs

from coachos.domain.errors import Conflict
from coachos.domain.ids import Actor, OrgId
from coachos.domain.numbers import NUMBER_TAKEN, PhoneNumber
from coachos.domain.rows import Rows
from coachos.domain.usecases._base import Command, Deps, handles


@attrs.frozen(kw_only=True)
class AddPhoneNumber(Command[PhoneNumber]):
    """Connect a number (E.164, e.g. a Twilio number) to the business, so texts to it reach the business."""

    org_id: OrgId
    number: str
    actor: Actor
    label: str = ""


@handles(AddPhoneNumber)
def add_phone_number(cmd: AddPhoneNumber, deps: Deps) -> PhoneNumber:
    """Store the number unless a business has it already (this one: say so; another: Conflict without naming it)."""
    number = PhoneNumber(
        id=deps.ids.new_id(), org_id=cmd.org_id, number=cmd.number, label=cmd.label, created_at=deps.clock.now()
    )
    with deps.uow() as uow:
        uow.orgs.get(cmd.org_id)
        held = uow.phone_numbers.owner(number.number)
        if held is not None and held.org_id == cmd.org_id:
            raise Conflict("This number is already one of your numbers.")
        if held is not None:
            raise Conflict(NUMBER_TAKEN)
        uow.phone_numbers.add(number)  # still Conflict if another business adds it at the same moment
        uow.commit()
    return number


@attrs.frozen(kw_only=True)
class RemovePhoneNumber(Command[PhoneNumber]):
    """Disconnect one of the business's numbers: texts to it are no longer taken in."""

    org_id: OrgId
    number_id: UUID
    actor: Actor


@handles(RemovePhoneNumber)
def remove_phone_number(cmd: RemovePhoneNumber, deps: Deps) -> PhoneNumber:
    """Delete the number; another business's number (or none) is NotFound."""
    with deps.uow() as uow:
        removed = uow.phone_numbers.remove(cmd.org_id, cmd.number_id)
        uow.commit()
    return removed


@attrs.frozen(kw_only=True)
class ListPhoneNumbers(Command[Rows[PhoneNumber]]):
    """The business's numbers, in the order they were added."""

    org_id: OrgId


@handles(ListPhoneNumbers)
def list_phone_numbers(cmd: ListPhoneNumbers, deps: Deps) -> Rows[PhoneNumber]:
    """Read the numbers."""
    with deps.uow() as uow:
        return uow.phone_numbers.list(cmd.org_id)
