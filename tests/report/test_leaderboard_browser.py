"""``reports/index.html`` in a real headless Chromium: no console errors, header clicks sort the rows, the
dataset switch works, and a screenshot is written to ``build/test-artifacts/`` (gitignored).

Chromium is driven with the DevTools protocol over ``--remote-debugging-pipe`` (NUL-separated JSON on file
descriptors 3 and 4), so no driver package or websocket client is needed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _browser import chromium

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "reports" / "index.html"
ARTIFACTS = Path(os.environ.get("DBDBENCH_ARTIFACTS", ROOT / "build" / "test-artifacts"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-pipe"]


def _bash() -> str:
    path = shutil.which("bash")
    if path is None:
        pytest.skip("bash not found (needed to hand chromium its debugging pipe on descriptors 3 and 4)")
    return path


def _high_fd(fd: int) -> int:
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class PipeBrowser:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, exe: str, user_dir: Path) -> None:
        to_chrome_r, self._out = os.pipe()
        self._in, from_chrome_w = os.pipe()
        # move the child's ends above 9 so that "3<&N 4>&M" cannot clobber one with the other (bash, not
        # dash: dash only accepts single-digit descriptors in redirections)
        to_chrome_r, from_chrome_w = (_high_fd(fd) for fd in (to_chrome_r, from_chrome_w))
        script = f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}'
        args = [*FLAGS, f"--user-data-dir={user_dir}", "about:blank"]
        self.proc = subprocess.Popen([_bash(), "-c", script, exe, *args],
                                     pass_fds=(to_chrome_r, from_chrome_w), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._out, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read(timeout)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        while True:
            ev = self._read(timeout)
            self.events.append(ev)
            if ev.get("method") == method:
                return ev

    def _read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("no reply from chromium")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the debugging pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._out)
        os.close(self._in)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory):
    if not PAGE.is_file():
        pytest.fail(f"{PAGE} is missing; run `dbdbench leaderboard`")
    browser = PipeBrowser(chromium(), tmp_path_factory.mktemp("chromium-profile"))
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for method in ("Runtime.enable", "Log.enable", "Page.enable"):
            browser.send(method, session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1300, "height": 1000, "deviceScaleFactor": 1, "mobile": False}, session=session)
        browser.send("Page.navigate", {"url": PAGE.as_uri()}, session=session)
        browser.wait_event("Page.loadEventFired")
        yield browser, session
    finally:
        browser.close()


def _eval(page: tuple[PipeBrowser, str], expression: str) -> Any:
    browser, session = page
    reply = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
    if "exceptionDetails" in reply:
        raise AssertionError(f"{expression}: {reply['exceptionDetails']}")
    return reply["result"].get("value")


def _click(page: tuple[PipeBrowser, str], selector: str) -> None:
    """A real mouse click (input events, not element.click()) at the centre of ``selector``."""
    browser, session = page
    box = _eval(page, f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                      " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
    for kind in ("mousePressed", "mouseReleased"):
        browser.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1], "button": "left",
                                                  "clickCount": 1}, session=session)


def _rows(page: tuple[PipeBrowser, str], key: str) -> list[list[Any]]:
    return _eval(page, "Array.from(document.querySelectorAll('#lb-table tbody tr')).map(tr => [tr.dataset.method,"
                       f" tr.dataset.kind, (tr.querySelector('td[data-key=\"{key}\"]') || {{}}).textContent])")


def _errors(browser: PipeBrowser) -> list[str]:
    out = []
    for ev in browser.events:
        method, params = ev.get("method"), ev.get("params", {})
        if method == "Runtime.exceptionThrown":
            out.append(json.dumps(params.get("exceptionDetails", {}))[:300])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            out.append(json.dumps(params.get("args", []))[:300])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            out.append(params["entry"].get("text", "")[:300])
    return out


def _page_data() -> dict[str, Any]:
    text = PAGE.read_text(encoding="utf-8")
    return json.loads(re.search(r'<script type="application/json" id="lb-data">(.*?)</script>', text, re.S)[1])


def _start(data: dict[str, Any]) -> str:
    return next(d for d in data if data[d]["start"])


def test_page_loads_without_console_errors(page: tuple[PipeBrowser, str]) -> None:
    data = _page_data()
    first = _start(data)
    assert _eval(page, "document.getElementById('lb-title').textContent") == data[first]["title"]
    assert len(_rows(page, "mae")) == len(data[first]["protocols"][data[first]["default_protocol"]]["rows"])
    assert _errors(page[0]) == []


def test_default_view_is_the_dataset_and_protocol_with_most_entries(page: tuple[PipeBrowser, str]) -> None:
    """Independent of the page script: count the embedded rows of every (dataset, protocol)."""
    data = _page_data()
    _open(page, PAGE.as_uri())
    sizes = {(d, p): len(v["rows"]) for d, dd in data.items() for p, v in dd["protocols"].items()}
    most = max(sizes.values())
    dataset = _eval(page, "document.getElementById('lb-dataset').value")
    protocol = _eval(page, "document.getElementById('lb-protocol').value")
    assert sizes[(dataset, protocol)] == most
    assert _eval(page, "location.hash") == "#" + dataset  # the default protocol needs no "/protocol"
    for name in data:  # every dataset opens on its largest protocol
        _open(page, PAGE.as_uri() + "#" + name)
        shown = _eval(page, "document.getElementById('lb-protocol').value")
        assert sizes[(name, shown)] == max(n for (dd, _), n in sizes.items() if dd == name), name
    assert _eval(page, "document.getElementById('lb-caption').textContent") != ""
    assert _errors(page[0]) == []


def test_sticky_header_stays_on_top_of_the_scrolled_table(page: tuple[PipeBrowser, str]) -> None:
    browser, session = page
    browser.send("Emulation.setDeviceMetricsOverride",
                 {"width": 1300, "height": 500, "deviceScaleFactor": 1, "mobile": False}, session=session)
    _open(page, PAGE.as_uri())
    browser.send("Emulation.setDeviceMetricsOverride",
                 {"width": 1300, "height": 500, "deviceScaleFactor": 1, "mobile": False}, session=session)
    box = "document.querySelector('.scroll')"
    assert _eval(page, f"{box}.scrollHeight > {box}.clientHeight + 100")  # the table scrolls in its box
    _eval(page, f"{box}.scrollTop = 300")
    tops = _eval(page, f"[{box}.getBoundingClientRect().top, document.querySelector('#lb-table th')"
                       ".getBoundingClientRect().top, document.querySelector('#lb-table tbody tr')"
                       ".getBoundingClientRect().top]")
    assert abs(tops[1] - tops[0]) <= 1.5  # the header is at the top of the box...
    assert tops[2] < tops[0]  # ...while the first row has scrolled out of it
    _open(page, PAGE.as_uri())


def test_curve_only_entries_get_max_f_from_their_curve_and_a_rank(page: tuple[PipeBrowser, str]) -> None:
    import numpy as np

    data = _page_data()
    p = data["CUHK"]["protocols"]["hifst"]
    curve_rows = [r for r in p["rows"] if r["curve_only"]]
    assert curve_rows
    _open(page, PAGE.as_uri() + "#CUHK/hifst")
    cells = _eval(page, "Array.from(document.querySelectorAll('#lb-table tbody tr')).map(tr => [tr.dataset.method,"
                        " tr.dataset.kind, tr.querySelector('td').textContent,"
                        " (tr.querySelector('td[data-key=\"max_f\"]') || {}).textContent])")
    for r in curve_rows:
        # independent reference: max of F = 1.3 P R / (0.3 P + R) over the published points (beta^2 = 0.3)
        src = json.loads((ROOT / "submissions" / r["entry"] / "CUHK.hifst.json").read_text(encoding="utf-8"))
        prec, rec = np.array(src["curves"]["precision"]), np.array(src["curves"]["recall"])
        den = 0.3 * prec + rec
        want = float(np.max(np.where(den > 0, 1.3 * prec * rec / np.where(den > 0, den, 1), 0)))
        row = next(c for c in cells if c[0] == r["method"] and c[1] == r["kind"])
        assert row[2] != "\u2013" and int(row[2]) >= 1, row
        assert row[3] == f"{want:.3f}curve", row
    assert _errors(page[0]) == []


def test_screenshots_at_1400_and_390_px(page: tuple[PipeBrowser, str]) -> None:
    browser, session = page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width in (1400, 390):
        _open(page, PAGE.as_uri(), width)
        shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
        out = ARTIFACTS / f"leaderboard-{width}.png"
        out.write_bytes(base64.b64decode(shot["data"]))
        assert out.stat().st_size > 10_000
        if width == 390:  # on a phone the table scrolls inside its box, the page itself does not
            assert _eval(page, "document.documentElement.scrollWidth") <= width
    _open(page, PAGE.as_uri())
    assert _errors(browser) == []


def test_clicking_a_header_sorts_rows(page: tuple[PipeBrowser, str]) -> None:
    data = _page_data()
    dataset = _start(data)
    protocol = data[dataset]["default_protocol"]
    _open(page, PAGE.as_uri())
    key = next(c["key"] for c in data[dataset]["protocols"][protocol]["columns"] if c["key"] == "mae")
    rows = data[dataset]["protocols"][protocol]["rows"]
    before = _rows(page, key)
    _click(page, f'#lb-table th[data-key="{key}"] button')
    after = _rows(page, key)
    # independent reference: a stable sort of the embedded rows by MAE, lower (better) first, missing last
    present = sorted((r for r in rows if key in r["scores"]), key=lambda r: r["scores"][key])
    expected = [[r["method"], r["kind"]] for r in present + [r for r in rows if key not in r["scores"]]]
    assert [a[:2] for a in after] == expected
    assert after != before
    _click(page, f'#lb-table th[data-key="{key}"] button')
    values = [float(a[2]) for a in _rows(page, key) if a[2] != "–"]
    assert values == sorted(values, reverse=True)
    assert _eval(page, f"document.querySelector('#lb-table th[data-key=\"{key}\"]').getAttribute('aria-sort')") \
        == "descending"
    assert _errors(page[0]) == []


def test_dataset_switch_and_screenshot(page: tuple[PipeBrowser, str]) -> None:
    browser, session = page
    data = _page_data()
    last = list(data)[-1]
    _eval(page, f"(() => {{ const s = document.getElementById('lb-dataset'); s.value = {json.dumps(last)};"
                " s.dispatchEvent(new Event('change')); })()")
    assert _eval(page, "document.getElementById('lb-title').textContent") == data[last]["title"]
    _eval(page, f"(() => {{ const s = document.getElementById('lb-dataset'); s.value = {json.dumps(next(iter(data)))};"
                " s.dispatchEvent(new Event('change')); })()")
    shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / "leaderboard.png"
    out.write_bytes(base64.b64decode(shot["data"]))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert _errors(browser) == []


def _open(page: tuple[PipeBrowser, str], url: str, width: int = 1300) -> None:
    browser, session = page
    browser.send("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": False}, session=session)
    for target in ("about:blank", url):  # a fresh load (a hash-only change would not reload the page)
        browser.events.clear()
        browser.send("Page.navigate", {"url": target}, session=session)
        browser.wait_event("Page.loadEventFired")


def _goto(page: tuple[PipeBrowser, str], dataset: str, protocol: str) -> None:
    """Follow an in-page anchor, as a click on a link to ``#DATASET/protocol`` does."""
    _eval(page, f"location.hash = {json.dumps(dataset + '/' + protocol)}")
    assert _eval(page, "document.getElementById('lb-protocol').value") == protocol


