"""A local run of a preset with a line per job on the console; `make demo` is its default, the
tiny preset of all three papers, raw data to results/report.html.

    python -m ftrepro.run [--preset tiny|mini|paper] [--cores N] [--target PATH ...] [-- snakemake args]

The console gets a line when a job starts (paper, stage, run), a line when it ends (its wall time
and, for a scored run, the headline metric) or fails (its log), and every --progress-every seconds
the latest progress bar of each job running that long (tqdm writes it to the job's log). Snakemake's
own output goes to logs/run/<preset>/snakemake.log; timings.json beside it keeps every job's start
and end and the time per stage (benchmarks/demo.py prints it). When jobs fail (the local profile
keeps going with the others), the tables and the report are built again from the runs that did
finish (`--config partial=true`), the rest marked "not run".

Snakemake runs through `ftrepro.warm` (the jobs' scripts run in forks of one interpreter that
has torch and transformers imported). The tiny preset runs every job on one thread: tiny models
gain nothing from a second thread, and two jobs side by side use both cores of a small machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TextIO

from ftrepro.io import atomic_path, read_json
from ftrepro.papers import PAPERS

TARGET = "results/report.html"
PRESETS = ("tiny", "mini", "paper")
# stage of each rule; a rule not listed is "other"
STAGES = {
    "data": (
        "download",
        "derive_20newsgroups",
        "derive_massive",
        "derive_superni",
        "derive_arena",
        "data_stats",
    ),
    "models": ("prepare_model",),
    "fit": (
        "fit_zhao_encoder",
        "fit_zhao_decoder",
        "fit_gupta_stl",
        "fit_gupta_mtl",
        "prefinetune_t5",
        "annotate_arena",
        "prefinetune_band_encoder",
        "fit_band_encoder",
        "fit_band_lora",
    ),
    "predict": ("predict_zhao_decoder", "predict_zhao_api", "predict_gupta_anchor"),
    "score": ("score",),
    "report": ("zhao2025_table3", "gupta2023_report", "band2025_report", "html_report", "all"),
}
STAGE_OF = {rule: stage for stage, rules in STAGES.items() for rule in rules}
# families of fit jobs, for the time per family
FAMILY_OF = {
    "fit_zhao_encoder": "zhao2025 encoders",
    "fit_zhao_decoder": "zhao2025 decoders",
    "fit_gupta_stl": "gupta2023 STL",
    "fit_gupta_mtl": "gupta2023 MTL",
    "prefinetune_t5": "gupta2023 pre-finetuning",
    "annotate_arena": "band2025 annotation",
    "prefinetune_band_encoder": "band2025 pre-finetuning",
    "fit_band_encoder": "band2025 encoders",
    "fit_band_lora": "band2025 LoRA",
}
_RULE = re.compile(r"^(?:local)?rule (\w+):$")
_FIELD = re.compile(r"^\s+(output|log|jobid|wildcards): (.*)$")
_FINISHED = re.compile(r"^Finished jobid: (\d+)")
_ERROR = re.compile(r"^Error in rule (\w+):$")
_LOG_NOTE = re.compile(r"\s+\(check log file\(s\) for error details\)$")
# outputs of the table and report rules, which partial=true builds from the finished runs
_TABLES = re.compile(r"^results/\w+/(tables|figures)/")
# the numbers a scored run is known by (metrics.json keys), in this order
_HEADLINE = re.compile(r"^(?!constrained_)(\w+_accuracy|slots_f1|rougeL|log_loss)$")
# a tqdm bar with its description: "train: 40%|####      | 8/20 [00:03<00:05, 2.1it/s]"
_BAR = re.compile(r"(?:\w[\w ]*: *)?\d+%\|[^|]*\|[^\]]*\]")
_TOTAL = re.compile(r"^total\s+(\d+)$")
_PAPER = re.compile("(" + "|".join(PAPERS) + ")")


@dataclass
class Job:
    rule: str
    jobid: int = -1
    output: str = ""
    log: str = ""
    start: float = 0.0
    end: float | None = None
    failed: bool = False

    @property
    def stage(self) -> str:
        return STAGE_OF.get(self.rule, "other")

    @property
    def paper(self) -> str:
        found = _PAPER.search(self.output) or _PAPER.search(self.rule)
        if found:
            return found.group(1)
        return "data" if self.stage in ("data", "models") else "all"

    @property
    def what(self) -> str:
        """The job's run, dataset or model: the output path's most telling part."""
        parts = Path(self.output.split(",")[0].strip()).parts
        if len(parts) >= 3 and parts[0] == "results" and parts[1] in PAPERS:
            return parts[2] if parts[2] not in ("tables", "figures") else parts[-1]
        if len(parts) >= 3 and parts[:2] in (("resources", "raw"), ("resources", "derived")):
            return parts[2]  # the dataset
        return parts[-1] if parts else self.rule

    @property
    def running(self) -> bool:
        return self.end is None and not self.failed


class Event(NamedTuple):
    kind: str  # start | end | failed
    job: Job


@dataclass
class Progress:
    """Follows snakemake's output: the job count, each job's start, end or failure."""

    started: float = field(default_factory=time.monotonic)
    total: int | None = None
    jobs: dict[int, Job] = field(default_factory=dict)
    _pending: Job | None = None
    _error_rule: str | None = None

    def feed(self, line: str) -> Event | None:
        """Read one line of output; returns an event once a job has started (its description is
        complete), ended or failed."""
        line = line.rstrip("\n")
        now = time.monotonic() - self.started
        if self.total is None and (match := _TOTAL.match(line.strip())):
            self.total = int(match.group(1))
        elif match := _RULE.match(line):
            self._pending = Job(match.group(1), start=now)
        elif match := _ERROR.match(line):
            self._error_rule = match.group(1)
        elif self._error_rule is not None and (match := _FIELD.match(line)) and match.group(1) == "jobid":
            self._error_rule = None
            job = self.jobs.get(int(match.group(2)))
            if job is not None and not job.failed:
                job.failed, job.end = True, now
                return Event("failed", job)
        elif self._pending is not None and (match := _FIELD.match(line)):
            return self._describe(*match.groups())
        elif match := _FINISHED.match(line):
            job = self.jobs.get(int(match.group(1)))
            if job is not None:
                job.end = now
                return Event("end", job)
        return None

    def _describe(self, key: str, value: str) -> Event | None:
        if key == "output":
            self._pending.output = value
        elif key == "log":
            self._pending.log = _LOG_NOTE.sub("", value)
        elif key == "jobid":
            job, self._pending = self._pending, None
            job.jobid = int(value)
            if job.jobid not in self.jobs:
                self.jobs[job.jobid] = job
                return Event("start", job)
        return None

    @property
    def done(self) -> int:
        return sum(job.end is not None and not job.failed for job in self.jobs.values())

    def line(self, job: Job) -> str:
        total = self.total or "?"
        elapsed = time.monotonic() - self.started
        return (
            f"[{len(self.jobs):>3}/{total} {int(elapsed // 60):2d}m{int(elapsed % 60):02d}s] "
            f"{job.paper:<9} {job.stage:<7} {job.what}"
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


def stage_times(jobs: Iterable[Job]) -> dict:
    """Per stage and per fit family: jobs, busy seconds (the sum of the jobs' wall times; jobs run
    side by side, so busy time can exceed the elapsed time) and the span from first start to last end."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        if job.end is None or job.failed:
            continue
        groups.setdefault(job.stage, []).append(job)
        if job.rule in FAMILY_OF:
            groups.setdefault(f"fit: {FAMILY_OF[job.rule]}", []).append(job)
    return {
        name: {
            "jobs": len(members),
            "busy_s": round(sum(j.end - j.start for j in members), 1),
            "span_s": round(max(j.end for j in members) - min(j.start for j in members), 1),
        }
        for name, members in groups.items()
    }


