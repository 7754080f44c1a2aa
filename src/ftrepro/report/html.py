"""results/<preset>/report.html: every paper's paper-vs-ours tables and figures, the data statistics,
and the provenance of every run, in one file.

Built from what the pipeline already wrote: each paper's markdown tables and PNG figures (figures
are embedded, so the file stands alone), results/<preset>/data/stats.md, every run's metrics.json and the
provenance its jobs wrote beside their logs (ftrepro.provenance). It opens with a line per paper
counting the verdicts of its tables' cells (their CSVs' verdict column). Logs and the tables' CSVs are
linked relative to the report. "GPU-hours planned" comes from results/<preset>/plan.tsv (ftrepro.plan, the
`plan` rule); a run it has no row for reads "not planned". The preset and the data it read are
stated in words at the top, so that a tiny-preset number, or any number on synthetic data, is never
taken for a reproduction; each paper's section lists its deviations from the paper in the preset
(ftrepro.papers.deviations), and each run's provenance the data source and raw-file digest it used.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import jinja2
import pandas as pd
from markdown_it import MarkdownIt

from ftrepro import provenance
from ftrepro.deviations import HEADING as DEVIATIONS_HEADING
from ftrepro.io import atomic_path, read_json
from ftrepro.jobs import run_at
from ftrepro.report import NOT_RUN, SYNTHETIC_DATA, verdict_summary

# what each preset runs, with {data}: the words of the data it read (DATA_WORDS)
PRESET_WORDS = {
    "tiny": (
        "Tiny preset: tiny randomly initialised models trained for a few hundred steps on {data}. "
        "These numbers show that every stage runs and that every training path learns; they are not a "
        "reproduction of the papers and are not comparable to the papers' numbers."
    ),
    "mini": (
        "Mini preset: small pretrained stand-ins (MiniLM, SmolLM2) fine-tuned on {data}, capped. "
        "Trends only, not a reproduction of the papers' numbers."
    ),
    "paper": "Paper preset: the papers' models on {data}. {verdict}",
}
DATA_WORDS = {
    True: f"{SYNTHETIC_DATA} (generated in each dataset's format with a planted signal, not the papers' datasets)",
    False: "the papers' real datasets",
}


def preset_words(preset: str, synthetic: bool) -> str:
    """The banner's sentence: what the preset runs, on what data, and what its numbers can say."""
    verdict = (
        "On synthetic data no number here is a reproduction."
        if synthetic
        else "These numbers are a reproduction attempt."
    )
    words = PRESET_WORDS.get(preset, f"Preset {preset}, on {{data}}.")
    return words.format(data=DATA_WORDS[synthetic], verdict=verdict)


# the first metrics of a run worth a column (percent unless log loss)
KEY_METRICS = (
    "20class_accuracy",
    "7class_accuracy",
    "intent_accuracy",
    "slots_f1",
    "parse_failure_rate",
    "rougeL",
    "exact_match",
    "log_loss",
    "accuracy",
)
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("ftrepro.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


def markdown_html(text: str) -> str:
    """A markdown file of the pipeline (headings, paragraphs, pipe tables) as HTML; the first
    heading becomes a level-3 one so it sits under the report's own."""
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        lines[0] = "###" + lines[0][1:]
    return _MARKDOWN.render("\n".join(lines))


def _href(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path, base)).as_posix()


