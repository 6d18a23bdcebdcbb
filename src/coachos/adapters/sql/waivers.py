"""Waivers in SQL: versions and signatures are inserted, never updated or deleted (the database refuses)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from coachos.adapters.sql.repos import _Repo, constraint_hit
from coachos.adapters.sql.tables import waiver_signatures, waiver_versions, waivers
from coachos.domain.errors import Conflict
from coachos.domain.ids import ClientId, CoachId, OrgId, WaiverId, WaiverVersionId
from coachos.domain.waivers import Guardian, Waiver, WaiverSignature, WaiverVersion, is_signed_current

_w, _v, _s = waivers, waiver_versions, waiver_signatures


def _waiver(row: Any) -> Waiver:
    return Waiver(id=WaiverId(row.id), org_id=OrgId(row.org_id), title=row.title, created_at=row.created_at)


def _version(row: Any) -> WaiverVersion:
    return WaiverVersion(
        id=WaiverVersionId(row.id),
        org_id=OrgId(row.org_id),
        waiver_id=WaiverId(row.waiver_id),
        number=row.number,
        body=row.body,
        html=row.html,
        material=row.material,
        published_at=row.published_at,
        published_by=None if row.published_by is None else CoachId(row.published_by),
    )


def _signature(row: Any) -> WaiverSignature:
    guardian = None
    if row.guardian_name is not None:
        guardian = Guardian(
            name=row.guardian_name, relationship=row.guardian_relationship, drawing=row.guardian_drawing
        )
    return WaiverSignature(
        id=row.id,
        org_id=OrgId(row.org_id),
        client_id=ClientId(row.client_id),
        waiver_id=WaiverId(row.waiver_id),
        version_id=WaiverVersionId(row.version_id),
        version_number=row.version_number,
        text_sha256=row.text_sha256,
        typed_name=row.typed_name,
        drawing=row.drawing,
        consent_wording=row.consent_wording,
        signed_at=row.signed_at,
        ip=row.ip,
        user_agent=row.user_agent,
        date_of_birth=row.date_of_birth,
        guardian=guardian,
    )


class SqlWaivers(_Repo):
    """Waivers, versions and signatures in SQL."""

    def add(self, waiver: Waiver) -> None:
        """Store a new waiver."""
        self._c.execute(
            _w.insert().values(id=waiver.id, org_id=waiver.org_id, title=waiver.title, created_at=waiver.created_at)
        )

    def get(self, org_id: OrgId, waiver_id: WaiverId) -> Waiver:
        """One of the organisation's waivers, or NotFound."""
        return self._get(_w, sa.select(_w).where(_w.c.org_id == org_id, _w.c.id == waiver_id), _waiver, "waiver")

    def list(self, org_id: OrgId) -> Sequence[Waiver]:
        """The organisation's waivers, by title."""
        return self._all(_w, sa.select(_w).where(_w.c.org_id == org_id).order_by(_w.c.title, _w.c.id), _waiver)

    def publish(self, version: WaiverVersion) -> None:
        """Store a new version; Conflict if the number is taken (someone published at the same time)."""
        values = {
            "id": version.id,
            "org_id": version.org_id,
            "waiver_id": version.waiver_id,
            "number": version.number,
            "body": version.body,
            "html": version.html,
            "material": version.material,
            "published_at": version.published_at,
            "published_by": version.published_by,
        }
        try:
            with self._c.begin_nested():
                self._c.execute(_v.insert().values(**values))
        except IntegrityError as exc:
            # PostgreSQL names the constraint; SQLite names its columns ("waiver_versions.number").
            if constraint_hit(exc, "uq_waiver_versions_waiver_id_number") or constraint_hit(exc, "versions.number"):
                raise Conflict(
                    "Someone published a new version of this waiver at the same time; reload and try again."
                ) from None
            raise

    def versions(self, org_id: OrgId, waiver_id: WaiverId) -> Sequence[WaiverVersion]:
        """The waiver's versions, oldest first."""
        query = sa.select(_v).where(_v.c.org_id == org_id, _v.c.waiver_id == waiver_id).order_by(_v.c.number)
        return self._all(_v, query, _version)

    def version(self, org_id: OrgId, version_id: WaiverVersionId) -> WaiverVersion:
        """One version, or NotFound."""
        query = sa.select(_v).where(_v.c.org_id == org_id, _v.c.id == version_id)
        return self._get(_v, query, _version, "waiver version")

    def sign(self, signature: WaiverSignature) -> WaiverSignature:
        """Insert the signature unless the client signed that version already; the stored one either way."""
        guardian = signature.guardian
        values = {
            "id": signature.id,
            "org_id": signature.org_id,
            "client_id": signature.client_id,
            "waiver_id": signature.waiver_id,
            "version_id": signature.version_id,
            "version_number": signature.version_number,
            "text_sha256": signature.text_sha256,
            "typed_name": signature.typed_name,
            "drawing": signature.drawing,
            "consent_wording": signature.consent_wording,
            "signed_at": signature.signed_at,
            "ip": signature.ip,
            "user_agent": signature.user_agent,
            "date_of_birth": signature.date_of_birth,
            "guardian_name": None if guardian is None else guardian.name,
            "guardian_relationship": None if guardian is None else guardian.relationship,
            "guardian_drawing": None if guardian is None else guardian.drawing,
        }
        insert = postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert
        # One statement: two submits racing each other store one signature, and both get it back.
        self._c.execute(
            insert(_s)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[_s.c.org_id, _s.c.client_id, _s.c.version_id])
        )
        query = sa.select(_s).where(
            _s.c.org_id == signature.org_id,
            _s.c.client_id == signature.client_id,
            _s.c.version_id == signature.version_id,
        )
        return self._get(_s, query, _signature, "signature")

    def signature(self, org_id: OrgId, signature_id: UUID) -> WaiverSignature:
        """One signature, or NotFound."""
        query = sa.select(_s).where(_s.c.org_id == org_id, _s.c.id == signature_id)
        return self._get(_s, query, _signature, "signature")

    def signatures(self, org_id: OrgId, client_id: ClientId) -> Sequence[WaiverSignature]:
        """The client's signatures, newest first."""
        query = (
            sa.select(_s)
            .where(_s.c.org_id == org_id, _s.c.client_id == client_id)
            .order_by(_s.c.signed_at.desc(), _s.c.version_number.desc())
        )
        return self._all(_s, query, _signature)

    def signed_current(self, org_id: OrgId, client_id: ClientId, waiver_id: WaiverId) -> bool:
        """Whether the client's signatures on the waiver cover its latest material version."""
        signed = self._c.execute(
            sa.select(_s.c.version_number).where(
                _s.c.org_id == org_id, _s.c.client_id == client_id, _s.c.waiver_id == waiver_id
            )
        ).scalars()
        return is_signed_current(self.versions(org_id, waiver_id), list(signed))
