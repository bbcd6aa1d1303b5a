# Chinese NER on MSRA with GlobalPointer: every (start, end) span is scored per entity type and
# trained with multilabel_categorical_crossentropy; entity-level F1 of spans scoring > 0.
import json
import os

import numpy as np
from bert4keras.backend import K, keras, multilabel_categorical_crossentropy
from bert4keras.layers import GlobalPointer
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import DataGenerator, open, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(4)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data, fixed shapes
maxlen, batch_size, epochs = (42, 32, 3) if quick else (42, 32, 5)
length = maxlen if quick else None  # one padded length: JAX compiles one step
categories = ["LOC", "ORG", "PER"]
grid = (len(categories), maxlen, maxlen) if quick else None  # label grids: type x start x end


def load_data(filename, limit):
    """Each sentence: (text, [(start, end, type), ...]) with inclusive character offsets."""
    D = []
    with open(filename, encoding="utf-8") as f:
        for block in f.read().split("\n\n")[:limit]:
            rows = [l.split(" ") for l in block.split("\n") if l]
            if not rows:
                continue
            text, entities, start = "".join(c for c, _ in rows), [], None
            for i, (_, tag) in enumerate(rows):
                if tag[0] in "BS":
                    start = i
                if tag[0] in "ES" and start is not None:
                    entities.append((start, i, tag[2:]))
                    start = None
            D.append((text[: maxlen - 2], [e for e in entities if e[1] < maxlen - 2]))
    return D


train_data = load_data(os.path.join(data_dir, "ner_train.txt"), 384 if quick else 1000)
test_data = load_data(os.path.join(data_dir, "ner_test.txt"), 80 if quick else 200)
tokenizer = Tokenizer(dict_path, do_lower_case=True)


def encode(text):
    token_ids = [tokenizer._token_start_id] + [tokenizer.token_to_id(c) for c in text]
    return token_ids + [tokenizer._token_end_id]


class data_generator(DataGenerator):
    def __iter__(self, random=False):
        batch_token_ids, batch_segment_ids, batch_labels = [], [], []
        for is_end, (text, entities) in self.sample(random):
            token_ids = encode(text)
            labels = np.zeros((len(categories), maxlen, maxlen))
            for start, end, label in entities:
                labels[categories.index(label), start + 1, end + 1] = 1
            batch_token_ids.append(token_ids)
            batch_segment_ids.append([0] * len(token_ids))
            batch_labels.append(labels[:, : len(token_ids), : len(token_ids)])
            if len(batch_token_ids) == self.batch_size or is_end:
                batch_labels = sequence_padding(batch_labels, grid, seq_dims=3)
                batch_token_ids = sequence_padding(batch_token_ids, length)
                yield [batch_token_ids, sequence_padding(batch_segment_ids, length)], batch_labels
                batch_token_ids, batch_segment_ids, batch_labels = [], [], []


def global_pointer_crossentropy(y_true, y_pred):
    """Flatten every (batch, type) score grid and apply the multi-label softmax loss."""
    bh = K.prod(K.shape(y_pred)[:2])
    y_true = K.reshape(y_true, (bh, -1))
    y_pred = K.reshape(y_pred, (bh, -1))
    return K.mean(multilabel_categorical_crossentropy(y_true, y_pred))


model = build_transformer_model(config_path)
output = GlobalPointer(len(categories), 32)(model.output)
model = keras.models.Model(model.input, output)
model.compile(loss=global_pointer_crossentropy, optimizer=Adam(2e-3))


def recognize(text):
    size = len(text) + 2
    token_ids, segment_ids = sequence_padding([encode(text)], length), sequence_padding([[0] * size], length)
    scores = model.predict([token_ids, segment_ids], verbose=0)[0][:, :size, :size]
    scores[:, [0, -1]] -= np.inf
    scores[:, :, [0, -1]] -= np.inf
    return {(start - 1, end - 1, categories[label]) for label, start, end in zip(*np.where(scores > 0))}


if __name__ == "__main__":
    train_generator = data_generator(train_data, batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    X, Y, Z = 1e-10, 1e-10, 1e-10
    for text, entities in test_data:
        R, T = recognize(text), set(entities)
        X, Y, Z = X + len(R & T), Y + len(R), Z + len(T)
    print(json.dumps({"metric": "f1", "value": 2 * X / (Y + Z), "n": len(test_data)}))
