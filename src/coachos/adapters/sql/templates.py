"""Message templates in SQL: one row per (business, kind, channel), replaced by an upsert."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import message_templates
from coachos.domain.errors import CoachOSError
from coachos.domain.ids import OrgId
from coachos.domain.messages import MessageChannel
from coachos.domain.templates import MessageTemplate, TemplateKind

_t = message_templates


def _from(row: Any) -> MessageTemplate | None:
    """The template a row holds; None for one that no longer passes the checks (its default applies)."""
    try:
        return MessageTemplate(
            org_id=OrgId(row.org_id),
            kind=row.kind,
            channel=row.channel,
            subject=row.subject,
            body=row.body,
            updated_at=row.updated_at,
        )
    except (CoachOSError, ValueError):
        return None


class SqlMessageTemplates(_Repo):
    """Message templates in SQL."""

    def get(self, org_id: OrgId, kind: TemplateKind, channel: MessageChannel) -> MessageTemplate | None:
        """The business's wording, or None."""
        row = self._c.execute(
            sa.select(_t).where(_t.c.org_id == org_id, _t.c.kind == kind.value, _t.c.channel == channel.value)
        ).one_or_none()
        return None if row is None else _from(row)

    def list(self, org_id: OrgId) -> Sequence[MessageTemplate]:
        """Every wording the business saved."""
        rows = self._c.execute(sa.select(_t).where(_t.c.org_id == org_id).order_by(_t.c.kind, _t.c.channel))
        return [t for t in map(_from, rows) if t is not None]

    def save(self, template: MessageTemplate) -> None:
        """Insert or replace the business's wording for the template's kind and channel."""
        insert = postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert
        values = {
            "org_id": template.org_id,
            "kind": template.kind.value,
            "channel": template.channel.value,
            "subject": template.subject,
            "body": template.body,
            "updated_at": template.updated_at,
        }
        stmt = insert(_t).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[_t.c.org_id, _t.c.kind, _t.c.channel],
            set_={"subject": stmt.excluded.subject, "body": stmt.excluded.body, "updated_at": stmt.excluded.updated_at},
        )
        self._c.execute(stmt)

    def delete(self, org_id: OrgId, kind: TemplateKind, channel: MessageChannel) -> bool:
        """Remove the business's wording; whether there was one."""
        result = self._c.execute(
            _t.delete().where(_t.c.org_id == org_id, _t.c.kind == kind.value, _t.c.channel == channel.value)
        )
        return bool(result.rowcount)
