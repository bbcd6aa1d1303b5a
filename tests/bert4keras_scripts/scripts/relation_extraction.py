# Relation extraction in the style of bert4keras's task_relation_extraction.py: pointers mark each
# subject's start and end, then a conditional LayerNormalization on the chosen subject drives
# per-predicate object pointers; the loss masks padding with the mask BERT's output carries.
# Data: MSRA sentences, every person related to each ORG / LOC of its sentence. Triple F1.
import json
import os

import numpy as np
from bert4keras.backend import K, batch_gather, keras
from bert4keras.layers import LayerNormalization, Loss
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import DataGenerator, open, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(7)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data, fixed shapes
maxlen, batch_size, epochs = (48, 32, 6) if quick else (48, 32, 10)
length = maxlen if quick else None  # one padded length: JAX compiles one step
predicate2id = {"person_loc": 0, "person_org": 1}
id2predicate = {i: p for p, i in predicate2id.items()}


def load_data(filename):
    with open(filename, encoding="utf-8") as f:
        return [json.loads(l) for l in f]


train_data = load_data(os.path.join(data_dir, "spo_train.jsonl"))
test_data = load_data(os.path.join(data_dir, "spo_test.jsonl"))
if quick:
    train_data, test_data = train_data[:960], test_data[:100]
tokenizer = Tokenizer(dict_path, do_lower_case=True)


def search(pattern, sequence):
    """Index of the first occurrence of pattern in sequence, or -1."""
    n = len(pattern)
    for i in range(len(sequence)):
        if sequence[i : i + n] == pattern:
            return i
    return -1


class data_generator(DataGenerator):
    def __iter__(self, random=False):
        batch_token_ids, batch_segment_ids = [], []
        batch_subject_labels, batch_subject_ids, batch_object_labels = [], [], []
        for is_end, d in self.sample(random):
            token_ids, segment_ids = tokenizer.encode(d["text"], maxlen=maxlen)
            spoes = {}
            for s, p, o in d["spo_list"]:
                s, o = tokenizer.encode(s)[0][1:-1], tokenizer.encode(o)[0][1:-1]
                s_idx, o_idx = search(s, token_ids), search(o, token_ids)
                if s_idx != -1 and o_idx != -1:
                    s = (s_idx, s_idx + len(s) - 1)
                    spoes.setdefault(s, []).append((o_idx, o_idx + len(o) - 1, predicate2id[p]))
            if not spoes:
                continue
            subject_labels = np.zeros((len(token_ids), 2))
            for s in spoes:
                subject_labels[s[0], 0] = 1
                subject_labels[s[1], 1] = 1
            start, end = np.array(list(spoes.keys())).T
            start = np.random.choice(start)
            end = np.random.choice(end[end >= start])
            subject_ids = (start, end)
            object_labels = np.zeros((len(token_ids), len(predicate2id), 2))
            for o in spoes.get(subject_ids, []):
                object_labels[o[0], o[2], 0] = 1
                object_labels[o[1], o[2], 1] = 1
            batch_token_ids.append(token_ids)
            batch_segment_ids.append(segment_ids)
            batch_subject_labels.append(subject_labels)
            batch_subject_ids.append(subject_ids)
            batch_object_labels.append(object_labels)
            if len(batch_token_ids) == self.batch_size or is_end:
                yield (
                    [
                        sequence_padding(batch_token_ids, length),
                        sequence_padding(batch_segment_ids, length),
                        sequence_padding(batch_subject_labels, length),
                        np.array(batch_subject_ids),
                        sequence_padding(batch_object_labels, length),
                    ],
                    None,
                )
                batch_token_ids, batch_segment_ids = [], []
                batch_subject_labels, batch_subject_ids, batch_object_labels = [], [], []


def extract_subject(inputs):
    """The subject's start and end vectors, concatenated."""
    output, subject_ids = inputs
    start = batch_gather(output, subject_ids[:, :1])
    end = batch_gather(output, subject_ids[:, 1:])
    subject = K.concatenate([start, end], 2)
    return subject[:, 0]


subject_labels = keras.layers.Input(shape=(None, 2), name="Subject-Labels")
subject_ids = keras.layers.Input(shape=(2,), name="Subject-Ids")
object_labels = keras.layers.Input(shape=(None, len(predicate2id), 2), name="Object-Labels")

