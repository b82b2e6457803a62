"""Re-run a paper's table row: train with the paper's recipe, predict its test sets, score them under its protocol.

``reproduce(name, out)`` runs one :data:`RECIPES` entry in four resumable steps:

1. ``dbdbench train`` with the paper's schedule (``model.recipe``) on the paper's training set, into
   ``<out>/train`` (D-DFFNet: stage 1, then the stage-2 distillation from it, into ``<out>/train-stage2``);
2. ``dbdbench predict`` on every test set through the checkpoint's test pipeline, into ``<out>/maps/<SET>``;
3. a re-scored submission entry ``<reported id>-reproduced`` under ``<out>/submissions``: ``meta.json``
   (the reported entry's bibliographic fields, ``kind = "rescored"``, ``rescore.maps`` pointing at the map
   folders relative to ``<out>/maps``, ``rescore.weights_sha256`` the SHA-256 of the checkpoint the maps
   were predicted with) and one result file ``<SET>.<protocol>.json`` per test set, written by
   :func:`dbdbench.submissions.rescore.rescore_entries` (so ``dbdbench check <out>/submissions --maps-root
   <out>/maps`` re-scores them and must agree);
4. a copy of the entry into ``submissions`` (the folder that holds the reported entry), when given.

Overrides (``iterations``, ``batch_size``, ``input_size``, ``train_set``, ``test_sets`` ...) exist for smoke
runs at toy scale; an entry made with any of them says so in its ``notes``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from baselines.predict import collect_images, predict_net
from baselines.train import TrainConfig, train
from dbdbench.evaluate import sha256_file
from dbdbench.io import atomic_write_text

REPO_SUBMISSIONS = Path(__file__).resolve().parents[1] / "submissions"
BIBLIOGRAPHIC = ("authors", "venue", "year", "paper_url", "code_url", "backbone", "licence")


@dataclass(frozen=True)
class Recipe:
    """A paper's table row: what to train on what, what to test and score how, and the reported entry.

    Attributes
    ----------
    name : str
        Registry key, ``<method>-<training data>``.
    method : str
        Registered net (``create_model`` name).
    train_set : str
        Registered training dataset.
    test_sets : tuple of str
        Registered test datasets of the paper's table.
    protocol : str
        The protocol of the paper's numbers (``dbdbench protocols``).
    reported : str
        Id of the submission entry that holds the paper's numbers.
    seed : int
        The authors' seed.
    stage : int
        2 for D-DFFNet (stage-1 DFFNet, then the depth/DOF distillation).
    source : str
        Paper table and code the row comes from.
    """

    name: str
    method: str
    train_set: str
    test_sets: tuple[str, ...]
    protocol: str
    reported: str
    seed: int = 0
    stage: int = 1
    source: str = field(default="", compare=False)


_DDFFNET_T1 = ("CUHK-TE-1", "DUT-TE", "CTCUG", "EBD", "EBD-1305")
RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("dffnet-cuhk", "dffnet", "CUHK-TR-1", _DDFFNET_T1, "ddffnet", "dffnet-ddffnet-t1", seed=42,
           source="D-DFFNet (ICME 2023) Table I, DFFNet row; train_single.py, test.py"),
    Recipe("ddffnet-cuhk", "dffnet", "CUHK-TR-1", _DDFFNET_T1, "ddffnet", "d-dffnet-ddffnet-t1", seed=42,
           stage=2, source="D-DFFNet (ICME 2023) Table I, D-DFFNet row; train_single.py, train_kd.py, test.py"),
    Recipe("br2net-cuhk", "br2net", "CUHK-TR-1", _DDFFNET_T1, "ddffnet", "br2net-ddffnet-t1", seed=2019,
           source="D-DFFNet (ICME 2023) Table I, BR2Net row (retrained by the D-DFFNet authors); BR2Net train.py"),
)}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; the error lists the valid names."""
    if name not in RECIPES:
        raise KeyError(f"unknown recipe {name!r}; valid: {', '.join(sorted(RECIPES))}")
    return RECIPES[name]


def reported_meta(recipe: Recipe, submissions: Path | None) -> dict[str, Any]:
    """``meta.json`` of the reported entry, from ``submissions`` or else the repository's ``submissions/``."""
    for root in (submissions, REPO_SUBMISSIONS):
        if root is not None and (root / recipe.reported / "meta.json").is_file():
            return json.loads((root / recipe.reported / "meta.json").read_text(encoding="utf-8"))
    raise FileNotFoundError(f"reported entry {recipe.reported!r} not found; pass --submissions with the folder "
                            "that holds it (a dbdbench checkout's submissions/)")


