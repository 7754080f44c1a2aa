"""20 Newsgroups bydate -> train/test JSONL with 20-class and 7-root labels."""

from pathlib import Path

from ftrepro.data.newsgroups import derive_newsgroups
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    out_dir = Path(snakemake.output.labels).parent  # noqa: F821
    counts = derive_newsgroups(
        Path(snakemake.input[0]) / "20news-bydate.tar.gz",  # noqa: F821
        out_dir,
        max_rows=snakemake.params.max_rows,  # noqa: F821
        seed=snakemake.params.seed,  # noqa: F821
        remove=tuple(snakemake.params.strip),  # noqa: F821
    )
    log.info("rows per split: %s", counts)