def _image(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def read_plan(path: str | os.PathLike | None) -> dict[tuple[str, str], float] | None:
    """{(paper, run): GPU-hours planned} from results/<preset>/plan.tsv (ftrepro.plan: a row per job,
    named by its output `job`, results/<preset>/<paper>/<run>/<file>); None when there is none. Jobs
    outside a run's directory (pre-fine-tuning, annotation) have no row of their own in the report."""
    if path is None or not Path(path).exists():
        return None
    table = pd.read_csv(path, sep="\t")
    plan = {}
    for job, hours in zip(table["job"], table["gpu_hours"]):
        if Path(job).parts[:1] == ("results",) and len(Path(job).parts) == 5 and pd.notna(hours):
            paper, run, _ = run_at(job)
            plan[paper, run] = float(hours)
    return plan


def _planned(plan: Mapping | None, paper: str, run: str) -> str:
    if plan is None:
        return "not planned"
    value = plan.get((paper, run))
    return "not planned" if value is None else f"{value:.2f}"


def _metric_text(metrics: Mapping) -> str:
    """The run's first KEY_METRICS, each with the half-width of its interval where it has one."""
    shown = [
        f"{key} {metrics[key]:.4g}" + _half_width(metrics.get("ci", {}).get(key))
        for key in KEY_METRICS
        if isinstance(metrics.get(key), int | float) and not isinstance(metrics.get(key), bool)
    ]
    return ", ".join(shown[:4])


def _half_width(bounds) -> str:
    return "" if bounds is None else f" ±{(bounds[1] - bounds[0]) / 2:.2g}"


def _packages_text(record: Mapping) -> str:
    packages = record.get("packages", {})
    return ", ".join(
        f"{name} {packages[name]}" for name in ("python", "torch", "transformers") if name in packages
    )


def _hardware_text(record: Mapping) -> str:
    hw = record.get("hardware", {})
    gpus = f"{hw.get('gpus', 0)} GPU" + (f" ({', '.join(hw['gpu_names'])})" if hw.get("gpu_names") else "")
    return (
        f"{hw.get('platform', '')}, {hw.get('cpu_count', '?')} CPUs, {hw.get('threads', '?')} threads, {gpus}"
    )


def _data_text(record: Mapping) -> str:
    """The data a run read: its source and the digest of each dataset's SHA256SUMS."""
    data = record.get("data") or {}
    sums = ", ".join(
        f"{d} {(digest or 'no SHA256SUMS')[:12]}" for d, digest in data.get("raw_sha256sums", {}).items()
    )
    return f"{data.get('source') or 'unknown'}" + (f" (SHA256SUMS {sums})" if sums else "")


def _table_html(md: Path) -> str:
    """A table's markdown as HTML, without its deviations section (the paper's section has it once)."""
    text = md.read_text(encoding="utf-8").split(f"\n{DEVIATIONS_HEADING}", 1)[0]
    return markdown_html(text)


def _job_log(logs_dir: Path, paper: str, run: str) -> Path | None:
    """The log of the job that made a run's predictions (a fit or a predict job)."""
    for stage in ("fit", "predict"):
        path = logs_dir / paper / stage / f"{run}.log"
        if path.exists():
            return path
    return None


def run_rows(
    paper: str,
    runs: Sequence[str],
    shared: Mapping[str, str],
    results_dir: Path,
    logs_dir: Path,
    base: Path,
    plan: Mapping | None,
) -> list[dict]:
    """One row per run of the paper's matrix (`runs`: ftrepro.papers.runs); a run of `shared`
    ({run: the run whose model it shares}, ftrepro.papers.shared_runs) shows that run's numbers,
    provenance and logs and names it."""
    rows = []
    for run in runs:
        owner = shared.get(run, run)
        metrics_path = results_dir / paper / owner / "metrics.json"
        metrics = read_json(metrics_path) if metrics_path.exists() else None
        log = _job_log(logs_dir, paper, owner)
        record = provenance.read(log) if log else None
        score_log = logs_dir / paper / "score" / f"{owner}.log"
        links = [("job log", _href(log, base))] if log else []
        if score_log.exists():
            links.append(("score log", _href(score_log, base)))
        if metrics is not None:
            links.append(("metrics", _href(metrics_path, base)))
        rows.append(
            {
                "run": run,
                "shared_with": owner if owner != run else "",
                "status": "ok" if metrics is not None else "not run",
                "metrics": _metric_text(metrics or {}),
                "wall": f"{record['wall_s']:.1f} s" if record else "",
                "gpu_hours": f"{record['gpu_hours']:.2f}" if record else "",
                "planned": _planned(plan, paper, run),
                "commit": (record.get("git_commit") or "unknown")[:12] if record else "",
                "dirty": bool(record and (record.get("git_commit") or "").endswith("-dirty")),
                "config_hash": record["config_hash"] if record else "",
                "preset": record["preset"] if record else "",
                "packages": _packages_text(record) if record else "",
                "hardware": _hardware_text(record) if record else "",
                "data": _data_text(record) if record else "",
                "links": links,
            }
        )
    return rows


def verdict_line(paper: str, tables: Sequence[str], results_dir: Path, basis: str, preset: str) -> str:
    """ "<paper>: 18 reproduced, 3 below, 1 above of 22 cells at preset mini": the verdicts of the
    cells of the paper's `tables` (its registration's), as ftrepro.report.verdict_summary words them."""
    verdicts, cells, run = [], 0, 0
    for name in tables:
        csv = results_dir / paper / "tables" / f"{name}.csv"
        table = pd.read_csv(csv) if csv.exists() else pd.DataFrame()
        if "verdict" in table:
            verdicts += table["verdict"].tolist()
            cells += len(table)
            run += int((table["verdict"] != NOT_RUN).sum())  # every cell we have no number of
    text = f"{paper}: {verdict_summary(verdicts, basis, preset)}"
    return text + (f"; {run} of {cells} cells run" if basis == "meaningless" else "")


def summary(logs_dir: Path) -> dict:
    """Every job's provenance under logs/: totals and what they ran on."""
    records = [read_json(p) for p in sorted(logs_dir.rglob("*.provenance.json"))]
    commits = sorted({r.get("git_commit") or "unknown" for r in records})
    first = records[-1] if records else {}
    return {
        "jobs": len(records),
        "failed": sum(r.get("status") != "ok" for r in records),
        "wall_h": sum(r.get("wall_s", 0) for r in records) / 3600,
        "gpu_hours": sum(r.get("gpu_hours", 0) for r in records),
        "commits": commits,
        "config_hashes": sorted({r.get("config_hash", "") for r in records}),
        "packages": first.get("packages", {}),
        "hardware": first.get("hardware", {}),
    }


def build_report(
    out_path: str | os.PathLike,
    *,
    preset: str,
    papers: Mapping[str, Mapping],
    runs: Mapping[str, Sequence[str]],
    shared: Mapping[str, Mapping[str, str]],
    stand_ins: Mapping[str, Mapping[str, str]] | None = None,
    verdicts: Mapping[str, Mapping] | None = None,
    synthetic: bool = False,
    deviations: Mapping[str, str] | None = None,
    results_dir: str | os.PathLike = "results",
    logs_dir: str | os.PathLike = "logs",
    plan_path: str | os.PathLike | None = "results/plan.tsv",
    stats_path: str | os.PathLike | None = "results/data/stats.md",
) -> Path:
    """Write the HTML report to `out_path` (atomically) and return its path. `papers` {paper:
    {"title", "tables", "figures"}} (in report order; its registration, ftrepro.jobs.Paper: the
    names of its tables and figures under results/<preset>/<paper>/), `runs` {paper: every run of its
    matrix}, `shared` {paper: {run: the run whose model it shares}}, `stand_ins` {paper: {model:
    what the preset trains under it}} named at the top of each paper, `verdicts` {paper: its
    Verdicts fields, of which "basis"} for the line per paper that opens the report (none
    without), `preset` the preset's name, stated in words at the top with whether the data was
    `synthetic`, `deviations` {paper: its registry section in the preset (markdown)}."""
    out_path, results_dir, logs_dir = Path(out_path), Path(results_dir), Path(logs_dir)
    base = out_path.parent
    plan = read_plan(plan_path)
    sections = []
    for paper, registered in papers.items():
        tables = []
        for name in registered["tables"]:
            md = results_dir / paper / "tables" / f"{name}.md"
            csv = md.with_suffix(".csv")
            tables.append(
                {
                    "name": name,
                    "html": _table_html(md) if md.exists() else "",
                    "missing": not md.exists(),
                    "csv": _href(csv, base) if csv.exists() else None,
                }
            )
        figures = []
        for name in registered["figures"]:
            png = results_dir / paper / "figures" / f"{name}.png"
            if png.exists():
                figures.append({"name": name, "src": _image(png), "href": _href(png, base)})
        sections.append(
            {
                "id": paper,
                "title": registered["title"],
                "tables": tables,
                "figures": figures,
                "stand_ins": (stand_ins or {}).get(paper, {}),
                "deviations": markdown_html((deviations or {}).get(paper, "")),
                "runs": run_rows(
                    paper, runs[paper], shared.get(paper, {}), results_dir, logs_dir, base, plan
                ),
            }
        )
    stats = Path(stats_path) if stats_path else None
    page = _TEMPLATES.get_template("report.html.j2").render(
        preset=preset,
        synthetic=synthetic,
        preset_words=preset_words(preset, synthetic),
        built=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        sections=sections,
        verdict_lines=[
            verdict_line(paper, papers[paper]["tables"], results_dir, judged["basis"], preset)
            for paper, judged in (verdicts or {}).items()
        ],
        stats_html=markdown_html(stats.read_text(encoding="utf-8")) if stats and stats.exists() else "",
        summary=summary(logs_dir),
        plan_found=plan is not None,
    )
    with atomic_path(out_path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out_path
