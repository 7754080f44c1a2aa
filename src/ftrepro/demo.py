"""`make demo`: the tiny preset of all three papers, raw data to results/report.html, with a
line per job saying which paper and stage it is on.

    python -m ftrepro.demo [--cores N] [--target PATH ...] [-- more snakemake arguments]

Snakemake runs through `ftrepro.warm` (the jobs' scripts run in forks of one interpreter that
has torch and transformers imported) with every job on one thread: tiny models gain nothing from
a second thread, and two jobs side by side use both cores of a small machine. Snakemake's own
output goes to logs/demo/snakemake.log; logs/demo/timings.json keeps the start and end of every
job and the time per stage (benchmarks/demo.py prints it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ftrepro.io import atomic_path

TARGET = "results/report.html"
LOG = Path("logs/demo/snakemake.log")
TIMINGS = Path("logs/demo/timings.json")
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
_FIELD = re.compile(r"^\s+(output|jobid|wildcards): (.*)$")
_FINISHED = re.compile(r"^Finished jobid: (\d+)")
_TOTAL = re.compile(r"^total\s+(\d+)$")
_PAPER = re.compile(r"(zhao2025|gupta2023|band2025)")


@dataclass
class Job:
    rule: str
    jobid: int = -1
    output: str = ""
    start: float = 0.0
    end: float | None = None

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
        if len(parts) >= 3 and parts[0] == "results" and parts[1] in ("zhao2025", "gupta2023", "band2025"):
            return parts[2] if parts[2] not in ("tables", "figures") else parts[-1]
        if len(parts) >= 3 and parts[:2] in (("resources", "raw"), ("resources", "derived")):
            return parts[2]  # the dataset
        return parts[-1] if parts else self.rule


@dataclass
class Progress:
    """Follows snakemake's output: the job count, each job's start and end."""

    started: float = field(default_factory=time.monotonic)
    total: int | None = None
    jobs: dict[int, Job] = field(default_factory=dict)
    _pending: Job | None = None

    def feed(self, line: str) -> Job | None:
        """Read one line of output; returns a job once its description is complete."""
        line = line.rstrip("\n")
        now = time.monotonic() - self.started
        if self.total is None and (match := _TOTAL.match(line.strip())):
            self.total = int(match.group(1))
        elif match := _RULE.match(line):
            self._pending = Job(match.group(1), start=now)
        elif self._pending is not None and (match := _FIELD.match(line)):
            key, value = match.groups()
            if key == "output":
                self._pending.output = value
            elif key == "jobid":
                job, self._pending = self._pending, None
                job.jobid = int(value)
                if job.jobid not in self.jobs:
                    self.jobs[job.jobid] = job
                    return job
        elif match := _FINISHED.match(line):
            job = self.jobs.get(int(match.group(1)))
            if job is not None:
                job.end = now
        return None

    @property
    def done(self) -> int:
        return sum(job.end is not None for job in self.jobs.values())

    def line(self, job: Job) -> str:
        total = self.total or "?"
        elapsed = time.monotonic() - self.started
        return (
            f"[{len(self.jobs):>3}/{total} {int(elapsed // 60):2d}m{int(elapsed % 60):02d}s] "
            f"{job.paper:<9} {job.stage:<7} {job.what}"
        )


def stage_times(jobs: Iterable[Job]) -> dict:
    """Per stage and per fit family: jobs, busy seconds (the sum of the jobs' wall times; jobs run
    side by side, so busy time can exceed the elapsed time) and the span from first start to last end."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        if job.end is None:
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


def snakemake_command(cores: str, targets: Sequence[str], extra: Sequence[str]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ftrepro.warm",
        "snakemake",
        "--profile",
        "profiles/local",
        "--cores",
        cores,
        "--max-threads",
        "1",
        "--config",
        "preset=tiny",
        *extra,
        "--",
        *targets,
    ]


def run(
    cores: str = "all", targets: Sequence[str] = (TARGET,), extra: Sequence[str] = (), out=sys.stdout
) -> int:
    """Run the demo in the current directory; returns snakemake's exit status."""
    LOG.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = snakemake_command(cores, targets, extra)
    print(f"ftrepro demo: tiny preset, all three papers -> {', '.join(targets)}", file=out)
    print(f"  snakemake log: {LOG}", file=out, flush=True)
    progress = Progress()
    with open(LOG, "w") as log:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, bufsize=1
        )
        for line in process.stdout:
            log.write(line)
            job = progress.feed(line)
            if job is not None:
                print(progress.line(job), file=out, flush=True)
        code = process.wait()
    total_s = time.monotonic() - progress.started
    timings = {
        "total_s": round(total_s, 1),
        "exit_status": code,
        "cores": cores,
        "jobs": len(progress.jobs),
        "stages": stage_times(progress.jobs.values()),
        "job_times": [
            {"rule": j.rule, "output": j.output, "start_s": round(j.start, 1), "end_s": j.end}
            for j in progress.jobs.values()
        ],
    }
    with atomic_path(TIMINGS) as tmp:
        tmp.write_text(json.dumps(timings, indent=1))
    minutes = f"{int(total_s // 60)} min {total_s % 60:.0f} s"
    if code == 0:
        print(f"ftrepro demo: done in {minutes}, {len(progress.jobs)} jobs; open {targets[0]}", file=out)
    else:
        print(f"ftrepro demo: FAILED (exit {code}) after {minutes}; the end of {LOG}:", file=out)
        print("".join(LOG.read_text().splitlines(keepends=True)[-40:]), file=out)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ftrepro.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cores", default="all", help="snakemake --cores (default: %(default)s)")
    parser.add_argument("--target", action="append", help=f"what to make (default: {TARGET})")
    parser.add_argument("extra", nargs="*", help="more snakemake arguments, after --")
    args = parser.parse_args(argv)
    return run(args.cores, args.target or [TARGET], args.extra)


if __name__ == "__main__":
    sys.exit(main())
