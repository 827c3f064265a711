"""Signed bundles: a node given trusted keys runs only what one of them signed.

Digests alone give integrity, not authenticity: a conv tensor edited in a .tflite with its
digest recomputed in the manifest passes them. The signature over the manifest (which holds
every file's digest) is what refuses it, in one line, before anything runs.
"""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from failures_support import assert_one_line_failure, cli, deploy_fixtures, write_tone
from lost_support import sea

VARIANT = "model_outside_float32.tflite"


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    """The operator's key pair and a second, unrelated one."""
    root = tmp_path_factory.mktemp("keys")
    assert sea("keys", "new", "--out", root / "operator") == 0
    assert sea("keys", "new", "--out", root / "other") == 0
    return {"operator": root / "operator", "other": root / "other"}


@pytest.fixture(scope="module")
def signed(tmp_path_factory, keys) -> Path:
    """A float bundle (outside variant) of the tiny student, signed with the operator's key."""
    root = tmp_path_factory.mktemp("signed")
    ckpt = deploy_fixtures().write_tiny_checkpoint(root / "ckpt")
    assert sea("export", ckpt, "--frontend", "outside", "--parity-windows", "2", "--out",
               root / "bundle", "--sign", keys["operator"] / "private") == 0
    return root / "bundle"


@pytest.fixture(scope="module")
def tone(tmp_path_factory) -> Path:
    return write_tone(tmp_path_factory.mktemp("audio") / "tone.wav")


def node(bundle: Path, tone: Path, out: Path, *trust: Path):
    args = [a for key in trust for a in ("--trust", str(key))]
    return cli("node", "run", "--bundle", str(bundle), "--input", str(tone), "--out", str(out),
               *args)


def edit_conv_tensor(bundle: Path) -> None:
    """Change the first weight of the largest conv kernel in the .tflite
    and record the edited file's digest in the manifest, as a tamperer would."""
    from sea.bundle import load_interpreter, reference_resolver
    from sea.integrity import file_record

    path = bundle / VARIANT
    interpreter_class = load_interpreter()  # without XNNPACK, which takes the weights away
    interpreter = interpreter_class(model_path=str(path), experimental_op_resolver_type=
                                    reference_resolver(interpreter_class))
    interpreter.allocate_tensors()
    kernels = [t for t in interpreter.get_tensor_details()  # (out, 3, 3, in) conv kernels
               if len(t["shape"]) == 4 and tuple(t["shape"][1:3]) == (3, 3)]
    largest = max(kernels, key=lambda t: int(np.prod(t["shape"])))
    weights = interpreter.get_tensor(largest["index"])
    data = path.read_bytes()
    at = data.find(weights.tobytes())
    assert weights.dtype == np.float32 and at > 0, "kernel bytes not found in the flatbuffer"
    edited = weights.copy()
    edited.flat[0] = -edited.flat[0] + 1.0
    path.write_bytes(data[:at] + edited.tobytes() + data[at + weights.nbytes:])
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"][VARIANT] = file_record(path)
    manifest["variants"]["outside"]["sha256"] = manifest["files"][VARIANT]["sha256"]
    (bundle / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def test_new_keys_private_is_0600_and_never_overwritten(tmp_path, keys):
    private = keys["operator"] / "private"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys["operator"].stat().st_mode) == 0o700
    assert (keys["operator"] / "public.pub").read_text().startswith("-----BEGIN PUBLIC KEY")
    before = private.read_bytes()
    result = cli("sea", "keys", "new", "--out", str(keys["operator"]))
    assert_one_line_failure(result, 2, str(private), "refusing to overwrite")
    assert private.read_bytes() == before
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "private").symlink_to(tmp_path / "victim")
    result = cli("sea", "keys", "new", "--out", str(planted))
    assert_one_line_failure(result, 2, "private", "refusing to overwrite")
    assert not (tmp_path / "victim").exists()


def test_verify_says_what_is_signed_and_by_whom(signed, keys):
    from sea.signing import key_id, load_public_key

    operator_id = key_id(load_public_key(keys["operator"] / "public.pub"))
    result = cli("sea", "verify", str(signed), "--trust", str(keys["operator"] / "public.pub"))
    assert result.returncode == 0, result.stderr
    assert "files:     2 match the sha256 digests" in result.stdout
    assert "valid ed25519 signature of manifest.json" in result.stdout
    assert operator_id in result.stdout and "key is trusted" in result.stdout
    untrusted = cli("sea", "verify", str(signed))
    assert untrusted.returncode == 0 and "not checked (no --trust given)" in untrusted.stdout
    other = cli("sea", "verify", str(signed), "--trust", str(keys["other"]))
    assert_one_line_failure(other, 2, "signed by key", operator_id[:16], "not a trusted key")


