"""results/<preset>/report.html: the papers' tables and figures, data statistics and run provenance."""

from pathlib import Path

from ftrepro.report.html import build_report
from ftrepro.workflow import job, keyword_params

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    path = build_report(
        sm.output[0],
        stats_path=sm.input.get("stats"),  # none in a partial run before the statistics exist
        plan_path=sm.input.plan,
        results_dir=Path(sm.output[0]).parent,  # the preset's results/<preset>/, the report's directory
        **keyword_params(sm),
    )
    log.info("%s: %d bytes", path, Path(path).stat().st_size)
