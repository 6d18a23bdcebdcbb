"""What every portal page needs: the business from the address, the signed-in client, the cookie."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, redirect, request, url_for
from werkzeug.wrappers.response import Response

from coachos._app import act_for
from coachos.domain.clients import Client
from coachos.domain.errors import NotFound
from coachos.domain.orgs import Organization
from coachos.domain.portal import CLIENT_SESSION_LIFETIME
from coachos.domain.usecases import AuthenticateClient
from coachos.entrypoints.web.context import core, settings
from coachos.entrypoints.web.security import CLIENT_COOKIE

bp = Blueprint("portal", __name__, url_prefix="/c/<slug>")


class SignInFirst(Exception):
    """The page needs a client of this business signed in; they are sent to its sign-in page."""

    def __init__(self, slug: str) -> None:
        super().__init__(slug)
        self.slug = slug


@bp.errorhandler(SignInFirst)
async def _to_sign_in(exc: SignInFirst) -> Any:
    return redirect(url_for("portal.sign_in", slug=exc.slug), 303)


async def business(slug: str) -> Organization:
    """The business whose portal the address names, or 404."""
    if len(slug) > 100:
        raise NotFound("No such business.")
    org = await core().read_async(lambda uow: uow.orgs.by_slug(slug))
    act_for(org.id)
    return org


async def signed_in(org: Organization) -> Client | None:
    """The client of `org` this browser is signed in as, if any (another business's session counts as none)."""
    token = request.cookies.get(CLIENT_COOKIE, "")
    if not token:
        return None
    client_id = await core().execute_async(AuthenticateClient(org_id=org.id, token=token))
    if client_id is None:
        return None
    try:
        return await core().read_async(lambda uow: uow.clients.get(org.id, client_id))
    except NotFound:
        return None


async def portal_client(slug: str) -> tuple[Organization, Client]:
    """The business and its signed-in client, or a redirect to the sign-in page."""
    org = await business(slug)
    client = await signed_in(org)
    if client is None:
        raise SignInFirst(slug)
    return org, client


def set_client_cookie(response: Response, token: str) -> Response:
    """Give the browser its new client session (httponly; sent on this site's pages only)."""
    response.set_cookie(
        CLIENT_COOKIE,
        token,
        httponly=True,
        secure=settings().cookie_secure,
        samesite="Lax",
        max_age=int(CLIENT_SESSION_LIFETIME.total_seconds()),
    )
    return response
