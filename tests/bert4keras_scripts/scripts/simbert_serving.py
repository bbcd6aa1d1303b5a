# SimBERT served over HTTP, in the style of bert4keras's SimBERT examples: one UniLM
# (application='unilm', with_pool='linear') trained with the seq2seq loss (generate the paraphrase)
# plus the in-batch similarity loss on the pooled [CLS] (pairs side by side in the batch); then
# snippets.WebServing exposes a most-similar search over a corpus. The script starts the server in a
# daemon thread on a free port and queries it with urllib. Data: letter strings (a-j) paired with
# their "paraphrase", every letter written as its partner (a -> k, b -> l, ...): no character is
# shared, so an untrained encoder is at chance. (The review pairs of pairs_*.tsv were tried first:
# a copy with shuffled characters is found by the untrained encoder already, 100/100.) Metric:
# top-1 retrieval accuracy of each test text's paraphrase among all test paraphrases, via the server.
import json
import os
import socket
import threading
import time
from urllib.parse import quote
from urllib.request import urlopen

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.layers import Loss
from bert4keras.models import build_transformer_model
from bert4keras.optimizers import Adam
from bert4keras.snippets import DataGenerator, WebServing, sequence_padding
from bert4keras.tokenizers import Tokenizer

np.random.seed(14)
keras.utils.set_random_seed(14)
data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
quick = os.environ.get("B4K_QUICK") == "1"  # `make test`: a slice of the data
maxlen, batch_size = 20, 32  # batch_size texts: batch_size // 2 pairs, both directions
epochs = 16


source, target = "abcdefghij", "klmnopqrst"  # a paraphrase writes every letter as its partner


def sample_pair():
    letters = np.random.choice(len(source), np.random.randint(5, 9))
    return " ".join(source[i] for i in letters), " ".join(target[i] for i in letters)


train_data = [sample_pair() for _ in range(640 if quick else 1280)]
test_data = [sample_pair() for _ in range(100 if quick else 200)]
tokenizer = Tokenizer(dict_path, do_lower_case=True)


class data_generator(DataGenerator):
    """Each pair gives two rows side by side: text -> paraphrase and paraphrase -> text."""

    def __iter__(self, random=False):
        batch_token_ids, batch_segment_ids = [], []
        for is_end, (text, synonym) in self.sample(random):
            for a, b in ((text, synonym), (synonym, text)):
                token_ids, segment_ids = tokenizer.encode(a, b, maxlen=maxlen)
                batch_token_ids.append(token_ids)
                batch_segment_ids.append(segment_ids)
            if len(batch_token_ids) == self.batch_size or is_end:
                batch_token_ids = sequence_padding(batch_token_ids, maxlen)
                batch_segment_ids = sequence_padding(batch_segment_ids, maxlen)
                yield [batch_token_ids, batch_segment_ids], None
                batch_token_ids, batch_segment_ids = [], []


class TotalLoss(Loss):
    """The seq2seq cross entropy on the second segment plus the in-batch similarity loss."""

    def compute_loss(self, inputs, mask=None):
        return self.compute_loss_of_seq2seq(inputs, mask) + self.compute_loss_of_similarity(inputs, mask)

    def compute_loss_of_seq2seq(self, inputs, mask=None):
        y_true, y_mask, _, y_pred = inputs
        y_true = y_true[:, 1:]
        y_mask = K.cast(y_mask[:, 1:], K.floatx())
        y_pred = y_pred[:, :-1]
        loss = K.sparse_categorical_crossentropy(y_true, y_pred)
        return K.sum(loss * y_mask) / K.sum(y_mask)

    def compute_loss_of_similarity(self, inputs, mask=None):
        _, _, y_pred, _ = inputs
        idxs = K.arange(0, K.shape(y_pred)[0])
        partners = idxs + 1 - idxs % 2 * 2  # rows 2i and 2i+1 hold the two sides of a pair
        y_true = K.cast(K.equal(idxs[None, :], partners[:, None]), K.floatx())
        y_pred = K.l2_normalize(y_pred, axis=1)
        similarities = K.dot(y_pred, K.transpose(y_pred))
        # (K.eye(K.shape(y_pred)[0]), SimBERT's own idiom, builds a variable: tf-keras 2.21 refuses it)
        diagonal = K.cast(K.equal(idxs[None, :], idxs[:, None]), K.floatx())
        similarities = (similarities - diagonal * 1e12) * 30
        loss = K.categorical_crossentropy(y_true, similarities, from_logits=True)
        return K.mean(loss)


bert = build_transformer_model(config_path, with_pool="linear", application="unilm", return_keras_model=False)
encoder = keras.models.Model(bert.model.inputs, bert.model.outputs[0])
output = TotalLoss([2, 3])(bert.model.inputs + bert.model.outputs)
model = keras.models.Model(bert.model.inputs, output)
model.compile(optimizer=Adam(3e-3))


def encode_texts(texts):
    token_ids = sequence_padding([tokenizer.encode(t, maxlen=maxlen)[0] for t in texts], maxlen)
    vecs = encoder.predict([token_ids, np.zeros_like(token_ids)], verbose=0, batch_size=100)
    return vecs / (vecs**2).sum(axis=1, keepdims=True) ** 0.5


corpus = [synonym for _, synonym in test_data]
corpus_vecs = None


def most_similar(text, n=1):
    """The n corpus texts closest to text (cosine of the pooled vectors), with their scores."""
    sims = corpus_vecs.dot(encode_texts([text])[0])
    return [[corpus[i], float(sims[i])] for i in sims.argsort()[::-1][:n]]


def retrieval_accuracy(search):
    return float(np.mean([search(text)[0][0] == synonym for text, synonym in test_data]))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(port, path, **params):
    url = f"http://127.0.0.1:{port}{path}?" + "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    with urlopen(url, timeout=60) as response:
        return json.loads(response.read().decode("utf-8"))


if __name__ == "__main__":
    corpus_vecs = encode_texts(corpus)
    untrained = retrieval_accuracy(most_similar)
    train_generator = data_generator(train_data, batch_size)
    model.fit(train_generator.forfit(), steps_per_epoch=len(train_generator), epochs=epochs, verbose=0)
    corpus_vecs = encode_texts(corpus)

    port = free_port()
    web = WebServing(host="127.0.0.1", port=port, server="wsgiref")
    web.route("/most_similar", most_similar, {"text": (None, True), "n": (int, False)})
    threading.Thread(target=web.start, daemon=True).start()  # ends with the script
    for _ in range(100):  # wait for the server
        try:
            query(port, "/most_similar", text="测试")
            break
        except OSError:
            time.sleep(0.1)
    answers = [query(port, "/most_similar", text=text, n=1) for text, _ in test_data]
    assert all(a["code"] == 0 for a in answers), answers[0]
    accuracy = float(np.mean([a["data"][0][0] == s for a, (_, s) in zip(answers, test_data)]))
    missing = query(port, "/most_similar", n=1)  # no text: bert4keras answers code 1
    print(
        json.dumps(
            {
                "metric": "retrieval_top1",
                "value": accuracy,
                "n": len(test_data),
                "untrained": untrained,
                "chance": 1 / len(corpus),
                "missing_argument_code": missing["code"],
            }
        )
    )
