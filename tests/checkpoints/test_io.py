"""Checkpoint readers/writers: round trips, parity with TensorFlow/torch/safetensors, bad input."""

import json
import os
import subprocess
import sys
import tracemalloc

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kerasformers.checkpoints import (
    CheckpointError,
    CheckpointReader,
    open_checkpoint,
    resolve_checkpoint_path,
    tf1,
    write_safetensors,
    write_tf1_checkpoint,
)

RNG = np.random.default_rng(0)


def sample_tensors():
    """Every supported dtype, scalars, empty dims, 3-D, non-ASCII and prefix-sharing names."""
    tensors = {
        "bert/embeddings/word_embeddings": RNG.normal(size=(11, 6)).astype(np.float32),
        "bert/embeddings/word_embeddings_2": RNG.normal(size=(3,)).astype(np.float32),
        "scalar_f64": np.float64(3.25),
        "empty_i32": np.zeros((0, 3), np.int32),
        "cube_bf16": RNG.normal(size=(2, 3, 4)).astype(ml_dtypes.bfloat16),
        "half": RNG.normal(size=(5,)).astype(np.float16),
        "mask": np.array([[True, False], [False, True]]),
        "i8": np.arange(-4, 4, dtype=np.int8),
        "u8": np.arange(250, 256, dtype=np.uint8),
        "i16": np.array([-(2**15), 2**15 - 1], np.int16),
        "i64": np.arange(4, dtype=np.int64) * 10**12,
        "global_step": np.int64(12345),
        "中文/权重": RNG.normal(size=(2, 2)).astype(np.float32),
    }
    for i in range(150):  # several SSTable blocks and restart points
        tensors[f"bert/encoder/layer_{i}/output/dense/kernel"] = RNG.normal(size=(2, 3)).astype(np.float32)
    return tensors


def expected_read(value):
    value = np.asarray(value)
    return value.astype(np.float32) if value.dtype in (np.float16, ml_dtypes.bfloat16) else value


def assert_reads_back(reader, tensors):
    assert sorted(reader.keys()) == sorted(tensors)
    for name, value in tensors.items():
        value = np.asarray(value)
        got, want = reader[name], expected_read(value)
        assert reader.shape(name) == value.shape, name
        assert reader.dtype(name) == value.dtype, name
        assert got.dtype == want.dtype and got.shape == want.shape, name
        assert got.tobytes() == want.tobytes(), name  # bitwise


# ------------------------------------------------------------------ known answers


def test_crc32c_known_answers(monkeypatch):
    assert tf1.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert tf1.crc32c(np.frombuffer(b"123456789", np.uint8)) == 0xE3069283
    assert tf1.mask_crc(0) == 0xA282EAD8
    monkeypatch.setattr(tf1, "google_crc32c", None)  # pure-Python fallback
    assert tf1.crc32c(b"123456789") == 0xE3069283
    assert tf1.crc32c(b"") == 0


def test_slice_key_matches_tensorflow():
    # Key TensorFlow 2.21 wrote for rows 0..50 of a sharded (100, 50) variable.
    name = "v1/.ATTRIBUTES/VARIABLE_VALUE"
    expected = b"\x00" + name.encode() + b"\x00\x01\x01\x02\x80\xb2\x80\xb2"
    assert tf1.slice_key(name, [(0, 50), (0, 50)]) == expected
    assert tf1._ordered_signed(-1) == b"\x7f"  # "whole dimension"
    # Multi-byte codes keep byte order == numeric order.
    values = [-(2**40), -1000, -65, -1, 0, 63, 64, 1000, 2**20, 2**40]
    codes = [tf1._ordered_signed(v) for v in values]
    assert codes == sorted(codes)


# ------------------------------------------------------------------ TF1 bundle


def test_tf1_round_trip(tmp_path):
    tensors = sample_tensors()
    write_tf1_checkpoint(tmp_path / "model.ckpt", tensors)
    with open_checkpoint(tmp_path / "model.ckpt") as reader:
        assert isinstance(reader, CheckpointReader)
        assert reader.format == "tf1" and reader.path == str(tmp_path / "model.ckpt")
        assert_reads_back(reader, tensors)
        assert "scalar_f64" in reader and "nope" not in reader and len(reader) == len(tensors)
    write_tf1_checkpoint(tmp_path / "be.ckpt", {"big_endian": np.arange(3, dtype=">f4")})
    assert open_checkpoint(tmp_path / "be.ckpt")["big_endian"].tolist() == [0.0, 1.0, 2.0]


names = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12)
arrays = st.sampled_from([np.float32, np.int64, np.float16, np.uint8]).flatmap(
    lambda dtype: st.lists(st.integers(0, 4), max_size=3).map(
        lambda shape: (
            (np.arange(int(np.prod(shape)), dtype=np.float64) * 1.5 - 3).astype(dtype).reshape(shape)
        )
    )
)


@settings(max_examples=30, deadline=None)
@given(st.dictionaries(names, arrays, min_size=1, max_size=40))
def test_tf1_round_trip_property(tmp_path_factory, tensors):
    prefix = tmp_path_factory.mktemp("prop") / "ckpt"
    write_tf1_checkpoint(prefix, tensors)
    with open_checkpoint(prefix) as reader:
        assert_reads_back(reader, tensors)


def test_reader_imports_neither_tensorflow_nor_torch(tmp_path):
    write_tf1_checkpoint(tmp_path / "m.ckpt", {"a/b": np.arange(3.0)})
    write_safetensors(tmp_path / "m.safetensors", {"a": np.arange(2.0)})
    code = (
        "import sys\n"
        "from kerasformers.checkpoints import open_checkpoint\n"
        f"assert open_checkpoint({str(tmp_path / 'm.ckpt')!r})['a/b'].tolist() == [0.0, 1.0, 2.0]\n"
        f"assert open_checkpoint({str(tmp_path / 'm.safetensors')!r})['a'].tolist() == [0.0, 1.0]\n"
        "bad = [m for m in ('tensorflow', 'torch', 'keras') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def tf_checkpoints(tmp_path_factory):
    """Checkpoints written by TensorFlow itself: a TF1 Saver one and a sharded TF2 one."""
    tf = pytest.importorskip("tensorflow")
    root = tmp_path_factory.mktemp("tf")
    values = {
        "bert/embeddings/word_embeddings": RNG.normal(size=(13, 8)).astype(np.float32),
        "bert/encoder/layer_0/attention/self/query/bias": RNG.normal(size=(8,)).astype(np.float32),
        "bert/pooler/dense/kernel_bf16": RNG.normal(size=(4, 4)).astype(ml_dtypes.bfloat16),
        "bert/counts": np.arange(6, dtype=np.int64).reshape(2, 3),
    }
    graph = tf.Graph()
    with graph.as_default():
        for name, value in values.items():
            tf.compat.v1.get_variable(name, initializer=value)
        saver = tf.compat.v1.train.Saver()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, str(root / "v1" / "bert_model.ckpt"))
    # MaxShardSizePolicy spreads variables over shards and splits big ones into slices.
    variables = {
        "big": tf.Variable(RNG.normal(size=(300, 37)).astype(np.float32)),
        "cube": tf.Variable(RNG.normal(size=(70, 7, 3))),
        "small": tf.Variable(np.arange(5, dtype=np.int32)),
    }
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=9000)
    sharded = tf.train.Checkpoint(**variables).write(
        str(root / "sharded" / "ckpt"),
        options=tf.train.CheckpointOptions(experimental_sharding_callback=policy),
    )
    return tf, str(root / "v1"), values, sharded


def test_tensorflow_reads_our_checkpoint(tmp_path, tf_checkpoints):
    tf = tf_checkpoints[0]
    tensors = sample_tensors()
    write_tf1_checkpoint(tmp_path / "model.ckpt", tensors)
    reader = tf.train.load_checkpoint(str(tmp_path / "model.ckpt"))  # verifies every checksum
    assert sorted(reader.get_variable_to_shape_map()) == sorted(tensors)
    for name, value in tensors.items():
        got = reader.get_tensor(name)
        assert got.shape == np.shape(value) and got.tobytes() == np.asarray(value).tobytes(), name
    assert tf.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "model.ckpt")


def test_we_read_tensorflow_saver_checkpoint(tf_checkpoints):
    _, directory, values, _ = tf_checkpoints
    assert resolve_checkpoint_path(directory)[1] == "tf1"
    with open_checkpoint(directory) as reader:  # follows the `checkpoint` state file
        assert_reads_back(reader, values)


