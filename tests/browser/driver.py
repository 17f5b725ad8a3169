"""Drive JupyterLab in headless Chromium: open a notebook, Run All, measure what the student sees.

Everything goes through JupyterLab's own command registry and models
(``window.jupyterapp``, exposed by the server flag ``expose_app_in_browser``),
and through real mouse and keyboard events for what a student clicks or types.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

__all__ = ["LAUNCH_FLAGS", "chromium_path", "launch", "LabPage", "QUIZ_NEW", "QUIZ_OLD"]

# Flags for a headless run on a machine without a GPU, network or sandbox.
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Where a question's options are, in today's widget and in the RadioButtons one it replaced.
QUIZ_NEW = {"question": ".ossllm-quiz-question", "option": ".ossllm-quiz-option"}
QUIZ_OLD = {"question": ".widget-radio-box, .jupyter-widget-radio-box", "option": ":scope > label"}


def chromium_path() -> str | None:
    """$OSSLLM_CHROMIUM if set, else Debian's Chromium; None when absent. Never a downloaded browser."""
    chosen = os.environ.get("OSSLLM_CHROMIUM")
    for candidate in [chosen] if chosen else ["/usr/bin/chromium", shutil.which("chromium")]:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def launch(playwright, *, width=1400, height=900, user_data_dir: Path | None = None):
    """A Chromium context on a new, empty profile folder."""
    profile = Path(user_data_dir or tempfile.mkdtemp(prefix="ossllm-chromium-"))
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=chromium_path(),
        headless=True,
        args=LAUNCH_FLAGS,
        viewport={"width": width, "height": height},
        ignore_default_args=["--enable-automation"],
    )


# page.evaluate has no timeout of its own: every wait in the page is bounded here.
_JS_WITHIN = """const within = (p, s, what) => Promise.race([p, new Promise((_, no) =>
  setTimeout(() => no(new Error(what + ' did not finish within ' + s + ' s')), s * 1000))]);"""

_JS_OPEN = """async ([path, s]) => {
  %s
  const app = window.jupyterapp;
  await within(app.restored, s, 'JupyterLab start');
  const w = await within(app.commands.execute('docmanager:open', {path, factory: 'Notebook'}), s, 'opening ' + path);
  await within(w.context.ready, s, 'loading ' + path);
  await within(w.sessionContext.ready, s, 'starting the kernel of ' + path);
  app.shell.activateById(w.id);
  window.__ossllm_nb = w;
  return w.id;
}""" % _JS_WITHIN

_JS_RUN_ALL = """async (s) => {
  %s
  const app = window.jupyterapp, w = window.__ossllm_nb;
  app.shell.activateById(w.id);
  const kernelReady = async () => {
    for (let i = 0; i < 600; i++) {
      const k = w.sessionContext.session && w.sessionContext.session.kernel;
      if (k && k.connectionStatus === 'connected' && k.status === 'idle') return;
      await new Promise(r => setTimeout(r, 100));
    }
    throw new Error('kernel never became idle');
  };
  await kernelReady();
  await within(app.commands.execute('notebook:run-all-cells'), s, 'Run All');
  await kernelReady();
  return true;
}""" % _JS_WITHIN

_JS_NOTEBOOK = """() => window.__ossllm_nb.content.model.toJSON()"""

_JS_CLOSE = """async () => {
  const w = window.__ossllm_nb;
  if (!w) return;
  await w.sessionContext.shutdown();
  w.context.model.dirty = false;  // the copy is scratch: no save dialog
  w.dispose();
  window.__ossllm_nb = null;
}"""

# Text of each rendered Markdown cell without code spans, code blocks and typeset maths; for each formula the
# longest run of single identifiers side by side (words typeset as maths come out as one long run of italics).
# Read from MathJax's output tree, which is there whether or not the cell has been laid out.
_JS_MARKDOWN = """async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const cells = window.__ossllm_nb.content.widgets;
  // JupyterLab renders a Markdown cell when it first comes into view: bring each unrendered one there
  for (let tries = 0; tries < 50; tries++) {
    const waiting = cells.filter(c => c.model.type === 'markdown' && !c.node.querySelector('.jp-RenderedMarkdown'));
    if (!waiting.length) break;
    waiting[0].node.scrollIntoView({block: 'center'});
    await frame();
    await new Promise(r => setTimeout(r, 100));
  }
  const out = [];
  cells.forEach((cell, index) => {
    if (cell.model.type !== 'markdown') return;
    const node = cell.node.querySelector('.jp-RenderedMarkdown');
    if (!node) { out.push({index, text: null, math: []}); return; }
    const copy = node.cloneNode(true);
    copy.querySelectorAll('code, pre, mjx-container, .MathJax').forEach(e => e.remove());
    out.push({index, text: copy.textContent,
              math: [...node.querySelectorAll('mjx-container')].map(m => {
                let longest = 0;
                for (const el of [m, ...m.querySelectorAll('*')]) {
                  let run = 0;
                  for (const c of el.children) {
                    run = c.tagName === 'MJX-MI' ? run + 1 : 0;
                    longest = Math.max(longest, run);
                  }
                }
                return longest;
              })});
  });
  return out;
}"""

