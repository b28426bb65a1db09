"""SES's own header fields, for a service that asks for them: the message's tags and metadata
as `X-SES-MESSAGE-TAGS`, and its configuration set as `X-SES-CONFIGURATION-SET`.

Tags and metadata never go into a message's headers otherwise: a plain SMTP provider would
pass them on to every recipient. SES's SMTP interface reads (and removes) these two fields,
so an SMTP service whose `ses_message_tags` is true gets them, and so does one that leaves it
unset and whose host is an SES SMTP endpoint (`email-smtp.<region>.amazonaws.com`, its FIPS
twin too); `false` turns them off. A `type: ses` service gets none: its API takes the tags
beside the message (`EmailTags`, `core.transport.ses`), which SES prefers to headers anyway.
For both, a tag or metadata entry SES cannot carry is refused here (400) before anything is
sent (the mapping and its rules: `core.ses_message_tags`). A caller cannot write these
fields itself (`core.composition.custom_headers` refuses every `X-SES-*` name).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from core.services.config import SesConfig
from core.services.model import Service
from core.ses_message_tags import header_value, ses_tags

MESSAGE_TAGS = "X-SES-MESSAGE-TAGS"
CONFIGURATION_SET = "X-SES-CONFIGURATION-SET"
# SES's SMTP endpoints: email-smtp.us-east-1.amazonaws.com, email-smtp-fips.us-gov-west-1...
_SES_SMTP_HOST = re.compile(r"email-smtp(-fips)?\.[a-z0-9-]+\.amazonaws\.com\.?")


def ses_fields(
    service: Service, tags: Sequence[str], metadata: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The SES header fields a message through `service` carries (none for most services),
    or a 400 when the service sends SES tags and one cannot be one."""
    if isinstance(service.config, SesConfig):
        ses_tags(tags, metadata)  # sent as EmailTags: checked now, before anything is sent
        return []
    if not sends_ses_fields(service):
        return []
    fields = []
    if pairs := ses_tags(tags, metadata):
        fields.append((MESSAGE_TAGS, header_value(pairs)))
    if service.smtp.ses_configuration_set:
        fields.append((CONFIGURATION_SET, service.smtp.ses_configuration_set))
    return fields


def sends_ses_fields(service: Service) -> bool:
    """Whether messages through this SMTP service carry SES's header fields."""
    config = service.smtp
    if config.ses_message_tags is not None:
        return config.ses_message_tags
    return _SES_SMTP_HOST.fullmatch(config.host.lower()) is not None
