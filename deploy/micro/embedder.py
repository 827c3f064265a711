"""The micro build as a featurizer: the bundle's numpy log-mel (what sea_logmel.c computes on
the MCU) into the fully integer model in the tflite-micro interpreter, so `sea evaluate
--model BUNDLE/micro` scores exactly what the firmware would embed."""

from __future__ import annotations

from pathlib import Path

from deploy.micro.build import MICRO_KIND, MICRO_MODEL, TFLMModel
from deploy.micro.integer_model import InputRule
from sea.bundle import BundleEmbedder
from sea.errors import SeaError
from sea.manifest import read_manifest, sha256_file
from sea.models import LoadOptions, ModelSpec


class MicroEmbedder(BundleEmbedder):
    """BundleEmbedder of the bundle that holds `micro_dir`, with TFLM in place of TFLite."""

    def __init__(self, micro_dir: str | Path, name: str | None = None, resampler: str = "soxr"):
        micro_dir = Path(micro_dir)
        manifest = read_manifest(micro_dir)
        if manifest.get("kind") != MICRO_KIND:
            raise SeaError(f"{micro_dir} is not a micro build (kind {manifest.get('kind')!r})")
        super().__init__(micro_dir.parent, variant="outside", resampler=resampler)
        entry = self.bundle.manifest["variants"]["outside"]
        if entry["sha256"] != manifest["source_bundle"]["variant_sha256"]:
            raise SeaError(f"{micro_dir} was built from another model than the bundle "
                           f"{micro_dir.parent} now holds; build it again from this bundle")
        path = micro_dir / MICRO_MODEL
        if sha256_file(path) != manifest["files"][MICRO_MODEL]:
            raise SeaError(f"{path} does not match the sha256 in {micro_dir / 'manifest.json'}")
        rule, q = manifest["input_rule"], manifest["output_quantization"]
        self.model = TFLMModel(path, InputRule(rule["gain"], rule["offset"], rule["zero_point"]),
                               (q["scale"], q["zero_point"]), manifest["arena_bytes"])
        self.name = name or f"{self.cfg.name}-tflm-int8"
        self.size_bytes = path.stat().st_size

    @classmethod
    def load(cls, spec: ModelSpec, options: LoadOptions) -> MicroEmbedder:
        """The micro build `spec` names (TFLM runs single-threaded: `threads` does not apply)."""
        return cls(spec.path, resampler=options.resampler)
