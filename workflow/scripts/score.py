"""predictions.jsonl -> metrics.json for any paper's run, by the scorer its paper registers; then
the run's work directory, whose finished predictions waited for snakemake to record its fit, is
released."""

import pkgutil

from ftrepro.evaluate import score_run
from ftrepro.fit import release_work_dir
from ftrepro.io import write_json
from ftrepro.metrics import Bootstrap
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    scorer = pkgutil.resolve_name(sm.params.scorer)  # ftrepro.jobs.Paper.scorer: "module:function"
    metrics = score_run(scorer, sm.input[0], Bootstrap(**sm.params.bootstrap))
    log.info("%s", metrics)
    write_json(sm.output[0], metrics)
    release_work_dir(sm.params.work_dir)
