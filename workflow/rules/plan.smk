# The memory and cost plan of the preset (ftrepro.plan): every job that loads a model, with
# GPUs, ZeRO stage, estimated memory per GPU and GPU-hours. A job whose memory would exceed
# cluster.gpu_memory_gb fails this rule, naming the job and both figures.


rule plan:
    output:
        "results/plan.tsv",
    log:
        "logs/plan.log",
    conda:
        "../../envs/train.yaml"  # DeepSpeed's memory estimators
    resources:
        **CPU_RESOURCES,
    script:
        "../scripts/plan.py"
