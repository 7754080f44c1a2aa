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

It reads at a glance: a summary first (per paper the cells run, the verdict counts, the jobs' wall
and GPU time), the provenance every run shares stated once (a run's row shows only what differs
from it), each table with the paper's number, ours and the difference in columns of their own
where its paper registers a layout (ftrepro.jobs.Paper.layout), and the long parts (runs,
provenance, data statistics, deviations, loss curves) collapsed. Each trained run's loss curves
(its train_log.jsonl, ftrepro.report.curves) are drawn per family, stamped like every figure.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import pkgutil
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from html import escape
from pathlib import Path

import jinja2
import pandas as pd
from markdown_it import MarkdownIt

from ftrepro import provenance
from ftrepro.deviations import HEADING as DEVIATIONS_HEADING
from ftrepro.io import atomic_path, read_json, read_jsonl
from ftrepro.jobs import run_at
from ftrepro.report import (
    ABOVE,
    BELOW,
    COMPARED,
    DIFFERENCE,
    NOT_RUN,
    OURS,
    REPRODUCED,
    SYNTHETIC_DATA,
    VERDICT,
    figure_png,
    stamp_figure,
    verdict_summary,
)
from ftrepro.report.curves import family_curves

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


def _image(png: Path | bytes) -> str:
    data = png if isinstance(png, bytes) else png.read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def read_plan(path: str | os.PathLike | None) -> dict[tuple[str, str], float] | None:
    """{(paper, run): GPU-hours planned} from results/<preset>/plan.tsv (ftrepro.plan: a row per job,
    named by its output `job`, results/<preset>/<paper>/<run>/<file>); None when there is none. Jobs
    outside a run's directory (pre-fine-tuning, annotation) have no row of their own in the report."""
    table = _plan_table(path)
    if table is None:
        return None
    plan = {}
    for job, hours in zip(table["job"], table["gpu_hours"]):
        if Path(job).parts[:1] == ("results",) and len(Path(job).parts) == 5 and pd.notna(hours):
            paper, run, _ = run_at(job)
            plan[paper, run] = float(hours)
    return plan


def _plan_table(path: str | os.PathLike | None) -> pd.DataFrame | None:
    return pd.read_csv(path, sep="\t") if path is not None and Path(path).exists() else None


def planned_by_paper(path: str | os.PathLike | None) -> dict[str, float] | None:
    """{paper: GPU-hours planned for all its jobs} from results/<preset>/plan.tsv; None when there is none."""
    table = _plan_table(path)
    if table is None:
        return None
    return {str(paper): float(hours) for paper, hours in table.groupby("paper")["gpu_hours"].sum().items()}


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


def _table_html(md: Path, layout: Callable[[str, pd.DataFrame], pd.DataFrame | None] | None = None) -> str:
    """A table's markdown as HTML, without its deviations section (the paper's section has it once),
    short: its title and first paragraph, its notes collapsed, the table, the lines under it, and
    each section after them (## headings: secondary tables) collapsed. With its paper's `layout`
    ((table name, its CSV) -> a frame of ftrepro.report.compared, or None) the table is the CSV laid
    out with paper, ours and the difference in columns of their own."""
    text = md.read_text(encoding="utf-8").split(f"\n{DEVIATIONS_HEADING}", 1)[0]
    csv = md.with_suffix(".csv")
    frame = layout(md.stem, pd.read_csv(csv)) if layout is not None and csv.exists() else None
    before, table, after = split_first_table(text)
    paragraphs = [p for p in before.split("\n\n") if p.strip()]
    lead, *sections = re.split(r"^(?=## )", after, flags=re.MULTILINE)
    html = markdown_html("\n\n".join(paragraphs[:2]))
    if paragraphs[2:]:
        html += _collapsed("Notes on this table", "\n\n".join(paragraphs[2:]))
    if frame is None:
        html += markdown_html(table)
    else:
        html += _TEMPLATES.get_template("compared.html.j2").render(**compared_view(frame))
    html += markdown_html(lead)
    for section in sections:
        heading, _, body = section.partition("\n")
        html += _collapsed(heading.removeprefix("## "), body)
    return html


