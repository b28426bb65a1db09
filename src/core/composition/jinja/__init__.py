"""Full template syntax (`"template_syntax": "jinja"`): Jinja2 in a sandbox with limits.

`limits` holds the budgets and needs no template engine; `sandbox` is the environment (it
imports jinja2, so only the jinja path imports it, lazily); `render` turns a field's template
and the merged values into text, or into a 400 that names the field.
"""
