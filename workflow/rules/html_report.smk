# results/report.html: every paper's tables and figures, the data statistics and each run's
# provenance in one page (ftrepro.report.html); `make demo` ends on it.


localrules:
    html_report,


rule html_report:
    input:
        zhao2025=rules.zhao2025_table3.output,
        gupta2023=rules.gupta2023_report.output,
        band2025=rules.band2025_report.output.tables
        + rules.band2025_report.output.figures,
        stats="results/data/stats.md",
        plan=rules.plan.output[0],
    output:
        report(
            "results/report.html",
            caption="../report/html_report.rst",
            category="Report",
        ),
    log:
        "logs/html_report.log",
    conda:
        "../../envs/report.yaml"
    params:
        preset=CFG.preset,
        runs=RUNS,
        shared=SHARED,
        stand_ins={paper: papers.stand_ins(CFG, paper) for paper in papers.PAPERS},
        verdicts=VERDICTS,
        synthetic=CFG.data.synthetic,
        deviations=DEVIATIONS,
    script:
        "../scripts/html_report.py"
