# Gibbs sampling via MLM, in the style of bert4keras's basic_gibbs_sampling_via_mlm.py: train a BERT
# with its MLM head (with_mlm=True), then generate by repeatedly masking one position of the current
# text and sampling it from the MLM's distribution. Language: 8 copies of one letter of a-l
# ("d d d d d d d d"), easy to check. Metric: the fraction of valid samples after Gibbs sampling
# from random letter strings (a random string is valid with probability 12 / 12**8).
# Two-letter alternations ("a d a d ...") were tried first: the MLM loss stayed at ln 12 (chance)
# after 180 steps, so no sample was valid; copying the majority letter is learnt in ~300 steps.
import json
import os

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.layers import Loss
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import DataGenerator, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(13)
keras.utils.set_random_seed(13)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: fewer steps and samples
seq_len, batch_size = 8, 32
steps, epochs, num_samples = (60, 6, 64) if quick else (100, 10, 200)
alphabet = "abcdefghijkl"
tokenizer = Tokenizer(dict_path, do_lower_case=True)
letter_ids = [tokenizer.token_to_id(c) for c in alphabet]


def sample_text():
    return " ".join(alphabet[np.random.randint(len(alphabet))] * seq_len)


def is_valid(token_ids):
    letters = token_ids[1:-1]
    return letters[0] in letter_ids and all(t == letters[0] for t in letters)


class data_generator(DataGenerator):
    """Some letters replaced by random ones, some masked; the loss is on both (labels 0 elsewhere)."""

    def __iter__(self, random=False):
        batch_token_ids, batch_segment_ids, batch_labels = [], [], []
        for is_end, text in self.sample(random):
            token_ids, segment_ids = tokenizer.encode(text)
            labels = [0] * len(token_ids)
            positions = 1 + np.random.permutation(seq_len)
            n_mask, n_noise = np.random.randint(1, 3), np.random.randint(0, 4)
            for i in positions[: n_mask + n_noise]:
                labels[i] = token_ids[i]
            for i in positions[:n_mask]:
                token_ids[i] = tokenizer._token_mask_id
            for i in positions[n_mask : n_mask + n_noise]:
                token_ids[i] = letter_ids[np.random.randint(len(alphabet))]
            batch_token_ids.append(token_ids)
            batch_segment_ids.append(segment_ids)
            batch_labels.append(labels)
            if len(batch_token_ids) == self.batch_size or is_end:
                batch_token_ids = sequence_padding(batch_token_ids)
                batch_segment_ids = sequence_padding(batch_segment_ids)
                batch_labels = sequence_padding(batch_labels)
                yield [batch_token_ids, batch_segment_ids, batch_labels], None
                batch_token_ids, batch_segment_ids, batch_labels = [], [], []


class MaskedCrossEntropy(Loss):
    """Cross entropy at the positions with a label (label 0: not scored)."""

    def compute_loss(self, inputs, mask=None):
        y_true, y_pred = inputs
        y_mask = K.cast(K.not_equal(y_true, 0), K.floatx())
        loss = K.sparse_categorical_crossentropy(y_true, y_pred)
        return K.sum(loss * y_mask) / K.sum(y_mask)


model = build_transformer_model(config_path, with_mlm=True)
labels = keras.layers.Input(shape=(None,), dtype="int32", name="MLM-Labels")
output = MaskedCrossEntropy(1)([labels, model.output])
train_model = keras.models.Model(model.inputs + [labels], output)
train_model.compile(optimizer=Adam(3e-3))


def gibbs_sample(token_ids, iterations):
    """Each iteration masks one random position of every text and samples it from the MLM."""
    token_ids = np.array(token_ids)
    segment_ids = np.zeros_like(token_ids)
    rows = np.arange(len(token_ids))
    for _ in range(iterations):
        positions = 1 + np.random.randint(seq_len, size=len(token_ids))
        token_ids[rows, positions] = tokenizer._token_mask_id
        probas = model.predict([token_ids, segment_ids], verbose=0)[rows, positions].astype("float64")
        probas /= probas.sum(axis=1, keepdims=True)
        token_ids[rows, positions] = [np.random.choice(len(p), p=p) for p in probas]
    return token_ids


if __name__ == "__main__":
    train_data = [sample_text() for _ in range(batch_size * steps)]
    train_generator = data_generator(train_data, batch_size)
    train_model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    random_starts = [
        tokenizer.encode(" ".join(np.random.choice(list(alphabet), seq_len)))[0] for _ in range(num_samples)
    ]
    samples = gibbs_sample(random_starts, iterations=6 * seq_len)
    valid = [is_valid(list(s)) for s in samples]
    print(
        json.dumps(
            {
                "metric": "valid_fraction",
                "value": float(np.mean(valid)),
                "n": num_samples,
                "random_start_valid": float(np.mean([is_valid(s) for s in random_starts])),
                "random_valid_probability": 12 / 12**seq_len,
                "distinct_valid": len({tuple(s) for s, v in zip(samples.tolist(), valid) if v}),
            }
        )
    )
