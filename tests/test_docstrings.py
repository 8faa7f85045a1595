"""Every public class, method and function passes numpydoc's validation."""

import inspect

import pytest

numpydoc_validate = pytest.importorskip("numpydoc.validate")

import sklearn_losses  # noqa: E402
from sklearn_losses import metrics  # noqa: E402

# Not enforced: See Also sections (SA01) and extended summaries (ES01), as in
# scikit-learn; RT02, because named returns ("self : object") are the
# scikit-learn convention for single values.
IGNORED = {"SA01", "ES01", "RT02"}
METHODS = ["fit", "predict", "predict_proba", "predict_log_proba"]


def public_names():
    for name in sklearn_losses.__all__:
        if name.startswith("_"):
            continue
        yield f"sklearn_losses.{name}"
        estimator = getattr(sklearn_losses, name)
        if not inspect.isclass(estimator):
            continue
        for method in METHODS:
            owner = next(
                (cls for cls in estimator.__mro__ if method in vars(cls)), None
            )
            # Methods we write (not those inherited from scikit-learn).
            if owner is not None and owner.__module__.startswith("sklearn_losses"):
                yield f"sklearn_losses.{name}.{method}"
    for name, function in inspect.getmembers(metrics, inspect.isfunction):
        if not name.startswith("_") and function.__module__ == metrics.__name__:
            yield f"sklearn_losses.metrics.{name}"


@pytest.mark.parametrize("name", list(public_names()))
def test_docstring_passes_numpydoc_validation(name):
    errors = [
        f"{code}: {message}"
        for code, message in numpydoc_validate.validate(name)["errors"]
        if code not in IGNORED
    ]
    assert not errors, "\n".join(errors)
