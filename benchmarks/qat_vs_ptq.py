"""int8 after post-training quantization (PTQ) vs quantization-aware distillation (QAT).

    nice -n 10 python benchmarks/qat_vs_ptq.py [--out DIR] [--students student3,student-micro]
        [--seeds 0,1,2] [--epochs 15] [--qat-epochs N] [--threads 1] [--reducer pca]
        [--hidden-activation relu]

Protocol (the ESC-10 folds 4-5 clips take no part in distillation, calibration or model choice):
- teacher: the published EdgeL3 SEA-64 (../shared/fixtures), identity targets (64-d, >= 0:
  the students end in BN + ReLU) or with `--reducer pca` 64-d PCA targets (centred: the
  students' last layer is linear, as in the quickstart), on urban-eval minus ESC-10 folds 4-5
  (split as benchmarks/student_micro_esc10.py does);
  early stopping on ESC-10 fold 3;
- per student and seed: `sea distill --epochs E` (PTQ) and `sea distill --epochs E --qat` (QAT:
  the same epoch budget, its last epochs through the fake-quantized body), each exported with
  `sea export --quantize int8 --frontend outside` calibrated on the distillation store; the
  real-window cosine int8 vs float is the export's own parity report (its gate: min >= 0.99);
  student-micro is also built for the microcontroller (`--target micro`, its own gate);
- downstream: `sea evaluate` of the float checkpoint and the int8 bundle on ESC-10 folds 4-5
  (logistic regression on clip means, train on one fold, test on the other, both ways);
- cost: seconds per float epoch and per QAT epoch (history.csv) and the whole run.
Finished steps are kept when re-run with the same --out; DIR/results-VARIANT.json holds every
figure (VARIANT: the reducer, and the hidden activation when given).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

from distill_urban_eval import run_steps, targets_path, teacher_target_steps  # siblings
from student_micro_esc10 import accuracy_table, unseen_folds_parser, unseen_folds_split
from sea.cli import main as sea
from sea.manifest import read_manifest

GATE = 0.99  # deploy.parity.QUANTIZED_MIN_COSINE


def parity(bundle: Path) -> dict:
    """The export's real-window parity (outside variant) and whether it met every target."""
    failed = bundle.parent / f"{bundle.name}.failed-parity.json"
    if (bundle / "manifest.json").is_file():
        report, passed = read_manifest(bundle)["parity"]["outside"], True
    elif failed.is_file():
        report, passed = json.loads(failed.read_text())["outside"], False
    else:
        return {"error": "export failed before its parity check"}
    real = report["real"]
    return {"min_cosine": real["min_cosine"], "mean_cosine": real["mean_cosine"],
            "gate": passed and real["min_cosine"] >= GATE, "failures": report["failures"]}


def micro_gate(bundle: Path) -> dict:
    """The micro build's parity report, or why it was refused."""
    if (bundle / "micro" / "manifest.json").is_file():
        return {"built": True, "parity": read_manifest(bundle / "micro")["parity"]}
    refused = bundle / "micro-refused.json"
    if refused.is_file():
        return {"built": False, "report": json.loads(refused.read_text())}
    return {"built": False, "report": parity(bundle)}


