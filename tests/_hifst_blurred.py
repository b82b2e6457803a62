"""HiFST's CUHK-TE-1 maps (real data in ../shared/data) and a blurred copy of them, both scored: the two
results of the ``compare`` and ``inspect`` tests (the steps of the example in docs/statistics.md)."""

from __future__ import annotations

from pathlib import Path

import cv2
from click.testing import CliRunner

from dbdbench.cli import main


def score_hifst_and_blurred(shared_data: Path, tmp: Path, images: bool = False) -> Path:
    """Write ``tmp/a.json`` (the HiFST maps) and ``tmp/b.json`` (the same maps after a Gaussian blur, sigma
    4 px, in ``tmp/blurred``), scored against ``tmp/root`` (links to the shared GT, and to the photos when
    ``images``); returns the HiFST maps folder."""
    from dbdbench.datasets import read_split

    (tmp / "root" / "CUHK").mkdir(parents=True)
    (tmp / "root" / "CUHK" / "gt").symlink_to(shared_data / "cuhk" / "gt")
    if images:
        (tmp / "root" / "CUHK" / "image").symlink_to(shared_data / "cuhk" / "images")
    (tmp / "blurred").mkdir()
    maps = shared_data / "hifst" / "cuhk_maps"
    for stem in read_split("CUHK-TE-1"):
        name = f"{stem}_HiFSTBlurMap.png"
        cv2.imwrite(str(tmp / "blurred" / name), cv2.GaussianBlur(cv2.imread(str(maps / name), 0), (0, 0), 4))
    for label, folder in (("a", maps), ("b", tmp / "blurred")):
        res = CliRunner().invoke(main, ["evaluate", str(folder), "-d", "CUHK-TE-1", "--pred-white", "sharp",
                                        "--data-root", str(tmp / "root"), "--json", str(tmp / f"{label}.json"), "-q"])
        assert res.exit_code == 0, res.output
    return maps
