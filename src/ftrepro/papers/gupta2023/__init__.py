"""gupta2023: what is this paper's alone (runs, job table, config section, its decoder-only
path, report), registered as PAPER (config `papers`)."""

from ftrepro.jobs import Paper
from ftrepro.papers.gupta2023 import jobs, runs

PAPER = Paper(
    id=jobs.PAPER,
    title="gupta2023: instruction-tuned models are quick learners (Tables 5.1/5.2, Figures 1.1 and 5.1-5.4, the §5.2.5 case study)",
    rules_file="workflow/rules/gupta2023.smk",
    scorer="ftrepro.metrics:score_superni_predictions",
    rules=jobs.RULES,
    runs_by_family=runs.runs_by_family,
    shared_runs=runs.shared_runs,
    model_names=runs.model_names,
    jobs=jobs.jobs,
    deviations="ftrepro.papers.gupta2023.deviations",
    layout="ftrepro.papers.gupta2023.report:html_layout",
    report=jobs.report,
    tables=jobs.TABLES,
    figures=jobs.FIGURES,
    config_files=lambda config: [config.gupta2023.test_tasks_file],
)
