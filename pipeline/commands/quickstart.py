"""Run the whole SEA pipeline in one command (offline too), on synthesized urban soundscapes.

Steps, each a `sea` command whose output lands in OUT: store/ (`sea prepare synth:N:SEED`),
teacher/ (`sea teacher-embed`: OpenL3 or EdgeL3 weights when on this machine, else the
published OpenL3 mel256-env weights downloaded (10 s timeout), else the published EdgeL3 SEA-64
weights shipped with sea, else a seeded random-weight L3 network; a banner says which and
why), reducer/ (random-sampled PCA to --dim, capped at the teacher's
width), student/ (`sea distill --qat`: the SEA paper's student of that width, student2 for
128-d, its last epochs trained through the int8 body the bundle step exports),
bundle/ (`sea export --quantize int8`, calibrated on the store), report/ (`sea evaluate
--protocol folds-multilabel` on the synth store's folds 1-5, multi-label clips: the int8 bundle,
the float student and, when pretrained and fast enough, the teacher), node/ (`sea-node run` on
the store's first clip). A finished step is skipped, so re-running the same command resumes.
Teacher embedding, distillation and evaluation run on 2 threads with fixed seeds, so the same
command gives the same numbers on every machine of one kind; the summary ends with the package
versions and the CPU that produced them. On an idle 2-core x86 CPU the defaults take about
3 minutes with the EdgeL3 SEA-64 teacher (docs/results.md, "Quickstart"). When the int8 export
misses its parity targets the bundle is exported as float16, with a banner.
"""

from __future__ import annotations

from pipeline.plan import QuickstartSettings
from sea.settings_cli import Command


def run(settings: QuickstartSettings) -> int:
    from pipeline.quickstart import Quickstart
    from pipeline.summary import summary_text
    from sea.cli import main as sea_main

    state = Quickstart(settings, sea_main).run()
    print(summary_text(settings.out, state), flush=True)
    return 0


COMMAND = Command(QuickstartSettings, run)
