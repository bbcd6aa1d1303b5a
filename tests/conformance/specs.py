"""One small spec per registered model family: what the conformance suite needs to run the common checks.

A family is covered by the registry class its keys resolve to (``kerasformers.models.MODELS``). ``hf`` names
the `transformers` oracle (config class, model class, config kwargs, how to read the compared output) when
HuggingFace ships the family; otherwise ``config`` is a bert4keras-style config built with random weights.
``build`` holds the keyword arguments every build of the family gets. ``quirks`` says, in words, what the
family does differently; ``parity_elsewhere`` points to the dedicated test that covers what the suite can't;
``skip`` names a common check that does not apply, with the reason (the test reports it as skipped).
"""

from dataclasses import dataclass, field

TINY = {
    "vocab_size": 131,
    "hidden_size": 48,
    "num_hidden_layers": 2,
    "num_attention_heads": 3,
    "intermediate_size": 37,
    "max_position_embeddings": 40,
}
_ENCODER_HF = dict(TINY, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, hidden_act="gelu")
_T5_HF = {
    "vocab_size": 131,
    "d_model": 48,
    "d_kv": 16,
    "d_ff": 37,
    "num_layers": 2,
    "num_heads": 3,
    "dropout_rate": 0.0,
    "decoder_start_token_id": 0,
    "eos_token_id": 1,
    "pad_token_id": 0,
}


def sequence_output(hf_out):
    return hf_out.last_hidden_state


def logits(hf_out):
    return hf_out.logits


@dataclass(frozen=True)
class HF:
    config_class: str
    model_class: str
    config: dict
    output: callable = sequence_output  # the HF output our model's (first) output must equal
    inputs: tuple = ("input_ids", "token_type_ids")  # HF argument for each of our inputs, in order
    after: dict = field(
        default_factory=dict
    )  # config attributes set after construction (HF __init__ overrides)
    prepare: callable = None  # called on the HF model before its parameters are randomised


def share_t5_embeddings(model):
    """One embedding for encoder, decoder and ``shared``, as T5 checkpoints have (untied configs split them)."""
    model.set_input_embeddings(model.shared)


@dataclass(frozen=True)
class Spec:
    keys: tuple
    hf: HF = None
    config: dict = None
    build: dict = field(default_factory=dict)
    quirks: str = ""
    parity_elsewhere: str = ""
    atol: float = 1e-4  # HF parity tolerance, relative once |values| > 1
    skip: dict = field(default_factory=dict)  # check name → why it does not apply to this family

    @property
    def key(self):
        return self.keys[0]


