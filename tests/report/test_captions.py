"""Table captions describe every protocol in words: no protocol key (bare or in ``\\texttt``), no sentence
twice, for every registered protocol, short and full, with and without intervals, LaTeX and Markdown."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dbdbench.metrics import get_protocol, list_protocols
from dbdbench.report.tables import make_table
from dbdbench.results import Result
from dbdbench.stats.table import make_ci_table
from dbdbench.submissions import REPORTED_PROTOCOLS

PROTOCOLS = [*list_protocols(), *sorted(REPORTED_PROTOCOLS)]


def results_of(protocol: str) -> list[Result]:
    """Three methods on one dataset under ``protocol``, every metric it computes; the last one reported."""
    rng = np.random.default_rng(len(protocol))
    if protocol in REPORTED_PROTOCOLS:
        keys, settings = REPORTED_PROTOCOLS[protocol].metrics, None
    else:
        proto = get_protocol(protocol)
        keys, settings = proto.metrics, proto.settings()
    out = []
    for i, method in enumerate(("A", "B", "C")):
        kind = "reported" if i == 2 or settings is None else "rescored"
        out.append(Result(protocol=protocol, scores={k: float(rng.uniform(0.1, 0.9)) for k in keys},
                          dataset="CUHK-TE-1", method=method, protocol_settings=settings, n_images=100,
                          meta={"kind": kind}))
    return out


def caption_of(text: str, fmt: str) -> str:
    """The caption: LaTeX ``\\caption{...}`` (balanced braces), Markdown the paragraph after the table."""
    if fmt == "markdown":
        return text.split("\n\n")[1].strip()
    start = text.index(r"\caption{") + len(r"\caption{")
    depth, i = 1, start
    while depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[start:i - 1]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.;])\s+", text) if s.strip()]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("style", ["short", "full"])
@pytest.mark.parametrize("fmt", ["latex", "markdown"])
@pytest.mark.parametrize("ci", [False, True])
def test_captions_name_no_protocol_key_and_repeat_no_sentence(protocol, style, fmt, ci):
    results = results_of(protocol)
    if ci:
        text = make_ci_table(results, fmt=fmt, caption_style=style, n_resamples=50)
    else:
        text = make_table(results, fmt=fmt, caption_style=style)
    caption = caption_of(text, fmt)
    assert caption.startswith("Comparison of 3 methods on CUHK-TE-1 (100 images)"), caption
    assert r"\texttt" not in text
    for key in PROTOCOLS:  # no key of any protocol, bare (as a word) or as code
        assert not re.search(rf"(?<![\w:-]){re.escape(key)}(?![\w-])", caption), (key, caption)
        assert f"`{key}`" not in text
    assert "docs/" not in caption and ".md" not in caption
    said = sentences(caption) + sentences(text[text.index(caption) + len(caption):])
    repeated = {s for s in said if said.count(s) > 1 and len(s) > 3}
    assert not repeated, repeated
    if style == "full" and protocol in list_protocols():  # the full caption has the protocol's choices
        assert "GT " in caption, caption
