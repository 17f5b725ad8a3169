"""The lab's conversation panel: log, text box and Send button as one small front-end widget (anywidget).

The browser sends the text exactly as typed with the send event, so Enter
right after fast typing sends every character (a plain ipywidgets Text syncs
its value separately, and the kernel could read it before the last keys
arrived). The log scrolls to the newest message whenever it changes. Stable
CSS classes let browser tests find each part.
"""

from __future__ import annotations

import anywidget
import traitlets

__all__ = ["ChatPanel", "CSS_CLASSES"]

CSS_CLASSES = {
    "panel": "ossllm-lab",
    "log": "ossllm-lab-log",
    "message": "ossllm-lab-msg",
    "passages": "ossllm-lab-passages",
    "input": "ossllm-lab-input",
    "send": "ossllm-lab-send",
    "status": "ossllm-lab-status",
}

_ESM = """
function render({ model, el }) {
  el.classList.add("ossllm-lab");
  const log = document.createElement("div");
  log.className = "ossllm-lab-log";
  const done = document.createElement("div");
  const pending = document.createElement("div");
  log.append(done, pending);
  const row = document.createElement("div");
  row.className = "ossllm-lab-row";
  const input = document.createElement("input");
  input.type = "text";
  input.className = "ossllm-lab-input";
  input.setAttribute("aria-label", "Your question");
  const send = document.createElement("button");
  send.className = "ossllm-lab-send";
  send.textContent = "Send";
  row.append(input, send);
  const status = document.createElement("div");
  status.className = "ossllm-lab-status";
  el.append(log, row, status);

  const toBottom = () => { log.scrollTop = log.scrollHeight; };
  const submit = () => {
    const text = input.value;  // read at the moment of sending: every key typed is in it
    if (!text.trim() || model.get("disabled")) return;
    model.send({ event: "send", text });
    input.value = "";
  };
  // Keys typed here are the student's, not notebook shortcuts.
  input.addEventListener("keydown", (e) => {
    e.stopPropagation();
    if (e.key === "Enter" && !e.isComposing) { e.preventDefault(); submit(); }
  });
  input.addEventListener("keypress", (e) => e.stopPropagation());
  input.addEventListener("keyup", (e) => e.stopPropagation());
  send.addEventListener("click", submit);

  const draw = () => {
    done.innerHTML = model.get("log_html");
    pending.innerHTML = model.get("pending_html");
    toBottom();
    requestAnimationFrame(toBottom);  // again once images and fonts have their size
  };
  const drawPending = () => { pending.innerHTML = model.get("pending_html"); toBottom(); };
  const drawStatus = () => { status.innerHTML = model.get("status_html"); };
  const drawState = () => {
    const off = model.get("disabled");
    input.disabled = off; send.disabled = off;
    input.placeholder = model.get("placeholder");
  };
  model.on("change:log_html", draw);
  model.on("change:pending_html", drawPending);
  model.on("change:status_html", drawStatus);
  model.on("change:disabled", drawState);
  model.on("change:placeholder", drawState);
  model.on("msg:custom", (msg) => {
    if (msg && msg.event === "restore" && !input.value) input.value = msg.text;
  });
  draw(); drawStatus(); drawState();
}
export default { render };
"""

_CSS = """
.ossllm-lab-log { max-height: 420px; overflow-y: auto; border: 1px solid #ddd; padding: 0.3em 0.5em;
  scroll-behavior: auto; }
.ossllm-lab-msg { border-left: 3px solid #16a34a; padding: 0.15em 0.6em; margin: 0.3em 0; line-height: 1.45; }
.ossllm-lab-msg.ossllm-lab-user { border-left-color: #2563eb; }
.ossllm-lab-msg > b { display: block; }
.ossllm-lab-msg.ossllm-lab-user > b { color: #2563eb; }
.ossllm-lab-msg.ossllm-lab-assistant > b { color: #16a34a; }
.ossllm-lab-passages { margin: 0.3em 0 0.2em 0; padding: 0.3em 0.6em; background: #f8fafc; border: 1px dashed #cbd5e1;
  font-size: 0.9em; color: #334155; }
.ossllm-lab-passages p { margin: 0.2em 0; }
.ossllm-lab-note { color: #92400e; font-size: 0.9em; }
.ossllm-lab-row { display: flex; gap: 0.4em; margin-top: 0.4em; }
.ossllm-lab-input { flex: 1 1 auto; padding: 0.3em 0.5em; font: inherit; }
.ossllm-lab-send { padding: 0.3em 1em; background: #2563eb; color: white; border: 0; border-radius: 3px; cursor: pointer; }
.ossllm-lab-send:disabled { background: #94a3b8; cursor: default; }
.ossllm-lab-status { min-height: 1.2em; margin-top: 0.2em; }
"""


class ChatPanel(anywidget.AnyWidget):
    """Log (HTML the kernel renders and escapes), text box, Send button and a status line."""

    _esm = _ESM
    _css = _CSS
    log_html = traitlets.Unicode("").tag(sync=True)
    pending_html = traitlets.Unicode("").tag(sync=True)
    status_html = traitlets.Unicode("").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    placeholder = traitlets.Unicode("").tag(sync=True)

    def __init__(self, on_send, **kwargs):
        super().__init__(**kwargs)
        self._on_send = on_send
        self.on_msg(self._message)

    def _message(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("event") == "send" and isinstance(content.get("text"), str):
            self._on_send(content["text"])

    def restore(self, text: str) -> None:
        """Put ``text`` back in the box (a message that could not be sent is not lost)."""
        self.send({"event": "restore", "text": text})