def test_we_read_tensorflow_sharded_sliced_checkpoint(tf_checkpoints):
    tf, _, _, prefix = tf_checkpoints
    data_files = [f for f in os.listdir(os.path.dirname(prefix)) if ".data-" in f]
    assert len(data_files) > 2
    reference = tf.train.load_checkpoint(prefix)
    with open_checkpoint(prefix) as reader:
        assert len(reader._slice_entries) > 2  # really exercises sliced tensors
        for name in reader.keys():
            if name == "_CHECKPOINTABLE_OBJECT_GRAPH":
                with pytest.raises(CheckpointError, match="string tensor"):
                    reader[name]
                continue
            want = reference.get_tensor(name)
            assert reader[name].tobytes() == want.tobytes() and reader.shape(name) == want.shape, name


# ------------------------------------------------------------------ TF1 bad input


@pytest.fixture
def small_ckpt(tmp_path):
    prefix = tmp_path / "model.ckpt"
    write_tf1_checkpoint(prefix, {"bert/pooler/dense/kernel": np.ones((64, 64), np.float32), "b": np.ones(3)})
    return prefix


def test_missing_variable_lists_close_matches(small_ckpt):
    reader = open_checkpoint(small_ckpt)
    with pytest.raises(
        CheckpointError,
        match=r"bert/pooler/dense/kernal.*model\.ckpt.*Close matches: bert/pooler/dense/kernel",
    ):
        reader["bert/pooler/dense/kernal"]
    with pytest.raises(KeyError):
        reader.shape("missing")


