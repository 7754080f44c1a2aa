"""SuperNI: per test task test/validation/train splits with both encodings, the pre-finetuning set."""

from pathlib import Path

from ftrepro.data.superni import derive_superni
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    p = snakemake.params  # noqa: F821
    summary = derive_superni(
        Path(snakemake.input[0]),  # noqa: F821
        Path(snakemake.output[0]),  # noqa: F821
        test_tasks=p.test_tasks,
        train_tasks=p.train_tasks,
        prefinetune_per_task=p.prefinetune_per_task,
        max_rows=p.max_rows,
        seed=p.seed,
    )
    log.info("%s", summary)
