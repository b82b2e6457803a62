"""The registry of defocus-blur-detection datasets: layout, size, GT polarity, citation, download page.

Each :class:`DatasetSpec` describes one dataset or split as distributed. Functions take the data root as
an argument (``None``: ``~/.cache/dbdbench/data``); the command line fills it from ``--data-root`` or the
``DBDBENCH_DATA`` environment variable. Under a root each dataset keeps its original download layout
(``docs/datasets.md``). Splits of CUHK are the CUHK folder plus a list of stems shipped with the package.
Users register their own datasets from a small TOML file (:func:`register_from_toml`; the command line
registers the files named in ``DBDBENCH_DATASETS``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import tomllib

from dbdbench.digests import read_digests
from dbdbench.settings import DECLARED_POLARITIES, IMAGE_EXTS, DeclaredPolarity, check_literals

#: what white may mean in a dataset's GT files (kept under this name for callers of ``datasets.POLARITIES``)
POLARITIES = DECLARED_POLARITIES


@dataclass(frozen=True)
class DatasetSpec:
    """One registered dataset or split.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"CUHK-TE-1"``.
    display_name : str
        Name for tables ("CUHK-TE-1 (Shi et al.)").
    folder : str
        Folder under the data root, in the original download layout.
    image_dir, gt_dir : str
        Image and GT sub-folders of ``folder``.
    n_images : int or None
        Expected number of images (None when unknown).
    resolution : str
        Typical image size ("640x427").
    gt_white : {"blur", "sharp", "unknown"}
        What white (255) means in the distributed GT files.
    split : str or None
        Name of a stem list shipped in ``dbdbench/data/splits/`` (the split's images); None = every GT file
        that matches ``stem_pattern``.
    stem_pattern : str
        Regular expression the stems must match (e.g. only the defocus images of CUHK).
    exclude_split : str or None
        Stem list to leave out (CUHK-TR-1 is the defocus images not in CUHK-TE-1).
    listed : bool
        False for splits known from papers whose image list is not public (cannot be evaluated yet).
    builder : str or None
        ``"module:function"`` that builds the dataset into its folder on first use (SYN-DEMO).
    digests : str or None
        Digest list that pins the GT masks (:mod:`dbdbench.digests`): the name of a list shipped in
        ``dbdbench/data/digests/`` or the path of a file; ``evaluate`` refuses an inverted or foreign copy
        (:mod:`dbdbench.gt.check`). None = the masks' contents are not checked.
    citation, url, notes : str
    """

    name: str
    display_name: str
    folder: str
    image_dir: str = "image"
    gt_dir: str = "gt"
    n_images: int | None = None
    resolution: str = ""
    gt_white: DeclaredPolarity = "unknown"
    split: str | None = None
    stem_pattern: str = ".*"
    exclude_split: str | None = None
    listed: bool = True
    builder: str | None = None
    digests: str | None = None
    citation: str = ""
    url: str = ""
    notes: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        owner = f"dataset {self.name!r}"
        for key in ("name", "display_name", "folder"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise ValueError(f"{owner}: {key} must be a non-empty string, got {getattr(self, key)!r}")
        check_literals(self, owner)
        if self.n_images is not None and (isinstance(self.n_images, bool) or not isinstance(self.n_images, int)
                                          or self.n_images < 1):
            raise ValueError(f"{owner}: n_images={self.n_images!r} is not valid; valid: a positive integer or None")
        try:
            re.compile(self.stem_pattern)
        except re.error as exc:
            msg = f"{owner}: stem_pattern={self.stem_pattern!r} is not a regular expression: {exc}"
            raise ValueError(msg) from None
        if self.builder is not None and ":" not in self.builder:
            raise ValueError(f"{owner}: builder={self.builder!r} is not valid; valid: 'module:function'")

    def root(self, data_root: str | os.PathLike | None = None) -> Path:
        """The dataset folder under the resolved data root."""
        return resolve_data_root(data_root) / self.folder

    def gt_folder(self, data_root: str | os.PathLike | None = None) -> Path:
        return self.root(data_root) / self.gt_dir

    def image_folder(self, data_root: str | os.PathLike | None = None) -> Path:
        return self.root(data_root) / self.image_dir

    def build(self, data_root: str | os.PathLike | None = None) -> Path:
        """Build a generated dataset (``builder``) into its folder; a no-op when it is complete."""
        if self.builder is None:
            raise ValueError(f"{self.name} is downloaded, not generated; see {self.url or 'docs/datasets.md'}")
        import importlib

        module, func = self.builder.split(":")
        return getattr(importlib.import_module(module), func)(self.root(data_root), n=self.n_images)

    def stems(self) -> list[str] | None:
        """The split's stems from the shipped list, or None when the split is "every GT file"."""
        return None if self.split is None else read_split(self.split)

    def gt_files(self, data_root: str | os.PathLike | None = None) -> dict[str, Path]:
        """Map stem -> GT file for this dataset's images (raises when the folder or listed files are missing)."""
        if not self.listed:
            raise FileNotFoundError(
                f"{self.name}: the image list of this split is not public yet, so it cannot be evaluated; "
                f"use a listed split ({', '.join(_listed_like(self.name))})"
            )
        folder = self.gt_folder(data_root)
        if self.builder is not None:  # (re)builds when missing or made by an older generator; else a no-op
            self.build(data_root)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{self.name}: GT folder {folder} not found; download the dataset ({self.url or 'see docs'}) and "
                f"place it as <data-root>/{self.folder}/{self.gt_dir}/ (set --data-root or DBDBENCH_DATA)"
            )
        found = index_folder(folder)
        wanted = self.stems()
        excluded = set(read_split(self.exclude_split)) if self.exclude_split else set()
        pattern = re.compile(self.stem_pattern)
        if wanted is None:
            return {s: p for s, p in sorted(found.items()) if pattern.fullmatch(s) and s not in excluded}
        missing = [s for s in wanted if s.lower() not in {k.lower() for k in found}]
        if missing:
            raise FileNotFoundError(
                f"{self.name}: {len(missing)} GT file(s) of the split are missing from {folder}: "
                f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}"
            )
        lower = {k.lower(): k for k in found}
        return {s: found[lower[s.lower()]] for s in wanted}


