"""Raw files of one dataset, in its real format, from the configured source."""

from pathlib import Path

from ftrepro.data.sources import fetch
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    p = snakemake.params  # noqa: F821
    dataset = snakemake.wildcards.dataset  # noqa: F821
    log.info("%s from %s", dataset, p.source)
    fetch(
        dataset,
        Path(snakemake.output[0]),  # noqa: F821
        source=p.source,
        local_dir=p.local_dir,
        pin=p.pin,
        download_dir=p.download_dir,
        seed=p.seed,
        superni_tasks=p.superni_tasks,
        superni_train_tasks=p.superni_train_tasks,
    )
