"""Record what Keras 2's backend (bert4keras's ``K``) returns for every case in k_cases.py.

TF_KERAS=1 TF_USE_LEGACY_KERAS=1 /work/.venv-bert4keras/bin/python tests/compat/make_k_fixture.py
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert4keras import backend, layers
from bert4keras.backend import K
from k_cases import BERT4KERAS_CASES, CASES, make_bert4keras_inputs, make_inputs

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "k_expected.npz")


def main():
    inputs = {name: K.constant(value, dtype=str(value.dtype)) for name, value in make_inputs().items()}
    results = {}
    for name, case in CASES.items():
        results[name] = np.asarray(K.eval(case(K, inputs)))
    inputs = {
        name: K.constant(value, dtype=str(value.dtype)) for name, value in make_bert4keras_inputs().items()
    }
    for name, case in BERT4KERAS_CASES.items():
        results["bert4keras_" + name] = np.asarray(K.eval(case(backend, layers, inputs)))
    np.savez(OUT + ".tmp.npz", **results)
    os.replace(OUT + ".tmp.npz", OUT)
    print(f"{len(results)} cases -> {OUT}")


if __name__ == "__main__":
    main()
