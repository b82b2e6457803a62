"""``dbdbench evaluate`` on the ``tiny`` dataset of ``conftest.py``: the helpers of the sanity-stage tests."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dbdbench.cli import main

#: the image stems of the ``tiny`` dataset of conftest.py
STEMS = [f"img{i:02d}" for i in range(6)]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def evaluate(tiny, *extra, out_name="r.json", folder=None):
    out = tiny["tmp"] / out_name
    res = run("evaluate", folder or tiny["preds"], "-d", "TINY", "--pred-white", "blur", "-q", "--json", out, *extra)
    data = json.loads(out.read_text()) if res.exit_code == 0 else None
    return res, data
