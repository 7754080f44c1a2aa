"""Helpers for the thin entry points in workflow/scripts/ (run by Snakemake's `script:`): the job's
log and provenance, its threads, its params, and its checkpoint fingerprint."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import sys
import time
from collections.abc import Iterator

from ftrepro import provenance
from ftrepro.fit import job_fingerprint
from ftrepro.io import redact_urls


class RedactedLog(io.TextIOBase):
    """A job's log file that never shows the user:password part of a URL (ftrepro.io.redact_urls),
    whatever this process writes to it: logging, tracebacks, warnings, progress bars. (Processes
    it starts, the training processes under torchrun, write to the file itself.)"""

    def __init__(self, stream):
        self.stream = stream

    @property
    def encoding(self) -> str:
        return self.stream.encoding

    def write(self, text: str) -> int:
        self.stream.write(redact_urls(text))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def job(snakemake) -> Iterator[logging.Logger]:
    """Set up a job: stderr and logging go to its log file (tracebacks included; URLs without
    their user:password), torch uses the job's threads rather than every core of the node it
    landed on, and the job's provenance (ftrepro.provenance) is written beside the log when it
    ends."""
    limit_threads(snakemake.threads)
    log_path = snakemake.log[0]
    started, clock = dt.datetime.now(dt.UTC), time.monotonic()
    status = "failed"
    with open(log_path, "w", buffering=1) as file, contextlib.redirect_stderr(RedactedLog(file)) as log:
        logging.basicConfig(
            stream=log, level=logging.INFO, format="%(asctime)s %(name)s %(message)s", force=True
        )
        logger = logging.getLogger(f"ftrepro.{snakemake.rule}")
        try:
            yield logger
            status = "ok"
        except BaseException:
            logger.exception("job failed")
            raise
        finally:
            try:
                provenance.record(snakemake, started, time.monotonic() - clock, status)
            except Exception:  # provenance never fails a job
                logger.exception("could not write the job's provenance")


def limit_threads(threads: int) -> None:
    """The one place torch's threads are set: a job's (snakemake's threads), or a benchmark's."""
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    torch = sys.modules.get("torch")  # jobs that never import torch should not pay for it
    if torch is not None:
        torch.set_num_threads(threads)


def api_settings(snakemake) -> dict:
    """The API client's settings: config api (how it calls: concurrency, retries, timeout, which
    no answer depends on), under the rule's `api` params (what the answers depend on, which the
    job's fingerprint covers), with the base URL as configured: rules pass it redacted
    (ftrepro.io.redact_urls), since snakemake stores params in .snakemake/metadata; the job takes
    its user:password back from the config, which snakemake stores nowhere."""
    configured = (getattr(snakemake, "config", None) or {}).get("api", {})
    api = {**configured, **snakemake.params.api}
    if configured.get("base_url") and redact_urls(configured["base_url"]) == api["base_url"]:
        api["base_url"] = configured["base_url"]
    return api


def keyword_params(snakemake) -> dict:
    """The rule's params as the keyword arguments of the library function its script calls."""
    return dict(snakemake.params.items())


def fingerprint(snakemake) -> dict:
    """The job's fingerprint, stamped in its work directory (ftrepro.fit.prepare_work_dir): every
    param of its rule and the digest of every input, as JSON reads them back. Work stamped with
    another fingerprint is not resumed, so no param can change under a resumed checkpoint."""
    params = json.loads(json.dumps(keyword_params(snakemake), sort_keys=True, default=str))
    return job_fingerprint(params, [str(path) for path in snakemake.input])
