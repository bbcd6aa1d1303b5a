# Reading comprehension by seq2seq, in the style of bert4keras's task_reading_comprehension_by_seq2seq.py:
# a UniLM (application='unilm') reads [CLS] question [SEP] passage [SEP] and writes the answer,
# decoded with AutoRegressiveDecoder.beam_search (topk=1: greedy). Data: a 20-character window of an
# MSRA sentence, question = an entity type (人名 / 地名 / 机构), answer = the first entity of that
# type in the window (at most 4 characters); exact-match rate.
import json
import os

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.layers import Loss
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import AutoRegressiveDecoder, DataGenerator, open, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(12)
keras.utils.set_random_seed(12)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data
max_p_len, max_a_len, batch_size = 20, 4, 32
epochs = 4 if quick else 12
length = 1 + 2 + 1 + max_p_len + 1 + max_a_len + 1  # every training input has this length
questions = {"PER": "人名", "LOC": "地名", "ORG": "机构"}


def load_data(filename, seed):
    """(passage, question, answer) triples: windows of MSRA sentences around an entity."""
    rng = np.random.RandomState(seed)
    D = []
    with open(filename, encoding="utf-8") as f:
        sentences = [[l.split() for l in s.split("\n")] for s in f.read().strip().split("\n\n")]
    for sentence in sentences:
        text = "".join(c for c, _ in sentence)
        if len(text) < max_p_len:
            continue
        entities, start = [], None
        for i, (_, tag) in enumerate(sentence):
            if tag[0] in "BS":
                start = i
            if tag[0] in "ES" and start is not None:
                entities.append((start, i + 1, tag[2:]))
                start = None
        for kind, question in questions.items():
            spans = [(s, e) for s, e, k in entities if k == kind]
            if not spans:
                continue
            s, e = spans[0]
            low, high = max(0, e - max_p_len), min(s, len(text) - max_p_len)
            if low > high:
                continue
            w = rng.randint(low, high + 1)
            if any(s < w < e for s, e in spans):  # an entity of this kind cut by the window
                continue
            inside = [(s, e) for s, e in spans if s >= w and e <= w + max_p_len]
            s, e = inside[0]
            if e - s <= max_a_len:
                D.append((text[w : w + max_p_len], question, text[s:e]))
    return D


train_data = load_data(os.path.join(data_dir, "ner_train.txt"), 0)
test_data = load_data(os.path.join(data_dir, "ner_test.txt"), 1)
if quick:
    train_data, test_data = train_data[:1280], test_data[:80]
tokenizer = Tokenizer(dict_path, do_lower_case=True)


def encode_source(passage, question):
    q_token_ids = tokenizer.encode(question)[0]
    p_token_ids = tokenizer.encode(passage)[0]
    return q_token_ids + p_token_ids[1:]


class data_generator(DataGenerator):
    def __iter__(self, random=False):
        batch_token_ids, batch_segment_ids = [], []
        for is_end, (passage, question, answer) in self.sample(random):
            source_ids = encode_source(passage, question)
            target_ids = tokenizer.encode(answer)[0][1:]
            batch_token_ids.append(source_ids + target_ids)
            batch_segment_ids.append([0] * len(source_ids) + [1] * len(target_ids))
            if len(batch_token_ids) == self.batch_size or is_end:
                batch_token_ids = sequence_padding(batch_token_ids, length)
                batch_segment_ids = sequence_padding(batch_segment_ids, length)
                yield [batch_token_ids, batch_segment_ids], None
                batch_token_ids, batch_segment_ids = [], []


class CrossEntropy(Loss):
    """Cross entropy on the answer segment only."""

    def compute_loss(self, inputs, mask=None):
        y_true, y_mask, y_pred = inputs
        y_true = y_true[:, 1:]
        y_mask = K.cast(y_mask[:, 1:], K.floatx())
        y_pred = y_pred[:, :-1]
        loss = K.sparse_categorical_crossentropy(y_true, y_pred)
        return K.sum(loss * y_mask) / K.sum(y_mask)


model = build_transformer_model(config_path, application="unilm")
output = CrossEntropy(2)(model.inputs + model.outputs)
model = keras.models.Model(model.inputs, output)
model.compile(optimizer=Adam(3e-3))


class ReadingComprehension(AutoRegressiveDecoder):
    @AutoRegressiveDecoder.wraps(default_rtype="probas")
    def predict(self, inputs, output_ids, states):
        token_ids, segment_ids, allowed = inputs
        token_ids = np.concatenate([token_ids, output_ids], 1)
        segment_ids = np.concatenate([segment_ids, np.ones_like(output_ids)], 1)
        probas = self.last_token(model).predict([token_ids, segment_ids], verbose=0)
        return probas * allowed  # only the passage's tokens (and the end) can be written

    def answer(self, passage, question, topk=1):
        token_ids = encode_source(passage, question)
        allowed = np.zeros(tokenizer._vocab_size)
        allowed[token_ids[-max_p_len - 1 :]] = 1
        output_ids = self.beam_search([token_ids, [0] * len(token_ids), allowed], topk=topk)
        return [int(i) for i in output_ids if i != tokenizer._token_end_id]


reader = ReadingComprehension(start_id=None, end_id=tokenizer._token_end_id, maxlen=max_a_len + 1)


def exact_match(data):
    right = [reader.answer(p, q) == tokenizer.encode(a)[0][1:-1] for p, q, a in data]
    return float(np.mean(right))


def majority_baseline():
    """The most frequent training answer of each question, given to every test question."""
    counts = {}
    for _, question, answer in train_data:
        counts.setdefault(question, {}).setdefault(answer, 0)
        counts[question][answer] += 1
    guess = {q: max(c, key=c.get) for q, c in counts.items()}
    return float(np.mean([guess[q] == a for _, q, a in test_data]))


if __name__ == "__main__":
    train_generator = data_generator(train_data, batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    em = exact_match(test_data)
    print(
        json.dumps(
            {
                "metric": "exact_match",
                "value": em,
                "n": len(test_data),
                "majority_baseline": majority_baseline(),
                "train": len(train_data),
            }
        )
    )
