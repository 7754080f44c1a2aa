"""The `ftrepro` command: `run` a preset with a line per job, `plan` the memory per GPU and GPU-hours
of every job of a preset, `stats` of derived datasets, `report` (where it is, or open it).

A mistake on the command line (a misspelled preset, run or target, a missing directory, a bad
tokenizer) is one or two lines naming what is wrong and the closest valid choices; `--debug`
shows the traceback.
"""

from __future__ import annotations

import argparse
import difflib
import sys
import webbrowser
from collections.abc import Collection, Sequence
from pathlib import Path

import yaml

from ftrepro import config as cfg
from ftrepro import papers, run
from ftrepro.config import ConfigError
from ftrepro.data import DATASETS
from ftrepro.io import DataError, atomic_path
from ftrepro.jobs import ROOTS, in_preset, resources_path
from ftrepro.plan import PlanError

CONFIG = Path("config/config.yaml")
# results/<preset>/<paper>/<run>/<file>: the files of a run directory, which a misspelled run name
# reaches as a missing input (predictions.jsonl) instead of a missing rule
RUN_FILES = ("metrics.json", "predictions.jsonl")


class UsageError(ValueError):
    """A command line asking for something that does not exist; the message names the closest."""


USER_ERRORS = (UsageError, ConfigError, DataError, PlanError)


def unknown(what: str, name: str, valid: Collection[str]) -> UsageError:
    """'unknown <what> 'name'; did you mean ...?', with the closest of `valid` (or a few of them)."""
    close = difflib.get_close_matches(name, list(valid), n=3, cutoff=0.6)
    if close:
        hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
    else:
        some = sorted(valid)
        hint = f"valid: {', '.join(some[:5])}" + (f" ... ({len(some)} in all)" if len(some) > 5 else "")
    return UsageError(f"unknown {what} {name!r}; {hint}")


def preset_names(configfile: Path) -> list[str]:
    if not configfile.is_file():
        raise UsageError(f"no {configfile} here: run ftrepro in the repository's directory")
    with open(configfile) as f:
        return list(yaml.safe_load(f)["presets"])


def check_preset(preset: str, configfile: Path) -> None:
    presets = preset_names(configfile)
    if preset not in presets:
        raise unknown("preset", preset, presets)


def run_dirs(config: cfg.Config, paper: str) -> set[str]:
    """The run directories of a paper's DAG (results/<preset>/<paper>/<run>/): every run its job
    table can score, API ones and those outside the matrix (the baselines) included."""
    table = papers.jobs(config, every=True)
    return {job.name for job in table if job.paper == paper and job.rule == papers.SCORE}


def check_targets(
    targets: Sequence[str], config: cfg.Config, rules: Collection[str], presets: Collection[str] = ()
) -> None:
    """Refuse a target Snakemake would fail on with no hint: an unknown rule name, a path of another
    preset, an unknown paper or run (a misspelled run reaches Snakemake as a missing
    predictions.jsonl)."""
    for target in targets:
        parts = target.split("/")
        if len(parts) == 1 and "." not in target and target not in rules:
            raise unknown("target", target, rules)
        if len(parts) >= 2 and parts[0] in ROOTS and parts[1] != config.preset:
            whose = f"is a file of the {parts[1]} preset" if parts[1] in presets else "is no preset's file"
            raise UsageError(
                f"{target} {whose}; the {config.preset} preset's files are under {parts[0]}/{config.preset}/"
            )
        ids, parts = papers.ids(config), parts[:1] + parts[2:]  # without the preset
        if len(parts) >= 3 and parts[0] == "results" and parts[1] not in (*ids, "data"):
            raise unknown("paper", parts[1], ids)
        is_run_file = len(parts) == 4 and parts[1] in ids and parts[3] in RUN_FILES
        if is_run_file and parts[2] not in (valid := run_dirs(config, parts[1])):
            raise unknown(f"run of {parts[1]}", parts[2], valid)


