// The local mail viewer's page. Everything a message says is the sender's: it only ever
// becomes text (textContent), never markup; the HTML body is shown in a frame sandboxed with
// neither scripts nor this origin, from a URL whose policy loads nothing remote.
// New mail: the list is asked for again every POLL_MS (polling, no server push).
"use strict";

const API = "/_local/mail/api/messages";
const POLL_MS = 2000;
const SEARCH_DELAY_MS = 200;
// What makes a DELETE acceptable to the viewer: a header another site's page cannot send.
const DELETE_HEADERS = { "X-Mail-Viewer": "delete" };

const state = { query: "", shownList: null, selected: null };

function byId(id) {
  return document.getElementById(id);
}

function element(tag, text, className) {
  const made = document.createElement(tag);
  if (text !== undefined && text !== null) made.textContent = text;
  if (className) made.className = className;
  return made;
}

function when(isoTime) {
  const time = new Date(isoTime);
  return Number.isNaN(time.getTime()) ? isoTime : time.toLocaleString();
}

function showStatus(text) {
  byId("status").textContent = text;
}

// What went wrong in an action the user asked for (the message was deleted meanwhile, the
// stack stopped), shown instead of lost.
function reportFailure(promise) {
  promise.catch((error) => showStatus(error.message));
}

async function fetchJson(url, options) {
  const answer = await fetch(url, { cache: "no-store", ...options });
  const body = await answer.json();
  if (!answer.ok) throw new Error(body.message || `HTTP ${answer.status}`);
  return body;
}

// --- the list -------------------------------------------------------------------------------

async function refreshList() {
  const url = state.query ? `${API}?q=${encodeURIComponent(state.query)}` : API;
  const listed = await fetchJson(url);
  const signature = JSON.stringify([state.query, state.selected, listed.messages.map((m) => m.id)]);
  if (signature === state.shownList) return;
  state.shownList = signature;
  renderList(listed);
}

function renderList(listed) {
  const list = byId("messages");
  list.replaceChildren();
  byId("count").textContent = `${listed.total} message${listed.total === 1 ? "" : "s"}`;
  if (listed.messages.length === 0) {
    list.append(element("li", state.query ? "Nothing matches." : "No mail yet.", "empty"));
    return;
  }
  for (const message of listed.messages) {
    const item = element("li", null, "message");
    item.dataset.id = message.id;
    item.tabIndex = 0;
    if (message.id === state.selected) item.classList.add("selected");
    item.append(
      element("span", message.subject || "(no subject)", "subject"),
      element("span", message.from || message.mail_from, "from"),
      element("span", `To: ${message.to || message.rcpt_tos.join(", ")}`, "to"),
      element("time", when(message.received_at), "received"),
    );
    item.addEventListener("click", () => reportFailure(openMessage(message.id)));
    item.addEventListener("keydown", (event) => {
      if (event.key === "Enter") reportFailure(openMessage(message.id));
    });
    list.append(item);
  }
}

async function poll() {
  try {
    await refreshList();
    showStatus("");
  } catch (error) {
    showStatus(`The stack did not answer (${error.message}); trying again.`);
  }
  window.setTimeout(poll, POLL_MS);
}

// --- one message ----------------------------------------------------------------------------

async function openMessage(id) {
  const message = await fetchJson(`${API}/${encodeURIComponent(id)}`);
  state.selected = id;
  state.shownList = null;
  renderMessage(message);
  await refreshList();
}

function renderMessage(message) {
  byId("detail").hidden = false;
  byId("subject").textContent = message.subject || "(no subject)";
  byId("raw").href = message.raw_url;

  const summary = byId("summary");
  summary.replaceChildren();
  for (const [label, value] of [
    ["From", message.from],
    ["To", message.to],
    ["Cc", message.cc],
    ["Date", message.date],
    ["Received", when(message.received_at)],
  ]) {
    if (!value) continue;
    summary.append(element("dt", label), element("dd", value));
  }

  const envelope = message.envelope;
  byId("envelope-from").textContent = envelope.mail_from;
  byId("envelope-to").textContent = envelope.rcpt_tos.join(", ");
  byId("envelope-bcc").textContent = envelope.bcc.length ? envelope.bcc.join(", ") : "none";
  byId("envelope-ses").textContent = envelope.provider_message_id || "(sent over SMTP)";

  const attachments = byId("attachments");
  attachments.replaceChildren();
  for (const part of message.attachments) {
    const link = element("a", part.filename || `part ${part.index}`);
    link.href = part.url;
    link.download = part.filename || "";
    const item = element("li");
    item.append(link, document.createTextNode(` ${part.content_type}, ${part.size} bytes`));
    attachments.append(item);
  }

  const htmlTab = byId("tab-html");
  htmlTab.replaceChildren();
  if (message.html_url) {
    const frame = document.createElement("iframe");
    frame.setAttribute("sandbox", ""); // no scripts, no origin, no forms, no popups
    frame.referrerPolicy = "no-referrer";
    frame.title = "HTML body";
    frame.id = "html-frame";
    frame.src = message.html_url;
    htmlTab.append(frame);
  }
  byId("tab-text").textContent = message.text ?? "(no text part)";

  const headers = byId("headers");
  headers.replaceChildren();
  for (const header of message.headers) {
    const row = element("tr");
    row.append(element("td", header.name), element("td", header.value));
    headers.append(row);
  }

  const source = byId("tab-source");
  source.textContent = "";
  source.dataset.url = message.raw_url;
  source.dataset.loaded = "";

  byId("delete").onclick = () => reportFailure(deleteMessage(message.id));
  document.querySelector('#tabs [data-tab="html"]').disabled = !message.html_url;
  showTab(message.html_url ? "html" : "text");
}

async function showTab(name) {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.setAttribute("aria-selected", String(button.dataset.tab === name));
  }
  for (const tab of document.querySelectorAll(".tab")) {
    tab.classList.toggle("shown", tab.id === `tab-${name}`);
  }
  const source = byId("tab-source");
  if (name === "source" && !source.dataset.loaded) {
    const answer = await fetch(source.dataset.url, { cache: "no-store" });
    source.textContent = await answer.text();
    source.dataset.loaded = "yes";
  }
}

function closeMessage() {
  state.selected = null;
  state.shownList = null;
  byId("detail").hidden = true;
  byId("tab-html").replaceChildren();
}

// --- deleting -------------------------------------------------------------------------------

async function deleteMessage(id) {
  await fetchJson(`${API}/${encodeURIComponent(id)}`, {
    method: "DELETE",
    headers: DELETE_HEADERS,
  });
  closeMessage();
  await refreshList();
}

async function deleteAll() {
  if (!window.confirm("Delete every captured message?")) return;
  await fetchJson(API, { method: "DELETE", headers: DELETE_HEADERS });
  closeMessage();
  await refreshList();
}

// --- start ----------------------------------------------------------------------------------

function start() {
  let pending = null;
  byId("search").addEventListener("input", (event) => {
    window.clearTimeout(pending);
    pending = window.setTimeout(() => {
      state.query = event.target.value.trim();
      reportFailure(refreshList());
    }, SEARCH_DELAY_MS);
  });
  byId("clear").addEventListener("click", () => {
    reportFailure(deleteAll());
  });
  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", () => reportFailure(showTab(button.dataset.tab)));
  }
  poll();
}

start();
