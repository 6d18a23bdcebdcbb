"""The SMTP adapter against a real SMTP server (aiosmtpd) on loopback, in the clear, over STARTTLS and over TLS."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import attrs
import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from coachos.adapters.email import email_from_url
from coachos.adapters.smtp_email import SmtpEmail
from coachos.domain.errors import PermanentSendError, TransientSendError
from tests.integration.live import free_port

USER, PASSWORD = "coach", "s3cret"


@attrs.define
class Inbox:
    """What the server received, and how it should answer the next DATA and RCPT."""

    messages: list[EmailMessage] = attrs.Factory(list)
    envelopes: list[tuple[str, list[str]]] = attrs.Factory(list)
    logins: list[str] = attrs.Factory(list)
    data_reply: str = "250 OK"
    rcpt_reply: str | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply.startswith("250"):
            content = envelope.original_content or b""
            self.messages.append(message_from_bytes(content, policy=policy.default))  # type: ignore[arg-type]
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        return self.data_reply

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (USER.encode(), PASSWORD.encode())
        if ok:
            self.logins.append(mechanism)
        # handled=False: aiosmtpd then answers a failure with 535 itself instead of staying silent.
        return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    """A throwaway certificate authority that issued the test server's certificate for 127.0.0.1."""
    return trustme.CA()


@attrs.frozen
class Server:
    """A running SMTP server and what its clients must trust."""

    inbox: Inbox
    port: int
    trust: ssl.SSLContext


def start(inbox: Inbox, authority: trustme.CA, mode: str) -> tuple[Controller, Server]:
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_tls)
    trust = ssl.create_default_context()
    authority.configure_trust(trust)
    port = free_port()
    options: dict[str, Any] = {"authenticator": inbox.authenticate}
    if mode == "starttls":
        options |= {"tls_context": server_tls, "require_starttls": True}
    elif mode == "tls":
        # aiosmtpd cannot tell its own implicit TLS apart from the clear, so it must be told AUTH is safe.
        options |= {"ssl_context": server_tls, "auth_require_tls": False}
    else:
        options |= {"auth_require_tls": False}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller, Server(inbox, port, trust)


@pytest.fixture(params=["starttls", "tls"])
def secure(request: pytest.FixtureRequest, authority: trustme.CA) -> Iterator[Server]:
    """An SMTP server that needs TLS, either upgraded with STARTTLS or from the first byte."""
    controller, server = start(Inbox(), authority, str(request.param))
    try:
        yield server
    finally:
        controller.stop()


@pytest.fixture
def plain(authority: trustme.CA) -> Iterator[Server]:
    """An SMTP server that offers no TLS at all (a local relay)."""
    controller, server = start(Inbox(), authority, "plain")
    try:
        yield server
    finally:
        controller.stop()


def secure_sender(server: Server, mode: str, **options: Any) -> SmtpEmail:
    defaults: dict[str, Any] = {"username": USER, "password": PASSWORD, "ssl_context": server.trust, "timeout": 5}
    return SmtpEmail("127.0.0.1", server.port, implicit_tls=mode == "tls", **(defaults | options))


class TestSmtpEmailSend:
    """Delivering through an SMTP server."""

    def test_sends_plain_and_html_as_alternatives_after_logging_in_over_tls(
        self, secure: Server, request: pytest.FixtureRequest
    ) -> None:
        """With HTML the server receives one multipart/alternative message with a text and an HTML part."""
        mode = request.node.callspec.params["secure"]
        secure_sender(secure, mode).send("robin@example.com", "Your session", "See you at 9.", "<p>See you at 9.</p>")
        [message] = secure.inbox.messages
        assert secure.inbox.logins, "the sender logged in"
        assert secure.inbox.envelopes[0][1] == ["robin@example.com"]
        assert message["Subject"] == "Your session"
        assert message.get_content_type() == "multipart/alternative"
        parts = {part.get_content_type(): part.get_content().strip() for part in message.iter_parts()}
        assert parts == {"text/plain": "See you at 9.", "text/html": "<p>See you at 9.</p>"}

    def test_sends_text_alone_as_a_plain_message(self, secure: Server, request: pytest.FixtureRequest) -> None:
        """Without HTML the message is a single text/plain part, as before."""
        mode = request.node.callspec.params["secure"]
        secure_sender(secure, mode).send("robin@example.com", "Hi", "Plain only.")
        [message] = secure.inbox.messages
        assert message.get_content_type() == "text/plain"
        assert message.get_content().strip() == "Plain only."

    def test_refuses_a_server_without_starttls(self, plain: Server) -> None:
        """A server that does not offer STARTTLS gets no password and no message: a permanent error."""
        sender = SmtpEmail("127.0.0.1", plain.port, username=USER, password=PASSWORD, timeout=5)
        with pytest.raises(PermanentSendError, match="STARTTLS"):
            sender.send("robin@example.com", "Hi", "text")
        assert plain.inbox.messages == []
        assert plain.inbox.logins == []

    def test_sends_in_the_clear_only_when_told_to(self, plain: Server) -> None:
        """With require_tls off, a relay without TLS still gets the message."""
        SmtpEmail("127.0.0.1", plain.port, require_tls=False, timeout=5).send("robin@example.com", "Hi", "text")
        assert len(plain.inbox.messages) == 1

    def test_untrusted_certificate_is_not_sent_to(self, secure: Server, request: pytest.FixtureRequest) -> None:
        """A server whose certificate the system does not trust gets nothing (a send error, not a silent send)."""
        mode = request.node.callspec.params["secure"]
        sender = secure_sender(secure, mode, ssl_context=ssl.create_default_context())
        with pytest.raises(TransientSendError):
            sender.send("robin@example.com", "Hi", "text")
        assert secure.inbox.messages == []