def _train(recipe: Recipe, out: Path, overrides: dict[str, Any], depth_weights: Path | None) -> Path:
    """Train stage 1 (and stage 2 for D-DFFNet); returns the checkpoint to predict with."""
    common = {"data_root": overrides.pop("data_root", None), "seed": recipe.seed, "resume": "auto", **overrides}
    first = train(TrainConfig(method=recipe.method, out=out / "train", **common))
    if recipe.stage == 1:
        return first.checkpoint or out / "train" / "last.pt"
    second = train(TrainConfig(method=recipe.method, out=out / "train-stage2", stage=2,
                               teacher=out / "train" / "last.pt", depth_weights=depth_weights, **common))
    return second.checkpoint or out / "train-stage2" / "last.pt"


def _entry_meta(recipe: Recipe, reported: dict[str, Any], train_set: str, test_sets: tuple[str, ...],
                toy: dict[str, Any], command: str, weights_sha256: str) -> dict[str, Any]:
    notes = (f"Re-scored maps of {reported['name']} trained by dbdbench with the paper's recipe ({recipe.source}); "
             f"the paper's numbers are in the entry {recipe.reported}.")
    if toy:
        notes += " Smoke run, NOT the paper's setting: " + ", ".join(f"{k}={v}" for k, v in sorted(toy.items()))
    return {"schema": "dbdbench.submission", "schema_version": 1, "id": f"{recipe.reported}-reproduced",
            "name": f"{reported['name']} (dbdbench reproduction)", "kind": "rescored",
            **{k: reported.get(k) for k in BIBLIOGRAPHIC}, "training_data": [train_set], "parameters_m": None,
            "runtime_s": None, "map_polarity": "blur",
            "rescore": {"maps": {f"{s}.{recipe.protocol}": s for s in test_sets}, "pred_white": "blur",
                        "command": command, "weights_sha256": weights_sha256},
            "notes": notes}


def _cli_value(value: Any) -> str:
    """A setting as the command line spells it (``pretrained=False`` is ``--pretrained none``)."""
    return {True: "imagenet", False: "none"}.get(value, str(value)) if isinstance(value, bool) else str(value)


def reproduce(name: str, out: str | Path, *, submissions: str | Path | None = None, data_root: Path | None = None,
              train_set: str | None = None, test_sets: tuple[str, ...] | None = None,
              depth_weights: Path | None = None, device: str = "auto", batch_size_predict: int = 8,
              progress: bool = True, **train_overrides: Any) -> Path:
    """Run recipe ``name`` (module docstring); returns the entry folder written under ``<out>/submissions``.

    ``train_overrides``: ``iterations``, ``batch_size``, ``lr``, ``input_size``, ``pretrained``, ``workers``,
    ``amp``, ``save_every``, ``stop_at`` of :class:`baselines.train.TrainConfig` (``None`` = the paper's).
    """
    from dbdbench.submissions.rescore import rescore_entries

    recipe = get_recipe(name)
    if recipe.stage == 2 and depth_weights is None:
        raise ValueError(f"{recipe.name} distils from MiDaS v2.1: pass --depth-weights midas_v21-f6b98070.pt")
    out = Path(out)
    subs = Path(submissions) if submissions is not None else None
    reported = reported_meta(recipe, subs)
    train_set = train_set or recipe.train_set
    test_sets = tuple(test_sets or recipe.test_sets)
    toy = {k: v for k, v in train_overrides.items()
           if v is not None and k not in ("workers", "save_every", "amp", "stop_at")}
    toy.update({k: v for k, v in (("train_set", train_set), ("test_sets", ",".join(test_sets)))
                if v not in (recipe.train_set, ",".join(recipe.test_sets))})
    kept = {k: v for k, v in train_overrides.items() if v is not None}
    ckpt = _train(recipe, out, {"train_set": train_set, "data_root": data_root, "device": device,
                                "progress": progress, **kept}, depth_weights)
    for dataset in test_sets:
        images = collect_images(dataset=dataset, data_root=data_root)
        predict_net(recipe.method, images, out / "maps" / dataset, ckpt, device=device,
                    batch_size=batch_size_predict, progress=progress)
    command = f"dbdbench reproduce {recipe.name}" + "".join(
        f" --{k.replace('_', '-')} {_cli_value(v)}" for k, v in sorted(toy.items()))
    meta = _entry_meta(recipe, reported, train_set, test_sets, toy, command, sha256_file(Path(ckpt)))
    entry = out / "submissions" / meta["id"]
    entry.mkdir(parents=True, exist_ok=True)
    for old in entry.glob("*.json"):
        old.unlink()
    atomic_write_text(entry / "meta.json", json.dumps(meta, indent=2) + "\n")
    rescore_entries(out / "submissions", out / "maps", data_root)
    if subs is not None:
        shutil.copytree(entry, subs / meta["id"], dirs_exist_ok=True)
    return entry
