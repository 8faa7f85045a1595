"""The peak memory a fit allocates, as the memory tests measure it."""

import tracemalloc


def peak_traced_bytes_of_fit(model, X, y):
    """Peak bytes traced while ``model.fit(X, y)`` runs, after a first fit
    outside the measurement (imports and caches)."""
    model.fit(X, y)
    tracemalloc.start()
    try:
        model.fit(X, y)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
