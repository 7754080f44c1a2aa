"""Predictions of a no-training heuristic on the SuperNI test split (copy input / copy demo output)."""

from ftrepro.data.sources import verify_checksums
from ftrepro.io import write_jsonl
from ftrepro.papers.gupta2023.report import copy_demo_predictions, copy_input_predictions
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    if sm.wildcards.method == "copy_input":
        predictions = copy_input_predictions(sm.input.data, sm.params.tasks)
    else:
        verify_checksums(sm.input.raw)
        predictions = copy_demo_predictions(sm.input.raw, sm.input.data, sm.params.tasks)
    log.info("%d predictions", write_jsonl(sm.output[0], predictions))
