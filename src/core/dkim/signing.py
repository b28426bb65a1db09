"""Signing a sealed message with DKIM (dkimpy), as its transport is about to send it.

The signature covers the exact bytes that go out: the transport signs what it was handed
and sends the `DKIM-Signature` field followed by those bytes, unchanged (SMTP's dot-stuffing
comes after, and a receiver undoes it before verifying).

- Canonicalization relaxed/relaxed (RFC 6376 §3.4.2, §3.4.4): it survives the re-folding and
  trailing-space changes relays make, which simple does not.
- The fields signed are those of RFC 6376 §5.4.1's list (dkimpy's `DKIM.SHOULD`: From,
  Reply-To, Subject, Date, Message-ID, To, Cc, MIME-Version, Content-Type,
  Content-Transfer-Encoding, List-Unsubscribe, ...; a unit test keeps the two equal) that the
  message has, plus
  List-Unsubscribe-Post, which RFC 8058 §4 requires to be signed. From and Subject, what a
  reader sees first, are listed once more than they occur, so no second one can be added
  beneath the signature (RFC 6376 §8.15). Headers outside that list (a caller's custom `X-`
  fields, SES's `X-SES-*`, which SES strips) are left out: a field a relay may change or drop
  must not break the signature.
- Amazon SES replaces Date and Message-ID with its own (its API, and its SMTP endpoints), so
  a service sending through SES leaves both unsigned, as SES's guide to manual DKIM signing
  says. SES signs every message with its own `d=amazonses.com` too; ours is the aligned one.
- Alignment: DMARC passes on DKIM only when the From domain is `d=` or below it. A message
  from another domain is still signed (a valid signature never hurts delivery) and a warning
  is logged; the connection test shows whether the service's default sender aligns.
- Signing the same bytes twice (a message announced for pipelining, then sent) gives the same
  signature: the last few signatures are remembered, since `t=` would differ a second later.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from aws_lambda_powertools import Logger

from core.dkim.config import DkimSettings
from core.dkim.keys import DkimKey
from core.errors import EmailApiError
from core.transport.report import DkimReport

logger = Logger(child=True)

# RFC 6376 §5.4.1's recommended list (written out: importing dkimpy costs a cold start some
# 80 ms), and RFC 8058's List-Unsubscribe-Post.
RFC_6376_FIELDS = frozenset(
    {
        *("from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc"),
        *("mime-version", "content-type", "content-transfer-encoding", "content-id"),
        *("content-description", "resent-date", "resent-from", "resent-sender", "resent-to"),
        *("resent-cc", "resent-message-id", "in-reply-to", "references", "list-id"),
        *("list-help", "list-unsubscribe", "list-subscribe", "list-post", "list-owner"),
        "list-archive",
    }
)
SIGNED_FIELDS = RFC_6376_FIELDS | {"list-unsubscribe-post"}
# Signed once more than they occur (RFC 6376 §8.15): none can be added later.
OVERSIGNED_FIELDS = ("from", "subject")
# What Amazon SES rewrites in every message it sends.
SES_REWRITTEN_FIELDS = frozenset({"date", "message-id"})
_REMEMBERED = 4


class DkimSigningFailed(EmailApiError):
    """500: the service signs with DKIM, but its key could not sign the message (its secret
    was edited by hand, say). Nothing was sent; the message says so without the key."""

    status = 500
    default_reason = "dkim_signing_failed"


class MessageSigner:
    """Signs messages as `settings` say, with `key`; `unsigned`: fields the transport's provider
    rewrites, left out of the signature."""

    def __init__(
        self, settings: DkimSettings, key: DkimKey, *, unsigned: frozenset[str] = frozenset()
    ) -> None:
        self.settings = settings
        self._key = key
        self._unsigned = unsigned
        self._signed: OrderedDict[bytes, bytes] = OrderedDict()

    def sign(self, message: bytes, *, sender: str | None = None) -> bytes:
        """`message` with its `DKIM-Signature` field on top; `sender` (the From address) is
        checked for alignment with `d=`."""
        if (signed := self._signed.get(message)) is not None:
            self._signed.move_to_end(message)
            return signed
        import dkim  # here, not at the top: see RFC_6376_FIELDS

        if sender is not None and not aligned(sender, self.settings.domain):
            logger.warning(
                "DKIM signature does not align with the From domain: DMARC will not pass on it",
                extra={
                    "dkim_domain": self.settings.domain,
                    "from_domain": sender.rpartition("@")[2].lower(),
                },
            )
        try:
            field = dkim.sign(
                message,
                self.settings.selector.encode("ascii"),
                self.settings.domain.encode("ascii"),
                self._key.pem,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=self.fields_to_sign(message),
            )
        except dkim.DKIMException:
            # dkimpy's text may describe the key: none of it goes any further.
            raise DkimSigningFailed(
                f"The DKIM key of d={self.settings.domain} s={self.settings.selector}"
                " could not sign the message."
            ) from None
        signed = bytes(field) + message
        self._signed[message] = signed
        while len(self._signed) > _REMEMBERED:
            self._signed.popitem(last=False)
        return signed

    def report(self, sender: str | None) -> DkimReport:
        """The DNS record these signatures need, and whether `sender` (the service's default
        From) aligns with them."""
        return DkimReport(
            domain=self.settings.domain,
            selector=self.settings.selector,
            record_name=self.settings.record_name,
            record_value=self._key.dns_record_value(),
            key_bits=self._key.bits,
            unsigned_fields=sorted(self._unsigned),
            sender_aligned=None if sender is None else aligned(sender, self.settings.domain),
        )

    def fields_to_sign(self, message: bytes) -> list[bytes]:
        """The `h=` list for `message`: each signed field as often as it occurs, From and
        Subject once more."""
        present = [
            name
            for name in header_names(message)
            if name in SIGNED_FIELDS and name not in self._unsigned
        ]
        return [name.encode("ascii") for name in (*present, *OVERSIGNED_FIELDS)]


def header_names(message: bytes) -> Iterable[str]:
    """The names of `message`'s header fields, lower case, in order (continuations skipped)."""
    end = message.find(b"\r\n\r\n")
    section = message if end < 0 else message[:end]
    for line in section.split(b"\r\n"):
        if line and line[:1] not in (b" ", b"\t"):
            name, colon, _ = line.partition(b":")
            if colon:
                yield name.strip().decode("ascii", "replace").lower()


def aligned(address: str, domain: str) -> bool:
    """Whether `address`'s domain is `domain` or below it (DMARC's relaxed alignment, short of
    the public suffix list: a sibling under the same organizational domain is not counted)."""
    sender_domain = address.rpartition("@")[2].lower().rstrip(".")
    return sender_domain == domain or sender_domain.endswith("." + domain)
