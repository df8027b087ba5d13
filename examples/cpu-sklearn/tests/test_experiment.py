from cpu_sklearn.experiment import run


def test_accuracy_is_reproducible() -> None:
    assert run(seed=0) == run(seed=0)
    assert run(seed=0) > 0.7