def index_folder(folder: Path) -> dict[str, Path]:
    """Stem -> file for the image files of a folder; two files with one stem (any case) are an error."""
    out: dict[str, Path] = {}
    seen: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in IMAGE_EXTS:
            continue
        key = path.stem.lower()
        if key in seen:
            raise ValueError(f"two files for one image in {folder}: {seen[key].name} and {path.name}; remove one")
        seen[key] = path
        out[path.stem] = path
    return out


@cache
def _split_cache(name: str) -> tuple[str, ...]:
    text = (resources.files("dbdbench") / "data" / "splits" / f"{name}.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def read_split(name: str) -> list[str]:
    """The stems of a split list shipped with the package."""
    try:
        return list(_split_cache(name))
    except FileNotFoundError:
        raise KeyError(f"no split list named {name!r} ships with dbdbench") from None


def resolve_data_root(data_root: str | os.PathLike | None = None) -> Path:
    """``data_root``, else ``~/.cache/dbdbench/data`` (the command line passes ``--data-root``/``$DBDBENCH_DATA``)."""
    if data_root is not None and str(data_root):
        return Path(data_root).expanduser()
    return Path.home() / ".cache" / "dbdbench" / "data"


_SHI = """@inproceedings{shi2014discriminative,
  title={Discriminative Blur Detection Features}, author={Shi, Jianping and Xu, Li and Jia, Jiaya},
  booktitle={CVPR}, pages={2965--2972}, year={2014}}"""
_BTBNET = """@inproceedings{zhao2018defocus,
  title={Defocus Blur Detection via Multi-Stream Bottom-Top-Bottom Fully Convolutional Network},
  author={Zhao, Wenda and Zhao, Fan and Wang, Dong and Lu, Huchuan}, booktitle={CVPR}, year={2018}}"""
_DEFUSION = """@article{tang2022defusionnet,
  title={DeFusionNET: Defocus Blur Detection via Recurrently Fusing and Refining Discriminative Multi-scale
  Deep Features}, author={Tang, Chang and Liu, Xinwang and Zheng, Xiao and Li, Wanqing and Xiong, Jian and
  Wang, Lizhe and Zomaya, Albert Y. and Longo, Antonella}, journal={IEEE TPAMI}, volume={44}, number={2},
  pages={955--968}, year={2022}}"""
_EBD = """@inproceedings{jin2023depth,
  title={Depth and DOF Cues Make A Better Defocus Blur Detector}, author={Jin, Yuxin and Qian, Ming and
  Xiong, Jincheng and Xue, Nan and Xia, Gui-Song}, booktitle={ICME}, year={2023}}"""
_DPN = """@article{zhai2020blur,
  title={Blur Detection via Deep Pyramid Network with Recurrent Distinction Enhanced Modules},
  journal={Neurocomputing}, year={2020}}"""
_CUHK_URL = "http://www.cse.cuhk.edu.hk/leojia/projects/dblurdetect/dataset.html"
_CUHK: dict[str, Any] = dict(
    folder="CUHK", resolution="640x427 (varies)", gt_white="blur", digests="CUHK", citation=_SHI, url=_CUHK_URL
)
_DUT_URL = "https://github.com/wdzhao123/DENets (links to DUT-DBD)"

_SPECS = [
    DatasetSpec("CUHK", "CUHK (Shi et al.)", n_images=1000, notes="704 defocus + 296 motion-blurred images", **_CUHK),
    DatasetSpec(
        "CUHK-DEFOCUS",
        "CUHK defocus",
        n_images=704,
        stem_pattern=r"out_of_focus\d+",
        notes="the 704 defocus images",
        **_CUHK,
    ),
    DatasetSpec(
        "CUHK-TE-1",
        "CUHK-TE-1",
        n_images=100,
        split="CUHK-TE-1",
        notes="BTBNet test split of the defocus images ('xu100'); used by D-DFFNet Table I",
        **_CUHK,
    ),
    DatasetSpec(
        "CUHK-TR-1",
        "CUHK-TR-1",
        n_images=604,
        stem_pattern=r"out_of_focus\d+",
        exclude_split="CUHK-TE-1",
        notes="the 604 defocus images not in CUHK-TE-1",
        **_CUHK,
    ),
    DatasetSpec(
        "CUHK-TE-2",
        "CUHK-TE-2",
        n_images=None,
        listed=False,
        notes="MA-GANet split; its image list is not public yet",
        **_CUHK,
    ),
    DatasetSpec(
        "CUHK-TE-DFN",
        "CUHK test (DeFusionNet)",
        n_images=100,
        listed=False,
        notes="DeFusionNet TPAMI: 'the rest 100' after the first 604 defocus images; list not public",
        **_CUHK,
    ),
    DatasetSpec(
        "DUT-TE",
        "DUT-TE (DUT-DBD)",
        folder="DUT/DUT-DBD_Dataset",
        n_images=500,
        resolution="320x320",
        gt_white="sharp",
        citation=_BTBNET,
        url=_DUT_URL,
        notes="DUT-DBD test set; GT white = in focus",
    ),
    DatasetSpec(
        "DUT-TR",
        "DUT-TR",
        folder="DUT",
        image_dir="DUT600S_Training",
        gt_dir="DUT600GT_Training",
        n_images=600,
        resolution="320x320",
        gt_white="sharp",
        citation=_BTBNET,
        url=_DUT_URL,
    ),
    DatasetSpec(
        "CTCUG",
        "CTCUG",
        folder="CTCUG",
        n_images=150,
        resolution="480x360",
        gt_white="blur",
        citation=_DEFUSION,
        url="https://github.com/ChangTang/DeFusionNet",
        notes="GT white = blurred, like CUHK",
    ),
    DatasetSpec(
        "EBD",
        "EBD",
        folder="EBD",
        n_images=1605,
        resolution="1600x1024",
        gt_white="sharp",
        citation=_EBD,
        url="https://github.com/yuxinjin-whu/D-DFFNet",
        notes="300 all-in-focus + 1305 partially focused images",
    ),
    DatasetSpec(
        "EBD-1305",
        "EBD (1305)",
        folder="EBD",
        n_images=1305,
        resolution="1600x1024",
        gt_white="sharp",
        split="EBD-1305",
        listed=False,
        citation=_EBD,
        url="https://github.com/yuxinjin-whu/D-DFFNet",
        notes="the shallow depth-of-field subset; its stem list is not shipped yet",
    ),
    DatasetSpec(
        "SZU-BD",
        "SZU-BD",
        folder="SZU-BD",
        n_images=784,
        gt_white="unknown",
        citation=_DPN,
        notes="Shenzhen University blur dataset (DPN); GT polarity not verified: check on download",
    ),
    DatasetSpec(
        "SYN-DEMO",
        "SYN-DEMO (synthetic)",
        folder="SYN-DEMO",
        n_images=24,
        resolution="320x320",
        gt_white="blur",
        builder="dbdbench.synth:build_demo",
        notes="built on first use by dbdbench.synth from photos shipped with scikit-image",
    ),
]

DATASETS: dict[str, DatasetSpec] = {s.name: s for s in _SPECS}


_USER_LOADED: set[str] = set()


def register_toml_files(paths: Iterable[str | os.PathLike]) -> None:
    """Register the datasets of each TOML file (:func:`register_from_toml`), each file once; empty names skip.

    The command line calls this with the files named in ``$DBDBENCH_DATASETS`` (separated by the OS path
    separator).
    """
    for path in (str(p) for p in paths if str(p)):
        if path not in _USER_LOADED:
            _USER_LOADED.add(path)
            register_from_toml(path)


def _listed_like(name: str) -> list[str]:
    """Listed (evaluable) datasets that share ``name``'s family prefix (the part before the first dash)."""
    family = name.split("-")[0]
    return [n for n, spec in DATASETS.items() if spec.listed and n.split("-")[0] == family]


def list_datasets() -> list[str]:
    """Registered dataset names, in registry order (user datasets last)."""
    return list(DATASETS)


def get_dataset(name: str) -> DatasetSpec:
    """Look up a dataset (case-insensitive), with an error that lists the valid names."""
    if name in DATASETS:
        return DATASETS[name]
    for key, spec in DATASETS.items():
        if key.lower() == name.lower():
            return spec
    raise KeyError(f"Unknown dataset {name!r}; valid: {', '.join(DATASETS)}")


def register_dataset(spec: DatasetSpec, *, overwrite: bool = False) -> DatasetSpec:
    """Add a dataset to the registry (an existing name needs ``overwrite=True``); returns ``spec``."""
    if spec.name in DATASETS and not overwrite:
        raise ValueError(f"dataset {spec.name!r} is already registered; pass overwrite=True to replace it")
    if spec.digests is not None:
        read_digests(spec.digests)  # a missing or malformed list is an error now, not at the first evaluation
    DATASETS[spec.name] = spec
    return spec


#: the former name of :func:`register_dataset`
register = register_dataset


def unregister_dataset(name: str) -> None:
    """Remove a dataset from the registry (for plug-ins and tests that registered one)."""
    del DATASETS[get_dataset(name).name]


def register_from_toml(path: str | os.PathLike) -> list[DatasetSpec]:
    """Register the datasets of a TOML file, one ``[datasets.NAME]`` table each.

    Example::

        [datasets.MY-DBD]
        folder = "MyDBD"          # under the data root (or an absolute path)
        image_dir = "images"
        gt_dir = "masks"
        gt_white = "blur"         # what white means in the GT files: blur | sharp
        n_images = 120
        digests = "masks.txt"     # optional: pin the masks (a shipped list name, or a path relative to this file)
    """
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    known = {f for f in DatasetSpec.__dataclass_fields__ if f not in ("name", "extra")}
    out = []
    for name, table in data.get("datasets", {}).items():
        unknown = set(table) - known
        if unknown:
            raise ValueError(f"{path}: dataset {name}: unknown key(s) {', '.join(sorted(unknown))}")
        digests = table.get("digests")
        if isinstance(digests, str) and ("/" in digests or digests.endswith(".txt")):
            table["digests"] = str(Path(path).parent / Path(digests).expanduser())
        spec = DatasetSpec(name=name, display_name=table.pop("display_name", name), **table)
        out.append(register_dataset(spec, overwrite=True))
    if not out:
        raise ValueError(f"{path}: no [datasets.NAME] tables found")
    return out


def with_root(spec: DatasetSpec, folder: str) -> DatasetSpec:
    """A copy of ``spec`` whose folder is replaced (e.g. an absolute path)."""
    return replace(spec, folder=folder)
