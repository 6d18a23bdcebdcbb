"""Sending email through an SMTP server, over STARTTLS or TLS, with timeouts."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

import attrs

from coachos.domain.errors import PermanentSendError, TransientSendError

DEFAULT_SENDER = "Coach OS <no-reply@coachos.local>"


def build_message(
    sender: str, to: str, subject: str, text: str, html: str | None, message_id: str | None = None
) -> EmailMessage:
    """A message with `text` as its plain part and, when given, `html` as a multipart/alternative HTML part.

    `message_id` (e.g. our stored message's id) becomes the Message-ID header, so a resend of the same
    stored message carries the same id and receivers show it once.
    """
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    if message_id is not None:
        domain = sender.rpartition("@")[2].rstrip(">").strip() or "coachos.local"
        message["Message-ID"] = f"<{message_id}@{domain}>"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


@attrs.frozen
class SmtpEmail:
    """Sends through an SMTP server.

    With `implicit_tls` the connection is TLS from the start (port 465, `smtps://`); otherwise it is
    upgraded with STARTTLS, and a server that does not offer STARTTLS is refused unless
    `require_tls` is off (a local relay), so a password never crosses the network in the clear.
    """

    host: str
    port: int = 587
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    sender: str = DEFAULT_SENDER
    implicit_tls: bool = False
    require_tls: bool = True
    #: Seconds for connecting and for each reply; a stuck server costs this, not a worker forever.
    timeout: float = 30.0
    #: Certificates to trust; None means the system's (tests pass a context trusting their own).
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, repr=False)

    def send(self, to: str, subject: str, text: str, html: str | None = None, *, message_id: str | None = None) -> None:
        """Deliver the message; raise TransientSendError or PermanentSendError when the server will not."""
        message = build_message(self.sender, to, subject, text, html, message_id)
        context = self.ssl_context or ssl.create_default_context()
        try:
            if self.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if not self.implicit_tls:
                    smtp.ehlo()
                    if smtp.has_extn("starttls"):
                        smtp.starttls(context=context)
                        smtp.ehlo()
                    elif self.require_tls:
                        raise PermanentSendError(
                            "starttls", "the mail server does not offer STARTTLS, so the email was not sent"
                        )
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except smtplib.SMTPNotSupportedError:
            raise PermanentSendError(
                "auth", "the mail server does not accept a login; check COACHOS_EMAIL_URL"
            ) from None
        except smtplib.SMTPAuthenticationError as e:
            raise PermanentSendError(str(e.smtp_code), "the mail server refused the username or password") from None
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _ in e.recipients.values()]
            if codes and all(400 <= code < 500 for code in codes):
                raise TransientSendError("The mail server deferred the recipient; it will be tried again.") from None
            raise PermanentSendError(
                str(codes[0]) if codes else "550", "the mail server refused the recipient address"
            ) from None
        except smtplib.SMTPResponseException as e:
            # 4xx replies are the server asking us to come back later; 5xx are final.
            if 400 <= e.smtp_code < 500:
                raise TransientSendError("The mail server is busy; the email will be tried again.") from None
            raise PermanentSendError(str(e.smtp_code), "the mail server refused the email") from None
        except OSError:  # smtplib.SMTPException is an OSError too
            # Refused connections, timeouts, dropped connections and failed TLS handshakes alike.
            raise TransientSendError("The mail server could not be reached; the email will be tried again.") from None
