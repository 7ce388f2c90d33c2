"""How long the chat app takes to show an Undo and a Redo as a session grows, in a real headless browser.

    python scripts/bench_app_replies.py                   # at 5, 20 and 40 turns
    python scripts/bench_app_replies.py --turns 5 40 --repeat 7

Each figure is the median time from the click to the status line saying the new head, measured in the page;
the server runs in this process, as the app does. Run it on an idle machine: the browser and the server share
its cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLICK_AND_WAIT_JS = """
async ([button, wanted]) => {
  const began = performance.now();
  document.getElementById(button).click();
  while (!document.querySelector('#status').innerText.includes(wanted)) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return performance.now() - began;
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, nargs="+", default=[5, 20, 40])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as home:
        os.environ["EDIT_AGENT_HOME"] = home
        os.environ["GRADIO_TEMP_DIR"] = str(Path(home) / "gradio")
        from PIL import Image

        from tests.test_browser import BROWSER_ARGS, CHROMIUM, free_port, open_app, send, wait_for_status
        from ui.app import build_demo, launch_options
        from ui.handlers import AppConfig

        config = AppConfig(store=Path(home) / "store")
        demo = build_demo(config)
        demo.launch(prevent_thread_lock=True, quiet=True, **launch_options(config, port=free_port()))
        photo = Path(home) / "photo.png"
        Image.new("RGB", (320, 240), (120, 90, 60)).save(photo)
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
                page = browser.new_context(viewport={"width": 1440, "height": 1000}).new_page()
                page.set_default_timeout(60_000)
                open_app(page, demo.local_url)
                made = 0
                for turns in sorted(args.turns):
                    while made < turns:
                        send(page, "rotate it left", photo if made == 0 else None)
                        made += 1
                        wait_for_status(page, f"at edit #{made}")
                    undo, redo = [], []
                    for _ in range(args.repeat):
                        undo.append(page.evaluate(CLICK_AND_WAIT_JS, ["undo", f"at edit #{turns - 1}"]))
                        redo.append(page.evaluate(CLICK_AND_WAIT_JS, ["redo", f"at edit #{turns}"]))
                    print(f"{turns:3d} turns: undo {statistics.median(undo):4.0f} ms, redo {statistics.median(redo):4.0f} ms "
                          f"(median of {args.repeat})", flush=True)
                browser.close()
        finally:
            demo.close()


if __name__ == "__main__":
    main()
