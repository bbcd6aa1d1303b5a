# Data-parallel training over several devices (bert4keras's multi-GPU examples), on CPU devices:
# sentiment classification fed by DataGenerator.to_dataset (one sample per item, padded_batch).
# bert4keras (tf.keras) mirrors the model with tf.distribute.MirroredStrategy over two logical CPUs;
# Keras 3 has no MirroredStrategy for its models, so under kerasformers the documented replacement,
# keras.distribution.DataParallel, splits each batch over the devices (on JAX, a subprocess asks
# for two CPU devices (jax_num_cpu_devices) before JAX starts; inside pytest JAX already has its devices).
import contextlib
import json
import os

try:  # Keras 3 on JAX: two CPU devices, if JAX has not started yet (in pytest it has)
    import jax

    jax.config.update("jax_num_cpu_devices", 2)
except (ImportError, RuntimeError):
    pass

import numpy as np
from bert4keras.backend import keras
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import DataGenerator, open, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(4)
keras.utils.set_random_seed(4)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data
maxlen, batch_size, epochs = 32, 32, (3 if quick else 4)

if hasattr(keras, "distribution"):  # Keras 3: the batch is split over the devices
    devices = keras.distribution.list_devices()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    strategy_scope = contextlib.nullcontext()
else:  # tf.keras: MirroredStrategy over two logical CPU devices
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy_scope = tf.distribute.MirroredStrategy(devices).scope()


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
    """One sample per item; to_dataset batches and pads them."""

    def __iter__(self, random=False):
        for _, (text, label) in self.sample(random):
            token_ids, segment_ids = tokenizer.encode(text, maxlen=maxlen)
            yield (token_ids, segment_ids), [label]


with strategy_scope:
    bert = build_transformer_model(config_path, with_pool=True, return_keras_model=False)
    output = keras.layers.Dense(2, activation="softmax")(bert.model.output)
    model = keras.models.Model(bert.model.input, output)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=Adam(1e-3), metrics=["accuracy"])


def evaluate(data):
    token_ids, segment_ids = [], []
    for text, _ in data:
        t, s = tokenizer.encode(text, maxlen=maxlen)
        token_ids.append(t)
        segment_ids.append(s)
    inputs = [sequence_padding(token_ids, maxlen), sequence_padding(segment_ids, maxlen)]
    # tf.keras's MirroredStrategy predicts only whole batches: 16 divides both test sets (192, 400)
    y_pred = model.predict(inputs, batch_size=16, verbose=0).argmax(axis=1)
    return float((y_pred == np.array([d[1] for d in data])).mean())


if __name__ == "__main__":
    try:
        train_generator = data_generator(train_data, batch_size)
        dataset = train_generator.to_dataset(
            types=(("int32", "int32"), "int32"),
            shapes=(([maxlen], [maxlen]), [1]),  # padded_batch pads every batch to maxlen
            padded_batch=True,
        )
        untrained = evaluate(test_data)
        model.fit(dataset, steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
        acc = evaluate(test_data)
    finally:
        if hasattr(keras, "distribution"):
            keras.distribution.set_distribution(None)  # pytest runs the next script in this process
    labels = [d[1] for d in test_data]
    print(
        json.dumps(
            {
                "metric": "accuracy",
                "value": acc,
                "n": len(test_data),
                "devices": len(devices),
                "untrained_accuracy": untrained,
                "chance": float(max(np.mean(labels), 1 - np.mean(labels))),
            }
        )
    )
