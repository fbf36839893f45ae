"""What the visitor widget costs a customer's page: the loader's download size and the
main-thread time it adds to the host page, against the same page without the widget.

- ``loader_gzip_kb``: static/dist/loader.js compressed with gzip level 9 (``npm run build``
  first when it is missing); ``widget_gzip_kb`` is the iframe app, loaded by the frame.
- ``main_thread_ms``: an engage node (private redis-server + nx-27017, ``engage serve`` as a
  separate process) and the demo host page (web_widget/demo_page.py) served by a small aiohttp
  server from another site, ``http://localhost:<port>`` (engage is ``http://127.0.0.1:<port>``),
  on the site's allow-list. A different *site*, not only another port, so that Chromium (with
  ``--site-per-process``) runs the widget iframe out of process, as it does when the widget
  comes from the vendor's domain; a same-site iframe would share the host's renderer.
  Playwright's Chromium loads the page in a fresh context each time, alternating the page with
  the loader tag and the same HTML without it (the reference). Before navigating, the Chrome
  DevTools Protocol's ``Performance.enable`` is called with ``timeDomain: threadTicks`` on the
  page's session, so ``Performance.getMetrics``' ``TaskDuration`` is the CPU time of every task
  the host page's main thread ran (script, parsing, style, layout, messages, idle callbacks),
  in thread time: a busy machine does not inflate it, unlike wall time. The iframe's own
  process is another target and is not included. Metrics are read 2 s after the widget has
  booted (so the first trail batch is in): the ack of ``visit.hello`` seen on the widget's
  websocket and the iframe's load event, both watched from outside through Playwright's
  events; nothing runs in the host page until the metrics are read (``wait_for_function``
  would poll on every animation frame and add ~15 ms of its own). Then
  ``window.engage.visitorId`` must be set (the loader sets it from the app's ``config``).
  The reference load waits as long. ``main_thread_ms`` is the median over the pairs of
  (with loader - without). Extra keys: the medians of each side, the script part
  (``ScriptDuration``), and the CPU of the widget's own renderer process (``ProcessTime``,
  10 ms resolution) for transparency.

Run from the repository root: ``.venv/bin/python -m bench.widget_weight [--runs 15]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from playwright.async_api import (  # noqa: E402
    Browser,
    CDPSession,
    Page,
    WebSocket,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError  # noqa: E402

from bench.engage_node import SITE_KEY, BenchNode  # noqa: E402
from engage.infra.embedded import free_port  # noqa: E402
from web_widget.demo_page import render_demo_page  # noqa: E402

DIST = ROOT / "static" / "dist"
CHROMIUM = "/usr/bin/chromium"
# tests/browser/conftest.py's flags, and site isolation stated rather than assumed.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--site-per-process"]
SETTLE_S = 2.0
BOOT_TIMEOUT_S = 15.0
LOADER_TAG = re.compile(r"<script[^>]*/static/dist/loader\.js[^>]*>\s*</script>", re.S)
BOOTED = "() => !!(window.engage && window.engage.visitorId)"


def gzip_kb(path: Path) -> float:
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)) / 1024


def ensure_built() -> None:
    if not (DIST / "loader.js").is_file():
        print("static/dist/loader.js is missing: npm run build", flush=True)
        subprocess.run(["npm", "run", "--silent", "build"], cwd=ROOT, check=True)


@dataclass
class Load:
    """One page load: host main-thread metrics (ms) and the widget renderer's CPU (ms)."""

    task_ms: float
    script_ms: float
    booted: bool
    elapsed_s: float
    frame_process_ms: float = 0.0


async def metrics(session: CDPSession) -> dict[str, float]:
    reply = await session.send("Performance.getMetrics")
    return {m["name"]: float(m["value"]) for m in reply["metrics"]}


async def load(browser: Browser, url: str, widget: bool, hold_s: float) -> Load:
    """Loads ``url`` in a fresh context; with ``widget`` waits for the boot (the ack of
    ``visit.hello`` on the widget's socket, the frame's load event), then settles."""
    context = await browser.new_context()
    try:
        page: Page = await context.new_page()
        hello = asyncio.Event()

        def on_socket(ws: WebSocket) -> None:  # the widget's socket, watched from outside
            ws.on("framereceived", lambda payload: hello.set()
                  if '"visitor_id"' in str(payload) else None)

        page.on("websocket", on_socket)
        session = await context.new_cdp_session(page)
        await session.send("Performance.enable", {"timeDomain": "threadTicks"})
        started = time.monotonic()
        await page.goto(url, wait_until="load")
        frame = None
        if widget:
            try:
                await asyncio.wait_for(hello.wait(), BOOT_TIMEOUT_S)
                frame = next(f for f in page.frames if "/widget/frame" in f.url)
                await frame.wait_for_load_state("load")
            except (TimeoutError, PlaywrightError, StopIteration):
                frame = None
        await asyncio.sleep(max(SETTLE_S, hold_s - (time.monotonic() - started)))
        elapsed = time.monotonic() - started
        host = await metrics(session)
        # Only now anything runs in the host page: a probe must not be measured.
        booted = frame is not None and bool(await page.evaluate(BOOTED))
        frame_ms = 0.0
        if frame is not None:
            frame_session = await context.new_cdp_session(frame)
            await frame_session.send("Performance.enable", {"timeDomain": "threadTicks"})
            frame_ms = (await metrics(frame_session))["ProcessTime"] * 1e3
        return Load(host["TaskDuration"] * 1e3, host["ScriptDuration"] * 1e3, booted, elapsed,
                    frame_ms)
    finally:
        await context.close()


