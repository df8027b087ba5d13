"""Train a logistic regression on seeded synthetic data and print its test accuracy."""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def run(seed: int = 0, samples: int = 2000) -> float:
    features, labels = make_classification(
        n_samples=samples, n_features=20, n_informative=8, random_state=seed
    )
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(features.shape[1])])
    x_train, x_test, y_train, y_test = train_test_split(
        frame, labels, test_size=0.25, random_state=seed, stratify=labels
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(x_train, y_train)
    return float(np.mean(model.predict(x_test) == y_test))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    accuracy = run(args.seed, args.samples)
    print(f"cpu-sklearn accuracy={accuracy:.4f} seed={args.seed} samples={args.samples}")
