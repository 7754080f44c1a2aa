"""predictions.jsonl -> metrics.json for any paper's run; then the run's work directory, whose
finished predictions waited for snakemake to record its fit, is released."""

from ftrepro.evaluate import score_run
from ftrepro.fit import release_work_dir
from ftrepro.io import write_json
from ftrepro.metrics import Bootstrap
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    bootstrap = Bootstrap(**snakemake.params.bootstrap)  # noqa: F821
    metrics = score_run(snakemake.wildcards.paper, snakemake.input[0], bootstrap)  # noqa: F821
    log.info("%s", metrics)
    write_json(snakemake.output[0], metrics)  # noqa: F821
    release_work_dir(snakemake.params.work_dir)  # noqa: F821
