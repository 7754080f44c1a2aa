"""band2025: what is this paper's alone (runs, job table, config section, models, training,
annotation, predictions, report), registered as PAPER (config `papers`)."""

from ftrepro.jobs import Paper
from ftrepro.papers.band2025 import jobs, runs

PAPER = Paper(
    id=jobs.PAPER,
    title="band2025: Chatbot Arena preference classification (Figures 10/11)",
    rules_file="workflow/rules/band2025.smk",
    scorer="ftrepro.metrics:score_preference_predictions",
    rules=jobs.RULES,
    runs_by_family=runs.runs_by_family,
    shared_runs=runs.shared_runs,
    model_names=runs.model_names,
    jobs=jobs.jobs,
    deviations="ftrepro.papers.band2025.deviations",
    layout="ftrepro.papers.band2025.report:html_layout",
    report=jobs.report,
    tables=jobs.TABLES,
    figures=jobs.FIGURES,
)