def test_truncated_and_foreign_index(small_ckpt):
    index = small_ckpt.parent / "model.ckpt.index"
    content = index.read_bytes()
    index.write_bytes(content[:20])
    with pytest.raises(CheckpointError, match=r"Truncated TF1 index .*model\.ckpt\.index"):
        open_checkpoint(small_ckpt)
    index.write_bytes(content[: len(content) // 2])
    with pytest.raises(CheckpointError, match=r"model\.ckpt\.index"):
        open_checkpoint(small_ckpt)
    index.write_bytes(content[:-8] + b"\x00" * 8)
    with pytest.raises(CheckpointError, match=r"not a TF1 checkpoint index \(bad magic"):
        open_checkpoint(small_ckpt)
    corrupted = bytearray(content)
    corrupted[5] ^= 0xFF
    index.write_bytes(bytes(corrupted))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        open_checkpoint(small_ckpt)


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_damaged_index_never_raises_anything_but_checkpoint_error(tmp_path_factory, data):
    prefix = tmp_path_factory.mktemp("fuzz") / "m.ckpt"
    write_tf1_checkpoint(prefix, {"a": np.ones(2), "b/c": np.zeros(3, np.int32), "中": np.ones(1)})
    index = prefix.parent / "m.ckpt.index"
    content = bytearray(index.read_bytes())
    position = data.draw(st.integers(0, len(content) - 1))
    if data.draw(st.booleans()):
        content[position] ^= data.draw(st.integers(1, 255))
    else:
        del content[position:]
    index.write_bytes(bytes(content))
    try:
        with open_checkpoint(prefix) as reader:
            assert reader["a"].tolist() == [1.0, 1.0]  # damage the checksums cannot see is harmless
    except CheckpointError as e:
        assert "m.ckpt" in str(e)


def test_truncated_missing_and_corrupted_data(small_ckpt):
    data = small_ckpt.parent / "model.ckpt.data-00000-of-00001"
    content = data.read_bytes()
    data.write_bytes(content[:100])
    reader = open_checkpoint(small_ckpt)
    with pytest.raises(
        CheckpointError, match=r"Truncated TF1 data file .*data-00000-of-00001.*bert/pooler/dense/kernel"
    ):
        reader["bert/pooler/dense/kernel"]
    reader.close()
    corrupted = bytearray(content)
    corrupted[-1] ^= 0x01
    data.write_bytes(bytes(corrupted))
    if tf1.google_crc32c is not None:
        with pytest.raises(CheckpointError, match="checksum mismatch for variable"):
            open_checkpoint(small_ckpt)["bert/pooler/dense/kernel"]
    os.remove(data)
    with pytest.raises(CheckpointError, match=r"missing its data file .*data-00000-of-00001"):
        open_checkpoint(small_ckpt)


def test_writer_rejects_bad_input_and_is_atomic(small_ckpt, monkeypatch):
    with pytest.raises(CheckpointError, match=r"'names'.*dtype <U1"):
        write_tf1_checkpoint(small_ckpt, {"ok": np.ones(2), "names": np.array(["a", "b"])})
    with pytest.raises(CheckpointError, match="non-empty string"):
        write_tf1_checkpoint(small_ckpt, {"": np.ones(2)})

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tf1, "build_sstable", broken)
    with pytest.raises(OSError, match="disk full"):
        write_tf1_checkpoint(small_ckpt, {"b": np.zeros(3)})
    # The old checkpoint is intact and no temp files are left behind.
    assert open_checkpoint(small_ckpt)["b"].tolist() == [1.0, 1.0, 1.0]
    assert not [f for f in os.listdir(small_ckpt.parent) if f.endswith(".tmp")]


@pytest.mark.skipif(tf1.google_crc32c is None, reason="checksumming 200 MB in pure Python takes ~30 s")
def test_read_one_tensor_of_large_checkpoint_allocates_only_that_tensor(tmp_path):
    big = np.ones(50_000_000, np.float32)  # 200 MB
    write_tf1_checkpoint(tmp_path / "big.ckpt", {"big": big, "small": np.arange(1000, dtype=np.float32)})
    del big
    reader = open_checkpoint(tmp_path / "big.ckpt")
    tracemalloc.start()
    try:
        small = reader["small"]
        _, peak_small = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        large = reader["big"]
        _, peak_big = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert small[-1] == 999.0 and large.shape == (50_000_000,) and large[-1] == 1.0
    assert peak_small < 1_000_000  # 4 KB tensor: nothing near the 200 MB file is read
    assert 200e6 <= peak_big < 1.1 * 200e6  # tracemalloc sees the read buffer, and it is read once


# ------------------------------------------------------------------ safetensors


def test_safetensors_round_trip_and_metadata(tmp_path):
    tensors = {k: v for k, v in sample_tensors().items() if not k.startswith("bert/encoder")}
    path = tmp_path / "model.safetensors"
    write_safetensors(path, tensors, metadata={"format": "np"})
    assert resolve_checkpoint_path(path) == (str(path), "safetensors")
    with open_checkpoint(path) as reader:
        assert reader.format == "safetensors"
        assert_reads_back(reader, tensors)
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        assert f.metadata() == {"format": "np"}
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_safetensors_reads_lazily(tmp_path):
    path = tmp_path / "big.safetensors"
    write_safetensors(path, {"big": np.ones((1000, 10000), np.float32), "small": np.arange(10.0)})
    reader = open_checkpoint(path)
    tracemalloc.start()
    try:
        assert reader["small"][-1] == 9.0
        _, peak_small = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        assert reader["big"].shape == (1000, 10000)
        _, peak_big = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_small < 1_000_000 and peak_big >= 40e6


def test_safetensors_sharded_index(tmp_path):
    write_safetensors(tmp_path / "model-00001-of-00002.safetensors", {"a": np.arange(4.0)})
    write_safetensors(tmp_path / "model-00002-of-00002.safetensors", {"b": np.ones(2, ml_dtypes.bfloat16)})
    index = {
        "metadata": {},
        "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"},
    }
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    with open_checkpoint(tmp_path) as reader:
        assert reader.path.endswith("model.safetensors.index.json")
        assert_reads_back(reader, {"a": np.arange(4.0), "b": np.ones(2, ml_dtypes.bfloat16)})
    index["weight_map"]["c"] = "model-00001-of-00002.safetensors"
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match="'c' is listed in .*index.json but missing from shard"):
        open_checkpoint(tmp_path)["c"]
    index["weight_map"]["d"] = "gone.safetensors"
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(CheckpointError, match=r"gone\.safetensors listed in .*index\.json does not exist"):
        open_checkpoint(tmp_path)


def test_safetensors_bad_input(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CheckpointError, match=r"bad\.safetensors"):
        open_checkpoint(bad)
    with pytest.raises(CheckpointError, match="metadata must be a dict of str -> str"):
        write_safetensors(tmp_path / "x.safetensors", {"a": np.ones(1)}, metadata={"n": 1})
    with pytest.raises(CheckpointError, match="'o'.*cannot store"):
        write_safetensors(tmp_path / "x.safetensors", {"o": np.array([object()])})


# ------------------------------------------------------------------ PyTorch


