"""Helpers for the thin entry points in workflow/scripts/ (run by Snakemake's `script:`)."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def logged(snakemake) -> Iterator[logging.Logger]:
    """Send the job's stderr and logging to its log file, tracebacks included."""
    log_path = snakemake.log[0]
    with open(log_path, "w", buffering=1) as log, contextlib.redirect_stderr(log):
        logging.basicConfig(
            stream=log, level=logging.INFO, format="%(asctime)s %(name)s %(message)s", force=True
        )
        logger = logging.getLogger(f"ftrepro.{snakemake.rule}")
        try:
            yield logger
        except BaseException:
            logger.exception("job failed")
            raise


class NotBuiltYet(NotImplementedError):
    pass


def not_built_yet(snakemake, family: str, issue: str) -> None:
    """The rule is in the DAG (dry-runs plan it) but its model family lands with a later issue."""
    raise NotBuiltYet(
        f"rule {snakemake.rule}: the {family} family is planned but not implemented yet "
        f"({issue}); its table cells read 'not run'."
    )