def snakemake_command(
    preset: str,
    cores: str,
    targets: Sequence[str],
    extra: Sequence[str],
    partial: bool = False,
    warm: bool = True,
) -> list[str]:
    config = [f"preset={preset}", *(["partial=true"] if partial else [])]
    one_thread = ["--max-threads", "1"] if preset == "tiny" else []
    runner = ["-m", "ftrepro.warm", "snakemake"] if warm else ["-m", "snakemake"]
    return [
        sys.executable,
        *runner,
        "--profile",
        "profiles/local",
        "--cores",
        cores,
        *one_thread,
        "--config",
        *config,
        *extra,
        "--",
        *targets,
    ]


def tables_only(targets: Sequence[str]) -> list[str]:
    """The targets that partial=true can build from finished runs: the papers' targets, their tables
    and figures, the report."""
    return [t for t in targets if t in ("all", *PAPERS, TARGET) or _TABLES.match(t)]


def follow(command: list[str], progress: Progress, log_path: Path, out: TextIO, every: float) -> int:
    """Run snakemake, its output to `log_path`, a line per job event and per progress bar to `out`;
    returns snakemake's exit status."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    lock = threading.Lock()

    def say(text: str) -> None:
        with lock:
            print(text, file=out, flush=True)

    stop = threading.Event()
    bars = threading.Thread(target=_say_bars, args=(progress, say, stop, every), daemon=True)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1
        )
        bars.start()
        for line in process.stdout:
            log.write(line)
            if (event := progress.feed(line)) is not None:
                say(progress.describe(event))
        code = process.wait()
    stop.set()
    return code


def _say_bars(progress: Progress, say, stop: threading.Event, every: float) -> None:
    """Every `every` seconds, the latest bar of each job running that long, when it has moved."""
    shown: dict[int, str] = {}
    while not stop.wait(every):
        now = time.monotonic() - progress.started
        for job in list(progress.jobs.values()):
            if not job.running or now - job.start < every or not job.log:
                continue
            bar = last_bar(job.log)
            if bar and shown.get(job.jobid) != bar:
                shown[job.jobid] = bar
                say(f"  ...    {job.what}: {bar}")


def run(
    preset: str = "tiny",
    cores: str = "all",
    targets: Sequence[str] = (TARGET,),
    extra: Sequence[str] = (),
    out: TextIO = sys.stdout,
    progress_every: float = 60.0,
    warm: bool = True,
) -> int:
    """Run `targets` of `preset` in the current directory; returns snakemake's exit status."""
    logs = Path("logs/run") / preset
    logs.mkdir(parents=True, exist_ok=True)
    print(f"ftrepro run: {preset} preset -> {', '.join(targets)}", file=out)
    print(f"  snakemake log: {logs / 'snakemake.log'}", file=out, flush=True)
    progress = Progress()
    command = snakemake_command(preset, cores, targets, extra, warm=warm)
    code = follow(command, progress, logs / "snakemake.log", out, progress_every)
    total_s = time.monotonic() - progress.started
    _write_timings(logs / "timings.json", progress, total_s, code, cores)
    minutes = f"{int(total_s // 60)} min {total_s % 60:.0f} s"
    if code == 0:
        print(f"ftrepro run: done in {minutes}, {len(progress.jobs)} jobs; open {targets[0]}", file=out)
        return code
    failed = [job for job in progress.jobs.values() if job.failed]
    print(f"ftrepro run: FAILED (exit {code}) after {minutes}, {len(failed)} job(s) failed", file=out)
    if failed and progress.done and (tables := tables_only(targets)):
        print(
            "ftrepro run: the tables again, from the runs that finished (partial=true)", file=out, flush=True
        )
        partial = snakemake_command(preset, cores, tables, extra, partial=True, warm=warm)
        follow(partial, Progress(), logs / "partial.log", out, progress_every)
    else:
        print(f"the end of {logs / 'snakemake.log'}:", file=out)
        print("".join((logs / "snakemake.log").read_text().splitlines(keepends=True)[-40:]), file=out)
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
                "end_s": j.end,
                "failed": j.failed,
            }
            for j in progress.jobs.values()
        ],
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(timings, indent=1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftrepro.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=PRESETS, default="tiny", help="default: %(default)s (the demo)")
    parser.add_argument("--cores", default="all", help="snakemake --cores (default: %(default)s)")
    parser.add_argument("--target", action="append", help=f"what to make (default: {TARGET})")
    parser.add_argument(
        "--progress-every",
        type=float,
        default=60.0,
        help="seconds between progress lines (default: %(default)s)",
    )
    parser.add_argument(
        "--plain", action="store_true", help="plain snakemake, without the warm interpreter (benchmarks)"
    )
    parser.add_argument("extra", nargs="*", help="more snakemake arguments, after --")
    args = parser.parse_args(argv)
    return run(
        args.preset,
        args.cores,
        args.target or [TARGET],
        args.extra,
        progress_every=args.progress_every,
        warm=not args.plain,
    )


if __name__ == "__main__":
    sys.exit(main())
