"""DreamFactory clients' verbs over HTTP through the local stack (its gateway, the authorizer,
the API function): the admin interface saving an email template with PUT and deleting with a
tunnelled POST, and a script's batch delete.

As they send them: df-admin-interface `src/app/shared/services/df-base-crud.service.ts`
(`update`: PUT `<resource>/<id>`, lines 70-80; `legacyDelete`: POST with `X-Http-Method:
DELETE` and no body, lines 82-91; `delete` of several: DELETE `?ids=1,2`, lines 93-106), its
`case.interceptor.ts` turning the form's camelCase into snake_case, and its
`session-token.interceptor.ts` adding `X-DreamFactory-API-Key` and the session token. The form
(`df-email-template-details.component.ts`) sends every field; its empty ones (`""`) are the
business of the template's own rules, so the fields here are filled in.
"""

from __future__ import annotations

import json

from tests.support.stack_process import RunningStack

PATH = "/api/v2/system/email_template"


def _admin_headers(stack: RunningStack) -> dict[str, str]:
    """What Angular's HttpClient and the interface's interceptors put on a JSON request."""
    return {
        "Accept": "application/json, text/plain, */*",
        "Content-Type": "application/json",
        "X-DreamFactory-API-Key": stack.admin_key,
        "X-DreamFactory-Session-Token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.e30.session",
    }


def _form(name: str, subject: str) -> dict[str, str]:
    """The interface's form, as its case interceptor sends it (in the form's order)."""
    return {
        "name": name,
        "description": "Sent when an order leaves",
        "to": "orders@example.com",
        "cc": "audit@example.com",
        "bcc": "archive@example.com",
        "subject": subject,
        "body_html": "<p>Hello {first_name}, order {order} is on its way.</p>",
        "from_name": "Example Shop",
        "from_email": "shop@example.com",
        "reply_to_name": "Support",
        "reply_to_email": "support@example.com",
    }


def test_the_admin_interface_saves_a_template_with_put_and_a_send_uses_it(
    stack: RunningStack,
) -> None:
    headers = _admin_headers(stack)
    created = stack.request(
        "POST",
        PATH,
        body=json.dumps({"resource": [_form("order_shipped", "Shipped")]}),
        headers=headers,
    )
    assert created.status == 201, created.body
    template_id = created.body["resource"][0]["id"]

    saved = stack.request(
        "PUT",
        f"{PATH}/{template_id}",
        body=json.dumps(_form("order_shipped", "Order {order} has shipped")),
        headers=headers,
    )

    assert saved.status == 200, saved.body
    assert saved.body["id"] == template_id
    assert saved.body["subject"] == "Order {order} has shipped"
    sent = stack.request(
        "POST",
        "/api/v2/email",
        body=json.dumps({"template_id": template_id, "first_name": "Ann", "order": "A-17"}),
        headers={"Content-Type": "application/json", "X-DreamFactory-API-Key": stack.admin_key},
    )
    assert sent.status == 200, sent.body
    message, envelope = stack.captured(sent.body["message_id"])
    assert message["Subject"] == "Order A-17 has shipped"
    assert envelope.rcpt_tos == ["orders@example.com", "audit@example.com", "archive@example.com"]


def test_the_admin_interface_deletes_with_a_tunnelled_post(stack: RunningStack) -> None:
    headers = _admin_headers(stack)
    created = stack.request(
        "POST", PATH, body=json.dumps({"resource": [_form("old_news", "Old")]}), headers=headers
    )
    assert created.status == 201, created.body
    template_id = created.body["resource"][0]["id"]
    # Angular sends a null body as none at all, and no Content-Type with it.
    no_body = {name: value for name, value in headers.items() if name != "Content-Type"}

    deleted = stack.request(
        "POST", f"{PATH}/{template_id}", headers={**no_body, "X-Http-Method": "DELETE"}
    )

    assert deleted.status == 200, deleted.body
    assert deleted.body == {"id": template_id, "name": "old_news"}
    assert stack.request("GET", f"{PATH}/{template_id}", headers=headers).status == 404


def test_a_scripts_batch_delete(stack: RunningStack) -> None:
    """A script written against DreamFactory's system API: the ids of the templates it made,
    deleted in one call, then one more by its name in a `resource` body; and the DELETE naming
    nothing, which DreamFactory refuses too, refused."""
    script = {
        "Content-Type": "application/json; charset=utf-8",
        "X-DreamFactory-API-Key": stack.admin_key,
        "User-Agent": "python-requests/2.32.3",
    }
    made = [
        stack.request("POST", PATH, body=json.dumps(_form(name, name)), headers=script).body
        for name in ("batch_a", "batch_b", "batch_c")
    ]
    ids = ",".join(str(template["id"]) for template in made[:2])

    by_ids = stack.request("DELETE", PATH, headers=script, query=f"ids={ids}&api_key=")
    by_body = stack.request(
        "DELETE", PATH, body=json.dumps({"resource": [{"name": "batch_c"}]}), headers=script
    )
    naming_nothing = stack.request("DELETE", PATH, headers=script)

    assert by_ids.status == 200, by_ids.body
    assert by_ids.body == {
        "resource": [{"id": template["id"], "name": template["name"]} for template in made[:2]]
    }
    assert by_body.status == 200, by_body.body
    assert by_body.body == {"resource": [{"id": made[2]["id"], "name": "batch_c"}]}
    assert (naming_nothing.status, naming_nothing.reason) == (400, "no_records")
    left = stack.request("GET", PATH, headers=script).body["resource"]
    assert not {template["name"] for template in left} & {"batch_a", "batch_b", "batch_c"}
