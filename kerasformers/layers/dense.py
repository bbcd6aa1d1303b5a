"""``keras.layers.Dense`` with PyTorch paths that use its fused kernels (float32 and int8).

After ``Model.quantize("int8")`` Keras computes ``int8 inputs · int8 kernel`` with
``ops.matmul``; on a PyTorch CPU tensor that casts both to int32 and multiplies them with
torch's generic integer loop, slower than the float32 layer. ``torch._int_mm`` does the same
product (exact int32 sums, any shape) on oneDNN's int8 kernels. The quantisation of the inputs,
the scales and the result follow Keras's own formulas (written here as in-place torch ops: Keras's
quantizer, six eager kernels per call, cost three times the int8 product), so every backend
computes the same numbers up to float rounding.

The blocks' projections (attention, feed-forward, GAU, sparse attention) use this class; a new
block should too.
"""

import keras

_INT8_RANGE = (-127, 127)  # Keras's symmetric int8 range, which the fast path assumes


@keras.saving.register_keras_serializable(package="kerasformers")
class Dense(keras.layers.Dense):
    """A Keras ``Dense``; only its PyTorch paths differ: float32 runs ``F.linear`` (one fused
    ``addmm`` kernel where Keras runs a matmul then a separate bias add), int8 inference runs
    ``torch._int_mm``."""

    def call(self, inputs, training=None):
        if keras.backend.backend() != "torch":
            return super().call(inputs, training=training)
        import torch

        kernel = keras.ops.convert_to_tensor(self.kernel)  # with LoRA: kernel + A·B, as Keras's
        bias = None if self.bias is None else keras.ops.convert_to_tensor(self.bias)
        x = torch.nn.functional.linear(inputs, kernel.T, bias)
        return x if self.activation is None else self.activation(x)

    def quantize(self, mode=None, type_check=True, config=None):
        """Keras refuses to quantise subclasses; this one keeps Keras's weights and every mode."""
        super().quantize(mode, type_check=False, config=config)

    def _int8_call(self, inputs, training=None):
        if not _torch_int8_inference(inputs, self):
            return super()._int8_call(inputs, training=training)
        import torch

        # Keras's AbsMaxQuantizer(axis=-1): one scale per token, rounded and clipped in place.
        scale = (_INT8_RANGE[1] / (inputs.abs().amax(-1, keepdim=True) + self.inputs_quantizer.epsilon)).to(
            inputs.dtype
        )
        quantized = (inputs * scale).round_().clamp_(*_INT8_RANGE).to(torch.int8)
        products = torch._int_mm(quantized.reshape(-1, quantized.shape[-1]), self._kernel.value)
        # int32 × (1 / token scale) → float in one kernel, then × (1 / channel scale) + bias in one.
        x = products.reshape(*quantized.shape[:-1], -1) * scale.reciprocal()
        inverse_kernel_scale = self.kernel_scale.value.reciprocal()
        x = (
            x.mul_(inverse_kernel_scale)
            if self.bias is None
            else torch.addcmul(self.bias.value, x, inverse_kernel_scale)
        )
        if self.activation is not None:
            x = self.activation(x)
        return x


def _torch_int8_inference(inputs, layer):
    """True where the fast product applies: PyTorch on the CPU, Keras's default int8 activations,
    no LoRA, and no gradient asked for (Keras's path carries the custom gradient that training needs)."""
    if keras.backend.backend() != "torch" or layer.lora_enabled:
        return False
    quantizer = layer.inputs_quantizer  # the fast path mirrors Keras's default per-token one
    default = (
        isinstance(quantizer, keras.quantizers.AbsMaxQuantizer)
        and tuple(quantizer.value_range) == _INT8_RANGE
    )
    if not default or inputs.device.type != "cpu":
        return False
    import torch

    return not (torch.is_grad_enabled() and inputs.requires_grad)