def _run(args: argparse.Namespace) -> int:
    check_preset(args.preset, args.configfile)
    entries, _ = run.split_config(args.extra)
    for entry in entries:
        key, equals, _ = entry.partition("=")
        if not equals:
            raise UsageError(f"{entry!r} is not a --config KEY=VALUE; give targets with --target")
        if key == "preset":
            raise UsageError("give the preset with --preset, not in --config")
    config = cfg.load(args.configfile, {"preset": args.preset, **cfg.typed_overrides(entries)})
    targets = args.target or [run.report_target(args.preset)]
    check_targets(targets, config, run.rule_names(), preset_names(args.configfile))
    return run.run(
        args.preset,
        args.cores,
        targets,
        args.extra,
        progress_every=args.progress_every,
        warm=not args.plain,
        partial=args.partial or config.partial,  # `-- partial=true` is --partial
    )


def _tokenizers(specs: list[str], datasets: list[str]) -> dict[str, str]:
    """`PATH` applies to every dataset, `DATASET=PATH` to one (and wins)."""
    shared = [s for s in specs if s.split("=", 1)[0] not in DATASETS]
    by_dataset = dict(s.split("=", 1) for s in specs if s.split("=", 1)[0] in DATASETS)
    default = shared[-1] if shared else None
    return {d: by_dataset.get(d, default) for d in datasets}


