"""A base model directory (weights + tokenizer) for one model name of the chosen preset."""

from pathlib import Path

from ftrepro.models.base import prepare_base_model
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    spec, kind = snakemake.params.spec, snakemake.params.kind  # noqa: F821
    log.info("%s (%s): %s", snakemake.wildcards.model, kind, spec)  # noqa: F821
    prepare_base_model(spec, kind, Path(snakemake.output[0]))  # noqa: F821