def _collapsed(summary: str, text: str) -> str:
    return f'<details class="notes"><summary>{escape(summary)}</summary>{markdown_html(text)}</details>'


def split_first_table(text: str) -> tuple[str, str, str]:
    """A markdown text around its first pipe table: (what comes before it, the table, what comes
    after it)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), len(lines))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return tuple("\n".join(part) for part in (lines[:start], lines[start:end], lines[end:]))


VERDICT_MARKS = {REPRODUCED: "✓", ABOVE: "▲", BELOW: "▼"}


# compared groups (paper, ours, Δ) in one table of the page; more wrap into another below it
GROUPS_PER_TABLE = 4


def compared_view(frame: pd.DataFrame) -> dict:
    """A frame of ftrepro.report.compared as the compared.html.j2 template draws it: blocks of at
    most GROUPS_PER_TABLE groups, each a table with the key columns, two header rows (the groups,
    then paper / ours / Δ = ours - paper, and a verdict mark where the table gives any verdict) and
    rows of cells, each with its text, class (the difference: pos or neg by its sign) and title;
    the extra columns go with the last block."""
    source, spec = frame.attrs.get("source", "paper"), frame.attrs.get("spec", ".1f")
    verdicts = bool(
        VERDICT in frame.columns.get_level_values(1)
        and frame.xs(VERDICT, axis=1, level=1).isin(COMPARED).any(axis=None)
    )
    shown = [c for c in frame.columns if c[1] != VERDICT or verdicts]
    groups = list(dict.fromkeys(group for group, part in shown if part))
    first = shown.index(next(c for c in shown if c[1])) if groups else len(shown)
    keys, extra = shown[:first], [c for c in shown[first:] if not c[1]]
    chunks = [groups[i : i + GROUPS_PER_TABLE] for i in range(0, len(groups), GROUPS_PER_TABLE)] or [[]]
    blocks = []
    for n, chunk in enumerate(chunks):
        columns = (
            keys + [c for c in shown if c[0] in chunk and c[1]] + (extra if n == len(chunks) - 1 else [])
        )
        blocks.append(_block(frame, columns, source, spec))
    return {"blocks": blocks, "source": source, "verdicts": verdicts}


def _block(frame: pd.DataFrame, columns: list[tuple[str, str]], source: str, spec: str) -> dict:
    parts = {"paper": source, OURS: "ours", DIFFERENCE: "Δ", VERDICT: ""}
    top = [
        {"text": group, "span": sum(g == group for g, _ in columns), "key": (group, "") in columns}
        for group in dict.fromkeys(group for group, _ in columns)
    ]
    sub = [
        {"text": parts[part], "part": part, "title": f"ours − {source}" if part == DIFFERENCE else ""}
        for _, part in columns
        if part
    ]
    rows = [[_cell(part, row[(group, part)], spec) for group, part in columns] for _, row in frame.iterrows()]
    return {"top": top, "sub": sub, "rows": rows}


def _cell(part: str, value, spec: str) -> dict:
    """A cell of compared_view: its text, class and title (the verdict's word on its mark)."""
    if part == DIFFERENCE:
        if pd.isna(value):
            return {"text": "", "cls": "num", "title": ""}
        text = format(value, "+" + spec)
        zero = float(text) == 0  # no sign where it rounds to nothing at the table's precision
        sign = "" if zero else "pos" if value > 0 else "neg"
        return {"text": text.replace("-", "−"), "cls": f"num {sign}".strip(), "title": ""}
    if part == VERDICT:
        word = value if value in COMPARED else ""
        return {"text": VERDICT_MARKS.get(word, ""), "cls": "verdict", "title": word}
    return {"text": "" if pd.isna(value) else str(value), "cls": "num" if part else "key", "title": ""}


def loss_curves(
    paper: str,
    families: Mapping[str, Mapping[str, str]],
    *,
    preset: str,
    stand_ins: Mapping[str, str],
    synthetic: bool,
) -> list[dict]:
    """A stamped PNG (as a data URI) per family of the paper's trained runs ({family: {run: its
    train_log.jsonl}}, those that exist), with the runs' train and eval loss."""
    figures = []
    for family, logs in families.items():
        histories = {run: read_jsonl(path) for run, path in logs.items() if Path(path).is_file()}
        if not histories:
            continue
        fig = family_curves(histories, f"{paper} {family}: loss per optimizer step")
        # the paper's stand-ins, as on its other figures: a run's name need not name its model
        stamp_figure(fig, synthetic=synthetic, preset=preset, stand_ins=stand_ins)
        figures.append({"family": family, "runs": len(histories), "src": _image(figure_png(fig))})
    return figures


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
                "provenance": provenance_fields(record) if record else {},
                "links": links,
            }
        )
    return rows