def _stats(args: argparse.Namespace) -> int:
    from ftrepro.data.stats import measure_datasets, stats_markdown  # numpy, pandas: only here

    derived = args.derived or Path(in_preset(resources_path("derived"), args.preset))
    if not derived.is_dir():
        raise DataError(f"{derived}: no such directory (the derived datasets, resources/<preset>/derived)")
    tokenizers = _tokenizers(args.tokenizer, args.datasets)
    stats, skipped = measure_datasets(
        derived, tokenizers=tokenizers, datasets=args.datasets, sample=args.sample, seed=args.seed
    )
    if not stats:
        raise DataError(f"{derived}: none of {', '.join(args.datasets)} is there")
    for dataset, reason in skipped.items():
        print(f"ftrepro stats: skipping {dataset}: {reason}", file=sys.stderr)
    text = stats_markdown(stats, tokenizer_names={d: tokenizers[d] for d in stats}, skipped=skipped)
    if args.out is None:
        print(text)
        return 0
    with atomic_path(args.out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(f"ftrepro stats: wrote {args.out}", file=sys.stderr)
    return 0


def _plan(args: argparse.Namespace) -> int:
    from ftrepro.plan import layouts_summary, plan, summary, write_tsv

    check_preset(args.preset, args.configfile)
    config = cfg.load(args.configfile, {"preset": args.preset})
    rows = plan(config)  # a PlanError is a user error (main)
    columns = ("job", "gpus", "layout", "mem_gb_per_gpu", "gpu_hours", "basis", "runner_up")
    print("\t".join(columns))
    for row in rows:
        print("\t".join("-" if getattr(row, c) is None else str(getattr(row, c)) for c in columns))
    print(f"\n{args.preset} preset on {config.plan.gpu_kind} GPUs of {config.cluster['gpu_memory_gb']:g} GB:")
    print(summary(rows))
    print("\nTraining layouts (ftrepro.layout), with the runner-up and why:")
    print(layouts_summary(rows))
    if args.out:
        write_tsv(rows, args.out)
        print(f"ftrepro plan: wrote {args.out}")
    return 0


def _report(args: argparse.Namespace) -> int:
    target = run.report_target(args.preset)
    report = Path(target).resolve()
    if not report.is_file():
        raise UsageError(f"no report at {target} yet: make it with `ftrepro run --preset {args.preset}`")
    print(report)
    if args.open and not webbrowser.open(report.as_uri()):
        print("ftrepro report: no browser to open it in; the path is above", file=sys.stderr)
    return 0


def _run_parser(commands, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "run",
        parents=[common],
        help="run a preset, a line per job (make demo: the tiny preset)",
        description="Run the targets of a preset here, a line per job on the console; Snakemake's "
        "output, its events and the time per stage go to logs/<preset>/run/.",
        epilog="Arguments after -- go to snakemake: KEY=VALUE entries join the run's --config "
        "(e.g. -- \"data={'source': 'local', 'local_dir': '../shared/data'}\"), options pass as they are "
        "(e.g. -- --dry-run).",
    )
    parser.add_argument(
        "--preset", default="tiny", help="config/config.yaml preset (default: %(default)s, the demo)"
    )
    parser.add_argument(
        "--target", action="append", help="what to make, repeatable (default: results/<preset>/report.html)"
    )
    parser.add_argument(
        "--partial",
        action="store_true",
        help="only the tables, figures and report, from the runs that have finished (the rest: not run); "
        "runs nothing else, so it may run beside a live run of the preset",
    )
    parser.add_argument("--cores", default="all", help="snakemake --cores (default: %(default)s)")
    parser.add_argument(
        "--progress-every",
        type=float,
        default=60.0,
        help="seconds between progress bars (default: %(default)s)",
    )
    parser.add_argument(
        "--plain", action="store_true", help="plain snakemake, without the warm interpreter (benchmarks)"
    )
    parser.add_argument("--configfile", type=Path, default=CONFIG, help=argparse.SUPPRESS)
    parser.add_argument("extra", nargs="*", help="snakemake arguments, after --")
    parser.set_defaults(run=_run)


def _stats_parser(commands, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "stats", parents=[common], help="rows, label distributions and token lengths of derived data"
    )
    parser.add_argument(
        "--derived",
        type=Path,
        help="directory holding one derived directory per dataset (default: the preset's, "
        "resources/<preset>/derived)",
    )
    parser.add_argument(
        "--preset", default="tiny", help="whose derived datasets, without --derived (default: %(default)s)"
    )
    parser.add_argument("--out", type=Path, help="Markdown file to write (default: print it)")
    parser.add_argument(
        "--tokenizer",
        action="append",
        default=[],
        metavar="[DATASET=]PATH",
        help="local model directory or name for AutoTokenizer, for every dataset or, as "
        "DATASET=PATH, for one (repeatable); without it, token lengths are not computed",
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=DATASETS,
        default=list(DATASETS),
        help="datasets to measure (default: all); missing directories are skipped with a note",
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=10_000,
        help="rows per split measured in tokens, a seeded sample when larger (default: %(default)s)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the token-length sample (default: %(default)s)"
    )
    parser.set_defaults(run=_stats)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the traceback of an error")
    parser = argparse.ArgumentParser(prog="ftrepro", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    _run_parser(commands, common)
    plan = commands.add_parser(
        "plan", parents=[common], help="memory per GPU and GPU-hours of every job of a preset"
    )
    plan.add_argument("--preset", default="paper", help="the preset to plan (default: %(default)s)")
    plan.add_argument("--configfile", type=Path, default=CONFIG, help="default: %(default)s")
    plan.add_argument("--out", type=Path, help="also write the full table (results/plan.tsv's columns)")
    plan.set_defaults(run=_plan)
    _stats_parser(commands, common)
    report = commands.add_parser(
        "report",
        parents=[common],
        help="print the path of a preset's results/<preset>/report.html (--open: open it in a browser)",
    )
    report.add_argument("--preset", default="tiny", help="whose report (default: %(default)s, the demo's)")
    report.add_argument("--open", action="store_true", help="open it in the default browser")
    report.set_defaults(run=_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv[1:]), run the subcommand and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except USER_ERRORS as e:
        if args.debug:
            raise
        parser.exit(2 if isinstance(e, UsageError) else 1, f"ftrepro {args.command}: error: {e}\n")


if __name__ == "__main__":
    sys.exit(main())
