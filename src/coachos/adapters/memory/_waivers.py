"""Waivers in memory: versions and signatures are only ever added, as in the database."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from coachos.adapters.memory._repos import _Repo
from coachos.domain.errors import Conflict, NotFound
from coachos.domain.ids import ClientId, OrgId, WaiverId, WaiverVersionId
from coachos.domain.waivers import Waiver, WaiverSignature, WaiverVersion, is_signed_current


class MemoryWaivers(_Repo):
    """Waivers, versions and signatures in memory."""

    def add(self, waiver: Waiver) -> None:
        """Store a new waiver."""
        self._t.waivers[waiver.id] = waiver

    def get(self, org_id: OrgId, waiver_id: WaiverId) -> Waiver:
        """One of the organisation's waivers, or NotFound."""
        found = self._t.waivers.get(waiver_id)
        if found is None or found.org_id != org_id:
            raise NotFound("There is no such waiver.")
        return found

    def list(self, org_id: OrgId) -> Sequence[Waiver]:
        """The organisation's waivers, by title."""
        return sorted((w for w in self._t.waivers.values() if w.org_id == org_id), key=lambda w: (w.title, w.id))

    def publish(self, version: WaiverVersion) -> None:
        """Store a new version; Conflict if its number is taken."""
        self.get(version.org_id, version.waiver_id)
        if any(v.number == version.number for v in self.versions(version.org_id, version.waiver_id)):
            raise Conflict("Someone published a new version of this waiver at the same time; reload and try again.")
        self._t.waiver_versions[version.id] = version

    def versions(self, org_id: OrgId, waiver_id: WaiverId) -> Sequence[WaiverVersion]:
        """The waiver's versions, oldest first."""
        mine = (v for v in self._t.waiver_versions.values() if v.org_id == org_id and v.waiver_id == waiver_id)
        return sorted(mine, key=lambda v: v.number)

    def version(self, org_id: OrgId, version_id: WaiverVersionId) -> WaiverVersion:
        """One version, or NotFound."""
        found = self._t.waiver_versions.get(version_id)
        if found is None or found.org_id != org_id:
            raise NotFound("There is no such waiver version.")
        return found

    def sign(self, signature: WaiverSignature) -> WaiverSignature:
        """Store the signature, or return the client's earlier one on the same version."""
        for held in self._t.waiver_signatures.values():
            if (held.org_id, held.client_id, held.version_id) == (
                signature.org_id,
                signature.client_id,
                signature.version_id,
            ):
                return held
        self._t.waiver_signatures[signature.id] = signature
        return signature

    def signature(self, org_id: OrgId, signature_id: UUID) -> WaiverSignature:
        """One signature, or NotFound."""
        found = self._t.waiver_signatures.get(signature_id)
        if found is None or found.org_id != org_id:
            raise NotFound("There is no such signature.")
        return found

    def signatures(self, org_id: OrgId, client_id: ClientId) -> Sequence[WaiverSignature]:
        """The client's signatures, newest first."""
        mine = (s for s in self._t.waiver_signatures.values() if s.org_id == org_id and s.client_id == client_id)
        return sorted(mine, key=lambda s: (s.signed_at, s.version_number), reverse=True)

    def signed_current(self, org_id: OrgId, client_id: ClientId, waiver_id: WaiverId) -> bool:
        """Whether the client's signatures cover the waiver's latest material version."""
        signed = [s.version_number for s in self.signatures(org_id, client_id) if s.waiver_id == waiver_id]
        return is_signed_current(self.versions(org_id, waiver_id), signed)
