# toy2099's rules: outputs, logs, inputs and resources from its job table (toy2099.jobs).
from toy2099 import jobs as toy


rule fit_toy2099:
    """The majority intent of the train split, for every test utterance."""
    input:
        unpack(job_inputs(toy.FIT)),
    output:
        **toy.FIT.output,
    log:
        toy.FIT.log,
    threads: job_threads(toy.FIT)
    resources:
        **job_resources(toy.FIT),
    script:
        "fit.py"


rule toy2099_report:
    input:
        unpack(job_inputs(toy.REPORT)),
    output:
        **toy.REPORT.output,
    log:
        toy.REPORT.log,
    params:
        runs=RUNS["toy2099"],
    script:
        "report.py"
