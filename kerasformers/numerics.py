"""Numerical constants shared by every layer, loss and decoder."""

# The one "minus infinity": bert4keras's `K.infinity()` (1e12) negated. It is finite, so softmax and
# log-softmax over a row with masked entries stay NaN-free, and it is the exact value bert4keras writes
# into masked outputs (GlobalPointer logits, masked scores), which parity with bert4keras needs.
NEG_INF = -1e12
