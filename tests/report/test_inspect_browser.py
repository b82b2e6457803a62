"""``dbdbench inspect`` in a real headless Chromium (Playwright) on HiFST's CUHK-TE-1 maps and a blurred copy.

Checks sorting, filtering, that every image loads with the network blocked, the two-result view's paired
numbers (those of ``dbdbench compare``), the per-image PR curve and the figure command (run, it writes the
PDF). Screenshots go to ``build/test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

import pytest
from _browser import chromium
from _hifst_blurred import score_hifst_and_blurred
from click.testing import CliRunner

from dbdbench.cli import main
from dbdbench.stats.intervals import fmt_signed

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("DBDBENCH_ARTIFACTS", ROOT / "build" / "test-artifacts"))
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
N_BOOT = 1000


@pytest.fixture(scope="module")
def page_files(shared_data, tmp_path_factory):
    """a.json (HiFST maps), b.json (blurred copy, sigma 4 px), their compare JSON and the inspect page."""
    tmp = tmp_path_factory.mktemp("inspect_browser")
    maps = score_hifst_and_blurred(shared_data, tmp, images=True)
    common = [str(tmp / "a.json"), str(tmp / "b.json"), "--n-boot", str(N_BOOT)]
    res = CliRunner().invoke(main, ["compare", *common, "--json", str(tmp / "cmp.json")])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["inspect", *common, "--map", f"A={maps}", "--map", f"B={tmp / 'blurred'}",
                                    "--data-root", str(tmp / "root"), "--out", str(tmp / "page.html")])
    assert res.exit_code == 0, res.output
    return tmp


@pytest.fixture(scope="module")
def browser():
    exe = chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, page_files):
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors, requests = [], []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    def route(r):
        requests.append(r.request.url)
        return r.continue_() if r.request.url.startswith(("file:", "data:")) else r.abort()

    pg.route("**/*", route)
    pg.goto((page_files / "page.html").as_uri())
    pg.wait_for_selector("body[data-ready='1']")
    yield pg
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), [u for u in requests if not u.startswith("file")]
    pg.close()


def _names(pg) -> list[str]:
    return pg.eval_on_selector_all("#grid tbody tr[data-name]", "rows => rows.map(r => r.dataset.name)")


def _rows(page_files, label):
    return {r["name"]: r for r in json.loads((page_files / f"{label}.json").read_text())["per_image"]}


def _shot(pg, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / name))


def test_every_image_loads_offline(page):
    seen = 0
    while True:
        state = page.eval_on_selector_all(
            "#grid img", "imgs => imgs.map(i => { i.loading = 'eager'; return i.src.slice(0, 11); })")
        assert all(s == "data:image/" for s in state)
        page.wait_for_function("() => [...document.querySelectorAll('#grid img')].every(i => i.complete)")
        broken = page.eval_on_selector_all("#grid img", "imgs => imgs.filter(i => i.naturalWidth === 0).length")
        assert broken == 0
        seen += len(_names(page))
        if "page 2 of 2" in page.inner_text("#pageinfo") or seen >= 100:
            break
        page.click("#next")
    assert seen == 100
    _shot(page, "inspect_images.png")


def test_default_order_is_the_difference_b_minus_a_and_headers_sort(page, page_files):
    a, b = _rows(page_files, "a"), _rows(page_files, "b")
    diff = {n: b[n]["mae"] - a[n]["mae"] for n in a}
    shown = _names(page)
    assert shown == sorted(diff, key=lambda n: (-diff[n], list(a).index(n)))[:50]
    page.click("th[data-sort='v:0:0']")
    assert _names(page) == sorted(a, key=lambda n: (-a[n]["mae"], list(a).index(n)))[:50]
    page.click("th[data-sort='v:0:0']")
    assert _names(page) == sorted(a, key=lambda n: (a[n]["mae"], list(a).index(n)))[:50]
    assert page.get_attribute("th[data-sort='v:0:0']", "aria-sort") == "ascending"


def test_filters(page, page_files):
    a, b = _rows(page_files, "a"), _rows(page_files, "b")
    page.fill("#filter", "out_of_focus02")
    expected = [n for n in a if "out_of_focus02" in n]
    assert sorted(_names(page)) == sorted(expected) and len(expected) > 3
    page.fill("#filter", "")
    page.select_option("#fcol", "d:1:0")
    page.fill("#fmin", "0.001")
    larger = {n for n in a if b[n]["mae"] - a[n]["mae"] >= 0.001}
    assert 0 < len(larger) < 50 and set(_names(page)) == larger
    assert page.inner_text("#pageinfo").startswith(f"{len(larger)} of 100")


def test_two_result_view_shows_the_paired_numbers_of_compare(page, page_files):
    cmp = json.loads((page_files / "cmp.json").read_text())["metrics"]
    rows = page.eval_on_selector_all(".comparison table.cmp tr[data-key]",
                                     "trs => trs.map(t => [t.dataset.key, [...t.cells].map(c => c.textContent)])")
    assert [k for k, _ in rows] == list(cmp)
    for key, cells in rows:
        ref = cmp[key]
        # the page prints as compare does (fmt_signed: enough digits to show the side of 0)
        assert cells[1:4] == [f"{ref['a']:.4f}", f"{ref['b']:.4f}", fmt_signed(ref["diff"])], key
        assert cells[4] == f"[{fmt_signed(ref['ci_low'])}, {fmt_signed(ref['ci_high'])}]", key
        assert float(cells[5]) == pytest.approx(ref["p_value"], rel=5e-3), key
        assert float(cells[6]) == pytest.approx(ref["p_holm"], rel=5e-3) and cells[7] == ref["test"], key
    _shot(page, "inspect_top.png")


def test_pr_curve_and_figure_command(page, page_files, tmp_path):
    page.fill("#filter", "out_of_focus0284")
    page.click("tr[data-name='out_of_focus0284'] button.pr")
    assert page.eval_on_selector_all("svg.prcurve path[data-result]", "p => p.length") == 2
    page.check("tr[data-name='out_of_focus0284'] input[type=checkbox]")
    page.fill("#filter", "out_of_focus0607")
    page.check("tr[data-name='out_of_focus0607'] input[type=checkbox]")
    page.click("#figure")
    command = page.input_value("#figure-cmd")
    _shot(page, "inspect_figure.png")
    args = shlex.split(command)
    assert args[:3] == ["dbdbench", "plot", "--grid"] and "out_of_focus0284,out_of_focus0607" in args
    out = tmp_path / "figure.pdf"
    args[args.index("--out") + 1] = str(out)
    res = CliRunner().invoke(main, args[1:])
    assert res.exit_code == 0, res.output
    assert out.stat().st_size > 10_000
