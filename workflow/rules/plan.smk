# The memory and cost plan of the preset (ftrepro.plan): every job that loads a model, with the
# layout of each training job (ZeRO stage, offload, GPUs, nodes), estimated memory per GPU and
# GPU-hours. A job that no layout fits fails this rule, naming the job and the figures. It reads
# the config, the papers' job tables and the measured throughput (plan.throughput): a changed
# config file, --config value, table source or measurement plans again.


rule plan:
    input:
        config=workflow.configfiles,
        tables=papers.table_sources(CFG),
        throughput=CFG.plan.throughput,
    output:
        results_path("plan.tsv"),
    log:
        logs_path("plan.log"),
    conda:
        "../../envs/train.yaml"  # DeepSpeed's memory estimators
    resources:
        **CPU_RESOURCES,
    params:
        # partial picks only the runs the tables take, which the plan never sizes: a partial
        # run beside a live one plans nothing again
        config=config_hash(
            {key: value for key, value in config.items() if key != "partial"}
        ),
    script:
        "../scripts/plan.py"
