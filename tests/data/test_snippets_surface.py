"""bert4keras snippets that scripts import: open.seek/tell, argument decorators, uniout, resize."""

import numpy as np
import pytest

from kerasformers.snippets import (
    delete_arguments,
    insert_arguments,
    is_one_of,
    open,
    orthogonally_resize,
    uniout,
)


def test_open_seek_tell_and_create_indexes(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("一二\nab\n三\n", encoding="utf-8")
    with open(str(path), encoding="utf-8") as f:
        assert f.readline() == "一二\n"
        position = f.tell()
        assert position == len("一二\n".encode())
        assert f.readline() == "ab\n"
        f.seek(position)
        assert f.readline() == "ab\n"
        f.create_indexes()
        assert len(f) == 3 and f[2] == "三\n" and f[0] == "一二\n"


def test_argument_decorators():
    class Model:
        @insert_arguments(alpha=0.5, beta=2)
        @delete_arguments("gamma")
        def __init__(self, size=1):
            self.size = size

    model = Model(size=3, beta=7)
    assert (model.alpha, model.beta, model.size) == (0.5, 7, 3)
    with pytest.raises(TypeError, match="gamma"):
        Model(gamma=1)


def test_is_one_of_uses_identity_and_uniout_is_a_no_op():
    a, b = np.zeros(3), np.zeros(3)
    assert is_one_of(a, [b, a]) and not is_one_of(a, [b])
    assert uniout is None


def test_orthogonally_resize_keeps_the_norm_and_shape():
    a = np.random.default_rng(0).normal(size=(4, 6))
    resized = orthogonally_resize(a, (8, 5))
    assert resized.shape == (8, 5)
    assert np.linalg.norm(resized) == pytest.approx(np.linalg.norm(a))
    # growing repeats pairs of rows: rows 0,1 then 0,1 again (before the final rescale)
    np.testing.assert_allclose(resized[2:4] / resized[0:2], np.ones((2, 5)))
    with pytest.raises(ValueError, match="rank"):
        orthogonally_resize(a, (8,))