def epoch_seconds(student: Path) -> dict:
    """Mean seconds of the float and of the QAT epochs, and the run's total."""
    manifest = read_manifest(student)
    qat_from = manifest.get("qat_start") or 0
    with open(student / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    float_s = [float(r["seconds"]) for r in rows if not qat_from or int(r["epoch"]) < qat_from]
    qat_s = [float(r["seconds"]) for r in rows if qat_from and int(r["epoch"]) >= qat_from]
    mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
    return {"epochs": len(rows), "float_epoch_s": mean(float_s), "qat_epoch_s": mean(qat_s),
            "total_s": sum(float_s) + sum(qat_s), "best_epoch": manifest["best_epoch"]}


def learned_vs_calibrated(ckpt: Path, store: Path, windows: int, seed: int) -> dict:
    """Torch-level int8 vs float cosine of a QAT run's last epoch, quantized two ways: with the
    ranges QAT learned (convert_pt2e of the trained graph, restored from trainer.pt) and with
    the export's own calibration of the float weights (histogram observers, equalization)."""
    import copy

    import torch
    from torchao.quantization.pt2e import quantize_pt2e

    from deploy import convert
    from deploy.exporter import torch_logmel
    from deploy.parity import compare
    from deploy.representative import store_windows
    from training import equalize
    from training.checkpoint import load_checkpoint, load_tensors
    from training.qat import QATBody, export_accepts_functions

    last = ckpt / "last"
    model = load_checkpoint(last).eval()
    drawn = store_windows(store, model.cfg.frontend.sample_rate, 128 + windows, seed=seed).windows
    calibration, real = drawn[:128], drawn[128:]
    images = torch.as_tensor(torch_logmel(model, real))
    qat = QATBody.restore(copy.deepcopy(model), load_tensors(last / "trainer.pt")["qat"]).eval()
    with export_accepts_functions():
        learned = quantize_pt2e.convert_pt2e(qat.graph, fold_quantize=False)
    logmels = torch_logmel(model, calibration)
    output_range = equalize.measure(model, logmels)
    calibrated = convert.quantize_body(equalize.equalized_copy(model, output_range), logmels,
                                       output_range=equalize.EQUALIZED_RANGE)
    scale, offset = output_range.per_dimension(model.cfg.embedding_dim)
    with torch.no_grad():
        reference = model.body(images).numpy()
        by_qat = qat.output_map(learned(images)).numpy()
        by_export = calibrated(images).numpy() * scale + offset
    return {"learned_ranges": compare(reference, by_qat),
            "export_calibration": compare(reference, by_export)}


def run_one(args: argparse.Namespace, run: Path, student: str, seed: int, qat: bool,
            stores: dict[str, Path]) -> dict:
    threads = ["--threads", args.threads]
    ckpt, bundle = run / "student", run / "bundle"
    if not (run / "distilled").is_file():
        resume = ["--resume"] if (ckpt / "history.csv").is_file() else []
        qat_args = ["--qat"] + (["--qat-epochs", args.qat_epochs] if args.qat_epochs else [])
        if sea(["distill", "--store", str(stores["distill"]), "--targets", str(targets_path(args.out, args.reducer)),
                "--student", student, "--val-folds", "3", "--lr", args.lr, "--epochs",
                args.epochs, "--seed", str(seed), "--out", str(ckpt), *threads,
                "--hidden-activation", args.hidden_activation,
                *(qat_args if qat else []), *resume]) != 0:
            return {"error": "distill failed"}
        (run / "distilled").touch()
    export = ["--calibration", str(stores["distill"]), "--seed", str(seed), "--parity-windows",
              str(args.parity_windows)]
    exported = (bundle / "manifest.json").is_file() or (run / "bundle.failed-parity.json").is_file()
    if not exported:
        shutil.rmtree(bundle, ignore_errors=True)
        sea(["export", str(ckpt), "--out", str(bundle), "--quantize", "int8", "--frontend",
             "outside", *export])
    result = {"student": student, "seed": seed, "method": "qat" if qat else "ptq",
              "int8": parity(bundle), "time": epoch_seconds(ckpt)}
    if qat:
        result["ranges"] = learned_vs_calibrated(ckpt, stores["distill"], args.parity_windows,
                                                 seed)
    if student == "student-micro":
        micro = run / "micro-bundle"
        if not (micro / "micro" / "manifest.json").is_file():
            shutil.rmtree(micro, ignore_errors=True)
            sea(["export", str(ckpt), "--out", str(micro), "--target", "micro", "--board",
                 "cortex-m4", *export])
        result["micro"] = micro_gate(micro)
    report = run / "report"
    models = [str(ckpt)] + ([str(bundle)] if (bundle / "manifest.json").is_file() else [])
    if not args.skip_evaluate and not (report / "results.json").is_file():
        sea(["evaluate", *[x for m in models for x in ("--model", m)], "--data",
             str(stores["eval"]), "--protocol", "folds", "--out", str(report), "--classifier",
             "logreg", "--hop", args.eval_hop, *threads, "--no-progress"])
    if (report / "results.json").is_file():
        table = accuracy_table(report)
        result["accuracy"] = {name: table[name]["logreg+mean"]["mean"] for name in table}
    return result


def row(r: dict) -> str:
    cos, t, acc = r.get("int8", {}), r.get("time", {}), r.get("accuracy", {})
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    micro = ""
    if "micro" in r:
        m = r["micro"]
        micro = ("built, TFLM vs float mean %.5f" % m["parity"]["vs_float"]["mean_cosine"]
                 if m["built"] else "refused")
    return (f"| {r['student']} | {r['method']} | {r['seed']} | {fmt(cos.get('min_cosine'), '.5f')}"
            f" | {fmt(cos.get('mean_cosine'), '.5f')} | {'pass' if cos.get('gate') else 'FAIL'}"
            f" | {fmt(acc.get('student'), '.3f')} | {fmt(acc.get('bundle'), '.3f')}"
            f" | {t.get('epochs', '-')} | {fmt(t.get('float_epoch_s'), '.1f')}"
            f" | {fmt(t.get('qat_epoch_s'), '.1f')} | {fmt(t.get('total_s'), '.0f')} | {micro} |")


HEADER = ("| student | method | seed | int8 min cos | int8 mean cos | gate 0.99 | acc float "
          "| acc int8 | epochs | s/float epoch | s/QAT epoch | train s | micro |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def main() -> int:
    parser = unseen_folds_parser(__doc__, "runs/qat-vs-ptq", "student3,student-micro", "0", "15")
    parser.add_argument("--qat-epochs", help="QAT epochs (default: sea distill's)")
    parser.add_argument("--parity-windows", type=int, default=64)
    parser.add_argument("--skip-evaluate", action="store_true")
    parser.add_argument("--reducer", choices=("identity", "pca"), default="identity",
                        help="targets: the teacher's embedding as is, or its 64-d PCA")
    parser.add_argument("--hidden-activation", choices=("auto", "relu", "relu6"),
                        default="auto", help="sea distill's (relu: the SEA paper's students)")
    args = parser.parse_args()
    split = unseen_folds_split(args)
    if split is None:
        return 2
    weights, stores, steps = split
    out = args.out
    if not run_steps(steps + teacher_target_steps(stores["distill"], out, weights,
                                                  args.train_hop, ["--threads", args.threads],
                                                  args.reducer)):
        return 1
    results = []
    variant = args.reducer + ("" if args.hidden_activation == "auto"
                              else f"-{args.hidden_activation}")
    for student in args.students.split(","):
        for seed in map(int, args.seeds.split(",")):
            for qat in (False, True):
                run = (out / "runs" / variant / student / ("qat" if qat else "ptq")
                       / f"seed{seed}")
                results.append(run_one(args, run, student, seed, qat, stores))
                (out / f"results-{variant}.json").write_text(json.dumps(
                    {"settings": vars(args) | {"out": str(out), "shared": str(args.shared)},
                     "runs": results}, indent=2, default=str) + "\n")
    table = HEADER + "\n" + "\n".join(row(r) for r in results if "error" not in r)
    (out / f"results-{variant}.md").write_text(table + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
