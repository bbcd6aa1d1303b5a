# Chinese NER on MSRA (BMES tags) with BERT + ConditionalRandomField, Viterbi decoding
# with the learned transitions; entity-level F1.
import json
import os

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.layers import ConditionalRandomField
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import DataGenerator, ViterbiDecoder, open, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(3)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data, fixed shapes
maxlen, batch_size, epochs = (32, 32, 3) if quick else (48, 32, 6)
length = maxlen if quick else None  # one padded length: JAX compiles one step
categories = ["LOC", "ORG", "PER"]
labels = ["O"] + [p + "-" + c for c in categories for p in "BMES"]


def load_data(filename):
    """Each sentence: (text, [(start, end, type), ...]) with inclusive character offsets."""
    D = []
    with open(filename, encoding="utf-8") as f:
        for block in f.read().split("\n\n"):
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
            D.append((text, entities))
    return D


train_data = load_data(os.path.join(data_dir, "ner_train.txt"))
test_data = load_data(os.path.join(data_dir, "ner_test.txt"))
if quick:
    train_data, test_data = train_data[:600], test_data[:100]
tokenizer = Tokenizer(dict_path, do_lower_case=True)


class data_generator(DataGenerator):
    def __iter__(self, random=False):
        batch_token_ids, batch_segment_ids, batch_labels = [], [], []
        for is_end, (text, entities) in self.sample(random):
            token_ids = [tokenizer._token_start_id] + [tokenizer.token_to_id(c) for c in text][: maxlen - 2]
            token_ids += [tokenizer._token_end_id]
            tags = np.zeros(len(token_ids))
            for start, end, label in entities:
                if end + 1 < len(token_ids) - 1:
                    if start == end:
                        tags[start + 1] = labels.index("S-" + label)
                    else:
                        tags[start + 1] = labels.index("B-" + label)
                        tags[start + 2 : end + 1] = labels.index("M-" + label)
                        tags[end + 1] = labels.index("E-" + label)
            batch_token_ids.append(token_ids)
            batch_segment_ids.append([0] * len(token_ids))
            batch_labels.append(tags)
            if len(batch_token_ids) == self.batch_size or is_end:
                yield (
                    [sequence_padding(batch_token_ids, length), sequence_padding(batch_segment_ids, length)],
                    sequence_padding(batch_labels, length),
                )
                batch_token_ids, batch_segment_ids, batch_labels = [], [], []


model = build_transformer_model(config_path)
output = keras.layers.Dense(len(labels))(model.output)
CRF = ConditionalRandomField(lr_multiplier=100)
output = CRF(output)
model = keras.models.Model(model.input, output)
model.compile(loss=CRF.sparse_loss, optimizer=Adam(2e-3), metrics=[CRF.sparse_accuracy])


class NamedEntityRecognizer(ViterbiDecoder):
    def recognize(self, text):
        token_ids = [tokenizer._token_start_id] + [tokenizer.token_to_id(c) for c in text][: maxlen - 2]
        token_ids += [tokenizer._token_end_id]
        size = len(token_ids)
        token_ids, segment_ids = sequence_padding([token_ids], length), sequence_padding([[0] * size], length)
        nodes = model.predict([token_ids, segment_ids], verbose=0)[0][:size]
        tags = self.decode(nodes)[1:-1]
        entities, start = [], None
        for i, tag in enumerate(tags):
            name = labels[tag]
            if name[0] in "BS":
                start = i
            if name[0] in "ES" and start is not None:
                entities.append((start, i, name[2:]))
                start = None
        return entities


if __name__ == "__main__":
    train_generator = data_generator(train_data, batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    NER = NamedEntityRecognizer(trans=K.eval(CRF.trans), starts=[0], ends=[0])
    X, Y, Z = 1e-10, 1e-10, 1e-10
    for text, entities in test_data:
        R, T = set(NER.recognize(text)), {e for e in entities if e[1] < maxlen - 2}
        X, Y, Z = X + len(R & T), Y + len(R), Z + len(T)
    print(json.dumps({"metric": "f1", "value": 2 * X / (Y + Z), "n": len(test_data)}))
