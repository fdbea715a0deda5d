"""Dependencies of the routes: the caller's key and role, the tenant's service."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from api.service import TenantService
from dispatch.store import ApiKey, Store


class Role(StrEnum):
    """What a key may do."""

    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    DRIVER = "driver"
    BOOKING_CLIENT = "booking_client"


#: Roles that see and change every object of their tenant.
STAFF = frozenset({Role.ADMIN, Role.DISPATCHER})


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller and its tenant's service."""

    key: ApiKey
    role: Role
    service: TenantService

    def require(self, *roles: Role) -> None:
        """Refuse the call (403) unless the caller has one of ``roles``."""
        if self.role not in roles:
            raise HTTPException(status_code=403,
                                detail=f"role {self.role} may not do this")

    def fingerprint(self, *parts: Any) -> str:
        """Return the SHA-256 of this caller's key and ``parts`` (JSON): what an
        ``Idempotency-Key`` is bound to, so that a retry with another body is told apart."""
        raw = json.dumps([self.key.id, *parts], sort_keys=True, default=str)
        return hashlib.sha256(raw.encode()).hexdigest()

    def answered(self, idempotency_key: str | None, fingerprint: str, response: Any
                 ) -> dict[str, Any] | None:
        """The first answer to a retried ``Idempotency-Key`` (its status set on
        ``response``), ``None`` for a new key; 422 when the key came with another body.
        Call under the tenant's lock."""
        if idempotency_key is None:
            return None
        seen = self.service.remembered(idempotency_key)
        if seen is None:
            return None
        if seen[0] != fingerprint:
            raise HTTPException(status_code=422, detail=(
                "Idempotency-Key: used before with a different request"))
        response.status_code = seen[1]
        return seen[2]

    def records(self, kind: type, status: Any = None) -> list[Any]:
        """The request records of ``kind`` (ride or delivery, of ``status`` when given)
        the caller may see: every one for staff, its own for a booking client. Call
        under the tenant's lock."""
        svc = self.service
        recs = [r for r in svc.engine.records() if isinstance(r.request, kind)
                and (status is None or r.status is status)]
        if self.role is Role.BOOKING_CLIENT:
            mine = svc.owned_by(self.key.id)
            recs = [r for r in recs if r.request.id in mine]
        return recs


def get_store(request: Request) -> Store:
    """Return the app's store."""
    store: Store = request.app.state.store
    return store


def get_caller(request: Request) -> Caller:
    """Authenticate ``Authorization: Bearer <key>``; 401 when missing or invalid.

    A key bound to a tenant this process does not serve is treated as invalid.
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(status_code=401, detail="send Authorization: Bearer <API key>",
                            headers={"WWW-Authenticate": "Bearer"})
    key = get_store(request).key(token.strip())
    services: dict[str, TenantService] = request.app.state.services
    if key is None or key.tenant not in services:
        raise HTTPException(status_code=401, detail="the API key is not valid",
                            headers={"WWW-Authenticate": "Bearer"})
    return Caller(key=key, role=Role(key.role), service=services[key.tenant])


CallerDep = Annotated[Caller, Depends(get_caller)]
