# UniLM seq2seq in the autotitle style: application='unilm', a Loss layer on model.outputs,
# AutoRegressiveDecoder.beam_search. Task: write the source's first and last characters
# (exact-match rate).
import json
import os

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.layers import Loss
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import AutoRegressiveDecoder, DataGenerator, open, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(1)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data, fixed shapes
maxlen, batch_size, epochs = (16, 32, 2) if quick else (16, 32, 6)
length = maxlen if quick else None  # one padded length: JAX compiles one step


def load_data(filename):
    D = []
    with open(filename, encoding="utf-8") as f:
        for l in f:
            source, target = l.rstrip("\n").split("\t")
            D.append((" ".join(source), " ".join(target)))
    return D


train_data = load_data(os.path.join(data_dir, "ends_train.tsv"))
test_data = load_data(os.path.join(data_dir, "ends_test.tsv"))
if quick:
    train_data, test_data = train_data[:640], test_data[:40]
tokenizer = Tokenizer(dict_path, do_lower_case=True)


class data_generator(DataGenerator):
    def __iter__(self, random=False):
        batch_token_ids, batch_segment_ids = [], []
        for is_end, (source, target) in self.sample(random):
            token_ids, segment_ids = tokenizer.encode(source, target, maxlen=maxlen)
            batch_token_ids.append(token_ids)
            batch_segment_ids.append(segment_ids)
            if len(batch_token_ids) == self.batch_size or is_end:
                yield (
                    [sequence_padding(batch_token_ids, length), sequence_padding(batch_segment_ids, length)],
                    None,
                )
                batch_token_ids, batch_segment_ids = [], []


class CrossEntropy(Loss):
    """Cross entropy on the target segment only."""

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


class AutoTitle(AutoRegressiveDecoder):
    @AutoRegressiveDecoder.wraps(default_rtype="probas")
    def predict(self, inputs, output_ids, states):
        token_ids, segment_ids = inputs
        token_ids = np.concatenate([token_ids, output_ids], 1)
        segment_ids = np.concatenate([segment_ids, np.ones_like(output_ids)], 1)
        return self.last_token(model).predict([token_ids, segment_ids], verbose=0)

    def generate(self, text, topk=1):
        token_ids, segment_ids = tokenizer.encode(text, maxlen=maxlen)
        output_ids = self.beam_search([token_ids, segment_ids], topk=topk)
        return tokenizer.decode(output_ids)


autotitle = AutoTitle(start_id=None, end_id=tokenizer._token_end_id, maxlen=4)

if __name__ == "__main__":
    train_generator = data_generator(train_data, batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    right = sum(autotitle.generate(s, topk=2).replace(" ", "") == t.replace(" ", "") for s, t in test_data)
    print(json.dumps({"metric": "exact_match", "value": right / len(test_data), "n": len(test_data)}))
