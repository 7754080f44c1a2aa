"""A local run of a preset with a line per job on the console (`ftrepro run`; `make demo` is the
tiny preset of all three papers, raw data to results/report.html).

The console gets a line when a job starts (paper, stage, run), a line when it ends (its wall time
and, for a scored run, the headline metric) or fails (its log), and every --progress-every seconds
the latest progress bar of each job running that long (tqdm writes it to the job's log). The jobs
come from Snakemake's own events: the logger plugin `ftrepro` (package
snakemake_logger_plugin_ftrepro) writes each one to logs/<preset>/run/events.jsonl, which this
module follows. A job's stage is the pipeline stage of its rule's in its paper's job table
(ftrepro.jobs.Rule.stage: fit is train, predict is evaluate, report is report), else the rules
file that defines its rule (workflow/rules/<stage>.smk);
its paper the paper its output or log path names. Snakemake's text output goes to
logs/<preset>/run/snakemake.log; timings.json beside it keeps every job's start and end and the
time per stage (benchmarks/demo.py prints it); a run with no job to do leaves the last one's. When
jobs fail (the local profile keeps going with the others), the tables and the report are built
again from the runs that did finish (`--config partial=true`), the rest marked "not run".

A partial run (`ftrepro run --partial`, and that rebuild) runs only the rules of PARTIAL_RULES
(snakemake --allowed-rules): the tables, figures and report from the runs whose metrics exist, and
the plan and data statistics where they are missing. It plans nothing upstream, so nothing that has
finished runs again, even where its --config differs from the run that made it (a changed data
source would otherwise re-plan every download, derivation and run after it). That is also why it
may run beside a live run of the same preset without the lock (--nolock): it writes only those
outputs, which the live run writes only after every run they take, each atomically, and its
Snakemake output, events and times go to partial.* files beside the live run's.

Snakemake runs through `ftrepro.warm` (the jobs' scripts run in forks of one interpreter that
has torch and transformers imported). The tiny preset runs every job on one thread: tiny models
gain nothing from a second thread, and two jobs side by side use both cores of a small machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TextIO

import yaml

from ftrepro import config as ftconfig
from ftrepro import papers
from ftrepro.config import CONFIG
from ftrepro.io import atomic_path, read_json
from ftrepro.jobs import ROOTS, in_preset, logs_path, report_file

RULES_DIR = Path("workflow/rules")
# the papers config/config.yaml registers ({id: package}; each one's rules in its job table)
REGISTRY = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["papers"]
PAPERS = tuple(REGISTRY)
# the pipeline stage (download -> derive -> train -> evaluate -> report) of a job table's rule
# stage (ftrepro.jobs.Rule.stage, which also names the rule's log folder)
PIPELINE_STAGE = {"fit": "train", "predict": "evaluate", "report": "report"}
# the stage whose jobs train models: its time is also given per family
TRAINING_STAGE = "train"
# `rule NAME:`, `checkpoint NAME:` or `use rule OTHER [from MODULE] as NAME [with:]` at a line's start
_RULE_DEFINITION = re.compile(
    r"^(?:(?:rule|checkpoint) (\w+):|use rule \S+ (?:from \S+ )?as (\w+))", re.MULTILINE
)
# outputs of the table and report rules, which partial=true builds from the finished runs
_TABLES = re.compile(r"^results/[^/]+/\w+/(tables|figures)/")
# the rules a partial run may run besides the papers' report rules and targets: the HTML report,
# all, and the plan and data statistics the report reads (made early in a run, so rarely missing)
PARTIAL_RULES = ("all", "html_report", "plan", "data_stats")
# the numbers a scored run is known by (metrics.json keys), in this order
_HEADLINE = re.compile(r"^(?!constrained_)(\w+_accuracy|slots_f1|rougeL|log_loss)$")
# a tqdm bar with its description: "train: 40%|####      | 8/20 [00:03<00:05, 2.1it/s]"
_BAR = re.compile(r"(?:\w[\w ]*: *)?\d+%\|[^|]*\|[^\]]*\]")
_POLL_S = 0.25


def rule_stages(root: Path = Path(".")) -> dict[str, str]:
    """{rule: its stage}: a paper's rule the pipeline stage of its stage in the paper's job table
    (PIPELINE_STAGE), any other the name of the rules file that defines it (workflow/rules/derive.smk: "derive");
    rules defined elsewhere (the Snakefile's `all`) have none."""
    files = {
        rule: path.stem
        for path in sorted((root / RULES_DIR).glob("*.smk"))
        for rule in _rules_defined(path.read_text())
    }
    tables = {
        rule.name: PIPELINE_STAGE[rule.stage]
        for paper in papers.registrations(REGISTRY).values()
        for rule in paper.rules
    }
    return {**files, **tables}


def rule_names(root: Path = Path(".")) -> set[str]:
    """Every rule of the workflow: those of the rules files, the Snakefile's own, and the target
    the Snakefile makes of each registered paper (its id)."""
    return set(rule_stages(root)) | set(_rules_defined((root / "Snakefile").read_text())) | set(PAPERS)


def _rules_defined(text: str) -> list[str]:
    return [plain or used for plain, used in _RULE_DEFINITION.findall(text)]


def split_config(extra: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the --config entries, the other arguments) of extra snakemake arguments. Entries are those
    after --config (or -C) and those before any option: `-- "data={...}"` continues the run's own
    --config, as one --config would replace the other."""
    entries, others, in_config = [], [], True
    for arg in extra:
        if arg in ("--config", "-C"):
            in_config = True
        elif arg.startswith("-"):
            in_config = False
            others.append(arg)
        else:
            (entries if in_config else others).append(arg)
    return entries, others


@dataclass
class Job:
    rule: str
    jobid: int = -1
    output: str = ""
    log: str = ""
    start: float = 0.0
    end: float | None = None
    failed: bool = False
    stage: str = "other"
    wildcards: dict = field(default_factory=dict)

    @property
    def paper(self) -> str:
        """The paper its output or log path names (results/<preset>/<paper>/...,
        resources/<preset>/models/<paper>/..., logs/<preset>/<paper>/...) or its `paper` wildcard;
        else "data" for data and base models, "all" for what spans the papers (the report)."""
        paths = [p.strip() for p in f"{self.output},{self.log}".split(",") if p.strip()]
        for path in paths:
            if found := next((part for part in _without_preset(path)[:3] if part in PAPERS), None):
                return found
        if self.wildcards.get("paper") in PAPERS:
            return self.wildcards["paper"]
        outputs = [_without_preset(p) for p in self.output.split(", ")]
        data = any(parts[:1] == ("resources",) or parts[:2] == ("results", "data") for parts in outputs)
        return "data" if data else "all"

    @property
    def what(self) -> str:
        """The job's run, dataset or model: the output path's most telling part."""
        parts = _without_preset(self.output.split(",")[0].strip())
        if len(parts) >= 3 and parts[0] == "results" and parts[1] in PAPERS:
            return parts[2] if parts[2] not in ("tables", "figures") else parts[-1]
        if len(parts) >= 3 and parts[:2] in (("resources", "raw"), ("resources", "derived")):
            return parts[2]  # the dataset
        return parts[-1] if parts else self.rule

    @property
    def running(self) -> bool:
        return self.end is None and not self.failed


def _without_preset(path: str) -> tuple[str, ...]:
    """The parts of a path with its preset's directory dropped (results/<preset>/x: results, x)."""
    parts = Path(path).parts
    return parts[:1] + parts[2:] if parts[:1] and parts[0] in ROOTS else parts


def family_of(job: Job) -> str | None:
    """The model family a training job trains, None for the other jobs. The one place that says
    it: a job's rule (each rule of a paper's job table trains one family, ftrepro.jobs.Rule)."""
    return job.rule if job.stage == TRAINING_STAGE else None


class Event(NamedTuple):
    kind: str  # start | end | failed
    job: Job


@dataclass
class Progress:
    """Follows Snakemake's events (snakemake_logger_plugin_ftrepro): the job count, each job's
    start, end or failure."""

    stage_of: Mapping[str, str] = field(default_factory=dict)  # rule_stages
    started: float = field(default_factory=time.time)  # seconds since the epoch, as events' "time"
    total: int | None = None
    jobs: dict[int, Job] = field(default_factory=dict)
    planned: int = 0  # jobs a dry run lists (described, never started)
    _starting: set[int] = field(default_factory=set)

    def feed(self, event: Mapping) -> Event | None:
        """Read one event; returns what the console shows once a job has started, ended or failed."""
        kind, at = event.get("event"), event.get("time", time.time()) - self.started
        if kind == "run_info" and self.total is None:
            self.total = event["stats"].get("total")
        elif kind == "job_started":  # Snakemake announces the jobs it starts, then describes each
            self._starting.update(event["jobs"])
        elif kind == "job_info" and event["jobid"] not in self._starting:
            self.planned += 1
        elif kind == "job_info" and event["jobid"] not in self.jobs:
            job = Job(
                event["rule_name"],
                event["jobid"],
                output=", ".join(event.get("output") or ()),
                log=", ".join(event.get("log") or ()),
                start=at,
                stage=self.stage_of.get(event["rule_name"], "other"),
                wildcards=event.get("wildcards") or {},
            )
            self.jobs[job.jobid] = job
            return Event("start", job)
        elif kind == "job_finished" and (job := self.jobs.get(event["job_id"])) and job.running:
            job.end = at
            return Event("end", job)
        elif kind == "job_error" and (job := self.jobs.get(event["jobid"])) and not job.failed:
            job.failed, job.end = True, at
            return Event("failed", job)
        return None

    @property
    def done(self) -> int:
        return sum(job.end is not None and not job.failed for job in self.jobs.values())

    def line(self, job: Job) -> str:
        total = self.total or "?"
        elapsed = time.time() - self.started
        return (
            f"[{len(self.jobs):>3}/{total} {int(elapsed // 60):2d}m{int(elapsed % 60):02d}s] "
            f"{job.paper:<9} {job.stage:<8} {job.what}"
        )

    def describe(self, event: Event) -> str:
        """The console line of an event: the start line, or the run's wall time and result."""
        job = event.job
        if event.kind == "start":
            return self.line(job)
        took = _duration(job.end - job.start)
        if event.kind == "failed":
            return f"  FAILED {job.what} after {took} (rule {job.rule}); see {job.log or 'the snakemake log'}"
        result = _scored(job.output)
        return f"  done   {job.what} in {took}" + (f": {result}" if result else "")


class EventFile:
    """The events a running Snakemake has appended to a file so far, read as they come."""

    def __init__(self, path: Path):
        self.path, self._offset, self._partial = Path(path), 0, b""

    def new(self) -> Iterator[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            if line.strip():
                yield json.loads(line)


def _duration(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s" if seconds >= 60 else f"{seconds:.0f}s"


def headline(metrics: Mapping) -> str:
    """The numbers a scored run is known by ("intent_accuracy 91.2, slots_f1 80.1"), '' if none."""
    return ", ".join(
        f"{key} {value:.4g}"
        for key, value in metrics.items()
        if _HEADLINE.match(key) and isinstance(value, int | float) and not isinstance(value, bool)
    )


def _scored(output: str) -> str:
    """The headline of a job's metrics.json output, '' for other jobs or an unreadable file."""
    path = Path(output.split(",")[0].strip())
    if path.name != "metrics.json":
        return ""
    try:
        return headline(read_json(path))
    except (OSError, ValueError):
        return ""


def last_bar(log: str | Path, tail_bytes: int = 4096) -> str | None:
    """The latest tqdm bar in a job's log (bars redraw with a carriage return), or None."""
    try:
        with open(log, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - tail_bytes))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return None
    bars = [match.group(0) for part in re.split(r"[\r\n]", text) if (match := _BAR.search(part))]
    return bars[-1] if bars else None  # without what a log line wrote after it


def moved_bars(progress: Progress, shown: dict[int, str], every: float) -> list[str]:
    """The latest bar of each job running for `every` seconds or more, where it moved since
    `shown` (updated)."""
    now = time.time() - progress.started
    lines = []
    for job in progress.jobs.values():
        if not job.running or now - job.start < every or not job.log:
            continue
        bar = last_bar(job.log.split(",")[0].strip())
        if bar and shown.get(job.jobid) != bar:
            shown[job.jobid] = bar
            lines.append(f"  ...    {job.what}: {bar}")
    return lines


def stage_times(jobs: Iterable[Job]) -> dict:
    """Per stage and per family of the training stage ("train: <family>"): jobs, busy seconds (the
    sum of the jobs' wall times; jobs run side by side, so busy time can exceed the elapsed time)
    and the span from first start to last end."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        if job.end is None or job.failed:
            continue
        groups.setdefault(job.stage, []).append(job)
        if family := family_of(job):
            groups.setdefault(f"{job.stage}: {family}", []).append(job)
    return {
        name: {
            "jobs": len(members),
            "busy_s": round(sum(j.end - j.start for j in members), 1),
            "span_s": round(max(j.end for j in members) - min(j.start for j in members), 1),
        }
        for name, members in groups.items()
    }


def data_line(preset: str, extra: Sequence[str] = (), config_file: str | Path = "config/config.yaml") -> str:
    """What the run reads, for the console at its start and end: the resolved data.source of the
    preset with the `--config` entries among `extra` (split_config). A config that does not load
    is left to snakemake to report."""
    entries, _ = split_config(extra)
    try:
        overrides = {"preset": preset, **ftconfig.typed_overrides(entries)}
        data = ftconfig.load(config_file, overrides).data
    except Exception:  # noqa: BLE001 (snakemake reports a bad config with its key)
        return "data: see the snakemake log"
    if data.synthetic:
        return "data: synthetic data (data.source: synthetic), not the papers' datasets: no number of this run is a result"
    where = f" from {data.local_dir}" if data.source == "local" else ""
    return f"data: the real datasets (data.source: {data.source}{where})"


def snakemake_command(
    preset: str,
    cores: str,
    targets: Sequence[str],
    extra: Sequence[str],
    events: Path,
    partial: bool = False,
    warm: bool = True,
) -> list[str]:
    entries, options = split_config(extra)
    config = [f"preset={preset}", *(["partial=true"] if partial else []), *entries]
    one_thread = ["--max-threads", "1"] if preset == "tiny" else []
    runner = ["-m", "ftrepro.warm", "snakemake"] if warm else ["-m", "snakemake"]
    # only the tables, figures and report, beside a live run if there is one (the module's doc)
    only_tables = ["--allowed-rules", *partial_rules(), "--nolock"] if partial else []
    return [
        sys.executable,
        *runner,
        "--profile",
        "profiles/local",
        "--cores",
        cores,
        *one_thread,
        "--logger",
        "ftrepro",
        "--logger-ftrepro-events",
        str(events),
        *only_tables,
        *options,
        "--config",
        *config,
        "--",
        *targets,
    ]


def partial_rules() -> list[str]:
    """The rules a partial run may run: each paper's target and its report rules (stage report in
    its job table), and PARTIAL_RULES."""
    reports = [
        rule.name
        for paper in papers.registrations(REGISTRY).values()
        for rule in paper.rules
        if rule.stage == "report"
    ]
    return [*PAPERS, *reports, *PARTIAL_RULES]


def report_target(preset: str) -> str:
    """The preset's HTML report, results/<preset>/report.html: what a run makes by default."""
    return in_preset(report_file(), preset)


def tables_only(targets: Sequence[str], preset: str) -> list[str]:
    """The targets that partial=true can build from finished runs: the papers' targets, their tables
    and figures, the report."""
    return [t for t in targets if t in ("all", *PAPERS, report_target(preset)) or _TABLES.match(t)]


def follow(
    command: list[str], events: Path, progress: Progress, log_path: Path, out: TextIO, every: float
) -> int:
    """Run snakemake, its output to `log_path`, its `events` (the file its logger plugin writes) to
    a line per job on `out`, and every `every` seconds the bars that moved; returns snakemake's
    exit status."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    Path(events).write_text("")
    events = EventFile(events)
    shown: dict[int, str] = {}
    next_bars = time.monotonic() + every
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        while True:
            ended = process.poll() is not None
            lines = [progress.describe(e) for e in map(progress.feed, events.new()) if e is not None]
            if time.monotonic() >= next_bars:
                lines += moved_bars(progress, shown, every)
                next_bars += every
            if lines:
                print("\n".join(lines), file=out, flush=True)
            if ended:
                return process.returncode
            time.sleep(_POLL_S)


def run_title(preset: str, targets: Sequence[str]) -> str:
    """What a run is, said at its start and again at its end."""
    return f"{preset} preset -> {', '.join(targets)}"


def console_dir(preset: str) -> Path:
    """logs/<preset>/run/: Snakemake's output, its events and the times of a preset's runs."""
    return Path(in_preset(logs_path("run"), preset))


def run(
    preset: str = "tiny",
    cores: str = "all",
    targets: Sequence[str] | None = None,
    extra: Sequence[str] = (),
    out: TextIO = sys.stdout,
    progress_every: float = 60.0,
    warm: bool = True,
    partial: bool = False,
) -> int:
    """Run `targets` of `preset` (default: its report) in the current directory; with `partial`,
    only their tables, figures and report, from the runs that have finished (the module's doc).
    Returns snakemake's exit status."""
    targets = list(targets or [report_target(preset)])
    logs = console_dir(preset)
    logs.mkdir(parents=True, exist_ok=True)
    # a partial run's files stay beside a live run's
    name = "partial" if partial else "snakemake"
    log_path, events = logs / f"{name}.log", logs / ("partial.events.jsonl" if partial else "events.jsonl")
    title, data = run_title(preset, targets) + (" (partial)" if partial else ""), data_line(preset, extra)
    print(f"ftrepro run: {title}", file=out)
    print(f"  {data}", file=out)
    print(f"  snakemake log: {log_path}", file=out, flush=True)
    progress = Progress(rule_stages())
    command = snakemake_command(preset, cores, targets, extra, events, partial=partial, warm=warm)
    code = follow(command, events, progress, log_path, out, progress_every)
    total_s = time.time() - progress.started
    minutes = f"{int(total_s // 60)} min {total_s % 60:.0f} s"
    if progress.jobs and not partial:  # a run with nothing to do keeps the last real run's timings
        _write_timings(logs / "timings.json", progress, total_s, code, cores)
    if code == 0:
        jobs = f"{len(progress.jobs)} jobs" if progress.jobs else "nothing to do (all up to date)"
        if progress.planned and not progress.jobs:
            jobs = f"a dry run, {progress.planned} jobs to do"
        print(f"ftrepro run: {title}: done in {minutes}, {jobs}; open {targets[0]}", file=out)
        print(f"  {data}", file=out)
        return code
    failed = [job for job in progress.jobs.values() if job.failed]
    print(
        f"ftrepro run: {title}: FAILED (exit {code}) after {minutes}, {len(failed)} job(s) failed", file=out
    )
    print(f"  {data}", file=out)
    if failed and progress.done and not partial and (tables := tables_only(targets, preset)):
        print(
            "ftrepro run: the tables again, from the runs that finished (partial=true)", file=out, flush=True
        )
        events = logs / "partial.events.jsonl"
        again = snakemake_command(preset, cores, tables, extra, events, partial=True, warm=warm)
        follow(again, events, Progress(progress.stage_of), logs / "partial.log", out, progress_every)
    else:
        print(f"the end of {log_path}:", file=out)
        print("".join(log_path.read_text().splitlines(keepends=True)[-40:]), file=out)
    return code


def _write_timings(path: Path, progress: Progress, total_s: float, code: int, cores: str) -> None:
    timings = {
        "total_s": round(total_s, 1),
        "exit_status": code,
        "cores": cores,
        "jobs": len(progress.jobs),
        "stages": stage_times(progress.jobs.values()),
        "job_times": [
            {
                "rule": j.rule,
                "output": j.output,
                "start_s": round(j.start, 1),
                "end_s": None if j.end is None else round(j.end, 1),
                "failed": j.failed,
            }
            for j in progress.jobs.values()
        ],
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(timings, indent=1))
