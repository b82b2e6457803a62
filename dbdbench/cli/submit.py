"""``dbdbench submit``: a leaderboard entry (``submissions/<id>/``) from result files or a table of a paper."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from dbdbench.cli._common import InputError, data_root_option, input_errors_exit_2


def _names(values: tuple[str, ...], sep: str) -> list[str]:
    return [n.strip() for v in values for n in v.split(sep) if n.strip()]


def _fields(authors, venue, year, paper_url, code_url, backbone, training_data, parameters_m, runtime_s, licence,
            notes, polarity) -> dict:  # fmt: skip
    out = {"authors": _names(authors, ";"), "venue": venue, "year": year, "paper_url": paper_url,
           "code_url": code_url, "backbone": backbone, "training_data": _names(training_data, ","),
           "parameters_m": parameters_m, "runtime_s": runtime_s, "map_polarity": polarity, "licence": licence}
    if notes:
        out["notes"] = notes
    return out


def _check(staged: Path, root: Path, entry_id: str, maps_root, data_root, kind: str) -> list[str]:
    """The checks of ``dbdbench check``: the entry, its reproduction from the maps, then the whole tree."""
    from dbdbench.submissions import check_tree
    from dbdbench.submissions.rescore import check_reproduction

    problems = check_tree(staged / entry_id)
    notes: list[str] = []
    if not problems and kind == "rescored":
        problems, notes = check_reproduction(staged, maps_root, data_root)
    if problems:
        raise InputError("the entry does not pass dbdbench check; nothing was written:\n"
                         + "\n".join(f"  {p}" for p in problems))  # fmt: skip
    shutil.copytree(staged / entry_id, root / entry_id)
    problems = check_tree(root)
    if problems:
        shutil.rmtree(root / entry_id)
        raise InputError(f"{root} does not pass dbdbench check with the entry; nothing was written:\n"
                         + "\n".join(f"  {p}" for p in problems))  # fmt: skip
    return notes


@click.command()
@click.argument("results", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--id", "entry_id", required=True, help="Entry id: lowercase words joined by '-' (the folder name).")
@click.option("--name", required=True, help="Display name of the method; equals the method of every result file.")
@click.option("--authors", multiple=True, required=True, help="Authors, separated by ';' (or repeat the option).")
@click.option("--venue", required=True, help="e.g. CVPR.")
@click.option("--year", required=True, type=click.IntRange(1980, 2100))
@click.option("--paper-url", help="http(s) URL of the paper.")
@click.option("--code-url", help="http(s) URL of the code.")
@click.option("--backbone", help="e.g. VGG16 (none for hand-crafted methods).")
@click.option("--training-data", multiple=True, help="Training sets, comma-separated or repeated (none: hand-crafted).")
@click.option("--parameters-m", type=click.FloatRange(0), help="Millions of parameters, as published.")
@click.option("--runtime-s", type=click.FloatRange(0), help="Seconds per image, as published.")
@click.option("--licence", help="Licence of the maps / code.")
@click.option("--notes", help="Free text stored in meta.json.")
@click.option("--maps-root", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Folder holding the results' map folders: they are scored again and must give the same numbers; "
              "rescore.maps is stored relative to it.")
@click.option("--reported", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="CSV or Markdown table of numbers copied from a paper (columns dataset, protocol, score keys).")
@click.option("--source", help='[--reported] "paper, table, page" (page: a number, or null).')
@click.option("--source-short", help="[--reported] Short name of the paper for tables, e.g. 'D-DFFNet (ICME 2023)'.")
@click.option("--protocol", help="[--reported] Protocol of every row when the table has no protocol column.")
@click.option("--map-polarity", type=click.Choice(["blur", "sharp", "unknown"]), default="unknown", show_default=True,
              help="[--reported] What white means in the method's maps.")
@click.option("--submissions", "root", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=Path("submissions"), show_default=True, help="The submissions folder.")
@data_root_option
@input_errors_exit_2
def submit(results, entry_id, name, authors, venue, year, paper_url, code_url, backbone, training_data,
           parameters_m, runtime_s, licence, notes, maps_root, reported, source, source_short, protocol,
           map_polarity, root, data_root) -> None:  # fmt: skip
    """Write submissions/<ID>/ from RESULTS (re-scored) or from --reported FILE (numbers of a paper).

    RESULTS are result files of one method written by `dbdbench evaluate`; they are stored with only names,
    hashes and the options the maps were read with (meta.map_reading), and meta.json gets their rescore
    block. With --maps-root they are scored again from the maps, read with those options, and must agree
    within 1e-9. Either way the entry must pass the checks of `dbdbench check` on the whole
    submissions folder, or nothing is written. An existing ID is refused.

    \b
    Examples:
      dbdbench submit results/ours.json --id ours-cvpr25 --name Ours --authors "A. Author; B. Author" \\
          --venue CVPR --year 2025 --training-data CUHK-TR-1 --maps-root maps/
      dbdbench submit --reported table.csv --source "Ours, CVPR 2025, Table 2, 6" --id ours-cvpr25-t2 \\
          --name Ours --authors "A. Author" --venue CVPR --year 2025
    """
    from dbdbench.results import load_result
    from dbdbench.submissions.submit import (
        check_entry_id,
        make_meta,
        parse_source,
        reported_files,
        rescore_block,
        rescored_files,
        write_entry,
    )

    check_entry_id(entry_id, root)
    if reported is not None:
        if results:
            raise click.UsageError("give either RESULTS (re-scored) or --reported FILE (numbers of a paper): one "
                                   "entry is of one kind")  # fmt: skip
        if not source:
            raise click.UsageError('--reported needs --source "paper, table, page"')
        files = reported_files(reported, name, parse_source(source, source_short), protocol)
        kind, rescore, polarity = "reported", None, map_polarity
    else:
        if not results:
            raise click.UsageError("give the result files to submit (or --reported FILE --source ...)")
        files = rescored_files([load_result(p) for p in results], name)
        kind, rescore = "rescored", rescore_block(files, maps_root)
        polarity = rescore["pred_white"]
    fields = _fields(authors, venue, year, paper_url, code_url, backbone, training_data, parameters_m, runtime_s,
                     licence, notes, polarity)  # fmt: skip
    meta = make_meta(entry_id, name, kind, fields, rescore)
    with tempfile.TemporaryDirectory(prefix="dbdbench-submit-") as tmp:
        write_entry(Path(tmp) / entry_id, meta, files)
        notes_found = _check(Path(tmp), root, entry_id, maps_root, data_root, kind)
    for note in notes_found:
        click.echo(f"note: {note}")
    click.echo(f"wrote {root / entry_id}/ ({', '.join(['meta.json', *(f'{s}.json' for s in files)])})")
    check = f"dbdbench check {root}" + (" --maps-root <maps root>" if kind == "rescored" else "")
    click.echo("next steps:\n"
               f"  {check}\n"
               f"  dbdbench leaderboard --submissions {root}    (regenerates reports/ with the new row)\n"
               f"  git add {root / entry_id} reports && git commit, then open a pull request "
               "(CI runs dbdbench check and dbdbench leaderboard --check)")  # fmt: skip
