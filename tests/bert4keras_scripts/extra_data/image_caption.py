"""Images and captions for scripts/image_caption.py, from scikit-learn's bundled 8x8 digits.

digits_images.npy    float32 (1797, 64): the digits' pixels scaled to [0, 1]
digits_captions.txt  one caption a line: "数字" + the digit's Chinese numeral + "粗" (thick: more ink
                     than the median image) or "细" (thin), e.g. "数字三粗"
"""

import os

import numpy as np

NUMERALS = "零一二三四五六七八九"


def write(folder):
    images_path = os.path.join(folder, "digits_images.npy")
    captions_path = os.path.join(folder, "digits_captions.txt")
    if os.path.exists(images_path) and os.path.exists(captions_path):
        return
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.data / 16.0).astype("float32")
    ink = images.sum(axis=1)
    thick = ink > np.median(ink)
    captions = ["数字" + NUMERALS[d] + ("粗" if t else "细") for d, t in zip(digits.target, thick)]
    with open(captions_path + ".tmp", "w", encoding="utf-8") as f:
        f.writelines(c + "\n" for c in captions)
    np.save(images_path + ".tmp.npy", images)
    os.replace(images_path + ".tmp.npy", images_path)
    os.replace(captions_path + ".tmp", captions_path)
