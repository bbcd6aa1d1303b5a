# Extract features from a checkpoint, and shrink the vocabulary with keep_tokens
# (load_vocab(simplified=True)): the kept-token model must give the full model's features.
import json
import os

import numpy as np
from bert4keras.backend import K
from bert4keras.models import build_transformer_model
from bert4keras.snippets import to_array
from bert4keras.tokenizers import Tokenizer, load_vocab

data_dir = os.environ["B4K_DATA"]
config_path = os.path.join(data_dir, "bert_config.json")
dict_path = os.path.join(data_dir, "vocab.txt")
checkpoint_path = os.path.join(os.getcwd(), "bert_model.ckpt")

# A checkpoint with every weight redrawn at std 0.3 (LayerNorm gains near 1).
model = build_transformer_model(config_path, return_keras_model=False)
rng = np.random.RandomState(0)
K.batch_set_value(
    [(w, rng.normal(1.0 if "gamma" in w.name else 0.0, 0.3, K.int_shape(w))) for w in model.model.weights]
)
model.save_weights_as_checkpoint(checkpoint_path)

text = "语言模型很好用"
full = build_transformer_model(config_path, checkpoint_path)
tokenizer = Tokenizer(dict_path, do_lower_case=True)
token_ids, segment_ids = tokenizer.encode(text)
features = full.predict(to_array([token_ids], [segment_ids]), verbose=0)

token_dict, keep_tokens = load_vocab(
    dict_path, simplified=True, startswith=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
)
# Keep only the special tokens and the characters of our text.
kept = [t for t in token_dict if t.startswith("[") or t in text]
keep_tokens = [keep_tokens[token_dict[t]] for t in kept]
small = build_transformer_model(config_path, checkpoint_path, keep_tokens=keep_tokens)
small_tokenizer = Tokenizer({t: i for i, t in enumerate(kept)}, do_lower_case=True)
small_ids, small_segments = small_tokenizer.encode(text)
small_features = small.predict(to_array([small_ids], [small_segments]), verbose=0)

print(
    json.dumps(
        {
            "metric": "max_abs_diff",
            "value": float(np.abs(features - small_features).max()),
            "kept": len(keep_tokens),
            "feature_norm": float(np.linalg.norm(features)),
        }
    )
)
