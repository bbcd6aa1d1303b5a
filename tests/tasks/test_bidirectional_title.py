"""title-generation with bidirectional=True: the L2R + R2L UniLM pair learns a small task, the
bidirectional beam is deterministic, save/load keeps both models; the beam algorithm on known scores."""

import random

import numpy as np
import pytest

from kerasformers.tasks import load
from kerasformers.tasks.bidirectional import bidirectional_beam_search
from kerasformers.tasks.title import TitleGenerationTask, title_scores

TINY = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}
TOPICS = {"雨": "阴雨绵绵", "晴": "晴空万里", "风": "大风降温", "雪": "飘雪"}


def topic_records(count, seed=0):
    """Filler characters around one topic character; the title names the topic."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        topic = rng.choice(sorted(TOPICS))
        filler = [rng.choice("天地人山水云花月") for _ in range(rng.randint(5, 9))]
        filler.insert(rng.randint(0, len(filler)), topic)
        records.append({"text": "".join(filler), "title": TOPICS[topic]})
    return records


@pytest.fixture(scope="module")
def task():
    task = TitleGenerationTask(
        checkpoint="scratch", encoder=TINY, maxlen=24, max_target_length=5, bidirectional=True, beam_size=2
    )
    task.fit(topic_records(160), epochs=8, batch_size=32, learning_rate=1e-2, verbose=0)
    return task


def test_bidirectional_title_learns_and_is_deterministic(task):
    test = topic_records(8, seed=1)
    references = [r["title"] for r in test]
    titles = [answer["title"] for answer in task.predict([r["text"] for r in test], batch_size=8)]
    constant = title_scores(["阴雨绵绵"] * len(test), references)["rouge-l"]
    assert title_scores(titles, references)["rouge-l"] > constant + 0.3
    again = task.predict([r["text"] for r in test[:3]], batch_size=2)  # other batches, same titles
    assert [answer["title"] for answer in again] == titles[:3]


def test_bidirectional_title_save_load(task, tmp_path):
    texts = [r["text"] for r in topic_records(3, seed=3)]
    expected = task.predict(texts)
    task.save(tmp_path / "bi")
    again = load(tmp_path / "bi")
    assert again.options["bidirectional"] and again.predict(texts) == expected
    for before, after in zip(task.train_model.get_weights(), again.train_model.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert len(task.train_model.get_weights()) > len(task.transformer.model.get_weights())  # R2L saved too


def test_bidirectional_refuses_t5_and_non_booleans():
    with pytest.raises(ValueError, match="bidirectional=True needs model=bert"):
        TitleGenerationTask(checkpoint="scratch", model="t5", bidirectional=True)
    with pytest.raises(ValueError, match="bidirectional must be true or false, got 'False'"):
        TitleGenerationTask(checkpoint="scratch", bidirectional="False")  # a string would be truthy


def fixed_scorer(l2r_table, r2l_table):
    """score_pairs from per-step tables (step → log-probs over a 4-token vocabulary; token 3 ends)."""

    def score_pairs(l2r, r2l):
        left = np.log(np.asarray(l2r_table[l2r.shape[1]], float))
        right = np.log(np.asarray(r2l_table[r2l.shape[1]], float))
        shape = (len(l2r), len(r2l), 4)
        return np.broadcast_to(left, shape), np.broadcast_to(right, shape)

    return score_pairs


def test_beam_search_picks_the_side_that_ends_first_with_the_better_score():
    # L2R wants "0 1 <end>" (p = .6 · .5 · .9); R2L is sure of "2 0 <end>" reversed → "0 2" (p ≈ .95³)
    l2r = {0: [0.6, 0.2, 0.1, 0.1], 1: [0.2, 0.5, 0.2, 0.1], 2: [0.05, 0.025, 0.025, 0.9]}
    r2l = {0: [0.02, 0.01, 0.95, 0.02], 1: [0.95, 0.02, 0.01, 0.02], 2: [0.02, 0.02, 0.01, 0.95]}
    both = bidirectional_beam_search(fixed_scorer(l2r, r2l), end_id=3, max_steps=5, topk=2)
    assert both.tolist() == [0, 2]
    alone = bidirectional_beam_search(fixed_scorer(l2r, r2l), end_id=3, max_steps=5, topk=2, both_sides=False)
    assert alone.tolist() == [0, 1]


@pytest.mark.parametrize("family", ["bert", "roformer"])
def test_each_side_reads_the_other_sides_output_up_to_the_same_step(family):
    """Interactive attention: the L2R logits at target step t change with the R2L tokens at steps ≤ t
    and not with later ones (and the other way round)."""
    task = TitleGenerationTask(
        checkpoint="scratch", model=family, encoder=TINY, maxlen=24, max_target_length=5, bidirectional=True
    )
    task.prepare(topic_records(20))
    rng = np.random.default_rng(0)
    for variable in task.train_model.weights:  # every parameter random, so no path is silent
        value = rng.normal(0, 0.25, variable.shape)
        if variable.path.endswith("gamma"):
            value = 1 + rng.normal(0, 0.1, variable.shape)
        variable.assign(value.astype("float32"))
    source = len(task.features({"text": "天地雨人"}, training=False)[0]["token_ids"])
    left = rng.integers(5, 20, (1, source + 5)).astype("int32")
    right = rng.integers(5, 20, (1, source + 5)).astype("int32")
    right[:, :source] = left[:, :source]  # one source, two target orders
    segments = np.zeros_like(left)
    segments[:, source:] = 1

    def logits(left, right):
        return [np.asarray(x) for x in task.pair_model.predict_on_batch([left, segments, right, segments])]

    base_l, base_r = logits(left, right)
    step = source + 2
    later, earlier = right.copy(), right.copy()
    later[:, step + 1] = 7 if later[0, step + 1] != 7 else 8
    earlier[:, step] = 7 if earlier[0, step] != 7 else 8
    l_later, _ = logits(left, later)
    l_earlier, _ = logits(left, earlier)
    np.testing.assert_allclose(l_later[:, : step + 1], base_l[:, : step + 1], atol=1e-5)
    assert np.abs(l_earlier[:, step] - base_l[:, step]).max() > 1e-3  # the R2L token at step t is seen
    np.testing.assert_allclose(l_earlier[:, :step], base_l[:, :step], atol=1e-5)
    changed = left.copy()
    changed[:, step] = 7 if changed[0, step] != 7 else 8
    _, r_changed = logits(changed, right)
    assert np.abs(r_changed[:, step] - base_r[:, step]).max() > 1e-3
    np.testing.assert_allclose(r_changed[:, :step], base_r[:, :step], atol=1e-5)


def test_bidirectional_greedy_decodes_and_sampling_is_refused(task):
    with pytest.raises(ValueError, match="sampling is not supported"):
        TitleGenerationTask(checkpoint="scratch", bidirectional=True, decoding="sample")
    task.options["decoding"] = "greedy"
    try:
        titles = task.predict([r["text"] for r in topic_records(4, seed=5)])
    finally:
        task.options["decoding"] = "beam"
    assert all(answer["title"] for answer in titles)
