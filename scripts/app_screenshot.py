"""The README's picture of the chat app (docs/screenshot.png), taken the way a user gets there.

    python scripts/app_screenshot.py                     # writes docs/screenshot.png
    python scripts/app_screenshot.py --out /tmp/app.png

Starts the app on a fresh store in a temporary folder, opens it in Debian's Chromium (Playwright), picks the first
MICE-World sample, sets a rule and adds a shape, then photographs the page with the mouse out of the way.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TURNS = ("from now on, every new shape must be blue", "add a small circle")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def take(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(120_000)
        page.goto(url)
        page.wait_for_function("() => document.querySelector('#status')?.innerText.includes('No session yet')")
        page.locator("#samples .thumbnail-item").first.click()
        page.wait_for_function("() => document.querySelectorAll('#message img').length > 0")
        for count, instruction in enumerate(TURNS, start=1):
            page.locator("#message textarea").fill(instruction)
            page.locator("#message textarea").press("Enter")
            page.wait_for_function("(n) => document.querySelector('#status').innerText.includes(`at edit #${n}`)",
                                   arg=count)
        page.mouse.move(2, 2)  # no hover highlight on the thumbnail clicked last
        page.wait_for_function("() => [...document.images].every(image => image.complete)")
        page.wait_for_timeout(2000)  # the chat follows the newest turn once its images have loaded
        page.evaluate("""() => {  // the last message sent at the top of the chat, its reasoning under it
            const chat = document.querySelector('#chat .bubble-wrap');
            const rows = chat.querySelectorAll('.message-row.user-row');
            const last = rows[rows.length - 1];
            chat.scrollTop += last.getBoundingClientRect().top - chat.getBoundingClientRect().top - 8;
        }""")
        page.wait_for_timeout(300)
        page.screenshot(path=str(out), full_page=True)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "docs" / "screenshot.png")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edit-agent-screenshot-") as home:
        os.environ["EDIT_AGENT_HOME"] = home
        os.environ["GRADIO_TEMP_DIR"] = str(Path(home) / "gradio")
        from ui.app import build_demo, launch_options
        from ui.handlers import AppConfig

        config = AppConfig(store=Path(home) / "store")
        demo = build_demo(config)
        demo.launch(prevent_thread_lock=True, quiet=True, **launch_options(config, port=free_port()))
        try:
            take(demo.local_url, args.out)
        finally:
            demo.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
