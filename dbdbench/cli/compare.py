"""``dbdbench compare``: is the difference between two results larger than the noise of the test set?"""

from __future__ import annotations

import json
from pathlib import Path

import click

from dbdbench.cli._common import data_root_option, input_errors_exit_2


def _format(diffs: dict, level: float) -> list[str]:
    from dbdbench.metrics import METRICS
    from dbdbench.stats.intervals import fmt_signed, level_label

    spans = {k: "undefined" if d.ci_low != d.ci_low else f"[{fmt_signed(d.ci_low)}, {fmt_signed(d.ci_high)}]"
             for k, d in diffs.items()}  # fmt: skip
    width = max([21, *(len(s) for s in spans.values())])
    head = (f"{'score':<12} {'A':>8} {'B':>8} {'B - A':>10}   {f'{level_label(level)} interval':<{width}} "
            f"{'p':>8} {'p Holm':>8}  test")  # fmt: skip
    lines = [head]
    for key, d in diffs.items():
        label = METRICS[key].label + ("↑" if d.higher_is_better else "↓")
        lines.append(f"{label:<12} {d.a:8.4f} {d.b:8.4f} {fmt_signed(d.diff):>10}   {spans[key]:<{width}} "
                     f"{d.p_value:8.3g} {d.p_holm:8.3g}  {d.test}")  # fmt: skip
    lines.append(f"p Holm: the {len(diffs)} p-values adjusted together (Holm); read it when you look at more "
                 "than one score.\ninterval: the paired permutation test inverted (docs/statistics.md).")
    return lines


def _grid(a, b, worst, out, maps_a, maps_b, data_root) -> None:
    from dbdbench.datasets import get_dataset, index_folder
    from dbdbench.report.qualitative import plot_qualitative

    if not (maps_a and maps_b):
        raise click.UsageError("--grid needs --maps-a and --maps-b, the folders of the two results' maps")
    spec = get_dataset(a.dataset)
    stems = [w["name"] for w in worst]
    folder = spec.image_folder(data_root)
    have = {s.lower() for s in index_folder(folder)} if folder.is_dir() else set()
    images: Path | None = folder
    if not all(s.lower() in have for s in stems):
        click.echo(f"note: not every input photo is in {folder}; the grid leaves out the input column", err=True)
        images = None
    names = {"A": maps_a, "B": maps_b}
    labels = {f"A: {a.method}": maps_a, f"B: {b.method}": maps_b} if a.method != b.method else names
    white = dict(zip(labels, (a.meta.get("pred_white", "blur"), b.meta.get("pred_white", "blur")), strict=True))
    plot_qualitative(images, spec.gt_folder(data_root), labels, stems, out, spec.gt_white, white)
    click.echo(f"wrote {out}", err=True)


@click.command()
@click.argument("result_a", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("result_b", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--metrics", help="Comma-separated score keys (default: every score both results hold).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), help="Write the comparison JSON.")
@click.option("--n-boot", default=10_000, show_default=True, type=click.IntRange(100),
              help="Bootstrap resamples and random permutations.")  # fmt: skip
@click.option("--seed", default=0, show_default=True, type=int, help="Seed: the same seed gives the same numbers.")
@click.option("--level", default=0.95, show_default=True, type=click.FloatRange(0.5, 0.999), help="Confidence level.")
@click.option("--worst", type=click.IntRange(1), help="List the K images where B loses most to A.")
@click.option("--by", "worst_by", default="mae", show_default=True, help="[--worst] Per-image score that ranks them.")
@click.option("--grid", type=click.Path(dir_okay=False, path_type=Path),
              help="[--worst] Draw input / GT / A / B of those images to this figure (.pdf, .png, .svg).")
@click.option("--maps-a", type=click.Path(file_okay=False, exists=True), help="[--grid] Folder of A's maps.")
@click.option("--maps-b", type=click.Path(file_okay=False, exists=True), help="[--grid] Folder of B's maps.")
@data_root_option
@input_errors_exit_2
def compare(result_a, result_b, metrics, json_out, n_boot, seed, level, worst, worst_by, grid, maps_a, maps_b,
            data_root) -> None:  # fmt: skip
    """Compare RESULT_B with RESULT_A (result JSON files of the same dataset, protocol and images).

    For each score: A, B, B - A, a paired interval of B - A over the images (the paired permutation test
    inverted), a paired two-sided p-value (Wilcoxon signed-rank for per-image means, permutation test for
    dataset-level scores) and the p-values Holm-adjusted over the compared scores. Dataset-level scores
    need the per-image counts file that `dbdbench evaluate --json` writes beside the JSON. See
    docs/statistics.md for what the numbers mean and what they do not.

    \b
    Examples:
      dbdbench compare hifst.json ours.json
      dbdbench compare hifst.json ours.json --metrics mae,max_f --json cmp.json
      dbdbench compare a.json b.json --worst 8 --grid worst.pdf --maps-a maps_a/ --maps-b maps_b/
    """
    from dbdbench.results import load_result
    from dbdbench.stats.compare import compare_results, compared_keys, comparison_dict, worst_images
    from dbdbench.stats.intervals import protocol_of

    if grid and not worst:
        raise click.UsageError("--grid draws the --worst K images; pass --worst too")
    a, b = load_result(result_a), load_result(result_b)
    keys, note = compared_keys(a, b, metrics)
    if note:
        click.echo(f"note: {note}", err=True)
    diffs = compare_results(a, b, protocol_of(a), keys, n_resamples=n_boot, level=level, seed=seed)
    click.echo(f"A: {result_a} ({a.method})\nB: {result_b} ({b.method})\n"
               f"{a.dataset} [{a.protocol}], {len(a.per_image)} images; paired over images, "
               f"{n_boot} resamples, seed {seed}")  # fmt: skip
    click.echo("\n".join(_format(diffs, level)))
    rows = None
    if worst:
        rows = worst_images(a, b, worst_by, worst)
        click.echo(f"\nimages where B loses most to A on {worst_by}:")
        for r in rows:
            click.echo(f"  {r['name']:<24} A {r['a']:.4f}  B {r['b']:.4f}  loss {r['loss']:+.4f}")
        if grid:
            _grid(a, b, rows, grid, maps_a, maps_b, data_root)
    if json_out is not None:
        from dbdbench.io import atomic_write_text

        settings = {"n_resamples": n_boot, "seed": seed, "confidence_level": level}
        data = comparison_dict(a, b, diffs, settings, rows)
        atomic_write_text(json_out, json.dumps(data, indent=1, allow_nan=False) + "\n")
        click.echo(f"wrote {json_out}", err=True)
