"""The `ftrepro` command line. `stats`: statistics of the derived datasets as Markdown; `plan`:
memory per GPU and GPU-hours of every job of a preset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ftrepro.data import DATASETS
from ftrepro.data.stats import stats_report
from ftrepro.io import DataError


def _tokenizers(specs: list[str], datasets: list[str]) -> dict[str, str]:
    """`PATH` applies to every dataset, `DATASET=PATH` to one (and wins)."""
    shared = [s for s in specs if s.split("=", 1)[0] not in DATASETS]
    by_dataset = dict(s.split("=", 1) for s in specs if s.split("=", 1)[0] in DATASETS)
    default = shared[-1] if shared else None
    return {d: by_dataset.get(d, default) for d in datasets}


def _stats(args: argparse.Namespace) -> int:
    skipped = stats_report(
        args.derived,
        args.out,
        tokenizers=_tokenizers(args.tokenizer, args.datasets),
        datasets=args.datasets,
        sample=args.sample,
        seed=args.seed,
    )
    for dataset, reason in skipped.items():
        print(f"ftrepro stats: skipping {dataset}: {reason}", file=sys.stderr)
    print(f"ftrepro stats: wrote {args.out}")
    return 0


def _plan(args: argparse.Namespace) -> int:
    from ftrepro import config as cfg
    from ftrepro.plan import PlanError, layouts_summary, plan, summary, write_tsv

    config = cfg.load(args.configfile, {"preset": args.preset})
    try:
        rows = plan(config)
    except PlanError as e:
        print(f"ftrepro plan: error: {e}", file=sys.stderr)
        return 1
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ftrepro", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    stats = commands.add_parser(
        "stats", help="rows, label distributions and token lengths of the derived data"
    )
    stats.add_argument(
        "--derived",
        type=Path,
        default=Path("resources/derived"),
        help="directory holding one derived directory per dataset (default: %(default)s)",
    )
    stats.add_argument(
        "--out",
        type=Path,
        default=Path("results/data/stats.md"),
        help="Markdown file to write (default: %(default)s)",
    )
    stats.add_argument(
        "--tokenizer",
        action="append",
        default=[],
        metavar="[DATASET=]PATH",
        help="local model directory or name for AutoTokenizer, for every dataset or, as "
        "DATASET=PATH, for one (repeatable); without it, token lengths are not computed",
    )
    stats.add_argument(
        "--datasets",
        nargs="+",
        choices=DATASETS,
        default=list(DATASETS),
        help="datasets to measure (default: all); missing directories are skipped with a note",
    )
    stats.add_argument(
        "--sample",
        type=int,
        default=10_000,
        help="rows per split measured in tokens, a seeded sample when larger (default: %(default)s)",
    )
    stats.add_argument(
        "--seed", type=int, default=0, help="seed of the token-length sample (default: %(default)s)"
    )
    stats.set_defaults(run=_stats)
    plan = commands.add_parser("plan", help="memory per GPU and GPU-hours of every job of a preset")
    plan.add_argument("--preset", default="paper", help="the preset to plan (default: %(default)s)")
    plan.add_argument(
        "--configfile", type=Path, default=Path("config/config.yaml"), help="default: %(default)s"
    )
    plan.add_argument("--out", type=Path, help="also write the full table (results/plan.tsv's columns)")
    plan.set_defaults(run=_plan)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv[1:]), run the subcommand and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except DataError as e:
        parser.exit(1, f"ftrepro {args.command}: error: {e}\n")


if __name__ == "__main__":
    sys.exit(main())
