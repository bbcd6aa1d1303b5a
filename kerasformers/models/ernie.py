"""ERNIE 1.0 (Sun et al. 2019): BERT with optional task-type embeddings, as HuggingFace's ``ErnieModel``.

With ``use_task_id=True`` a third id input, ``Input-Task`` (after the segment input), selects a row of
``Embedding-Task`` that is added with the token, segment and position vectors before the embedding
LayerNorm. TF1 names mirror BERT's layout under ``ernie/`` (``ernie/embeddings/task_type_embeddings`` for
the task table); the pre-training heads keep BERT's ``cls/`` names, as HF's ``ErnieForPreTraining`` does.
"""

import keras
import numpy as np
from keras import ops

from ..checkpoints.maps import ernie as ernie_names
from ..layers import Add, Embedding
from .bert import BERT
from .registry import register_model


@register_model("ernie")
class ERNIE(BERT):
    name_map = ernie_names
    vocab_variables = ("ernie/embeddings/word_embeddings", "cls/predictions/output_bias")
    tied_copies = (("cls.predictions.decoder.weight", "ernie.embeddings.word_embeddings.weight"),)

    def __init__(self, max_position=512, use_task_id=False, task_type_vocab_size=3, **kwargs):
        super().__init__(max_position=max_position, **kwargs)
        self.use_task_id = use_task_id
        self.task_type_vocab_size = task_type_vocab_size

    def get_inputs(self):
        inputs = super().get_inputs()
        if self.use_task_id:
            task_ids = keras.Input(
                shape=(self.sequence_length,), dtype="int32", name=self.prefixed("Input-Task")
            )
            inputs.insert(self.task_input_index, task_ids)
        return inputs

    @property
    def task_input_index(self):
        return 2 if self.segment_vocab_size > 0 else 1

    def incremental_inputs(self, token_ids, segment_ids, position_ids):
        """Cached decoding feeds task id 0 (ERNIE's default task) to every new token."""
        inputs = super().incremental_inputs(token_ids, segment_ids, position_ids)
        if self.use_task_id:
            inputs.insert(self.task_input_index, ops.zeros_like(token_ids))
        return inputs

    def apply_token_segment_embeddings(self, inputs):
        inputs = list(inputs)
        task_ids = inputs.pop(self.task_input_index) if self.use_task_id else None
        x, position_ids = super().apply_token_segment_embeddings(inputs)
        if task_ids is not None:
            t = self.apply(
                task_ids,
                Embedding,
                name="Embedding-Task",
                input_dim=self.task_type_vocab_size,
                output_dim=self.embedding_size,
                embeddings_initializer=self.initializer,
            )
            x = self.apply([x, t], Add, name="Embedding-Token-Segment-Task")
        return x, position_ids

    def load_variable(self, reader, name):
        value = super().load_variable(reader, name)
        segment_table = "ernie/embeddings/token_type_embeddings"
        if (
            name == "ernie/embeddings/position_embeddings"
            and self.segment_vocab_size == 0
            and segment_table in reader
        ):
            value = value + np.asarray(reader[segment_table])[0]  # segment 0 folded in, as BERT does
        return value

    def variable_mapping(self):
        mapping = {
            layer: [name.replace("bert/", "ernie/", 1) for name in names]
            for layer, names in super().variable_mapping().items()
        }
        mapping["Embedding-Task"] = ["ernie/embeddings/task_type_embeddings"]
        return mapping
