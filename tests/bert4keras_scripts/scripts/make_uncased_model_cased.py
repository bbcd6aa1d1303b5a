# Make an uncased model cased: add the capitalised and upper-case forms of every word (and the
# upper-case form of every ## piece) to an uncased English vocabulary, and build the model with
# compound_tokens so that each new token starts from the embedding of its lower-case form (plus two
# averaged compound tokens). No training: the checkpoint's weights are drawn from seeds derived from
# their checkpoint variable names (std 0.3, LayerNorm gains near 1), so both packages hold the same numbers.
import json
import os
import zlib

import numpy as np
from bert4keras.backend import K, keras
from bert4keras.models import build_transformer_model
from bert4keras.snippets import to_array
from bert4keras.tokenizers import Tokenizer, load_vocab

workdir = os.getcwd()
config_path = os.path.join(workdir, "bert_config.json")
dict_path = os.path.join(workdir, "vocab.txt")
checkpoint_path = os.path.join(workdir, "bert_model.ckpt")

# An uncased WordPiece vocabulary: specials, punctuation, words, letters and ## pieces.
words = "welcome to bei the model is good hello world new york city".split()
letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!"] + words + letters
vocab += ["##jing", "##ing"] + ["##" + c for c in letters]
with open(dict_path, "w", encoding="utf-8") as f:
    f.write("\n".join(vocab) + "\n")
config = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "hidden_act": "gelu",
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
    "vocab_size": len(vocab),
    "hidden_dropout_prob": 0.0,
    "attention_probs_dropout_prob": 0.0,
}
with open(config_path, "w", encoding="utf-8") as f:
    json.dump(config, f)


def randomize(transformer):
    """Set every mapped weight from a seed derived from its checkpoint name."""
    pairs = []
    for layer_name, names in transformer.variable_mapping().items():
        layer = transformer.layers.get(layer_name)
        if layer is None:
            continue
        for name, weight in zip(names, layer.trainable_weights):
            rng = np.random.RandomState(zlib.crc32(name.encode("utf-8")))
            center = 1.0 if name.endswith("gamma") else 0.0
            pairs.append((weight, rng.normal(center, 0.3, K.int_shape(weight))))
    K.batch_set_value(pairs)
    return len(pairs)


def summary(result):
    result = result if isinstance(result, list) else [result]
    return {
        "shapes": [list(r.shape) for r in result],
        "checksums": [float(np.abs(r).astype("float64").sum()) for r in result],
        "first": [float(r.reshape(-1)[0]) for r in result],
    }


# The uncased "pre-trained" checkpoint (with its MLM head).
uncased = build_transformer_model(config_path, with_mlm=True, return_keras_model=False)
count = randomize(uncased)
uncased.save_weights_as_checkpoint(checkpoint_path)
K.clear_session()

# Extend the vocabulary, as bert4keras's basic_make_uncased_model_cased.py does.
token_dict = load_vocab(dict_path)
new_token_dict = token_dict.copy()
compound_tokens = []
for t, i in sorted(token_dict.items(), key=lambda s: s[1]):
    tokens = []
    if t.isalpha():
        tokens.extend([t[:1].upper() + t[1:], t.upper()])
    elif t[:2] == "##" and t[2:].isalpha():
        tokens.append(t.upper())
    for token in tokens:
        if token not in new_token_dict:
            compound_tokens.append([i])
            new_token_dict[token] = len(new_token_dict)
# Two compound tokens from several old ones: a plain and a weighted average.
new_token_dict["helloworld"] = len(new_token_dict)
compound_tokens.append([token_dict["hello"], token_dict["world"]])
new_token_dict["HelloWorld"] = len(new_token_dict)
compound_tokens.append(([token_dict["hello"], token_dict["world"]], [3, 1]))

text = "Welcome to BEIJING, New York City!"
outputs, features = {}, {}
for key, dictionary, do_lower_case, extra in [
    ("uncased", dict_path, True, {}),
    ("cased", new_token_dict, False, {"compound_tokens": compound_tokens}),
]:
    tokenizer = Tokenizer(dictionary, do_lower_case=do_lower_case)
    mlm = build_transformer_model(config_path, checkpoint_path, with_mlm=True, **extra)
    last = mlm.get_layer("Transformer-1-FeedForward-Norm").output
    model = keras.models.Model(mlm.inputs, [last, mlm.output])  # features and MLM probabilities
    token_ids, segment_ids = tokenizer.encode(text)
    result = model.predict(to_array([token_ids], [segment_ids]), verbose=0)
    outputs[key] = dict(summary(result), weights=count, tokens=tokenizer.tokenize(text))
    features[key] = result[0]
    if key == "cased":
        table = K.batch_get_value(model.get_layer("Embedding-Token").weights)[0]
        lower = text.lower()
        lower_ids, lower_segments = tokenizer.encode(lower)  # lower-case words keep their old ids
        cased_ids = token_ids
        lower_features = model.predict(to_array([lower_ids], [lower_segments]), verbose=0)[0]
    K.clear_session()

old = len(token_dict)
sources = [item if isinstance(item, tuple) else (item, [1] * len(item)) for item in compound_tokens]
expected_rows = np.stack([np.average(table[ids], 0, weights) for ids, weights in sources])
mlm_cased = outputs["cased"]["shapes"][1]
result = {
    "metric": "mean_checksum",
    "value": float(np.mean([c for o in outputs.values() for c in o["checksums"]])),
    "outputs": outputs,
    "old_vocab": old,
    "new_tokens": len(compound_tokens),
    "mlm_vocab": mlm_cased[-1],
    # each new row is the (weighted) mean of its source rows: exactly, in both packages
    "new_rows_max_abs_diff": float(np.abs(table[old:] - expected_rows).max()),
    # cased text in the cased model = lower-cased text in the uncased model (same pieces, copied rows)
    "cased_vs_uncased_max_abs_diff": float(np.abs(features["cased"] - features["uncased"]).max()),
    # 0: each new token starts as its lower-case form, yet the ids now tell case apart (fine-tuning can learn it)
    "cased_vs_lowercase_text_max_abs_diff": float(np.abs(features["cased"] - lower_features).max()),
    "ids_changed_by_case": int(sum(a != b for a, b in zip(cased_ids, lower_ids))),
}
print(json.dumps(result, ensure_ascii=False))