def provenance_fields(record: Mapping) -> dict[str, str]:
    """A job's provenance as the report words it, by field: what a run's row shows where it differs
    from the provenance every run shares (common_provenance)."""
    commit = record.get("git_commit") or "unknown"
    dirty = " (uncommitted changes)" if commit.endswith("-dirty") else ""
    return {
        "git commit": commit[:12] + dirty,
        "config hash": record.get("config_hash", ""),
        "preset": record.get("preset") or "",
        "data": _data_text(record),
        "packages": _packages_text(record),
        "hardware": _hardware_text(record),
    }


PROVENANCE_FIELDS = tuple(provenance_fields({}))


def common_provenance(rows: Sequence[Mapping]) -> tuple[dict[str, str], list[str]]:
    """({field: its value} of the fields every run with provenance agrees on, [the fields whose value
    differs between runs]) over run rows (run_rows) of every paper: the report states the first
    once and gives the second a column in the runs' tables."""
    values = {
        field: {row["provenance"][field] for row in rows if row["provenance"]} for field in PROVENANCE_FIELDS
    }
    common = {field: found.pop() for field, found in values.items() if len(found) == 1}
    return common, [field for field, found in values.items() if len(found) > 1]


def verdict_line(paper: str, tables: Sequence[str], results_dir: Path, basis: str, preset: str) -> str:
    """ "<paper>: 18 reproduced, 3 below, 1 above of 22 cells at preset mini": the verdicts of the
    cells of the paper's `tables` (its registration's), as ftrepro.report.verdict_summary words them."""
    verdicts = table_verdicts(paper, tables, results_dir)
    run = sum(verdict != NOT_RUN for verdict in verdicts)  # every cell we have no number of
    text = f"{paper}: {verdict_summary(verdicts, basis, preset)}"
    return text + (f"; {run} of {len(verdicts)} cells run" if basis == "meaningless" else "")


def table_verdicts(paper: str, tables: Sequence[str], results_dir: Path) -> list[str]:
    """The verdict of every cell of the paper's `tables` (their CSVs' verdict column; a table
    without one has no cells to count)."""
    verdicts = []
    for name in tables:
        csv = results_dir / paper / "tables" / f"{name}.csv"
        table = pd.read_csv(csv) if csv.exists() else pd.DataFrame()
        if "verdict" in table:
            verdicts += table["verdict"].tolist()
    return verdicts


def paper_summary(
    paper: str,
    tables: Sequence[str],
    basis: str | None,
    results_dir: Path,
    logs_dir: Path,
    planned: Mapping[str, float] | None,
) -> dict:
    """A paper's line of the summary that opens the report: its cells run, their verdict counts
    (None where the preset's `basis` makes them meaningless, or none was given), its jobs and their
    wall and GPU time (the provenance under logs/<paper>/) and the GPU-hours planned for them."""
    verdicts = table_verdicts(paper, tables, results_dir)
    counts = Counter(verdicts)
    records = [read_json(p) for p in sorted((logs_dir / paper).rglob("*.provenance.json"))]
    return {
        "paper": paper,
        "cells": len(verdicts),
        "run": len(verdicts) - counts[NOT_RUN],
        "verdicts": None if basis in (None, "meaningless") else {v: counts[v] for v in COMPARED},
        "jobs": len(records),
        "failed": sum(r.get("status") != "ok" for r in records),
        "wall": duration(sum(r.get("wall_s", 0) for r in records)),
        "gpu_hours": f"{sum(r.get('gpu_hours', 0) for r in records):.2f}",
        "planned": "not planned" if planned is None else f"{planned.get(paper, 0.0):.2f}",
    }