def test_torch_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    weight = torch.arange(6.0).reshape(2, 3)
    state = {
        "w": weight,
        "w_t": weight.t(),
        "bf": torch.tensor([1.5, -2.0], dtype=torch.bfloat16),
        "i": torch.arange(3),
    }
    torch.save(state, tmp_path / "pytorch_model.bin")
    with open_checkpoint(tmp_path) as reader:
        assert reader.format == "torch" and reader.path.endswith("pytorch_model.bin")
        assert reader["w_t"].tolist() == weight.t().tolist() and reader.shape("w_t") == (3, 2)
        assert reader["bf"].dtype == np.float32 and reader["bf"].tolist() == [1.5, -2.0]
        assert reader.dtype("bf") == ml_dtypes.bfloat16 and reader.dtype("i") == np.int64
    torch.save({"state_dict": {"w": weight}, "epoch": 3}, tmp_path / "wrapped.pt")
    assert open_checkpoint(tmp_path / "wrapped.pt")["w"].tolist() == weight.tolist()
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    torch.save({"a": weight}, sharded / "part1.bin")
    torch.save({"b": -weight}, sharded / "part2.bin")
    index = {"weight_map": {"a": "part1.bin", "b": "part2.bin"}}
    (sharded / "pytorch_model.bin.index.json").write_text(json.dumps(index))
    with open_checkpoint(sharded) as reader:
        assert reader.format == "torch" and reader.keys() == ["a", "b"]
        assert reader["b"].tolist() == (-weight).tolist() and reader.shape("a") == (2, 3)


class _Payload:
    """Unpickling this would create a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_torch_refuses_pickled_code(tmp_path):
    torch = pytest.importorskip("torch")
    marker = tmp_path / "code-ran"
    torch.save({"w": torch.ones(2), "evil": _Payload(str(marker))}, tmp_path / "evil.bin")
    with pytest.raises(CheckpointError, match=r"Refusing to load .*evil\.bin"):
        open_checkpoint(tmp_path / "evil.bin")
    assert not marker.exists()


def test_torch_missing_gives_install_hint(tmp_path, monkeypatch):
    (tmp_path / "pytorch_model.bin").write_bytes(b"PK")
    monkeypatch.setitem(sys.modules, "torch", None)  # makes `import torch` fail
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin.*pip install torch"):
        open_checkpoint(tmp_path)


# ------------------------------------------------------------------ path resolution


def test_hf_directory_resolution_order(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"x": torch.zeros(1)}, tmp_path / "pytorch_model.bin")
    write_safetensors(tmp_path / "shard.safetensors", {"x": np.full(1, 2.0)})
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"x": "shard.safetensors"}})
    )
    write_safetensors(tmp_path / "model.safetensors", {"x": np.full(1, 1.0)})
    expected = [
        ("model.safetensors", "safetensors", 1.0),
        ("model.safetensors.index.json", "safetensors", 2.0),
        ("pytorch_model.bin", "torch", 0.0),
    ]
    for filename, fmt, value in expected:
        assert resolve_checkpoint_path(tmp_path) == (str(tmp_path / filename), fmt)
        assert open_checkpoint(tmp_path)["x"][0] == value
        os.remove(tmp_path / filename)
    with pytest.raises(
        CheckpointError, match=rf"No checkpoint found in directory {tmp_path}.*model\.safetensors"
    ):
        open_checkpoint(tmp_path)


def test_tf1_path_forms(tmp_path):
    prefix = tmp_path / "bert_model.ckpt"
    write_tf1_checkpoint(prefix, {"a": np.ones(1)})
    for form in (prefix, f"{prefix}.index", f"{prefix}.data-00000-of-00001", tmp_path):
        assert resolve_checkpoint_path(form) == (str(prefix), "tf1")
    # A `checkpoint` state file with a stale absolute path (checkpoint moved): use the name.
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "/elsewhere/bert_model.ckpt"\n')
    assert resolve_checkpoint_path(tmp_path) == (str(prefix), "tf1")
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "other.ckpt"\n')
    with pytest.raises(CheckpointError, match=r"names checkpoint 'other\.ckpt'"):
        open_checkpoint(tmp_path)
    os.remove(tmp_path / "checkpoint")  # no state file: the single *.index is used
    assert resolve_checkpoint_path(tmp_path) == (str(prefix), "tf1")
    with pytest.raises(CheckpointError, match=r"Checkpoint not found: .*nope.*nope\.index"):
        open_checkpoint(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match=r"Unknown checkpoint format for file .*notes\.txt"):
        open_checkpoint(tmp_path / "notes.txt")
