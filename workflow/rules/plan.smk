# The memory and cost plan of the preset (ftrepro.plan): every job that loads a model, with
# GPUs, ZeRO stage, estimated memory per GPU and GPU-hours. A job whose memory would exceed
# cluster.gpu_memory_gb fails this rule, naming the job and both figures. It reads the config and
# the papers' job tables: a changed config file, --config value or table source plans again.


rule plan:
    input:
        config=workflow.configfiles,
        tables=papers.table_sources(CFG),
    output:
        "results/plan.tsv",
    log:
        "logs/plan.log",
    conda:
        "../../envs/train.yaml"  # DeepSpeed's memory estimators
    resources:
        **CPU_RESOURCES,
    params:
        config=config_hash(config),
    script:
        "../scripts/plan.py"
