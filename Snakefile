# ftrepro: fine-tuning papers from raw data to their tables and figures, one package each
# (config `papers`). Targets: all (default), a paper's id (zhao2025, gupta2023, band2025: its
# tables and figures), results/<preset>/report.html (everything, one page),
# results/<preset>/data/stats.md, results/<preset>/plan.tsv, or any output path, e.g.
#   snakemake --config preset=mini -- results/mini/zhao2025/massive-intent.roberta-base.ft/metrics.json
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/download.smk"
include: "workflow/rules/derive.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/plan.smk"


# each paper's rules (its PAPER.rules_file), and its target: its tables and figures
for paper in PAPERS.values():

    include: paper.rules_file

    rule:
        name:
            paper.id
        input:
            TARGETS[paper.id],


include: "workflow/rules/html_report.smk"


rule all:
    default_target: True
    input:
        TARGETS.values(),
        **stats_input(),
