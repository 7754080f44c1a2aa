"""MASSIVE en-US -> train/dev/test JSONL with intents and word-level slot labels."""

from pathlib import Path

from ftrepro.data.massive import derive_massive
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    out_dir = Path(snakemake.output.labels).parent  # noqa: F821
    counts = derive_massive(
        Path(snakemake.input[0]) / "en-US.jsonl",  # noqa: F821
        out_dir,
        max_rows=snakemake.params.max_rows,  # noqa: F821
        seed=snakemake.params.seed,  # noqa: F821
    )
    log.info("rows per split: %s", counts)
