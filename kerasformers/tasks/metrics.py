"""Scores shared by the tasks."""


def prf(predicted, gold):
    """Micro precision / recall / F1 of two collections of hashable items (sets per record,
    concatenated: pass lists of (record index, item))."""
    predicted, gold = set(predicted), set(gold)
    hits = len(predicted & gold)
    precision = hits / len(predicted) if predicted else 0.0
    recall = hits / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}


def accuracy(predicted, gold):
    pairs = list(zip(predicted, gold))
    return {"accuracy": sum(p == g for p, g in pairs) / len(pairs) if pairs else 0.0}