bert = build_transformer_model(config_path, return_keras_model=False)
output = keras.layers.Dense(2, activation="sigmoid", kernel_initializer=bert.initializer)(bert.model.output)
subject_preds = keras.layers.Lambda(lambda x: x**2)(output)
subject_model = keras.models.Model(bert.model.inputs, subject_preds)

subject = keras.layers.Lambda(extract_subject)([bert.model.output, subject_ids])
output = LayerNormalization(conditional=True)([bert.model.output, subject])
output = keras.layers.Dense(len(predicate2id) * 2, activation="sigmoid", kernel_initializer=bert.initializer)(
    output
)
output = keras.layers.Lambda(lambda x: x**4)(output)
object_preds = keras.layers.Reshape((-1, len(predicate2id), 2))(output)
object_model = keras.models.Model(bert.model.inputs + [subject_ids], object_preds)


class TotalLoss(Loss):
    """Subject and object pointer losses, averaged over real (unpadded) tokens."""

    def compute_loss(self, inputs, mask=None):
        subject_labels, object_labels = inputs[:2]
        subject_preds, object_preds, _ = inputs[2:]
        mask = 1.0 if mask[4] is None else K.cast(mask[4], K.floatx())
        subject_loss = K.mean(K.binary_crossentropy(subject_labels, subject_preds), 2)
        subject_loss = K.sum(subject_loss * mask) / K.sum(mask)
        object_loss = K.sum(K.mean(K.binary_crossentropy(object_labels, object_preds), 3), 2)
        object_loss = K.sum(object_loss * mask) / K.sum(mask)
        return subject_loss + object_loss


subject_preds, object_preds = TotalLoss([2, 3])(
    [subject_labels, object_labels, subject_preds, object_preds, bert.model.output]
)
train_model = keras.models.Model(
    bert.model.inputs + [subject_labels, subject_ids, object_labels], [subject_preds, object_preds]
)
train_model.compile(optimizer=Adam(2e-3))


def extract_spoes(text):
    tokens = tokenizer.tokenize(text, maxlen=maxlen)  # the text's pieces: an [UNK] would map to no character
    mapping = tokenizer.rematch(text, tokens)
    token_ids = tokenizer.tokens_to_ids(tokens)
    segment_ids = [0] * len(token_ids)
    size = len(token_ids)
    token_ids, segment_ids = sequence_padding([token_ids], length), sequence_padding([segment_ids], length)
    preds = subject_model.predict([token_ids, segment_ids], verbose=0)[0][:size]
    start, end = np.where(preds[:, 0] > 0.6)[0], np.where(preds[:, 1] > 0.5)[0]
    subjects = []
    for i in start:
        j = end[end >= i]
        if len(j) > 0 and 0 < i and j[0] < size - 1:
            subjects.append((i, j[0]))
    spoes = set()
    if subjects:
        n = len(subjects)
        object_preds = object_model.predict(
            [np.repeat(token_ids, n, 0), np.repeat(segment_ids, n, 0), np.array(subjects)], verbose=0
        )
        for subject, object_pred in zip(subjects, object_preds[:, :size]):
            starts, ends = np.where(object_pred[:, :, 0] > 0.6), np.where(object_pred[:, :, 1] > 0.5)
            for _start, predicate1 in zip(*starts):
                for _end, predicate2 in zip(*ends):
                    if _start <= _end and predicate1 == predicate2 and 0 < _start and _end < size - 1:
                        s = text[mapping[subject[0]][0] : mapping[subject[1]][-1] + 1]
                        o = text[mapping[_start][0] : mapping[_end][-1] + 1]
                        spoes.add((s, id2predicate[predicate1], o))
                        break
    return spoes


if __name__ == "__main__":
    train_generator = data_generator(train_data, batch_size)
    train_model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    X, Y, Z = 1e-10, 1e-10, 1e-10
    for d in test_data:
        R, T = extract_spoes(d["text"]), {tuple(spo) for spo in d["spo_list"]}
        X, Y, Z = X + len(R & T), Y + len(R), Z + len(T)
    print(json.dumps({"metric": "f1", "value": 2 * X / (Y + Z), "n": len(test_data)}))
