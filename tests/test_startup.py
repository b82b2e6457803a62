"""Start-up: ``dbdbench --help`` and a plain 100-image ``evaluate --json`` import no heavy package.

Each runs in a fresh interpreter (a subprocess) that reports the modules it imported; heavy packages cost
seconds on a loaded machine and are imported only by the commands and options that use them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

import dbdbench

#: packages that cost a noticeable start-up time and that neither --help nor a plain evaluate needs
HEAVY = ("scipy", "pandas", "matplotlib", "torch", "distributed", "dask", "joblib", "sklearn", "tqdm", "PIL")
_REPORT = "import sys, json; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"


def _imported_after(argv: list[str], env: dict[str, str]) -> set[str]:
    """Top-level packages imported by ``dbdbench ARGV`` in a fresh interpreter (the command must succeed)."""
    code = (
        "import sys\nfrom dbdbench.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n" + _REPORT
    )
    root = str(Path(dbdbench.__file__).resolve().parents[1])
    env = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_help_imports_nothing_heavy():
    assert not _imported_after(["--help"], {}) & {*HEAVY, "cv2"}


def test_a_100_image_evaluate_with_json_imports_nothing_heavy(tmp_path):
    (tmp_path / "data" / "H" / "gt").mkdir(parents=True)
    (tmp_path / "preds").mkdir()
    rng = np.random.default_rng(0)
    for i in range(100):
        gt = np.zeros((12, 16), np.uint8)
        gt[:, : 1 + i % 15] = 255
        cv2.imwrite(str(tmp_path / "data" / "H" / "gt" / f"i{i:03d}.png"), gt)
        cv2.imwrite(str(tmp_path / "preds" / f"i{i:03d}.png"), rng.integers(0, 256, gt.shape, dtype=np.uint8))
    (tmp_path / "ds.toml").write_text('[datasets.H]\nfolder = "H"\ngt_white = "blur"\nn_images = 100\n')
    argv = ["evaluate", str(tmp_path / "preds"), "-d", "H", "--pred-white", "blur", "-q",
            "--data-root", str(tmp_path / "data"), "--json", str(tmp_path / "r.json")]  # fmt: skip
    imported = _imported_after(argv, {"DBDBENCH_DATASETS": str(tmp_path / "ds.toml")})
    assert json.loads((tmp_path / "r.json").read_text())["n_images"] == 100
    assert not imported & set(HEAVY)
