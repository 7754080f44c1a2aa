# results/<preset>/report.html: every paper's tables and figures, the data statistics and each run's
# provenance in one page (ftrepro.report.html); `make demo` ends on it.


localrules:
    html_report,


rule html_report:
    input:
        **TARGETS,
        **stats_input(),
        plan=rules.plan.output[0],
        # every tabled run's training log: its loss curves
        train_logs=[
            path
            for families in TRAIN_LOGS.values()
            for logs in families.values()
            for path in logs.values()
        ],
    output:
        report(
            report_file(),
            caption="../report/html_report.rst",
            category="Report",
        ),
    log:
        logs_path("html_report.log"),
    conda:
        "../../envs/report.yaml"
    params:
        preset=CFG.preset,
        # a row per job's run: a run of several seeds once per seed
        runs={paper: papers.each_seed(CFG, paper, RUNS[paper]) for paper in PAPERS},
        shared={paper: papers.shared_by_seed(CFG, paper) for paper in PAPERS},
        stand_ins={paper: papers.stand_ins(CFG, paper) for paper in PAPERS},
        papers={
            paper: {
                "title": p.title,
                "tables": p.tables,
                "figures": p.figures,
                "layout": p.layout,
            }
            for paper, p in PAPERS.items()
        },
        train_logs=TRAIN_LOGS,
        verdicts=VERDICTS,
        synthetic=CFG.data.synthetic,
        deviations=DEVIATIONS,
        logs_dir=of_preset(logs_path()),
    script:
        "../scripts/html_report.py"