# Visual extent of each option: the union of its input's box and every line box of its text,
# so text that spills out of a fixed-height row is measured where it is drawn.
_JS_QUIZ_GEOMETRY = """async ([qsel, osel]) => {
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const root = window.__ossllm_nb.content.node;
  const out = [];
  for (const q of root.querySelectorAll(qsel)) {
    q.scrollIntoView({block: 'center'});
    await frame();
    const opts = [];
    for (const o of q.querySelectorAll(osel)) {
      const range = document.createRange();
      range.selectNodeContents(o);
      const rects = [...range.getClientRects()].filter(r => r.width > 0 && r.height > 0);
      const box = o.getBoundingClientRect();
      const u = rects.reduce((a, r) => ({left: Math.min(a.left, r.left), top: Math.min(a.top, r.top),
          right: Math.max(a.right, r.right), bottom: Math.max(a.bottom, r.bottom)}),
          {left: Infinity, top: Infinity, right: -Infinity, bottom: -Infinity});
      opts.push({text: o.innerText.trim(), ink: u,
                 box: {left: box.left, top: box.top, right: box.right, bottom: box.bottom}});
    }
    out.push(opts);
  }
  return out;
}"""


def overlaps(options: list[dict], tolerance: float = 0.5) -> list[tuple[int, int]]:
    """Pairs of options whose drawn extents (text or box) intersect."""
    pairs = []
    for a in range(len(options)):
        for b in range(a + 1, len(options)):
            for ka in ("ink", "box"):
                for kb in ("ink", "box"):
                    ra, rb = options[a][ka], options[b][kb]
                    w = min(ra["right"], rb["right"]) - max(ra["left"], rb["left"])
                    h = min(ra["bottom"], rb["bottom"]) - max(ra["top"], rb["top"])
                    if w > tolerance and h > tolerance and (a, b) not in pairs:
                        pairs.append((a, b))
    return pairs


class LabPage:
    """One Chromium page on one JupyterLab; notebooks are opened in it one after another."""

    def __init__(self, context, server):
        self.server = server
        self.page = context.new_page()
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.set_default_timeout(60_000)
        self.page.goto(server.lab_url(), wait_until="domcontentloaded")
        self.page.wait_for_function("window.jupyterapp !== undefined", timeout=120_000)
        self.page.evaluate("async () => { await window.jupyterapp.restored; }")

    # -- notebooks

    def open(self, path: str, timeout_s: float = 120) -> None:
        self.page.evaluate(_JS_OPEN, [path, timeout_s])
        self.page.wait_for_selector(".jp-Notebook .jp-Cell", state="attached")

    def run_all(self, timeout_s: float = 600) -> float:
        """Run All and wait for the kernel to finish; the seconds it took."""
        start = time.monotonic()
        self.page.evaluate(_JS_RUN_ALL, timeout_s)
        return time.monotonic() - start

    def notebook(self) -> dict:
        return self.page.evaluate(_JS_NOTEBOOK)

    def close(self) -> None:
        self.page.evaluate(_JS_CLOSE)

    def markdown_cells(self) -> list[dict]:
        return self.page.evaluate(_JS_MARKDOWN)

    def wait_widgets(self, selector: str, count: int, timeout_s: float = 60) -> None:
        """Wait until ``count`` elements match ``selector`` (widget views render after the kernel replies)."""
        self.page.wait_for_function(
            "([s, n]) => document.querySelectorAll(s).length >= n", arg=[selector, count], timeout=timeout_s * 1000
        )

    # -- layout

    def set_width(self, width: int, height: int = 900) -> None:
        self.page.set_viewport_size({"width": width, "height": height})
        self.settle()

    def file_browser(self, open_: bool) -> None:
        self.page.evaluate(
            """(open) => { const s = window.jupyterapp.shell;
                if (open) { s.expandLeft(); s.activateById('filebrowser'); } else { s.collapseLeft(); } }""",
            open_,
        )
        self.settle()

    def settle(self) -> None:
        self.page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        self.page.wait_for_timeout(300)  # Lumino lays panels out on a resize message after the frame

    def quiz_geometry(self, kind=QUIZ_NEW) -> list[list[dict]]:
        return self.page.evaluate(_JS_QUIZ_GEOMETRY, [kind["question"], kind["option"]])

    def screenshot_of(self, selector_js: str, path: Path) -> Path:
        """Screenshot the element the JS expression returns (scrolled into view)."""
        self.page.evaluate(
            f"""() => {{ document.querySelectorAll('[data-ossllm-shot]').forEach(e => e.removeAttribute('data-ossllm-shot'));
                const el = ({selector_js}); if (el) {{ el.setAttribute('data-ossllm-shot', '1'); el.scrollIntoView({{block: 'center'}}); }} }}"""
        )
        self.settle()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.locator("[data-ossllm-shot]").first.screenshot(path=str(path))
        return path

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))
        return path
