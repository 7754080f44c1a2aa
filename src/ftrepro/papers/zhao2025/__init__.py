"""zhao2025: what is this paper's alone (runs, job table, config section, prompts, predictions,
report), registered as PAPER (config `papers`)."""

from ftrepro.jobs import Paper
from ftrepro.papers.zhao2025 import jobs, runs

PAPER = Paper(
    id=jobs.PAPER,
    title="zhao2025: single- and multi-task text classification (Table 3)",
    rules_file="workflow/rules/zhao2025.smk",
    scorer="ftrepro.papers.zhao2025.scoring:score",
    rules=jobs.RULES,
    runs_by_family=runs.runs_by_family,
    shared_runs=runs.shared_runs,
    model_names=runs.model_names,
    jobs=jobs.jobs,
    deviations="ftrepro.papers.zhao2025.deviations",
    layout="ftrepro.papers.zhao2025.report:html_layout",
    report=jobs.report,
    tables=jobs.TABLES,
    api_families=frozenset({"api"}),
)
