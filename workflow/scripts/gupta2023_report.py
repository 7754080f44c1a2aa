"""Tables 5.1 / 5.2, the headline numbers and Figures 5.1-5.4 of gupta2023, ours beside the thesis's."""

from pathlib import Path

from ftrepro.papers import with_shared
from ftrepro.papers.gupta2023.report import group_runs, write_gupta_report
from ftrepro.report import Verdicts, run_metrics
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    stl, mtl, anchors = group_runs(with_shared(run_metrics(sm.input.metrics), sm.params.shared))
    headline = write_gupta_report(
        stl,
        mtl,
        anchors,
        sm.input.results,
        sm.input.categories,
        Path(sm.output.tables[0]).parents[1],
        settings=sm.params.settings,
        shared_settings=sm.params.shared_settings,
        stand_ins=sm.params.stand_ins,
        verdicts=Verdicts(**sm.params.verdicts),
        anchors_csv=sm.input.anchors,
        text_csv=sm.input.tk_categories,
        synthetic=sm.params.synthetic,
        deviations=sm.params.deviations,
        preset=sm.params.preset,
    )
    log.info("headline:\n%s", headline.to_string())