def test_dataset_anchor_opens_that_dataset_and_follows_the_selection(page: tuple[PipeBrowser, str]) -> None:
    data = _page_data()
    _open(page, PAGE.as_uri() + "#DUT-TE")
    assert _eval(page, "document.getElementById('lb-title').textContent") == data["DUT-TE"]["title"]
    _open(page, PAGE.as_uri() + "#CUHK/hifst")
    assert _eval(page, "document.getElementById('lb-protocol').value") == "hifst"
    _eval(page, "(() => { const s = document.getElementById('lb-dataset'); s.value = 'CTCUG';"
                " s.dispatchEvent(new Event('change')); })()")
    assert _eval(page, "location.hash") == "#CTCUG"
    assert _errors(page[0]) == []


def _comparable(rows: list[dict]) -> tuple[tuple[str, ...] | None, list[bool]]:
    """The rows that compete for marks, counted here: the most common declared training data (ties: first
    seen) and the rows declaring none or describing their data in words; all rows when the declared sets
    agree."""
    sets = [tuple(t) if all(" " not in n for n in t) else () for t in (r["training_data"] for r in rows)]
    declared = [t for t in sets if t]
    counts = Counter(declared)
    if len(counts) < 2:
        return None, [True] * len(rows)
    common = max(counts, key=lambda t: (counts[t], -declared.index(t)))
    return common, [not t or t == common for t in sets]


