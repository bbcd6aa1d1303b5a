"""`kerasformers convert / inspect / encode / generate / serve / export` on real folders: the real
MiniLM weights through TF1 and back into a folder `transformers` loads, embeddings equal the model's,
generated text equals `generate`, a real `serve` process answers."""

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from kerasformers.checkpoints import open_checkpoint
from kerasformers.cli import app
from kerasformers.generation import generate
from kerasformers.serving import load_model
from tests.serving.test_embeddings import SENTENCES, direct_embeddings

runner = CliRunner()


def run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def test_convert_hf_to_tf1_and_back_loads_in_transformers(minilm_folder, tmp_path):
    transformers = pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    code, out = run("convert", minilm_folder, tmp_path / "tf1", "--to", "tf1")
    assert code == 0, out
    assert "round trip max relative difference" in out
    with open_checkpoint(str(tmp_path / "tf1" / "bert_model.ckpt")) as reader:
        assert "bert/encoder/layer_5/attention/self/query/kernel" in reader  # original TF1 names
    assert (tmp_path / "tf1" / "vocab.txt").is_file()
    code, out = run("convert", tmp_path / "tf1", tmp_path / "hf", "--to", "hf", "--model", "bert")
    assert code == 0, out
    original = transformers.BertModel.from_pretrained(minilm_folder).eval()
    converted = transformers.BertModel.from_pretrained(str(tmp_path / "hf")).eval()
    ids = torch.tensor([[101, 7592, 2088, 2003, 1037, 3231, 102]])
    with torch.no_grad():
        np.testing.assert_allclose(
            converted(ids).last_hidden_state.numpy(), original(ids).last_hidden_state.numpy(), atol=1e-5
        )
    # never overwrites without --force; a failed conversion leaves nothing behind
    code, out = run("convert", tmp_path / "tf1", tmp_path / "hf", "--model", "bert")
    assert code == 1 and "exists; pass --force" in out
    code, out = run("convert", tmp_path / "tf1", tmp_path / "bad", "--model", "gpt2")
    assert code == 1 and not (tmp_path / "bad").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf", "tf1"]  # no staging folders left


def test_convert_float16_and_inspect(gpt2_cli_folder, tmp_path):
    code, out = run("convert", gpt2_cli_folder, tmp_path / "half", "--to", "hf", "--dtype", "float16")
    assert code == 0, out
    code, out = run("inspect", tmp_path / "half", "--json")
    info = json.loads(out)
    assert info["family"] == "gpt2" and info["format"] == "safetensors"
    assert {dtype for _, _, dtype in info["variables"]} == {"float16"}
    with open_checkpoint(gpt2_cli_folder) as reader:
        assert info["parameters"] == sum(int(np.prod(reader.shape(n))) for n in reader)
    code, out = run("inspect", tmp_path / "half", "--limit", "3")
    assert code == 0 and "family: gpt2" in out and "more" in out
    code, out = run("inspect", tmp_path / "missing")
    assert code == 1 and "error:" in out


def test_encode_writes_the_model_embeddings(minilm_folder, tmp_path):
    (tmp_path / "in.txt").write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    code, out = run("encode", minilm_folder, "--input", tmp_path / "in.txt", "--output", tmp_path / "v.npy")
    assert code == 0, out
    model = load_model(minilm_folder)
    np.testing.assert_allclose(np.load(tmp_path / "v.npy"), direct_embeddings(model, SENTENCES), atol=2e-5)
    code, out = run(
        "encode", minilm_folder, "--input", tmp_path / "in.txt", "--pool", "cls", "--no-normalize"
    )
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in rows] == SENTENCES
    token_ids, segment_ids = model.tokenizer.encode(SENTENCES[0])
    cls = np.asarray(model.transformer.model([np.array([token_ids]), np.array([segment_ids])]))[0, 0]
    np.testing.assert_allclose(rows[0]["embedding"], cls, atol=2e-5)
    (tmp_path / "gap.txt").write_text("one\n\nthree\n", encoding="utf-8")
    code, out = run("encode", minilm_folder, "--input", tmp_path / "gap.txt")
    assert code == 1 and "line 2 is empty" in out


def test_generate_prints_what_generate_returns(gpt2_cli_folder):
    model = load_model(gpt2_cli_folder)
    prompt = "很好的酒店"
    printed = {}
    for beams in (1, 2):
        out_ids = generate(
            model.transformer,
            [model.encode(prompt)],
            max_new_tokens=10,
            num_beams=beams,
            stop_ids=[model.eos_id],
            pad_id=model.eos_id,
        )[0].tolist()
        if model.eos_id in out_ids:
            out_ids = out_ids[: out_ids.index(model.eos_id)]
        code, out = run(
            "generate", gpt2_cli_folder, "--prompt", prompt, "--max-new-tokens", 10, "--num-beams", beams
        )
        assert code == 0 and out == model.decode(out_ids) + "\n", (beams, out)
        printed[beams] = out
    code, streamed = run("generate", gpt2_cli_folder, "--prompt", prompt, "--max-new-tokens", 10, "--stream")
    assert code == 0 and streamed == printed[1]
    code, out = run("generate", gpt2_cli_folder, "--prompt", prompt, "--max-new-tokens", 500)
    assert code == 1 and "positions" in out


def test_serve_command_answers_on_loopback(gpt2_cli_folder):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kerasformers",
            "serve",
            gpt2_cli_folder,
            "--port",
            str(port),
            "--name",
            "tiny",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read().decode()
                time.sleep(0.5)
        body = httpx.post(
            f"http://127.0.0.1:{port}/v1/completions",
            timeout=120,
            json={"model": "tiny", "prompt": "很好", "max_tokens": 4, "temperature": 0},
        ).json()
        assert body["choices"][0]["finish_reason"] in ("stop", "length")
        assert "playground" in httpx.get(f"http://127.0.0.1:{port}/").text
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_export_saved_model_and_onnx_match_the_keras_model(gpt2_cli_folder, tmp_path):
    """The export runs on the TensorFlow backend (a subprocess); the artifacts are then checked here,
    independently, against the JAX model's logits."""
    formats = ["saved_model"] + (["onnx"] if _has("onnxruntime") and _has("tf2onnx") else [])
    for form in formats:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "kerasformers",
                "export",
                gpt2_cli_folder,
                str(tmp_path / form),
                "--format",
                form,
            ],
            check=False,
            capture_output=True,
            text=True,
            env={**os.environ, "KERAS_BACKEND": "tensorflow"},
            timeout=600,
        )
        assert result.returncode == 0, result.stderr[-2000:]
        assert "max relative difference" in result.stdout
    model = load_model(gpt2_cli_folder)
    ids = np.random.default_rng(0).integers(1, model.transformer.vocab_size, size=(2, 9)).astype("int32")
    expected = np.asarray(model.transformer.model(ids))
    tf = pytest.importorskip("tensorflow")
    loaded = tf.saved_model.load(str(tmp_path / "saved_model" / "saved_model"))  # kept alive while serving
    served = loaded.serve(ids)
    np.testing.assert_allclose(np.asarray(served), expected, atol=1e-4)
    if "onnx" in formats:
        import onnxruntime

        session = onnxruntime.InferenceSession(str(tmp_path / "onnx" / "model.onnx"))
        got = session.run(None, {session.get_inputs()[0].name: ids})[0]
        np.testing.assert_allclose(got, expected, atol=1e-4)
    code, out = run("export", gpt2_cli_folder, tmp_path / "saved_model")
    assert code == 1 and "exists; pass --force" in out


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None
