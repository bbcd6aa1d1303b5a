"""Helpers for comparing generations with HuggingFace `generate()` (the oracle)."""

import numpy as np


def pick_stop_id(run, default=None):
    """A stop id the oracle really emits (so some rows end early) and the oracle's output.

    `run(**kwargs)` calls the oracle's generate. Candidates come from its free-running
    output; a candidate that ends some rows but not all is preferred. Falls back to
    `default` (the model's own eos) when no candidate is ever emitted.
    """
    free = run(eos_token_id=default)
    candidates = list(dict.fromkeys(free.reshape(-1).tolist()))[:6]
    emitted = []
    for candidate in candidates:
        expected = run(eos_token_id=int(candidate))
        hit = (expected == candidate).any(axis=1)
        if hit.any() and not hit.all():
            return int(candidate), expected
        if hit.any():
            emitted.append((int(candidate), expected))
    if emitted:
        return emitted[0]
    assert default is not None, "no usable stop id in the oracle's output"
    return default, free


def assert_same_sequences(actual, expected, stop_id, pad_id=0):
    """Row by row, equal up to and including the first stop id; after it ours is padding.

    (HF pads finished rows with the eos id when pad_token_id is 0, so the tails differ.)
    """
    assert len(actual) == len(expected)
    for row in range(len(expected)):
        hits = np.flatnonzero(expected[row] == stop_id)
        end = hits[0] + 1 if len(hits) else expected.shape[1]
        np.testing.assert_array_equal(actual[row, :end], expected[row, :end], err_msg=f"row {row}")
        assert (actual[row, end:] == pad_id).all(), f"row {row}: tokens after the stop id"