async def host_site(html: str, port: int) -> web.AppRunner:
    """The customer's site: the demo page with the loader at / and without it at /bare."""
    bare = LOADER_TAG.sub("", html)
    if bare == html:
        raise RuntimeError("the demo page has no loader tag to take out")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=bare if request.path == "/bare" else html,
                            content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/bare", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def main(args: argparse.Namespace) -> None:
    ensure_built()
    loader_kb, widget_kb = gzip_kb(DIST / "loader.js"), gzip_kb(DIST / "widget.js")
    loader_bytes = (DIST / "loader.js").stat().st_size
    print(f"loader.js {loader_bytes:,} bytes, gzip -9 {loader_kb:.2f} KiB; "
          f"widget.js gzip -9 {widget_kb:.2f} KiB", flush=True)
    port = free_port()
    host = f"http://localhost:{port}"
    work = Path(tempfile.mkdtemp(prefix="engage-bench-widget-"))
    node = BenchNode(work, [host])
    runner: web.AppRunner | None = None
    withs: list[Load] = []
    withouts: list[Load] = []
    try:
        await node.start()
        runner = await host_site(render_demo_page(server=node.url, site_key=SITE_KEY), port)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                       args=CHROMIUM_ARGS)
            try:
                await load(browser, f"{host}/", True, 0)  # warm-up: caches, first process
                await load(browser, f"{host}/bare", False, 0)
                for i in range(args.runs):
                    ours = await load(browser, f"{host}/", True, 0)
                    ref = await load(browser, f"{host}/bare", False, ours.elapsed_s)
                    withs.append(ours)
                    withouts.append(ref)
                    print(f"  run {i + 1}/{args.runs}: with loader {ours.task_ms:.1f} ms "
                          f"(booted: {ours.booted}), without {ref.task_ms:.1f} ms",
                          flush=True)
            finally:
                await browser.close()
    finally:
        if runner is not None:
            await runner.cleanup()
        node.stop()
        shutil.rmtree(work, ignore_errors=True)
    added = statistics.median(w.task_ms - r.task_ms for w, r in zip(withs, withouts, strict=True))
    script = statistics.median(w.script_ms - r.script_ms
                               for w, r in zip(withs, withouts, strict=True))
    with_ms = statistics.median(w.task_ms for w in withs)
    without_ms = statistics.median(r.task_ms for r in withouts)
    booted = sum(w.booted for w in withs)
    frame_ms = statistics.median(w.frame_process_ms for w in withs if w.booted) if booted else 0
    if booted < len(withs):
        print(f"WARNING: the widget booted in {booted} of {len(withs)} loads", flush=True)
    print(f"host main thread (thread CPU): with loader {with_ms:.1f} ms, without "
          f"{without_ms:.1f} ms; added {added:.1f} ms (script {script:.1f} ms); widget "
          f"renderer process {frame_ms:.0f} ms", flush=True)
    print(f"RESULT loader_bytes={loader_bytes} widget_gzip_kb={widget_kb:.2f} "
          f"runs={len(withs)} booted_runs={booted} with_loader_ms={with_ms:.2f} "
          f"baseline_main_thread_ms={without_ms:.2f} added_script_ms={script:.2f} "
          f"widget_process_cpu_ms={frame_ms:.0f} "
          f"loader_gzip_kb={loader_kb:.2f} main_thread_ms={added:.2f}", flush=True)


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=15, help="pairs of page loads")
    args = parser.parse_args()

    async def guarded() -> None:
        task = asyncio.current_task()
        assert task is not None
        for signum in (signal.SIGINT, signal.SIGTERM):  # stop the node either way
            asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
        await main(args)

    try:
        asyncio.run(guarded())
    except asyncio.CancelledError:
        print("interrupted: the node and the browser are stopped", file=sys.stderr)
        raise SystemExit(130) from None


if __name__ == "__main__":
    run()
