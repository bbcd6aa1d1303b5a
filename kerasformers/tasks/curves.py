"""The training-curves PNG written into every trained task folder."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_history(history, path, title=""):
    """Loss per epoch (left) and every validation metric per epoch (right)."""
    epochs = [entry["epoch"] for entry in history]
    metrics = sorted({key for entry in history for key in entry if key.startswith("valid_")})
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(epochs, [entry["loss"] for entry in history], marker="o")
    left.set(xlabel="epoch", ylabel="training loss", title=f"{title} loss")
    for key in metrics:
        right.plot(epochs, [entry.get(key) for entry in history], marker="o", label=key[len("valid_") :])
    right.set(xlabel="epoch", ylabel="validation metric", title=f"{title} validation")
    if metrics:
        right.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)