def test_ranks_and_marks_follow_the_table_rule_on_printed_values(page: tuple[PipeBrowser, str]) -> None:
    """For every dataset and protocol the page's ranks and bold/underline equal ``display_ranks`` and
    ``rank_marks`` of dbdbench.report.tables on the printed numbers (marks among the rows on the common
    training data only, and the caption names them)."""
    from dbdbench.report.tables import BEST, SECOND, display_ranks, rank_marks

    data = _page_data()
    _open(page, PAGE.as_uri())
    for dataset, d in data.items():
        for protocol, p in d["protocols"].items():
            _goto(page, dataset, protocol)
            cells = _eval(page, "Array.from(document.querySelectorAll('#lb-table tbody tr')).map(tr => "
                                "Array.from(tr.querySelectorAll('td')).map(td => [td.dataset.key || '', "
                                "td.className, td.textContent]))")
            rows = p["rows"]
            first = next(c for c in p["columns"] + p["more"] if c["key"] == p["rank_key"])
            want_ranks = display_ranks([r["scores"].get(first["key"]) for r in rows], first["higher"], 3)
            assert [c[0][2] for c in cells] == [str(x) if x else "\u2013" for x in want_ranks], (dataset, protocol)
            common, ok = _comparable(rows)
            caption = _eval(page, "document.getElementById('lb-caption').textContent")
            if common:  # the caption says which rows the marks compare
                assert f"compare only the rows with training data: {' + '.join(common)}" in caption, caption
            else:
                assert "compare only" not in caption, caption
            for col in p["columns"]:
                want = rank_marks([float(r["shown"][col["key"]]) if col["key"] in r["shown"] and k else float("nan")
                                   for r, k in zip(rows, ok, strict=True)], col["higher"], 3)
                got = [next(c for c in row if c[0] == col["key"]) for row in cells]
                codes = [BEST if "best" in c[1] else SECOND if "second" in c[1] else 0 for c in got]
                assert codes == want, (dataset, protocol, col["key"])
    assert _errors(page[0]) == []


def test_page_fits_a_1400_px_window(page: tuple[PipeBrowser, str]) -> None:
    """No horizontal page scroll at 1400 px (nor at 1300 px: a wider table scrolls inside its box)."""
    data = _page_data()
    for width in (1400, 1300):
        _open(page, PAGE.as_uri(), width)
        for dataset, d in data.items():
            for protocol in d["protocols"]:
                _goto(page, dataset, protocol)
                assert _eval(page, "document.documentElement.scrollWidth") <= width, (dataset, protocol, width)
                if width == 1400:
                    assert _eval(page, "document.querySelector('.scroll').scrollWidth <= "
                                       "document.querySelector('.scroll').clientWidth"), (dataset, protocol)
