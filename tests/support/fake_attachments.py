"""An in-memory `AttachmentSource` (unit tests): URLs served from a dict, inline files as given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from core.attachments.references import InlineAttachment, Reference
from core.errors import InvalidRequest
from core.message import Attachment
from core.ports import AttachmentSource


@dataclass
class FakeAttachments:
    # URL (without its query) -> (content, content type)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    asked: list[list[Reference | InlineAttachment]] = field(default_factory=list)

    def __call__(
        self, entries: Sequence[Reference | InlineAttachment], *, budget: int
    ) -> list[Attachment]:
        self.asked.append(list(entries))
        return [self._one(entry) for entry in entries]

    def _one(self, entry: Reference | InlineAttachment) -> Attachment:
        if isinstance(entry, InlineAttachment):
            return Attachment(
                name=entry.name, content=entry.content, content_type=entry.content_type
            )
        try:
            content, content_type = self.files[entry.redacted]
        except KeyError:
            raise InvalidRequest(
                f"Could not fetch {entry.redacted}.", reason="attachment_fetch_failed"
            ) from None
        return Attachment(name=entry.filename, content=content, content_type=content_type)


_: AttachmentSource = FakeAttachments()
