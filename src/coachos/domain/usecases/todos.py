"""The coach's to-dos: list the open ones, tick one off."""

from __future__ import annotations

from uuid import UUID

import attrs

from coachos.domain.ids import Actor, OrgId
from coachos.domain.rows import Rows
from coachos.domain.todos import Todo
from coachos.domain.usecases._base import Command, Deps, handles

#: Open to-dos shown at once (Today).
OPEN_SHOWN = 50


@attrs.frozen(kw_only=True)
class ListOpenTodos(Command[Rows[Todo]]):
    """The business's to-dos not yet done, oldest first."""

    org_id: OrgId
    limit: int = OPEN_SHOWN


@handles(ListOpenTodos)
def list_open_todos(cmd: ListOpenTodos, deps: Deps) -> Rows[Todo]:
    """Read the open to-dos."""
    with deps.uow() as uow:
        return uow.todos.open(cmd.org_id, max(1, min(cmd.limit, 500)))


@attrs.frozen(kw_only=True)
class CompleteTodo(Command[Todo]):
    """Tick a to-do off (ticking it again changes nothing)."""

    org_id: OrgId
    todo_id: UUID
    actor: Actor


@handles(CompleteTodo)
def complete_todo(cmd: CompleteTodo, deps: Deps) -> Todo:
    """Store when it was done."""
    with deps.uow() as uow:
        todo = uow.todos.mark_done(cmd.org_id, cmd.todo_id, deps.clock.now())
        uow.commit()
    return todo
