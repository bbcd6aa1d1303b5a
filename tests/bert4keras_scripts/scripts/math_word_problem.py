# Math word problems in the style of bert4keras's Ape210k example: UniLM seq2seq
# (application='unilm') from the Chinese problem to an equation, decoded with beam search, the
# answer checked by evaluating the equation. Problems come from three templates of one length
# (+, - and ×, single-digit numbers, nine objects), e.g. "小明有3本书，又买了5本，一共有几本？" -> "3+5".
# The equation is parsed (digits, one operator), never eval'd. Metric: answer accuracy on
# problems held out of training (untrained: 0).
import json
import os
import re

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.layers import Loss
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import AutoRegressiveDecoder, DataGenerator, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(5)
keras.utils.set_random_seed(5)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: fewer steps and problems, fixed shapes
batch_size, epochs, steps = (32, 4, 60) if quick else (32, 8, 100)
maxlen = 25  # [CLS] 19 characters [SEP] a op b [SEP]: every sample has this length
TEMPLATES = [
    ("小明有{a}{m}{n}，又买了{b}{m}，一共有几{m}？", "{a}+{b}"),
    ("小明有{a}{m}{n}，送给别人{b}{m}，还有几{m}？", "{a}-{b}"),
    ("小明每天买{a}{m}{n}，买了{b}天，共买几{m}？", "{a}*{b}"),
]
OBJECTS = ["本书", "只鸟", "个包", "件衣", "条鱼", "张纸", "支笔", "杯水", "辆车"]
assert {len(q.format(a=1, b=1, m="本", n="书")) for q, _ in TEMPLATES} == {19}, "one length: one shape"


def problem():
    question, equation = TEMPLATES[np.random.randint(3)]
    m, n = OBJECTS[np.random.randint(len(OBJECTS))]
    a = np.random.randint(2, 10)
    b = np.random.randint(1, a) if "-" in equation else np.random.randint(1, 10)  # no negative answers
    return question.format(a=a, b=b, m=m, n=n), equation.format(a=a, b=b)


def solve(equation):
    """The value of "a+b", "a-b" or "a*b" (digits only), or None for anything else."""
    match = re.fullmatch(r"(\d+)([-+*])(\d+)", equation.replace(" ", ""))
    if match is None:
        return None
    a, op, b = int(match.group(1)), match.group(2), int(match.group(3))
    return a + b if op == "+" else a - b if op == "-" else a * b


test_data = [problem() for _ in range(60 if quick else 200)]
train_data = []
while len(train_data) < batch_size * steps:  # held out: no test question is trained on
    sample = problem()
    if sample not in test_data:
        train_data.append(sample)
tokenizer = Tokenizer(dict_path, do_lower_case=True)


class data_generator(DataGenerator):
    def __iter__(self, random=False):
        batch_token_ids, batch_segment_ids = [], []
        for is_end, (question, equation) in self.sample(random):
            token_ids, segment_ids = tokenizer.encode(question, equation, maxlen=maxlen)
            batch_token_ids.append(token_ids)
            batch_segment_ids.append(segment_ids)
            if len(batch_token_ids) == self.batch_size or is_end:
                batch_token_ids = sequence_padding(batch_token_ids, maxlen)
                batch_segment_ids = sequence_padding(batch_segment_ids, maxlen)
                yield [batch_token_ids, batch_segment_ids], None
                batch_token_ids, batch_segment_ids = [], []


class CrossEntropy(Loss):
    """Cross entropy on the equation (segment 1) only."""

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
model.compile(optimizer=Adam(2e-3))


class AutoSolve(AutoRegressiveDecoder):
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


autosolve = AutoSolve(start_id=None, end_id=tokenizer._token_end_id, maxlen=4)

if __name__ == "__main__":
    train_generator = data_generator(train_data, batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    right, exact = 0, 0
    for i, (question, equation) in enumerate(test_data):
        predicted = autosolve.generate(question, topk=1 + i % 2)
        right += solve(predicted) == solve(equation)
        exact += predicted.replace(" ", "") == equation
    print(
        json.dumps(
            {
                "metric": "answer_accuracy",
                "value": right / len(test_data),
                "equation_exact_match": exact / len(test_data),
                "n": len(test_data),
            }
        )
    )
