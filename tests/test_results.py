"""Result files: JSON round trip, atomic writes, and finding results in files and folders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dbdbench.results import Result, find_results, load_result


def _result(method: str) -> Result:
    return Result(protocol="dbdbench", scores={"max_f": 0.5, "mae": float("nan")}, dataset="CUHK-TE-1",
                  method=method, curves={"f": np.array([0.1, 0.5])}, n_images=3)


def test_round_trip_keeps_nan_and_arrays(tmp_path):
    res = _result("a")
    res.to_json(tmp_path / "a.json")
    back = load_result(tmp_path / "a.json")
    assert back == res and np.isnan(back.scores["mae"]) and json.loads(res.to_json())["scores"]["mae"] is None
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file of the atomic write is gone


def test_find_results_in_files_and_folders(tmp_path):
    (tmp_path / "entry").mkdir()
    _result("a").to_json(tmp_path / "entry" / "CUHK-TE-1.json")
    (tmp_path / "entry" / "meta.json").write_text('{"schema": "dbdbench.submission"}')
    _result("b").to_json(tmp_path / "b.json")
    found, others = find_results([tmp_path / "entry", tmp_path / "b.json"])
    assert [r.method for r in found] == ["a", "b"] and others == [tmp_path / "entry" / "meta.json"]
    with pytest.raises(ValueError, match="does not exist"):
        find_results([tmp_path / "nope"])
    with pytest.raises(ValueError, match="not a dbdbench result"):
        find_results([tmp_path / "entry" / "meta.json"])  # named explicitly: must be a result
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No result files"):
        find_results([tmp_path / "empty"])
