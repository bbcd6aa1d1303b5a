# Extract features with ALBERT, NEZHA, RoFormer and ELECTRA (with their MLM / discriminator heads).
# Every weight is drawn from a seed derived from its original checkpoint variable name (std 0.3,
# LayerNorm gains near 1), so both packages hold the same numbers without sharing a file.
import json
import os
import zlib

import numpy as np
from bert4keras.backend import K
from bert4keras.models import build_transformer_model
from bert4keras.snippets import sequence_padding
from bert4keras.tokenizers import Tokenizer

data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
tokenizer = Tokenizer(dict_path, do_lower_case=True)
texts = ["语言模型很好用", "这个酒店的服务非常不错，下次还来"]
batch = [tokenizer.encode(t) for t in texts]
token_ids = sequence_padding([b[0] for b in batch])
segment_ids = sequence_padding([b[1] for b in batch])


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


outputs = {}
for key, options in [
    ("albert", {"embedding_size": 32, "with_mlm": True}),
    ("nezha", {}),  # bert4keras 0.11.5 clips NEZHA's relative positions at 64, always
    ("roformer", {"with_mlm": "linear"}),
    ("electra", {"with_discriminator": True}),
]:
    transformer = build_transformer_model(config_path, model=key, return_keras_model=False, **options)
    count = randomize(transformer)
    result = transformer.model.predict([token_ids, segment_ids], verbose=0)
    result = result if isinstance(result, list) else [result]
    outputs[key] = {
        "weights": count,
        "shapes": [list(r.shape) for r in result],
        "checksums": [float(np.abs(r).astype("float64").sum()) for r in result],
        "first": [float(r.reshape(-1)[0]) for r in result],
    }
    K.clear_session()

value = float(np.mean([c for o in outputs.values() for c in o["checksums"]]))
print(json.dumps({"metric": "mean_checksum", "value": value, "outputs": outputs}))
