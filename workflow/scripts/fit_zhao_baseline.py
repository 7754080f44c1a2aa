"""A zhao2025 baseline (not in the paper) on one dataset: train, predict the test split."""

from ftrepro.io import write_jsonl
from ftrepro.papers.zhao2025.baselines import fit_baseline
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    log.info("%s for subtasks %s", sm.params.method, sm.params.subtasks)
    records = fit_baseline(
        sm.params.method,
        sm.input.train,
        sm.input.test,
        sm.params.subtasks,
        base_dir=sm.input.get("base"),
        max_length=sm.params.get("max_length"),
        seed=sm.params.seed,
    )
    write_jsonl(sm.output[0], records)
    log.info("%d predictions", len(records))
