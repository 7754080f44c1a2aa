# ftrepro: three fine-tuning papers from raw data to their tables and figures.
# Targets: all (default), zhao2025, gupta2023, band2025, results/report.html (everything, one page),
# results/data/stats.md, results/plan.tsv, or any
# output path, e.g.
#   snakemake results/zhao2025/massive-intent.llama3-8b.five-shot.ft/metrics.json
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/derive.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/plan.smk"
include: "workflow/rules/html_report.smk"


rule all:
    default_target: True
    input:
        rules.zhao2025.input,
        rules.gupta2023.input,
        rules.band2025.input,
        "results/data/stats.md",
