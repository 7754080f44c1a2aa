"""results/<preset>/plan.tsv: memory per GPU and GPU-hours of every job of the preset that loads a model."""

from ftrepro import config as ftconfig
from ftrepro.plan import plan, summary, write_tsv
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    rows = plan(ftconfig.resolve(snakemake.config))  # noqa: F821 (paths relative to the workdir)
    write_tsv(rows, snakemake.output[0])  # noqa: F821
    log.info("%d jobs\n%s", len(rows), summary(rows))
