"""Contact confirmation mail over SMTP (``smtplib`` + ``email``).

Off while ``STYLEGATE_SMTP_HOST`` or ``STYLEGATE_SMTP_FROM`` is unset: nothing is sent, the
portal says so, and contact addresses stay unconfirmed. The link in a mail is built from
``STYLEGATE_PUBLIC_URL`` (never from a request's Host header, which a client chooses).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import urlencode

from stylegate.settings import Settings

log = logging.getLogger(__name__)

SUBJECT = "Confirm your contact address for the stylegate artist portal"


class MailNotConfigured(RuntimeError):
    """No SMTP server is configured."""


class MailFailed(RuntimeError):
    """The SMTP server could not be reached or refused the message (details in the log only)."""


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    def configured(self) -> bool:
        return self.settings.mail_configured

    def confirmation_link(self, token: str) -> str:
        return f"{self.settings.base_url}/confirm?{urlencode({'token': token})}"

    def confirmation_message(self, to: str, token: str, artist_name: str) -> EmailMessage:
        hours = self.settings.confirm_ttl_minutes / 60
        msg = EmailMessage()
        msg["Subject"] = SUBJECT
        msg["From"] = self.settings.smtp_from or ""
        msg["To"] = to
        msg.set_content(
            f"Hello {artist_name},\n\n"
            "please confirm that this is your contact address for the stylegate artist portal\n"
            "by opening this link (it works once, for the next "
            f"{hours:g} hours):\n\n{self.confirmation_link(token)}\n\n"
            "If you did not sign up, ignore this mail: the address stays unconfirmed.\n")
        return msg

    def send(self, msg: EmailMessage) -> None:
        """Deliver ``msg``; raises :class:`MailNotConfigured` or :class:`MailFailed`."""
        s = self.settings
        if not self.configured:
            raise MailNotConfigured("confirmation mail is not configured")
        try:
            with smtplib.SMTP(s.smtp_host or "", s.smtp_port, timeout=s.smtp_timeout_s) as smtp:
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password.get_secret_value() if s.smtp_password else "")
                smtp.send_message(msg)
        except (OSError, smtplib.SMTPException) as exc:
            log.error("confirmation mail to the artist could not be sent via %s:%s: %s", s.smtp_host, s.smtp_port, exc)
            raise MailFailed("the confirmation mail could not be sent; try again later") from None