class TestSmtpEmailErrors:
    """The server's refusals become the domain's send errors."""

    def test_wrong_password_is_permanent(self, secure: Server, request: pytest.FixtureRequest) -> None:
        """A refused login becomes PermanentSendError."""
        mode = request.node.callspec.params["secure"]
        with pytest.raises(PermanentSendError, match="username or password"):
            secure_sender(secure, mode, password="wrong").send("robin@example.com", "Hi", "text")

    def test_a_4xx_reply_is_transient(self, secure: Server, request: pytest.FixtureRequest) -> None:
        """A 451 after DATA becomes TransientSendError."""
        secure.inbox.data_reply = "451 Try again later"
        with pytest.raises(TransientSendError):
            secure_sender(secure, request.node.callspec.params["secure"]).send("robin@example.com", "Hi", "text")

    def test_a_5xx_reply_is_permanent(self, secure: Server, request: pytest.FixtureRequest) -> None:
        """A 554 after DATA becomes PermanentSendError with the server's code."""
        secure.inbox.data_reply = "554 Rejected"
        with pytest.raises(PermanentSendError) as caught:
            secure_sender(secure, request.node.callspec.params["secure"]).send("robin@example.com", "Hi", "text")
        assert caught.value.provider_code == "554"

    def test_a_refused_recipient_is_permanent(self, secure: Server, request: pytest.FixtureRequest) -> None:
        """A 550 to RCPT becomes PermanentSendError."""
        secure.inbox.rcpt_reply = "550 No such user"
        with pytest.raises(PermanentSendError, match="recipient"):
            secure_sender(secure, request.node.callspec.params["secure"]).send("robin@example.com", "Hi", "text")

    def test_a_deferred_recipient_is_transient(self, secure: Server, request: pytest.FixtureRequest) -> None:
        """A 450 to RCPT becomes TransientSendError."""
        secure.inbox.rcpt_reply = "450 Mailbox busy"
        with pytest.raises(TransientSendError):
            secure_sender(secure, request.node.callspec.params["secure"]).send("robin@example.com", "Hi", "text")

    def test_a_silent_server_times_out_as_transient(self) -> None:
        """A server that accepts the connection but never greets costs the timeout, then a TransientSendError."""
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            held: list[socket.socket] = []
            accepter = threading.Thread(target=lambda: held.append(listener.accept()[0]), daemon=True)
            accepter.start()
            started = time.monotonic()
            with pytest.raises(TransientSendError):
                SmtpEmail("127.0.0.1", port, timeout=0.3).send("robin@example.com", "Hi", "text")
            assert time.monotonic() - started < 2
            accepter.join(1)
            for conn in held:
                conn.close()

    def test_nothing_listening_is_transient(self) -> None:
        """A refused connection becomes TransientSendError."""
        with pytest.raises(TransientSendError):
            SmtpEmail("127.0.0.1", free_port(), timeout=1).send("robin@example.com", "Hi", "text")


class TestEmailFromUrl:
    """Choosing the SMTP sender from COACHOS_EMAIL_URL."""

    def test_smtp_means_starttls_on_587(self) -> None:
        """smtp:// upgrades with STARTTLS and defaults to port 587."""
        sender = email_from_url("smtp://coach:p%40ss@mail.example")
        assert sender == SmtpEmail(
            "mail.example", 587, username="coach", password="p@ss", implicit_tls=False, require_tls=True
        )

    def test_a_relay_without_login_may_lack_starttls(self, plain: Server) -> None:
        """smtp://host without a username sends even when the relay offers no STARTTLS; with one it must."""
        email_from_url(f"smtp://127.0.0.1:{plain.port}").send("robin@example.com", "Hi", "text")
        assert len(plain.inbox.messages) == 1
        with pytest.raises(PermanentSendError, match="STARTTLS"):
            email_from_url(f"smtp://coach:pw@127.0.0.1:{plain.port}").send("robin@example.com", "Hi", "text")

    def test_smtps_means_tls_on_465(self) -> None:
        """smtps:// is TLS from the first byte and defaults to port 465."""
        sender = email_from_url("smtps://coach:pw@mail.example")
        assert sender == SmtpEmail("mail.example", 465, username="coach", password="pw", implicit_tls=True)

    def test_repr_hides_the_password(self) -> None:
        """The SMTP password never shows in the sender's repr."""
        assert "p@ss" not in repr(email_from_url("smtp://coach:p%40ss@mail.example"))
