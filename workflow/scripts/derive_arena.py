"""Chatbot Arena train.csv -> train/validation JSONL (A / B / tie) and the malformed-rows report."""

from pathlib import Path

from ftrepro.data.arena import derive_arena
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    p = snakemake.params  # noqa: F821
    summary = derive_arena(
        Path(snakemake.input[0]) / "train.csv",  # noqa: F821
        Path(snakemake.output.labels).parent,  # noqa: F821
        validation_fraction=p.validation_fraction,
        max_rows=p.max_rows,
        seed=p.seed,
    )
    log.info("%s", summary)
