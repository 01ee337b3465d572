"""Email over SMTP: STARTTLS or implicit TLS, authentication, multipart text + HTML.

Each notification has a Message-ID derived from its id; a follow-up on a story carries
In-Reply-To (the story's first message) and References, so mail clients thread it under the
first alert. A resend after a crash carries the same Message-ID, so mailboxes can drop it.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import format_datetime

from alerts.channels.base import Notifier
from alerts.notification import Notification
from alerts.redact import redact
from alerts.render import clip, html_text, plain_text
from peacewatch.errors import AlertError, PermanentDeliveryError, TransientDeliveryError
from peacewatch.settings.alerts import EmailReceiver

_SUBJECT_MAX = 200


def build_message(n: Notification, settings: EmailReceiver) -> EmailMessage:
    """The MIME message for one notification. Pure."""
    msg = EmailMessage()
    prefix = f"{settings.subject_prefix} " if settings.subject_prefix else ""
    title = n.title if n.kind != "follow_up" else f"Re: {n.developments[0].headline}"
    msg["Subject"] = clip(prefix + title, _SUBJECT_MAX)
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.to)
    msg["Date"] = format_datetime(n.created_at)
    msg["Message-ID"] = n.message_id
    if n.in_reply_to:
        msg["In-Reply-To"] = n.in_reply_to
        msg["References"] = " ".join(n.references or (n.in_reply_to,))
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Peacewatch-Notification"] = n.notification_id
    msg["X-Peacewatch-Kind"] = n.kind
    msg.set_content(plain_text(n))
    msg.add_alternative(html_text(n), subtype="html")
    return msg


def _tls_context(settings: EmailReceiver) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if settings.ca_file is not None:
        context.load_verify_locations(cafile=str(settings.ca_file))
    return context


class EmailNotifier(Notifier):
    channel = "email"

    def __init__(self, name: str, settings: EmailReceiver) -> None:
        super().__init__(name)
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s,
                                                  context=_tls_context(s))
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        try:
            smtp.ehlo()
            if s.security == "starttls":
                smtp.starttls(context=_tls_context(s))
                smtp.ehlo()
            if s.username is not None and s.password is not None:
                smtp.login(s.username, s.password.get_secret_value())
        except BaseException:
            _quietly_close(smtp)
            raise
        return smtp

    def _what(self) -> str:
        return f"email receiver {self.name!r} ({self.settings.host}:{self.settings.port})"

    def send(self, notification: Notification) -> None:
        message = build_message(notification, self.settings)
        with _smtp_errors(self._what()):
            smtp = self._connect()
            try:
                smtp.send_message(message)
            finally:
                _quietly_close(smtp)

    def check(self) -> str:
        """Connect, negotiate TLS, log in, NOOP, QUIT: no mail is sent."""
        try:
            with _smtp_errors(self._what()):
                smtp = self._connect()
                try:
                    smtp.noop()
                finally:
                    _quietly_close(smtp)
        except (TransientDeliveryError, PermanentDeliveryError) as exc:
            raise AlertError(str(exc)) from None
        auth = "authenticated" if self.settings.username else "no login"
        return f"{self.settings.security}, {auth}"


def _quietly_close(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


class _smtp_errors:  # noqa: N801 - used as a context manager, reads like one
    """Turn smtplib's and the socket's errors into delivery errors, with no secret in them."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            return
        what = self.what
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            raise PermanentDeliveryError(
                f"{what}: authentication refused ({exc.smtp_code})") from None
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = sorted({code for code, _ in exc.recipients.values()})
            if all(400 <= c < 500 for c in codes):
                raise TransientDeliveryError(f"{what}: recipients deferred {codes}") from None
            raise PermanentDeliveryError(f"{what}: recipients refused {codes}") from None
        if isinstance(exc, smtplib.SMTPResponseException):
            text = redact(exc.smtp_error.decode("utf-8", "replace")[:200]
                          if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)[:200])
            reason = f"{what}: SMTP {exc.smtp_code} {text}"
            if 400 <= exc.smtp_code < 500:
                raise TransientDeliveryError(reason) from None
            raise PermanentDeliveryError(reason) from None
        if isinstance(exc, ssl.SSLCertVerificationError):
            raise PermanentDeliveryError(
                f"{what}: TLS certificate refused ({exc.verify_message})") from None
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            raise PermanentDeliveryError(f"{what}: server lacks a needed extension "
                                         f"({redact(str(exc))})") from None
        if isinstance(exc, (smtplib.SMTPException, OSError, socket.timeout)):
            raise TransientDeliveryError(
                f"{what}: {type(exc).__name__}: {redact(str(exc))[:200]}") from None