def test_node_runs_a_bundle_its_operator_signed(signed, keys, tone, tmp_path):
    result = node(signed, tone, tmp_path / "out.jsonl", keys["operator"])  # the key directory
    assert result.returncode == 0, result.stderr
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) > 0


@pytest.mark.parametrize("case", ["other key", "unsigned"])
def test_node_refuses_before_anything_runs(signed, keys, tone, tmp_path, case):
    bundle = shutil.copytree(signed, tmp_path / "bundle")
    if case == "unsigned":
        (bundle / "signature.json").unlink()
    trust = keys["other"] / "public.pub"
    result = node(bundle, tone, tmp_path / "out.jsonl", trust)
    expected = "not a trusted key" if case == "other key" else "unsigned bundle"
    assert_one_line_failure(result, 2, str(bundle), expected)
    assert not any(tmp_path.glob("out.jsonl*")), "the refused run wrote output"


def test_edited_conv_tensor_passes_digests_but_not_the_signature(signed, keys, tone, tmp_path):
    bundle = shutil.copytree(signed, tmp_path / "bundle")
    edit_conv_tensor(bundle)
    # digests alone cannot tell: accepted without --trust, as before signatures existed
    plain = node(bundle, tone, tmp_path / "plain.jsonl")
    assert plain.returncode == 0, plain.stderr
    original = node(signed, tone, tmp_path / "original.jsonl")
    assert plain.returncode == 0 and original.returncode == 0
    assert (tmp_path / "plain.jsonl").read_text() != (tmp_path / "original.jsonl").read_text()
    refused = node(bundle, tone, tmp_path / "trusted.jsonl", keys["operator"] / "public.pub")
    assert_one_line_failure(refused, 2, "signature.json", "does not match", "manifest.json")
    assert not any(tmp_path.glob("trusted.jsonl*"))
    verify = cli("sea", "verify", str(bundle))
    assert_one_line_failure(verify, 2, "does not match")


def test_signature_json_damaged_is_one_line(signed, keys, tmp_path):
    from sea.signing import SignatureError, verify_bundle_signature

    bundle = shutil.copytree(signed, tmp_path / "bundle")
    record = json.loads((bundle / "signature.json").read_text())
    for change, needle in [({"signature": "not base64!"}, "not base64"),
                           ({"key_id": "0" * 64}, "not the sha256 of its public_key"),
                           ({"algorithm": "rsa"}, "is not 'ed25519'"),
                           ({"public_key": 5}, "'public_key' is missing or not a string")]:
        (bundle / "signature.json").write_text(json.dumps({**record, **change}))
        with pytest.raises(SignatureError, match=needle):
            verify_bundle_signature(bundle, [keys["operator"]])
    (bundle / "signature.json").write_bytes(b"\xff{")
    with pytest.raises(SignatureError, match="not a readable JSON signature"):
        verify_bundle_signature(bundle, [keys["operator"]])


def test_trust_list_problems_are_named(signed, tmp_path):
    from sea.signing import SignatureError, verify_bundle_signature

    (tmp_path / "empty").mkdir()
    with pytest.raises(SignatureError, match="holds no \\*.pub public keys"):
        verify_bundle_signature(signed, [tmp_path / "empty"])
    (tmp_path / "junk.pub").write_text("not a key")
    with pytest.raises(SignatureError, match="junk.pub: not a readable PEM public key"):
        verify_bundle_signature(signed, [tmp_path / "junk.pub"])
    with pytest.raises(SignatureError, match="trusted_keys is empty"):
        verify_bundle_signature(signed, [])


def test_export_with_an_unusable_key_fails_before_converting(tmp_path, keys):
    ckpt = deploy_fixtures().write_tiny_checkpoint(tmp_path / "ckpt")
    result = cli("sea", "export", str(ckpt), "--out", str(tmp_path / "bundle"), "--sign",
                 str(keys["operator"] / "public.pub"))
    assert_one_line_failure(result, 2, "public.pub", "not a readable unencrypted PEM private key")
    assert not (tmp_path / "bundle").exists()
