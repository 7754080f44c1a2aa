# Every run's score: predictions (gold labels included; written by the papers' fit and predict
# jobs) -> metrics.json by its paper's scorer, a local job without GPU, so a metric fix rescores
# every run without touching a GPU.

from ftrepro.jobs import METRICS, PREDICTIONS, run_file, run_log, work_dir


localrules:
    score,


rule score:
    """Metrics of a run's predictions; releases the run's work directory, where a fit keeps its
    predictions until snakemake has recorded it as finished (ftrepro.fit)."""
    input:
        run_file("{paper}", "{run}", PREDICTIONS),
    output:
        run_file("{paper}", "{run}", METRICS),
    log:
        run_log("{paper}", "score", "{run}"),
    conda:
        "../../envs/evaluate.yaml"
    params:
        scorer=lambda wc: PAPERS[wc.paper].scorer,
        # every metric's 95% interval: a seeded percentile bootstrap over the test rows
        bootstrap={"resamples": CFG.stats.resamples, "seed": CFG.stats.seed},
        work_dir=work_dir("{paper}", "{run}"),
    script:
        "../scripts/score.py"
