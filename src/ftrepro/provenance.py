"""Where a job's results come from: written by every job (ftrepro.workflow.job) beside its log,
read by the HTML report.

`<log without .log>.provenance.json`: {"rule", "wildcards", "status" (ok | failed), "started",
"wall_s", "git_commit" (with "-dirty" when the work tree had changes), "config_hash" (sha256 of
the whole config, first 12 hex digits), "preset", "packages" {name: version}, "hardware"
{"platform", "cpu_count", "threads", "gpus", "gpu_names"}, "gpu_hours" (wall time x GPUs the
job asked for), "data" {"source" (synthetic | local | hub), "raw_sha256sums" {dataset: sha256 of
resources/<preset>/raw/<dataset>/SHA256SUMS, the list of the raw files' digests; null when absent}, for
the datasets the job's inputs and outputs read or write}, "log"}.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path

from ftrepro.config import data_source
from ftrepro.io import read_json, write_json

PACKAGES = ("ftrepro", "torch", "transformers", "accelerate", "peft", "tokenizers", "snakemake")
# a dataset's raw or derived files, as the rules name them (ftrepro.jobs.raw_data, derived_data):
# resources/<preset>/raw/<dataset>, resources/<preset>/derived/<dataset>
_DATASET_PATH = re.compile(r"(?:^|/)(resources/[^/]+)/(?:raw|derived)/([^/]+)")


def provenance_path(log_path: str | Path) -> Path:
    log_path = Path(log_path)
    return log_path.with_name(log_path.name.removesuffix(".log") + ".provenance.json")


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]


def git_commit(where: str | Path) -> str | None:
    """HEAD of the repository holding `where`, "-dirty" when tracked files differ; None outside one."""
    try:
        head = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if head.returncode:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


def package_versions(names=PACKAGES) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def hardware(threads: int, gpus: int) -> dict:
    names = []
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "platform": f"{platform.system()} {platform.machine()}",
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "threads": threads,
        "gpus": gpus,
        "gpu_names": names,
    }


def data_used(config: Mapping, paths: Iterable[str]) -> dict:
    """{"source", "raw_sha256sums" {dataset: digest}} of the datasets named in `paths` (a job's
    inputs and outputs): the digest of SHA256SUMS pins every raw file the dataset was made from."""
    raw = {
        m.group(2): Path(m.group(1), "raw", m.group(2)) for p in paths if (m := _DATASET_PATH.search(str(p)))
    }
    sums = {}
    for dataset, raw_dir in sorted(raw.items()):
        listing = raw_dir / "SHA256SUMS"
        sums[dataset] = hashlib.sha256(listing.read_bytes()).hexdigest() if listing.is_file() else None
    try:
        source = data_source(config)
    except (KeyError, TypeError):  # a config without presets (a test's stub): as given
        source = (config.get("data") or {}).get("source")
    return {"source": source, "raw_sha256sums": sums}


def record(snakemake, started: dt.datetime, wall_s: float, status: str) -> Path | None:
    """Write the provenance of the job `snakemake` describes beside its log; None without a log."""
    if not snakemake.log:
        return None
    config = dict(getattr(snakemake, "config", {}))
    resources = getattr(snakemake, "resources", {})
    gpus = int(resources.get("gpu", 0) or 0)
    wildcards = getattr(snakemake, "wildcards", {})
    workflow_dir = getattr(snakemake, "scriptdir", None) or os.getcwd()
    path = provenance_path(snakemake.log[0])
    write_json(
        path,
        {
            "rule": snakemake.rule,
            "wildcards": dict(wildcards.items()),
            "status": status,
            "started": started.isoformat(timespec="seconds"),
            "wall_s": round(wall_s, 2),
            "git_commit": git_commit(workflow_dir),
            "config_hash": config_hash(config),
            "preset": config.get("preset"),
            "packages": package_versions(),
            "hardware": hardware(int(snakemake.threads), gpus),
            "gpu_hours": round(wall_s / 3600 * gpus, 4),
            "data": data_used(config, [*getattr(snakemake, "input", []), *getattr(snakemake, "output", [])]),
            "log": str(snakemake.log[0]),
        },
    )
    return path


def read(log_path: str | Path) -> dict | None:
    """The provenance written beside `log_path`, None when the job wrote none."""
    path = provenance_path(log_path)
    return read_json(path) if path.exists() else None