def duration(seconds: float) -> str:
    """ "45 s", "12.5 min", "3.2 h": a wall time a reader takes in at once."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


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
    train_logs: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
    results_dir: str | os.PathLike = "results",
    logs_dir: str | os.PathLike = "logs",
    plan_path: str | os.PathLike | None = "results/plan.tsv",
    stats_path: str | os.PathLike | None = "results/data/stats.md",
) -> Path:
    """Write the HTML report to `out_path` (atomically) and return its path. `papers` {paper:
    {"title", "tables", "figures", optionally "layout"}} (in report order; its registration,
    ftrepro.jobs.Paper: the names of its tables and figures under results/<preset>/<paper>/, and the
    "module:function" laying its tables' CSVs out), `runs` {paper: every run of its matrix},
    `shared` {paper: {run: the run whose model it shares}}, `stand_ins` {paper: {model: what the
    preset trains under it}} named at the top of each paper and on its loss curves, `verdicts`
    {paper: its Verdicts fields, of which "basis"} for the line per paper that opens the report
    (none without), `preset` the preset's name, stated in words at the top with whether the data
    was `synthetic`, `deviations` {paper: its registry section in the preset (markdown)},
    `train_logs` {paper: {family: {run: its train_log.jsonl}}} of the trained runs (their loss
    curves)."""
    out_path, results_dir, logs_dir = Path(out_path), Path(results_dir), Path(logs_dir)
    base = out_path.parent
    plan = read_plan(plan_path)
    sections = []
    for paper, registered in papers.items():
        layout = pkgutil.resolve_name(registered["layout"]) if registered.get("layout") else None
        sections.append(
            {
                "id": paper,
                "title": registered["title"],
                "tables": [_table(paper, name, layout, results_dir, base) for name in registered["tables"]],
                "figures": _figures(paper, registered["figures"], results_dir, base),
                "stand_ins": (stand_ins or {}).get(paper, {}),
                "deviations": markdown_html((deviations or {}).get(paper, "")),
                "runs": run_rows(
                    paper, runs[paper], shared.get(paper, {}), results_dir, logs_dir, base, plan
                ),
                "curves": loss_curves(
                    paper,
                    (train_logs or {}).get(paper, {}),
                    preset=preset,
                    stand_ins=(stand_ins or {}).get(paper, {}),
                    synthetic=synthetic,
                ),
            }
        )
    common, differing = common_provenance([row for s in sections for row in s["runs"]])
    planned = planned_by_paper(plan_path)
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
        papers_summary=[
            paper_summary(
                paper,
                registered["tables"],
                (verdicts or {}).get(paper, {}).get("basis"),
                results_dir,
                logs_dir,
                planned,
            )
            for paper, registered in papers.items()
        ],
        common=common,
        differing=differing,
        stats_html=markdown_html(stats.read_text(encoding="utf-8")) if stats and stats.exists() else "",
        summary=summary(logs_dir),
        plan_found=plan is not None,
    )
    with atomic_path(out_path) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out_path


def _table(paper: str, name: str, layout, results_dir: Path, base: Path) -> dict:
    md = results_dir / paper / "tables" / f"{name}.md"
    csv = md.with_suffix(".csv")
    return {
        "name": name,
        "html": _table_html(md, layout) if md.exists() else "",
        "missing": not md.exists(),
        "csv": _href(csv, base) if csv.exists() else None,
    }


def _figures(paper: str, names: Sequence[str], results_dir: Path, base: Path) -> list[dict]:
    pngs = [(name, results_dir / paper / "figures" / f"{name}.png") for name in names]
    return [
        {"name": name, "src": _image(png), "href": _href(png, base)} for name, png in pngs if png.exists()
    ]
