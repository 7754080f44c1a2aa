"""Open a page in headless Chromium and report what a reader would hit: console errors,
uncaught exceptions, failed loads, images that did not render, links to files that are not there,
and a full-page screenshot.

Chromium is driven through the DevTools protocol over a pipe (`--remote-debugging-pipe`: JSON
messages separated by NUL on file descriptors 3 and 4), so nothing beyond Debian's `chromium`
package is needed: no browser download, no driver, no websocket client.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")
# run in the page once it has loaded: what the reader sees
_INSPECT = """(() => {
  const images = [...document.images].map(i => ({src: i.currentSrc.slice(0, 80), ok: i.complete && i.naturalWidth > 0}));
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  return {title: document.title, images, links, ids, text: document.body.innerText.slice(0, 2000)};
})()"""


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageCheck:
    title: str = ""
    console_errors: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    text: str = ""
    images: int = 0
    links: int = 0

    @property
    def problems(self) -> list[str]:
        return (
            [f"console: {e}" for e in self.console_errors]
            + [f"broken image: {i}" for i in self.broken_images]
            + [f"broken link: {link}" for link in self.broken_links]
        )


class _Pipe:
    """The DevTools protocol over Chromium's pipe: send a command, wait for its answer, keep events."""

    def __init__(self, to_browser: int, from_browser: int):
        self.to_browser, self.from_browser = to_browser, from_browser
        self.buffer, self.events, self.next_id = b"", [], 0

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            for reply in self._read(deadline):
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
                self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(i)
            self.events.extend(self._read(deadline))

    def _read(self, deadline: float) -> list[dict]:
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self.buffer += chunk
        *messages, self.buffer = self.buffer.split(b"\0")
        return [json.loads(m) for m in messages if m]


def _local_path(url: str) -> Path | None:
    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def check_page(
    path: str | os.PathLike,
    screenshot: str | os.PathLike | None = None,
    chromium: str | None = None,
    width: int = 1280,
    timeout: float = 120,
) -> PageCheck:
    """Load `path` in headless Chromium; return what went wrong and save a full-page PNG."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise FileNotFoundError(f"no Chromium found (looked for {', '.join(CHROMIUM_NAMES)})")
    url = Path(path).resolve().as_uri()
    to_read, to_browser = os.pipe()  # browser reads fd 3
    from_browser, to_write = os.pipe()  # browser writes fd 4

    def pipes_at_3_and_4():
        os.dup2(to_read, 3)
        os.dup2(to_write, 4)

    # the profile is thrown away: a cleanup error must not fail a check that has its answer
    with tempfile.TemporaryDirectory(prefix="ftrepro-chromium-", ignore_cleanup_errors=True) as profile:
        process = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--remote-debugging-pipe",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--allow-file-access-from-files",
                f"--user-data-dir={profile}",
                f"--window-size={width},900",
                "about:blank",
            ],
            preexec_fn=pipes_at_3_and_4,
            pass_fds=(3, 4),
            start_new_session=True,  # a group of its own: its helper processes are stopped with it
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_read)
        os.close(to_write)
        try:
            return _inspect(_Pipe(to_browser, from_browser), url, screenshot, width, timeout)
        finally:
            os.close(to_browser)
            os.close(from_browser)
            _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    """Stop Chromium and every helper process it started (renderers, zygote), which otherwise
    go on writing into the profile directory while it is being removed."""
    os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _inspect(pipe: _Pipe, url: str, screenshot, width: int, timeout: float) -> PageCheck:
    target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
    session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log"):
        pipe.send(f"{domain}.enable", session=session)
    pipe.send("Page.navigate", {"url": url}, session=session, timeout=timeout)
    pipe.wait_for("Page.loadEventFired", timeout=timeout)
    found = pipe.send("Runtime.evaluate", {"expression": _INSPECT, "returnByValue": True}, session=session)[
        "result"
    ]["value"]
    check = PageCheck(title=found["title"], ids=found["ids"], text=found["text"])
    check.images, check.links = len(found["images"]), len(found["links"])
    check.broken_images = [image["src"] for image in found["images"] if not image["ok"]]
    for link in found["links"]:
        local = _local_path(link)
        if local is not None and not local.exists():
            check.broken_links.append(link)
    for event in pipe.events:
        params = event.get("params", {})
        if event.get("method") == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            check.console_errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif event.get("method") == "Runtime.exceptionThrown":
            check.console_errors.append(params["exceptionDetails"].get("text", "exception"))
        elif event.get("method") == "Log.entryAdded" and params["entry"].get("level") == "error":
            check.console_errors.append(params["entry"].get("text", ""))
    if screenshot is not None:
        metrics = pipe.send("Page.getLayoutMetrics", session=session)
        height = int(metrics["cssContentSize"]["height"])
        shot = pipe.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": min(height, 16000), "scale": 1},
            },
            session=session,
            timeout=timeout,
        )
        Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
        Path(screenshot).write_bytes(base64.b64decode(shot["data"]))
    return check
