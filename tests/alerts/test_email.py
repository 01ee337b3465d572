"""EmailNotifier against a real SMTP server (aiosmtpd) on 127.0.0.1, with TLS and login.

The test parses what the server received: headers, both MIME parts, and the threading of a
follow-up under the story's first message.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from alertkit import PASSWORD, T0, USER, SmtpServer, free_port, make_dev, received

from alerts.channels import EmailNotifier
from alerts.notification import make_notification
from peacewatch.errors import AlertError, PermanentDeliveryError, TransientDeliveryError
from peacewatch.settings.alerts import EmailReceiver

# aiosmtpd warns that the implicit-TLS test server does not require TLS for AUTH (it is TLS).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

def receiver(server: SmtpServer, ca: Path, **kw: object) -> EmailReceiver:
    values: dict[str, object] = {
        "kind": "email", "host": "127.0.0.1", "port": server.port, "security": server.mode,
        "username": USER, "password": PASSWORD, "ca_file": ca, "sender": "alerts@pw.example",
        "to": ["desk@pw.example", "chief@pw.example"], "timeout_s": 5}
    values.update(kw)
    return EmailReceiver.model_validate(values)


def parts(msg: EmailMessage) -> dict[str, str]:
    return {p.get_content_type(): p.get_content() for p in msg.walk()
            if not p.is_multipart()}


def test_starttls_login_multipart_and_threading(smtp_starttls: SmtpServer,
                                                tls_files: tuple[Path, Path]) -> None:
    notifier = EmailNotifier("mail", receiver(smtp_starttls, tls_files[0]))
    first_dev = make_dev(1, story="s-1", headline="Ceasefire terms <published>")
    first = make_notification(receiver="mail", route="default", group="issue=black-sea",
                              kind="alert", developments=(first_dev,), now=T0,
                              domain="pw.example")
    notifier.send(first)
    change = make_dev(2, story="s-1", kind="change", headline="Ceasefire terms amended")
    follow = make_notification(receiver="mail", route="default",
                               group="follow-up:story=s-1", kind="follow_up",
                               developments=(change,), now=T0, thread=(first.message_id,),
                               domain="pw.example")
    notifier.send(follow)

    msg1, msg2 = received(smtp_starttls, 2)
    assert smtp_starttls.sink.envelopes[0] == (
        "alerts@pw.example", ["desk@pw.example", "chief@pw.example"])
    assert msg1["Message-ID"] == first.message_id and msg1["Message-ID"].endswith("@pw.example>")
    assert msg1["Subject"] == "[peacewatch] New on black-sea: Ceasefire terms <published>"
    assert msg1["From"] == "alerts@pw.example"
    assert parsedate_to_datetime(msg1["Date"]) == T0
    assert msg1["In-Reply-To"] is None
    body = parts(msg1)
    assert set(body) == {"text/plain", "text/html"}
    assert "Ceasefire terms <published>" in body["text/plain"]
    assert "Ceasefire terms &lt;published&gt;" in body["text/html"]
    assert "https://news.example/reuters/1" in body["text/html"]

    assert msg2["In-Reply-To"] == first.message_id
    assert msg2["References"] == first.message_id
    assert msg2["Subject"].startswith("[peacewatch] Re: Ceasefire terms amended")
    assert "UPDATE: Ceasefire terms amended" in parts(msg2)["text/plain"]


def test_implicit_tls(smtp_tls: SmtpServer, tls_files: tuple[Path, Path]) -> None:
    notifier = EmailNotifier("mail", receiver(smtp_tls, tls_files[0]))
    n = make_notification(receiver="mail", route="r", group="g", kind="alert",
                          developments=(make_dev(3),), now=T0)
    notifier.send(n)
    (msg,) = received(smtp_tls)
    assert msg["X-Peacewatch-Notification"] == n.notification_id
    assert notifier.check().startswith("tls, authenticated")


def test_refused_login_is_permanent_and_never_shows_the_password(
        smtp_starttls: SmtpServer, tls_files: tuple[Path, Path]) -> None:
    wrong = "wrong-" + PASSWORD
    notifier = EmailNotifier("mail", receiver(smtp_starttls, tls_files[0], password=wrong))
    n = make_notification(receiver="mail", route="r", group="g", kind="alert",
                          developments=(make_dev(4),), now=T0)
    with pytest.raises(PermanentDeliveryError, match="authentication refused") as info:
        notifier.send(n)
    assert wrong not in str(info.value) and smtp_starttls.sink.messages == []
    with pytest.raises(AlertError, match="authentication refused"):
        notifier.check()


def test_untrusted_certificate_is_permanent(smtp_starttls: SmtpServer) -> None:
    notifier = EmailNotifier("mail", receiver(smtp_starttls, None))  # type: ignore[arg-type]
    n = make_notification(receiver="mail", route="r", group="g", kind="alert",
                          developments=(make_dev(5),), now=T0)
    with pytest.raises(PermanentDeliveryError, match="certificate"):
        notifier.send(n)


def test_no_server_is_transient(tls_files: tuple[Path, Path]) -> None:
    server = SmtpServer(free_port(), None, "starttls")  # type: ignore[arg-type]
    notifier = EmailNotifier("mail", receiver(server, tls_files[0], timeout_s=1))
    n = make_notification(receiver="mail", route="r", group="g", kind="alert",
                          developments=(make_dev(6),), now=T0)
    with pytest.raises(TransientDeliveryError, match="ConnectionRefusedError"):
        notifier.send(n)
