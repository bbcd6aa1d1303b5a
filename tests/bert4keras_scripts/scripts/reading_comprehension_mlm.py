# Reading comprehension by MLM, in the style of bert4keras's task_reading_comprehension_by_mlm.py:
# [CLS] [MASK]*max_a_len [SEP] question [SEP] passage [SEP]; the answer is read from the MLM head
# (with_mlm=True) at the [MASK] slots (empty slots: [PAD]), decoded constrained to the passage: the
# passage span of 1-4 tokens with the highest log-probability.
# Data: a 20-character window of an MSRA sentence, question = an entity type (人名 / 地名 / 机构),
# answer = the first entity of that type in the window (at most 4 characters); exact-match rate.
import json
import os

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import DataGenerator, open, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(11)
keras.utils.set_random_seed(11)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data
max_p_len, max_a_len, batch_size = 20, 4, 32
epochs = 4 if quick else 12
length = 1 + max_a_len + 1 + 2 + 1 + max_p_len + 1  # every input has this length
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
    train_data, test_data = train_data[:1280], test_data[:160]
tokenizer = Tokenizer(dict_path, do_lower_case=True)


def encode(passage, question):
    q_token_ids = tokenizer.encode(question)[0]
    p_token_ids = tokenizer.encode(passage)[0]
    mask_ids = [tokenizer._token_mask_id] * max_a_len
    return (
        [tokenizer._token_start_id] + mask_ids + [tokenizer._token_end_id] + q_token_ids[1:] + p_token_ids[1:]
    )


class data_generator(DataGenerator):
    def __iter__(self, random=False):
        batch_token_ids, batch_segment_ids, batch_a_token_ids = [], [], []
        for is_end, (passage, question, answer) in self.sample(random):
            token_ids = encode(passage, question)
            a_token_ids = tokenizer.encode(answer)[0][1:-1]
            batch_token_ids.append(token_ids)
            batch_segment_ids.append([0] * len(token_ids))
            batch_a_token_ids.append(a_token_ids)
            if len(batch_token_ids) == self.batch_size or is_end:
                batch_token_ids = sequence_padding(batch_token_ids, length)
                batch_segment_ids = sequence_padding(batch_segment_ids, length)
                batch_a_token_ids = sequence_padding(batch_a_token_ids, max_a_len)
                yield [batch_token_ids, batch_segment_ids], batch_a_token_ids
                batch_token_ids, batch_segment_ids, batch_a_token_ids = [], [], []


model = build_transformer_model(config_path, with_mlm=True)
output = keras.layers.Lambda(lambda x: x[:, 1 : max_a_len + 1])(model.output)
model = keras.models.Model(model.input, output)


def masked_cross_entropy(y_true, y_pred):
    """Cross entropy over the answer slots; an empty slot's target is [PAD] (id 0)."""
    y_true = K.reshape(y_true, [-1])
    y_pred = K.reshape(y_pred, [-1, K.shape(y_pred)[-1]])
    return K.mean(K.sparse_categorical_crossentropy(y_true, y_pred))


model.compile(loss=masked_cross_entropy, optimizer=Adam(3e-3))


def extract_answers(data):
    """Passage-constrained decoding: the answer is the span of the passage (1 to max_a_len tokens,
    [PAD] in the slots after it) with the highest log-probability under the slots' MLM outputs."""
    token_ids = sequence_padding([encode(p, q) for p, q, _ in data], length)
    probas = model.predict([token_ids, np.zeros_like(token_ids)], verbose=0, batch_size=64)
    answers = []
    for (passage, _, _), proba in zip(data, probas):
        logp = np.log(proba + 1e-12)
        p_ids = tokenizer.encode(passage)[0][1:-1]
        best, answer = -np.inf, []
        for start in range(len(p_ids)):
            for end in range(start + 1, min(start + max_a_len, len(p_ids)) + 1):
                span = list(p_ids[start:end])
                score = sum(logp[k, t] for k, t in enumerate(span)) + logp[len(span) :, 0].sum()
                if score > best:
                    best, answer = score, span
        answers.append(answer)
    return answers


def exact_match(data):
    answers = extract_answers(data)
    return float(
        np.mean([a == tokenizer.encode(answer)[0][1:-1] for a, (_, _, answer) in zip(answers, data)])
    )


def majority_baseline():
    """The most frequent training answer of each question, given to every test question."""
    counts = {}
    for _, question, answer in train_data:
        counts.setdefault(question, {}).setdefault(answer, 0)
        counts[question][answer] += 1
    guess = {q: max(c, key=c.get) for q, c in counts.items()}
    return float(np.mean([guess[q] == a for _, q, a in test_data]))


if __name__ == "__main__":
    untrained = exact_match(test_data)
    train_generator = data_generator(train_data, batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    em = exact_match(test_data)
    print(
        json.dumps(
            {
                "metric": "exact_match",
                "value": em,
                "n": len(test_data),
                "untrained": untrained,
                "majority_baseline": majority_baseline(),
                "random_span": 1 / sum(max_p_len - l + 1 for l in range(1, max_a_len + 1)),
                "train": len(train_data),
            }
        )
    )
