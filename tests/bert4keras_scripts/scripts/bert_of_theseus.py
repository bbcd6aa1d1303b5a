# BERT-of-Theseus model compression on the sentiment reviews: train a 4-layer predecessor, then a
# 2-layer successor whose modules (embeddings; one block per two predecessor blocks) replace the
# predecessor's at random during training (BinaryRandomChoice: K.random_binomial and
# K.in_train_phase inside call(), no seed, no `training` argument), predecessor and classifier frozen;
# then fine-tune the successor alone. Also reports the predecessor and a 2-layer model from scratch.
import json
import os

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import DataGenerator, open, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(3)
keras.utils.set_random_seed(3)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data, fixed shapes
maxlen, batch_size = 32, 32
epochs = (2, 3, 1) if quick else (3, 3, 2)  # predecessor, theseus, successor
length = maxlen if quick else None  # one padded length: JAX compiles one step


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


class BinaryRandomChoice(keras.layers.Layer):
    """While training, the first input (predecessor) or the second (successor) with probability
    1/2 each; otherwise the successor."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        if mask is not None:
            return mask[1]

    def call(self, inputs):
        source, target = inputs
        mask = K.random_binomial(shape=[1], p=0.5)
        output = mask * source + (1 - mask) * target
        return K.in_train_phase(output, target)

    def compute_output_shape(self, input_shape):
        return input_shape[1]


def bert_of_theseus(predecessor, successor, classfier):
    inputs = predecessor.inputs
    for layer in predecessor.model.layers:  # the trained predecessor stays fixed
        layer.trainable = False
    classfier.trainable = False
    predecessor_outputs = predecessor.apply_embeddings(inputs)
    successor_outputs = successor.apply_embeddings(inputs)
    outputs = BinaryRandomChoice()([predecessor_outputs, successor_outputs])
    layers_per_module = predecessor.num_hidden_layers // successor.num_hidden_layers
    for index in range(successor.num_hidden_layers):
        predecessor_outputs = outputs
        for sub_index in range(layers_per_module):
            predecessor_outputs = predecessor.apply_main_layers(
                predecessor_outputs, layers_per_module * index + sub_index
            )
        successor_outputs = successor.apply_main_layers(outputs, index)
        outputs = BinaryRandomChoice()([predecessor_outputs, successor_outputs])
    outputs = classfier(outputs)
    return keras.models.Model(inputs, outputs)


def classifier_on(transformer):
    x_in = keras.layers.Input(shape=K.int_shape(transformer.output)[1:])
    x = keras.layers.Lambda(lambda x: x[:, 0])(x_in)
    x = keras.layers.Dense(units=2, activation="softmax")(x)
    return keras.models.Model(x_in, x)


def compiled(inputs, outputs, learning_rate):
    model = keras.models.Model(inputs, outputs)
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=Adam(learning_rate),
        metrics=["sparse_categorical_accuracy"],
    )
    return model


def evaluate(data, model):
    total, right = 0.0, 0.0
    for x_true, y_true in data:
        y_pred = model.predict(x_true, verbose=0).argmax(axis=1)
        y_true = y_true[:, 0]
        total += len(y_true)
        right += (y_true == y_pred).sum()
    return right / total


if __name__ == "__main__":
    train_generator = data_generator(train_data, batch_size)
    test_generator = data_generator(test_data, batch_size)

    def train(model, epochs):
        model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)

    predecessor = build_transformer_model(
        config_path, return_keras_model=False, num_hidden_layers=4, prefix="Predecessor-"
    )
    classfier = classifier_on(predecessor)
    predecessor_model = compiled(predecessor.inputs, classfier(predecessor.output), 1e-3)
    untrained = evaluate(test_generator, predecessor_model)
    train(predecessor_model, epochs[0])
    predecessor_acc = evaluate(test_generator, predecessor_model)

    successor = build_transformer_model(
        config_path, return_keras_model=False, num_hidden_layers=2, prefix="Successor-"
    )
    theseus_model = bert_of_theseus(predecessor, successor, classfier)
    theseus_model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=Adam(2e-3),
        metrics=["sparse_categorical_accuracy"],
    )
    train(theseus_model, epochs[1])
    theseus_acc = evaluate(test_generator, theseus_model)  # test phase: the successor's path only
    successor_model = compiled(successor.inputs, classfier(successor.output), 5e-4)
    successor_before = evaluate(test_generator, successor_model)
    train(successor_model, epochs[2])
    successor_acc = evaluate(test_generator, successor_model)

    result = {
        "metric": "successor_accuracy",
        "value": float(successor_acc),
        "n": len(test_data),
        "predecessor_accuracy": float(predecessor_acc),
        "theseus_accuracy": float(theseus_acc),
        "successor_before_finetune": float(successor_before),
        "untrained_accuracy": float(untrained),
        "chance": float(max(np.mean([d[1] for d in test_data]), 1 - np.mean([d[1] for d in test_data]))),
        "predecessor_frozen": bool(not any(l.trainable for l in predecessor.model.layers)),
    }
    if not quick:  # the same 2-layer model trained from scratch for as many steps
        scratch = build_transformer_model(
            config_path, return_keras_model=False, num_hidden_layers=2, prefix="Scratch-"
        )
        scratch_model = compiled(scratch.inputs, classifier_on(scratch)(scratch.output), 1e-3)
        train(scratch_model, epochs[1] + epochs[2])
        result["scratch_accuracy"] = float(evaluate(test_generator, scratch_model))
    print(json.dumps(result))
