"""The quickstart's decisions: which teacher (and why), which student and PCA width, and
whether the teacher is evaluated too; each from the settings and what earlier steps wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.plan import QuickstartError, QuickstartSettings
from sea.settings import SettingError
from sea.weights import bundled_path

DEFAULT_TEACHER = "openl3-mel256-env"  # the SEA paper's teacher
SHIPPED_TEACHER = "edgel3-sea-64"  # offline: the published weights shipped with sea
DOWNLOAD_TIMEOUT_S = 10.0  # a short wait: offline machines fall back at once
TEACHER_EVAL_BUDGET_S = 180.0  # `--teacher-eval auto` embeds the teacher only if this fast
PAPER_DIMS = (64, 128, 256, 512)  # embedding sizes of the SEA paper's students 3..0
NARROW_BODY = (32, 64, 128)  # Student 3's first blocks; a small --clips narrows only the last


def local_pretrained_weights() -> bool:
    """Whether any published teacher weights are cached or installed on this machine."""
    from sea.weights import WEIGHT_SOURCES, find_local

    return any(find_local(name) is not None for name in WEIGHT_SOURCES)


def download_default_teacher() -> str | None:
    """Fetch the published OpenL3 weights (progress bar, sha256 where known) into the weights
    cache; None with the reason printed when that is not possible (offline, say)."""
    from sea.weights import WeightsUnavailable, resolve_weights

    print(f"no teacher weights on this machine: downloading {DEFAULT_TEACHER} "
          f"(timeout {DOWNLOAD_TIMEOUT_S:.0f} s)", flush=True)
    try:
        resolve_weights(DEFAULT_TEACHER, timeout=DOWNLOAD_TIMEOUT_S)
    except WeightsUnavailable as exc:
        return f"{DEFAULT_TEACHER} could not be downloaded: {exc}"
    return None


def teacher_args(s: QuickstartSettings) -> tuple[list[str], str | None]:
    """(`sea teacher-embed` teacher options, why the default teacher was not used or None)."""
    if s.teacher_weights:
        return ["--teacher", s.teacher, "--weights", str(Path(s.teacher_weights).resolve())], None
    if s.teacher != "auto":
        return ["--teacher", s.teacher], None
    if local_pretrained_weights():
        return ["--teacher", "auto"], None
    why = download_default_teacher()
    if why is None:
        return ["--teacher", DEFAULT_TEACHER], None
    if bundled_path(SHIPPED_TEACHER) is not None:
        # Real (published) weights beat a random-weight L3 network, even a smaller net.
        return ["--teacher", SHIPPED_TEACHER], why
    return ["--teacher", f"random:{DEFAULT_TEACHER}"], why  # named: the banner says why


def teacher_banner(t: dict[str, Any], why: str | None) -> str:
    """The loud lines saying which teacher the student learns from (`t`: the teacher record
    of `sea teacher-embed`'s manifest) and, after a fallback, why."""
    if t["source"] == "random":
        what = (f"RANDOM weights (seed {t.get('seed')}): no pretrained weights were used, so "
                "the student only learns to copy a random network (a pipeline test)")
    elif t["source"] == "weights":
        what = f"pretrained weights {t['path']}"
    else:
        what = f"checkpoint {t.get('path')}"
    line = "=" * 78
    because = f"\n because {why}" if why else ""
    return f"{line}\n TEACHER: {t['name']} - {what}{because}\n{line}"


def paper_student(dim: int) -> str:
    """The SEA paper's student with a `dim`-d embedding (student0..student3)."""
    from sea.configs import MODEL_CONFIGS

    for name, cfg in MODEL_CONFIGS.items():
        if cfg.family == "student" and cfg.embedding_dim == dim:
            return name
    raise SettingError("dim", f"no SEA student has a {dim}-d embedding: use {{dim}} 64, 128, "
                              "256 or 512, or {student} custom with {filters}")


def target_dim_and_student(s: QuickstartSettings,
                           teacher_config: dict[str, Any]) -> tuple[int, list[str]]:
    """(reduced dimension, `sea distill` student options) for the teacher we got, described
    by the `config` of `sea teacher-embed`'s manifest."""
    from sea.configs import get_config

    teacher_dim, windows = int(teacher_config["dim"]), int(teacher_config["num_rows"])
    if s.filters:
        dim, student = s.filters[-1], ["--student", "custom", "--filters",
                                       ",".join(map(str, s.filters))]
    elif s.student != "auto":
        dim, student = get_config(s.student).embedding_dim, ["--student", s.student]
    else:
        # The paper's 128-d target, unless the teacher itself is smaller (EdgeL3 SEA-64) or
        # a small --clips gives PCA fewer windows than that.
        dim = min(s.dim, teacher_dim, windows)
        narrow = ",".join(map(str, (*NARROW_BODY, dim)))
        student = (["--student", paper_student(dim)] if dim in PAPER_DIMS else
                   ["--student", "custom", "--filters", narrow])
    if dim > teacher_dim:
        raise QuickstartError(f"the student's {dim}-d embedding is wider than the teacher's "
                              f"{teacher_dim}-d one: PCA cannot add dimensions")
    if dim > windows:
        raise SettingError("clips", f"PCA to {dim} dims needs at least {dim} teacher windows "
                                    f"and {{clips}} {s.clips} gives {windows}: use more "
                                    "{clips} or a smaller student")
    return dim, student


def teacher_model_spec(s: QuickstartSettings, manifest: dict[str, Any]) -> str | None:
    """The teacher as a `sea evaluate --model`, or None when it should be left out
    (`manifest`: `sea teacher-embed`'s, with its measured speed)."""
    t = manifest["teacher"]
    if s.teacher_eval == "no" or t["source"] == "random":
        return None  # a random teacher cannot be rebuilt by name, and says nothing anyway
    spec = t["path"] if t["source"] == "checkpoint" else f"{t['name']}={t['path']}"
    if s.teacher_eval == "yes":
        return spec
    run = manifest.get("last_run") or {}
    if not run.get("windows"):
        return None
    rate = run["windows"] / max(run["seconds"], 1e-9)
    windows = manifest["config"]["num_rows"] * manifest["config"]["hop_seconds"] / s.eval_hop
    return spec if windows / rate <= TEACHER_EVAL_BUDGET_S else None
