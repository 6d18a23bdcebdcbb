"""Coaches never see a client's portal sign-in link or code: whoever holds them could sign in as the client."""

from __future__ import annotations

import re

from quart import Quart

from coachos import CoachOS, CreateClient
from coachos.domain.ids import Actor
from coachos.domain.inbox import SIGN_IN_WITHHELD
from tests.web.support import csrf, sign_up

EMAIL = "ellery.vance@example.test"


async def test_the_messages_panel_and_inbox_hide_the_sign_in_link_and_code(web: Quart, core: CoachOS) -> None:
    """The message is listed (the coach can see one was sent), its link and code are not."""
    coach = web.test_client()
    await sign_up(coach, slug="peak")
    org = core.read(lambda uow: uow.orgs.by_slug("peak"))
    (owner,) = core.read(lambda uow: uow.coaches.list(org.id))
    person = core.execute(CreateClient(org_id=org.id, name="Ellery Vance", email=EMAIL, actor=Actor("coach", owner.id)))
    visitor = web.test_client()
    token = await csrf(visitor, "/c/peak/sign-in")
    assert (await visitor.post("/c/peak/sign-in", form={"csrf_token": token, "contact": EMAIL})).status_code == 200
    with core.unit_of_work() as uow:
        (message,) = uow.messages.for_client(org.id, person.id)
    link = re.search(r"/sign-in/(\S+)", message.body)
    code = re.search(r" is (\d{6})", message.body)
    assert link
    assert code
    for path in (f"/clients/{person.id}/panels/messages", f"/inbox/{person.id}", "/inbox"):
        response = await coach.get(path)
        assert response.status_code == 200, path
        page = await response.get_data(as_text=True)
        assert link.group(1) not in page, path
        assert code.group(1) not in page, path
    panel = await (await coach.get(f"/clients/{person.id}/panels/messages")).get_data(as_text=True)
    assert "sign-in link and code: hidden" in panel
    assert SIGN_IN_WITHHELD.startswith("(The client's sign-in link and code: hidden")
