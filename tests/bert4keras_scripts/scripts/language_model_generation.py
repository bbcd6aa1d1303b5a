# A GPT-style language model (application='lm') trained on counting sequences
# ("c d e f ..." wrapping after l), then greedy and beam decoding with AutoRegressiveDecoder.
import json
import os

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.layers import Loss
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import AutoRegressiveDecoder, DataGenerator, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(4)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
alphabet = "abcdefghijkl"
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data, fixed shapes
batch_size, epochs, steps = (32, 3, 24) if quick else (32, 4, 60)
length = 14 if quick else None  # one padded length: JAX compiles one step


def sequence(start, length):
    return " ".join(alphabet[(start + i) % len(alphabet)] for i in range(length))


train_data = [sequence(np.random.randint(12), np.random.randint(4, 12)) for _ in range(batch_size * steps)]
tokenizer = Tokenizer(dict_path, do_lower_case=True)


class data_generator(DataGenerator):
    def __iter__(self, random=False):
        batch_token_ids = []
        for is_end, text in self.sample(random):
            batch_token_ids.append(tokenizer.encode(text)[0])
            if len(batch_token_ids) == self.batch_size or is_end:
                yield [sequence_padding(batch_token_ids, length)], None
                batch_token_ids = []


class CrossEntropy(Loss):
    def compute_loss(self, inputs, mask=None):
        y_true, y_pred = inputs
        y_mask = K.cast(K.not_equal(y_true[:, 1:], 0), K.floatx())
        loss = K.sparse_categorical_crossentropy(y_true[:, 1:], y_pred[:, :-1])
        return K.sum(loss * y_mask) / K.sum(y_mask)


model = build_transformer_model(config_path, application="lm", segment_vocab_size=0)
output = CrossEntropy(1)([model.inputs[0], model.outputs[0]])
model = keras.models.Model(model.inputs, output)
model.compile(optimizer=Adam(3e-3))


class Continuation(AutoRegressiveDecoder):
    @AutoRegressiveDecoder.wraps(default_rtype="probas")
    def predict(self, inputs, output_ids, states):
        token_ids = np.concatenate([inputs[0], output_ids], 1)
        return self.last_token(model).predict(token_ids, verbose=0)

    def continue_text(self, text, topk=1):
        token_ids = tokenizer.encode(text)[0][:-1]
        return tokenizer.decode(self.beam_search([token_ids], topk=topk))


continuation = Continuation(start_id=None, end_id=tokenizer._token_end_id, maxlen=4)

if __name__ == "__main__":
    train_generator = data_generator(train_data, batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    tests = [(sequence(s, 3), sequence(s + 3, 4)) for s in range(12)] * (1 if quick else 2)
    right = 0
    for i, (prompt, answer) in enumerate(tests):
        right += continuation.continue_text(prompt, topk=1 + i % 2).replace(" ", "") == answer.replace(
            " ", ""
        )
    print(json.dumps({"metric": "exact_continuation", "value": right / len(tests), "n": len(tests)}))
