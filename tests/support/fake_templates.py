"""In-memory stored templates (unit tests), found by name or by id as the real store does."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import NotFound
from core.ports import TemplateStore
from core.templates.model import EmailTemplate


@dataclass
class FakeTemplates:
    templates: dict[str, EmailTemplate] = field(default_factory=dict)

    def add(self, name: str, **fields: Any) -> EmailTemplate:
        template = EmailTemplate(id=len(self.templates) + 1, name=name, **fields)
        self.templates[name] = template
        return template

    def by_name(self, name: str) -> EmailTemplate:
        try:
            return self.templates[name]
        except KeyError:
            raise NotFound(
                f"Email Template '{name}' not found", reason="template_not_found"
            ) from None

    def by_id(self, template_id: int) -> EmailTemplate:
        for template in self.templates.values():
            if template.id == template_id:
                return template
        raise NotFound(f"Email Template id '{template_id}' not found", reason="template_not_found")


_: TemplateStore = FakeTemplates()
