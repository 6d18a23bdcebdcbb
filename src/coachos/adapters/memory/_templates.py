"""Message templates in memory, one per (business, kind, channel)."""

from __future__ import annotations

from collections.abc import Sequence

from coachos.adapters.memory._repos import _Repo
from coachos.domain.ids import OrgId
from coachos.domain.messages import MessageChannel
from coachos.domain.templates import MessageTemplate, TemplateKind


class MemoryMessageTemplates(_Repo):
    """Message templates in memory."""

    def get(self, org_id: OrgId, kind: TemplateKind, channel: MessageChannel) -> MessageTemplate | None:
        """The business's wording, or None."""
        return self._t.templates.get((org_id, TemplateKind(kind), MessageChannel(channel)))

    def list(self, org_id: OrgId) -> Sequence[MessageTemplate]:
        """Every wording the business saved."""
        mine = [t for (org, _, _), t in self._t.templates.items() if org == org_id]
        return sorted(mine, key=lambda t: (t.kind.value, t.channel.value))

    def save(self, template: MessageTemplate) -> None:
        """Insert or replace the business's wording."""
        self._t.templates[(template.org_id, template.kind, template.channel)] = template

    def delete(self, org_id: OrgId, kind: TemplateKind, channel: MessageChannel) -> bool:
        """Remove the business's wording; whether there was one."""
        return self._t.templates.pop((org_id, TemplateKind(kind), MessageChannel(channel)), None) is not None
