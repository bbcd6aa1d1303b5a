# T5.1.1 seq2seq in the style of bert4keras's T5 examples: build_transformer_model(model='t5.1.1')
# gives encoder, decoder and the joint model; a Loss layer on the decoder's output; beam search
# over decoder.predict with the encoder's output cached. Task: continue a counting sequence
# ("c d e" -> "f g h i", letters wrapping after l); exact-match rate.
import json
import os

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.layers import Loss
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import AutoRegressiveDecoder, DataGenerator, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(6)
keras.utils.set_random_seed(6)  # the result of this short run hangs on the initial draw
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "t5_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: fixed shapes, half the test cases
batch_size, epochs, steps = 32, 4, 120  # at 60 steps the result still hangs on the random draw
alphabet = "abcdefghijkl"


def sequence(start, length):
    return " ".join(alphabet[(start + i) % len(alphabet)] for i in range(length))


def sample():
    start = np.random.randint(12)
    n = np.random.randint(2, 6)
    return sequence(start, n), sequence(start + n, 4)


train_data = [sample() for _ in range(batch_size * steps)]
tokenizer = Tokenizer(dict_path, do_lower_case=True)


class data_generator(DataGenerator):
    def __iter__(self, random=False):
        batch_c_token_ids, batch_t_token_ids = [], []
        for is_end, (source, target) in self.sample(random):
            batch_c_token_ids.append(tokenizer.encode(source)[0][1:])  # [SEP] closes the source
            batch_t_token_ids.append(tokenizer.encode(target)[0])  # [CLS] starts the decoder
            if len(batch_c_token_ids) == self.batch_size or is_end:
                yield [sequence_padding(batch_c_token_ids, 7), sequence_padding(batch_t_token_ids, 6)], None
                batch_c_token_ids, batch_t_token_ids = [], []


class CrossEntropy(Loss):
    def compute_loss(self, inputs, mask=None):
        y_true, y_pred = inputs
        y_true = y_true[:, 1:]
        y_mask = K.cast(K.not_equal(y_true, 0), K.floatx())
        loss = K.sparse_categorical_crossentropy(y_true, y_pred[:, :-1])
        return K.sum(loss * y_mask) / K.sum(y_mask)


t5 = build_transformer_model(config_path, model="t5.1.1", return_keras_model=False)
encoder, decoder, model = t5.encoder, t5.decoder, t5.model
output = CrossEntropy(1)([model.inputs[1], model.outputs[0]])
model = keras.models.Model(model.inputs, output)
model.compile(optimizer=Adam(3e-3))


class Continuation(AutoRegressiveDecoder):
    @AutoRegressiveDecoder.wraps(default_rtype="probas")
    def predict(self, inputs, output_ids, states):
        c_encoded = inputs[0]
        return self.last_token(decoder).predict([c_encoded, output_ids], verbose=0)

    def generate(self, text, topk=1):
        c_token_ids = tokenizer.encode(text)[0][1:]
        c_encoded = encoder.predict(np.array([c_token_ids]), verbose=0)[0]
        return tokenizer.decode(self.beam_search([c_encoded], topk=topk))


continuation = Continuation(start_id=tokenizer._token_start_id, end_id=tokenizer._token_end_id, maxlen=5)

if __name__ == "__main__":
    train_generator = data_generator(train_data, batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    tests = [(sequence(s, 3), sequence(s + 3, 4)) for s in range(12)] * (1 if quick else 2)
    right = 0
    for i, (source, target) in enumerate(tests):
        right += continuation.generate(source, topk=1 + i % 2).replace(" ", "") == target.replace(" ", "")
    print(json.dumps({"metric": "exact_match", "value": right / len(tests), "n": len(tests)}))
