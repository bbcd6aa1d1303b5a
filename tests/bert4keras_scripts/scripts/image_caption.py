# Image captioning in the style of bert4keras's image-caption example: a language model
# (application='lm') whose LayerNorms are conditioned on image features (layer_norm_cond, the image
# input passed as additional_input_layers), decoded with AutoRegressiveDecoder.beam_search.
# Images: scikit-learn's 8x8 digits; caption "数字" + numeral + 粗/细 (more / less ink than the
# median image). Metric: exact caption match on held-out images (chance 1/20), plus digit accuracy.
import json
import os

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.layers import Loss
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import AutoRegressiveDecoder, DataGenerator, open, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(7)
keras.utils.set_random_seed(7)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data, fixed shapes
batch_size, epochs = (32, 3) if quick else (32, 6)
maxlen = 6  # [CLS] 数 字 三 粗 [SEP]: every caption has this length, so one padded shape

images = np.load(os.path.join(data_dir, "digits_images.npy"))
with open(os.path.join(data_dir, "digits_captions.txt"), encoding="utf-8") as f:
    captions = [l.strip() for l in f]
data = list(zip(images, captions))
train_data, test_data = data[:1376], data[1397:]
if quick:
    train_data, test_data = train_data[:1024], test_data[:100]
tokenizer = Tokenizer(dict_path, do_lower_case=True)


class data_generator(DataGenerator):
    def __iter__(self, random=False):
        batch_images, batch_token_ids, batch_segment_ids = [], [], []
        for is_end, (image, caption) in self.sample(random):
            token_ids, segment_ids = tokenizer.encode(caption, maxlen=maxlen)
            batch_images.append(image)
            batch_token_ids.append(token_ids)
            batch_segment_ids.append(segment_ids)
            if len(batch_token_ids) == self.batch_size or is_end:
                batch_token_ids = sequence_padding(batch_token_ids, maxlen)
                batch_segment_ids = sequence_padding(batch_segment_ids, maxlen)
                yield [batch_token_ids, batch_segment_ids, np.array(batch_images)], None
                batch_images, batch_token_ids, batch_segment_ids = [], [], []


class CrossEntropy(Loss):
    def compute_loss(self, inputs, mask=None):
        y_true, y_pred = inputs
        y_mask = K.cast(K.not_equal(y_true[:, 1:], 0), K.floatx())
        loss = K.sparse_categorical_crossentropy(y_true[:, 1:], y_pred[:, :-1])
        return K.sum(loss * y_mask) / K.sum(y_mask)


# The "image model": the pixels themselves; the conditional LayerNorms learn their own features
# (a hidden layer of 64 swish units), as the example did on MobileNetV2's pooled output.
image_input = keras.layers.Input(shape=(64,))
model = build_transformer_model(
    config_path,
    application="lm",
    layer_norm_cond=image_input,
    layer_norm_cond_hidden_size=64,
    layer_norm_cond_hidden_act="swish",
    additional_input_layers=image_input,
)
output = CrossEntropy(1)([model.inputs[0], model.outputs[0]])
model = keras.models.Model(model.inputs, output)
model.compile(optimizer=Adam(2e-3))


class AutoCaption(AutoRegressiveDecoder):
    @AutoRegressiveDecoder.wraps(default_rtype="probas")
    def predict(self, inputs, output_ids, states):
        image = inputs[0]
        token_ids = output_ids
        segment_ids = np.zeros_like(token_ids)
        return self.last_token(model).predict([token_ids, segment_ids, image], verbose=0)

    def generate(self, image, topk=1):
        output_ids = self.beam_search([image], topk=topk)
        return tokenizer.decode(output_ids)


autocaption = AutoCaption(start_id=tokenizer._token_start_id, end_id=tokenizer._token_end_id, maxlen=5)

if __name__ == "__main__":
    train_generator = data_generator(train_data, batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    right, digits = 0, 0
    for i, (image, caption) in enumerate(test_data):
        predicted = autocaption.generate(image, topk=1 + i % 2).replace(" ", "")
        right += predicted == caption
        digits += predicted[:3] == caption[:3]
    print(
        json.dumps(
            {
                "metric": "exact_match",
                "value": right / len(test_data),
                "digit_accuracy": digits / len(test_data),
                "n": len(test_data),
                "chance": 0.05,
            }
        )
    )
