"""The playground page in headless Chromium (Debian's `chromium`): it loads, auto-submits a prompt
given in the URL, streams the completion into the page, and the text equals the library's greedy
output; a screenshot of the result is saved. Chromium is driven over DevTools on a pipe (no extra
Python packages): poll the page until it reports 'done', read the output, capture the screen."""

import base64
import json
import os
import shutil
import subprocess
import time
import urllib.parse

import pytest

from kerasformers.generation import generate
from kerasformers.serving import BackgroundServer, create_app

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    pytest.skip(
        "chromium is not installed (apt-get install -y chromium); the playground browser test needs it"
    )


class DevTools:
    """Chrome DevTools Protocol over --remote-debugging-pipe (fd 3: commands in, fd 4: replies out)."""

    def __init__(self, browser, url, profile):
        to_browser, self.commands = os.pipe()
        self.replies, from_browser = os.pipe()

        def wire_fds():
            os.dup2(to_browser, 3)
            os.dup2(from_browser, 4)

        self.process = subprocess.Popen(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-pipe",
                "--window-size=1000,700",
                url,
            ],
            preexec_fn=wire_fds,  # noqa: PLW1509 - only dup2, safe between fork and exec
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self.buffer, self.next_id, self.session = b"", 0, None

    def call(self, method, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self.commands, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self.buffer:
                chunk = os.read(self.replies, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium closed the DevTools pipe during {method}")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def attach_to_page(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pages = [t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page"]
            if pages:
                self.session = self.call(
                    "Target.attachToTarget", targetId=pages[0]["targetId"], flatten=True
                )["sessionId"]
                return
            time.sleep(0.2)
        raise RuntimeError("chromium opened no page")

    def text_of(self, element_id):
        result = self.call(
            "Runtime.evaluate", expression=f"document.getElementById('{element_id}')?.textContent"
        )
        return result["result"].get("value")

    def close(self):
        try:
            self.call("Browser.close")
        except RuntimeError:
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self.commands)
        os.close(self.replies)


def test_playground_streams_a_completion(gpt2_model, tmp_path):
    browser = chromium()
    prompt = "很好的酒店"
    ids = generate(
        gpt2_model.transformer,
        [gpt2_model.encode(prompt)],
        max_new_tokens=12,
        stop_ids=[gpt2_model.eos_id],
        pad_id=gpt2_model.eos_id,
    )[0].tolist()
    expected = gpt2_model.decode(ids[: ids.index(gpt2_model.eos_id)] if gpt2_model.eos_id in ids else ids)
    with BackgroundServer(create_app(gpt2_model, "tiny-gpt2")) as url:
        page = f"{url}/?" + urllib.parse.urlencode({"text": prompt, "max_tokens": 12, "run": 1})
        tools = DevTools(browser, page, tmp_path / "profile")
        try:
            tools.attach_to_page()
            deadline = time.monotonic() + 180
            status = None
            while time.monotonic() < deadline:
                status = tools.text_of("status") or ""
                if status.startswith(("done", "error")):
                    break
                time.sleep(0.2)
            output = tools.text_of("output")
            shot = tools.call("Page.captureScreenshot", format="png")["data"]
        finally:
            tools.close()
    (tmp_path / "playground.png").write_bytes(base64.b64decode(shot))
    assert status.startswith("done in"), status
    assert output == expected
    assert (tmp_path / "playground.png").stat().st_size > 5000  # a rendered page, not an empty image
    if os.environ.get("KERASFORMERS_SCREENSHOT"):
        shutil.copy(tmp_path / "playground.png", os.environ["KERASFORMERS_SCREENSHOT"])