SPECS = [
    Spec(
        ("bert", "roberta"),
        HF("BertConfig", "BertModel", dict(_ENCODER_HF, type_vocab_size=3)),
        quirks="RoBERTa checkpoints shift positions by pad_token_id + 1 (tests/models/test_bert_parity.py).",
    ),
    Spec(
        ("albert",),
        HF("AlbertConfig", "AlbertModel", dict(_ENCODER_HF, embedding_size=24, type_vocab_size=3)),
        quirks="factorised embeddings (Embedding-Mapping) and one block shared by every layer.",
    ),
    Spec(
        ("albert_unshared",),
        config=dict(TINY, embedding_size=24, type_vocab_size=3),
        quirks="ALBERT's names with one block per layer: no HF class.",
        skip={
            "round_trip": "every layer maps onto ALBERT's one shared block (bert4keras: shared weights load "
            "into unshared layers), so a save keeps one layer's weights by design"
        },
    ),
    Spec(
        ("electra",),
        HF("ElectraConfig", "ElectraModel", dict(_ENCODER_HF, embedding_size=24, type_vocab_size=3)),
        quirks="BERT under electra/ names; heads in tests/models/test_electra.py.",
        skip={"language_model": "bert4keras refuses application='lm'/'unilm' for ELECTRA, and so do we"},
    ),
    Spec(
        ("ernie",),
        HF(
            "ErnieConfig",
            "ErnieModel",
            dict(_ENCODER_HF, type_vocab_size=3, use_task_id=True, task_type_vocab_size=4),
            inputs=("input_ids", "token_type_ids", "task_type_ids"),
        ),
        quirks="a third input Input-Task (task-type embeddings) when use_task_id.",
    ),
    Spec(
        ("roformer",),
        HF("RoFormerConfig", "RoFormerModel", dict(_ENCODER_HF, embedding_size=24, type_vocab_size=3)),
        quirks="rotary positions, no position table.",
    ),
    Spec(
        ("roformer_v2",),
        config=dict(TINY, type_vocab_size=3, hidden_act="gelu"),
        quirks="RMS norm without gains, no biases; no HF class (tests/models/test_roformer.py checks it in numpy).",
        parity_elsewhere="tests/models/test_roformer.py",
    ),
    Spec(
        ("nezha",),
        config=dict(TINY, type_vocab_size=3, hidden_act="gelu", max_relative_position=4),
        quirks="functional relative positions; HF removed Nezha (numpy oracle in tests/models/test_nezha.py).",
        parity_elsewhere="tests/models/test_nezha.py",
    ),
    Spec(
        ("gau_alpha", "gau-alpha"),
        config=dict(TINY, attention_key_size=10, hidden_act="swish", type_vocab_size=3),
        quirks="gated attention units instead of attention + FFN; no HF class (tests/models/test_gau_alpha.py).",
        parity_elsewhere="tests/models/test_gau_alpha.py",
    ),
    Spec(
        ("gpt",),
        HF(
            "OpenAIGPTConfig",
            "OpenAIGPTLMHeadModel",
            {
                "vocab_size": 131,
                "n_embd": 48,
                "n_layer": 2,
                "n_head": 3,
                "n_positions": 40,
                "afn": "gelu",
                "resid_pdrop": 0.0,
                "embd_pdrop": 0.0,
                "attn_pdrop": 0.0,
            },
            output=logits,
            inputs=("input_ids",),
        ),
        build={"final_activation": "linear", "segment_vocab_size": 0},
        atol=5e-4,
        quirks="post-LN causal decoder with a tied LM head; output = logits with final_activation='linear'. "
        "Logits differ from HF by ~2e-4 relative at weight std 0.3 (tests/models/test_gpt_family.py "
        "uses the same 5e-4).",
    ),
    Spec(
        ("gpt2",),
        HF(
            "GPT2Config",
            "GPT2LMHeadModel",
            {
                "vocab_size": 131,
                "n_embd": 48,
                "n_layer": 2,
                "n_head": 3,
                "n_inner": 37,
                "n_positions": 40,
                "resid_pdrop": 0.0,
                "embd_pdrop": 0.0,
                "attn_pdrop": 0.0,
            },
            output=logits,
            inputs=("input_ids",),
        ),
        build={"final_activation": "linear"},
        quirks="pre-LN causal decoder, tied LM head.",
    ),
    Spec(
        ("gpt2_ml",),
        config=dict(TINY, hidden_act="gelu"),
        build={"final_activation": "linear"},
        quirks="GPT2-ML (Chinese GPT-2 variant) names; no HF class (numpy oracle in tests/models/test_gpt_family.py).",
        parity_elsewhere="tests/models/test_gpt_family.py",
    ),
    Spec(
        ("t5.1.0", "t5"),
        HF(
            "T5Config",
            "T5ForConditionalGeneration",
            dict(_T5_HF, feed_forward_proj="relu"),
            output=logits,
            inputs=("input_ids", "decoder_input_ids"),
        ),
        build={"with_lm": "linear"},
        quirks="encoder-decoder, relative position buckets, tied head scaled by d_model**-0.5.",
    ),
    Spec(
        ("t5.1.1",),
        HF(
            "T5Config",
            "T5ForConditionalGeneration",
            dict(_T5_HF, feed_forward_proj="gated-gelu", tie_word_embeddings=False),
            output=logits,
            inputs=("input_ids", "decoder_input_ids"),
            after={"tie_word_embeddings": False},
            prepare=share_t5_embeddings,
        ),
        build={"with_lm": "linear"},
        quirks="gated-GELU FFN and an untied LM head.",
    ),
    Spec(
        ("mt5.1.1", "mt5"),
        config={
            "vocab_size": 131,
            "hidden_size": 48,
            "num_hidden_layers": 2,
            "num_attention_heads": 3,
            "attention_head_size": 16,
            "intermediate_size": 37,
            "hidden_act": ["gelu", "linear"],
        },  # gated GELU, as mT5's config says
        build={"with_lm": "linear"},
        quirks="T5.1.1 with mT5's vocabulary handling; a Google/bert4keras config builds bert4keras's decoder.",
        parity_elsewhere="tests/models/test_t5_parity.py",
        skip={
            "round_trip": "bert4keras's decoder (cross-attention position bias) has no HuggingFace form: the "
            "export is refused (tests/models/test_t5_parity.py::test_bert4keras_decoder_export_is_refused)"
        },
    ),
    Spec(
        ("t5_encoder", "t5.1.0_encoder", "t5.1.1_encoder", "mt5.1.1_encoder"),
        config={
            "vocab_size": 131,
            "hidden_size": 48,
            "num_hidden_layers": 2,
            "num_attention_heads": 3,
            "attention_head_size": 16,
            "intermediate_size": 37,
        },
        quirks="T5's encoder alone (a piece of T5; its HF parity runs through the full model).",
        skip={"language_model": "an encoder: it sees both ways by design"},
    ),
    Spec(
        ("t5_decoder", "t5.1.0_decoder", "t5.1.1_decoder", "mt5.1.1_decoder"),
        config={
            "vocab_size": 131,
            "hidden_size": 48,
            "num_hidden_layers": 2,
            "num_attention_heads": 3,
            "attention_head_size": 16,
            "intermediate_size": 37,
        },
        build={"with_lm": "linear", "cross_position_bias": False, "scale_decoder_output": False},
        quirks="T5's decoder alone: inputs are the encoder's output (float) and decoder tokens; built as "
        "transformers' decoder (the bert4keras one is covered by mt5.1.1 and the bert4keras fixtures).",
        skip={"language_model": "causality and caching are checked through the combined T5 specs"},
    ),
]
