"""toy2099: a toy fourth paper, registered from outside the repository's packages (tests/papers is
put on the path and config `papers` names it). It is everything a paper is: its runs and job table
(jobs.py), its config section (settings.py, schema.yaml, config.yaml), its rules file and script,
its scorer and its targets CSV. tests/test_toy_paper.py checks that the DAG, the plan, the console's
notion of papers and stages and the report take it in without a change to any shared module.

Each encoder the section lists predicts the most frequent MASSIVE intent of the train split.
"""

from pathlib import Path

from ftrepro.jobs import Paper
from toy2099 import jobs

PAPER = Paper(
    id=jobs.PAPER,
    title="toy2099: the majority intent per encoder (a toy fourth paper)",
    rules_file=str(Path(__file__).with_name("rules.smk")),
    scorer="toy2099.scoring:score",
    rules=jobs.RULES,
    runs_by_family=jobs.runs_by_family,
    shared_runs=lambda config: {},
    model_names=lambda config: list(config.toy2099.encoders),
    jobs=jobs.jobs,
    report=jobs.report,
    tables=jobs.TABLES,
)
