"""Tables 5.1 / 5.2, the headline numbers and Figures 5.1-5.4 of gupta2023, then Figure 1.1 and the
§5.2.5 case study, ours beside the thesis's."""

from pathlib import Path

from ftrepro.papers import with_shared
from ftrepro.papers.gupta2023.case_study import write_case_study
from ftrepro.papers.gupta2023.figure1 import write_figure1
from ftrepro.papers.gupta2023.report import fewshot_metrics, group_runs, table_note, write_gupta_report
from ftrepro.papers.gupta2023.runs import fewshot_model
from ftrepro.report import Verdicts, run_metrics
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    metrics = with_shared(run_metrics(sm.input.metrics), sm.params.shared)
    stl, mtl, anchors = group_runs(metrics)
    verdicts = Verdicts(**sm.params.verdicts)
    out_dir = Path(sm.output.tables[0]).parents[1]
    headline = write_gupta_report(
        stl,
        mtl,
        anchors,
        sm.input.results,
        sm.input.categories,
        out_dir,
        settings=sm.params.settings,
        shared_settings=sm.params.shared_settings,
        stand_ins=sm.params.stand_ins,
        verdicts=verdicts,
        anchors_csv=sm.input.anchors,
        text_csv=sm.input.tk_categories,
        synthetic=sm.params.synthetic,
        deviations=sm.params.deviations,
        fewshot=fewshot_metrics(metrics),
        preset=sm.params.preset,
    )
    log.info("headline:\n%s", headline.to_string())
    note = table_note(sm.params.synthetic, sm.params.stand_ins, sm.params.shared_settings)
    after = f"\n{sm.params.deviations}" if sm.params.deviations else ""
    figure = write_figure1(
        headline,
        out_dir,
        note=note,
        basis=verdicts.basis,
        after=after,
        synthetic=sm.params.synthetic,
        preset=sm.params.preset,
        stand_ins=sm.params.stand_ins,
    )
    log.info("Figure 1.1:\n%s", figure.to_string())
    case_study = write_case_study(
        sm.input.case_study,
        sm.input.get("prompt_tokens"),  # absent from a partial report on a fresh checkout
        metrics,
        out_dir,
        case_study=sm.params.case_study,
        ablation=tuple(sm.params.ablation),
        tokenizer_model=fewshot_model(sm.params.settings),
        verdicts=verdicts,
        note=note,
        after=after,
    )
    log.info("case study:\n%s", case_study.to_string())
