# Every run's score: predictions (gold labels included; written by the papers' fit and predict
# jobs) -> metrics.json by its paper's scorer, a local job without GPU, so a metric fix rescores
# every run without touching a GPU.

from ftrepro.jobs import METRICS, PREDICTIONS, run_file, run_log


localrules:
    score,


rule score:
    input:
        run_file("{paper}", "{run}", PREDICTIONS),
    output:
        run_file("{paper}", "{run}", METRICS),
    log:
        run_log("{paper}", "score", "{run}"),
    conda:
        "../../envs/evaluate.yaml"
    script:
        "../scripts/score.py"
