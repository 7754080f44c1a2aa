"""predictions.jsonl -> metrics.json for any paper's run, by its paper's scorer."""

from ftrepro import config as ftconfig
from ftrepro import papers
from ftrepro.evaluate import score_run
from ftrepro.io import write_json
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    paper = papers.registered(ftconfig.resolve(sm.config))[sm.wildcards.paper]
    metrics = score_run(paper.scoring(), sm.input[0])
    log.info("%s", metrics)
    write_json(sm.output[0], metrics)
