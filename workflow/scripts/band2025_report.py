"""band2025's log-loss table, Figures 10 and 11, the efficiency score and Kaggle submission CSVs per run."""

from pathlib import Path

from ftrepro.papers import with_shared
from ftrepro.papers.band2025.report import parameter_count, write_band_report, write_submission
from ftrepro.report import Verdicts, run_metrics
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    metrics = with_shared(run_metrics(sm.input.metrics), sm.params.shared)
    our_params = {Path(base).name: parameter_count(base) for base in sm.input.bases}
    table = write_band_report(
        sm.params.runs,
        metrics,
        sm.input.targets,
        sm.input.parameters,
        our_params,
        Path(sm.output.tables[0]).parents[1],
        stand_ins=sm.params.stand_ins,
        verdicts=Verdicts(**sm.params.verdicts),
        synthetic=sm.params.synthetic,
        deviations=sm.params.deviations,
        preset=sm.params.preset,
    )
    log.info("log loss:\n%s", table.to_string())
    # same run order: the test split's rows, and the competition's test rows
    for predictions, submission in zip(
        [*sm.input.predictions, *sm.input.competition],
        [*sm.output.submissions, *sm.output.competition],
        strict=True,
    ):
        log.info("%s: %d rows", submission, write_submission(predictions, submission))
