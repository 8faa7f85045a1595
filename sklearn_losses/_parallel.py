"""Work over the rows of ``X`` on several threads: the one place that knows how.

The objective is a sum over samples, so everything a solver asks of it
(values, gradients, Hessian products, Hessian matrices) is a sum of the same
expression over ranges of rows. This module cuts the rows of one ``X`` into
ranges and runs per-range work on threads; the objective writes the maths
of one range and never sees a thread. The interface, ``RowExecution``:

- ``product(W)`` and ``transposed_product(U)``: ``X @ W`` and ``X.T @ U``,
  by whichever route is fastest for this ``X`` (BLAS's own threads, row
  blocks of a sparse ``X`` on our threads, ranges of a dense ``X``);
- ``sum_over_ranges(task)``: ``task(rows)`` for each range ``rows`` (a
  slice), on threads, the returned tuples of arrays summed element by
  element: per-range values, gradients, Hessian products and Gram matrices;
- ``concatenate_over_ranges(task)``: per-sample results of each range,
  joined: the loss and its derivative per sample;
- ``blocks(rows, size)``: a range cut into blocks that fit in cache.

A distributed backend implements the same four with ranges that are chunks
living elsewhere. ``ExecutionSettings`` holds the sizes that decide the
cuts (each measured on 2 cores; the story of each is in docs/solvers.rst).

BLAS limits: solves whose products run on our threads (or whose BLAS work
is on vectors only) keep BLAS on one thread while they run
(``blas_on_one_thread``); the limit is counted, so that fits running at once
on several threads share one limit and the last to finish restores exactly
what the first found.
"""

import functools
import itertools
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from threadpoolctl import ThreadpoolController


@dataclass(frozen=True)
class ExecutionSettings:
    """How many threads work over the rows, and the sizes of the cuts.

    Parameters
    ----------
    threads : int
        Threads for the products and sums over rows; by default
        (``from_blas``) as many as BLAS may use.
    nonzeros_per_thread : int
        A sparse ``X`` goes on threads, one block of rows each, when each
        block holds at least this many non-zeros (a product of 100,000 takes
        about 0.1 ms, handing a block to a thread about 0.02 ms).
    dense_entries_per_thread : int
        A dense ``X`` multiplied by several columns goes on threads, one
        range of rows each, when each range holds this many entries (two
        blocks of a Hessian product).
    gram_block_rows : int
        Rows per block when a Gram matrix is accumulated block by block.
    gram_rows_per_thread : int
        The Gram matrix is accumulated on threads when each range has at
        least this many rows (two blocks).
    product_block_entries : int
        Entries of ``X`` per block of a blocked Hessian product (1.6 MB in
        float64: within a core's 2 MB cache on the machines measured).
    lifted_block_entries : int
        Entries per block of the lifted rows ``z_i (x) p_i`` of the sampled
        multinomial Hessian (8 MB).
    score_block_entries : int
        Scores (samples x outputs) per block where per-sample arrays are
        made block by block (the multinomial line search's trials and
        Hessian products, per-sample results joined over ranges; 0.5 MB):
        with many classes they are as large as ``X``, so a block is kept
        small against it (the peak memory).
    """

    threads: int = 1
    nonzeros_per_thread: int = 100_000
    dense_entries_per_thread: int = 400_000
    gram_block_rows: int = 4096
    gram_rows_per_thread: int = 8192
    product_block_entries: int = 200_000
    lifted_block_entries: int = 2**20
    score_block_entries: int = 65_536

    @classmethod
    def from_blas(cls, **sizes):
        """Settings with as many threads as BLAS may use, other sizes as given."""
        return cls(threads=allowed_threads(), **sizes)

    def with_threads(self, threads):
        return replace(self, threads=threads)


# -- BLAS ---------------------------------------------------------------------
@functools.cache
def threadpool_controller():
    """The BLAS libraries loaded in this process (found once: a scan costs 2 ms)."""
    return ThreadpoolController()


class _SharedBlasLimit:
    """One process-wide BLAS limit of one thread, held by any number of solves.

    The first holder sets it and records the limits it found; the last to
    leave restores them. Solves on several threads at once (a threaded
    grid search) thus never restore out of order, and while any holds the
    limit, ``allowed_threads`` answers with the limits found before it, so
    that a solve plans its threads the same whether or not others run.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._holders = 0
        self._limiter = None
        self.threads_before = None

    def __enter__(self):
        with self._lock:
            if self._holders == 0:
                self.threads_before = _blas_threads_now()
                self._limiter = threadpool_controller().limit(limits=1, user_api="blas")
            self._holders += 1
        return self

    def __exit__(self, *exc_info):
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                self._limiter.restore_original_limits()
                self._limiter = self.threads_before = None

    def threads_outside(self):
        """The BLAS threads allowed outside any solve's limit: those found by
        the first holder while one holds it, else the current ones (under the
        lock, so that no solve sets the limit between the two readings)."""
        with self._lock:
            if self._holders > 0:
                return self.threads_before
            return _blas_threads_now()


_BLAS_LIMIT = _SharedBlasLimit()


def _blas_threads_now():
    limits = [
        library.num_threads
        for library in threadpool_controller().select(user_api="blas").lib_controllers
    ]
    return max(limits, default=1)


def allowed_threads():
    """How many threads the user lets BLAS use (``threadpoolctl``, environment).

    The most of any BLAS loaded: a library built for one thread (some
    packages bring their own) stays at one under any limit. While solves
    of this package hold BLAS on one thread, the limits they found.
    """
    return _BLAS_LIMIT.threads_outside()


def blas_on_one_thread():
    """A context in which BLAS calls run on one thread.

    For solves whose BLAS work is on vectors only (L-BFGS-B, whose work is
    on vectors of the size of the parameters) and for work on threads of
    our own (products of a sparse ``X``, ranges of a dense one): there
    BLAS's threads gain nothing and cost a lot, because NumPy and SciPy
    each load an OpenBLAS whose threads spin for a while after every call
    and fight each other, and ours, for the cores (see docs/solvers.rst).
    Shared by solves running at once, see ``_SharedBlasLimit``.
    """
    return _BLAS_LIMIT


# -- threads ------------------------------------------------------------------
def _signals_to_the_main_thread():
    """Block the interrupt in a worker thread, so that the kernel hands a
    Ctrl-C to the main thread, the one that turns it into KeyboardInterrupt,
    wherever it is waiting (a signal taken by a worker only flags it)."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})


@functools.cache
def _thread_pool(n_workers):
    return ThreadPoolExecutor(
        max_workers=n_workers, initializer=_signals_to_the_main_thread
    )


# A child forked from a process whose pool has threads would inherit the pool
# but not its threads, and wait forever on its first product.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_thread_pool.cache_clear)


def on_threads(task, n_tasks):
    """``[task(k) for k in range(n_tasks)]``, task 0 on the calling thread."""
    pool = _thread_pool(max(n_tasks - 1, 1))
    futures = [pool.submit(task, k) for k in range(1, n_tasks)]
    results = [task(0)]
    return results + [future.result() for future in futures]


def summed(parts):
    """The sum over ``parts`` of each element of their tuples, in order,
    added into the first part's arrays (the tasks' own): a sum into a new
    array would hold a third Gram matrix beside the two threads' (on wide
    working sets each weighs half of X)."""
    return tuple(
        functools.reduce(lambda total, term: np.add(total, term, out=total), terms)
        for terms in zip(*parts, strict=True)
    )


def even_ranges(n_rows, n_ranges):
    """``n_ranges`` ranges of rows of (nearly) equal length, as slices."""
    bounds = np.linspace(0, n_rows, n_ranges + 1).astype(int)
    return [slice(int(start), int(stop)) for start, stop in itertools.pairwise(bounds)]


def blocks(rows, size):
    """The range ``rows`` (a slice) cut into slices of at most ``size`` rows."""
    return [
        slice(start, min(start + size, rows.stop))
        for start in range(rows.start, rows.stop, size)
    ]


class RowExecution:
    """How work over the rows of one ``X`` runs: products, sums and joins.

    Parameters
    ----------
    X : {ndarray, sparse matrix} of shape (n_samples, n_features)
        The matrix, used as it is (views of it, never a copy).
    settings : ExecutionSettings
        Threads and cut sizes.
    n_outputs : int
        Columns of the coefficient matrices ``X`` is multiplied by.
    """

    def __init__(self, X, settings, n_outputs=1):
        self.X = X
        self.settings = settings
        self.threads = settings.threads
        # What the products go through: X, or X on threads (same products).
        self.matrix = ThreadedDenseRows.wrap(
            ThreadedSparseRows.wrap(X, settings.threads, settings.nonzeros_per_thread),
            settings.threads,
            n_outputs,
            settings.dense_entries_per_thread,
        )

    @property
    def on_own_threads(self):
        """Whether the products leave BLAS's threads idle.

        True for a sparse ``X`` (its products go through ``scipy.sparse``)
        and for a dense one on ``ThreadedDenseRows``: solves then keep BLAS
        on one thread (``blas_on_one_thread``).
        """
        return sp.issparse(self.X) or isinstance(self.matrix, ThreadedDenseRows)

    @property
    def ranges(self):
        """The ranges of rows that work on ``X`` is split into (slices)."""
        if isinstance(self.matrix, ThreadedDenseRows):
            return self.matrix.ranges
        return [slice(0, self.X.shape[0])]

    def gram_ranges(self):
        """Ranges for accumulating a Gram matrix, on threads where long enough."""
        n_rows = self.X.shape[0]
        n_ranges = min(self.threads, n_rows // self.settings.gram_rows_per_thread)
        if n_ranges < 2:
            return [slice(0, n_rows)]
        return even_ranges(n_rows, n_ranges)

    def subset(self, rows):
        """The execution of ``X[rows]`` (a copy of those rows), same settings."""
        return RowExecution(self.X[rows], self.settings)

    def product(self, coef):
        """``X @ coef``."""
        return np.asarray(self.matrix @ coef)

    def transposed_product(self, values):
        """``X.T @ values``."""
        return transposed_product(self.matrix, values)

    def sum_over_ranges(self, task, ranges=None):
        """``task(rows)`` for each range (``self.ranges`` by default), summed.

        Each range on its own thread, with BLAS on one thread while more
        than one range runs; ``task`` returns a tuple of arrays. ``ranges``
        may be any parts of the rows (slices or arrays of indices).
        """
        ranges = self.ranges if ranges is None else ranges
        if len(ranges) == 1:
            return task(ranges[0])
        with blas_on_one_thread():
            return summed(on_threads(lambda k: task(ranges[k]), len(ranges)))

    def over_blocks(self, task, width):
        """``task(rows)`` for every block of rows of ``score_block_entries``
        entries of arrays ``width`` wide, each range's blocks on its own
        thread (one range: on this one), with the caller's floating-point
        error handling in each thread (NumPy keeps it per thread).
        ``task`` returns nothing: it writes its results where they belong.
        """
        rows_per_block = max(1, self.settings.score_block_entries // max(width, 1))
        error_handling = np.geterr()

        def range_part(k):
            with np.errstate(**error_handling):
                for rows in blocks(self.ranges[k], rows_per_block):
                    task(rows)

        on_threads(range_part, len(self.ranges))

    def concatenate_over_ranges(self, task):
        """``task(rows)`` for each range, its per-sample arrays joined in order.

        Each range is done block by block of rows (``score_block_entries``
        entries of the widest array), each block written into the joined
        arrays at once: joining whole ranges' arrays would hold every
        per-sample array twice, which with many classes is as large as
        ``X``. With the caller's floating-point error handling in each thread
        (NumPy keeps it per thread).
        """
        if len(self.ranges) == 1:
            return task(self.ranges[0])
        # One row gives the arrays' shapes and types.
        first = task(slice(0, 1))
        n_rows = self.X.shape[0]
        joined = tuple(
            np.empty((n_rows, *part.shape[1:]), part.dtype) for part in first
        )

        def block_part(rows):
            for whole, part in zip(joined, task(rows), strict=True):
                whole[rows] = part

        self.over_blocks(block_part, max(part[0].size for part in first))
        return joined


def product(X, coef):
    """``X @ coef`` for any matrix (or ``RowExecution``), as an array."""
    if isinstance(X, RowExecution):
        return X.product(coef)
    return np.asarray(X @ coef)


def transposed_product(X, values):
    """``X.T @ values`` for any matrix (or ``RowExecution``), as an array."""
    if isinstance(X, RowExecution):
        return X.transposed_product(values)
    if values.ndim == 2 and values.shape[1] > 1 and isinstance(X, np.ndarray):
        # BLAS is about twice as fast on values.T @ X (one output row per
        # class) as on X.T @ values for a dense C-ordered X.
        return (values.T @ X).T
    return np.asarray(X.T @ values)


class ThreadedSparseRows:
    """A CSR matrix whose products run on threads, one block of rows each.

    ``scipy.sparse`` products run on one thread, and they are most of a fit
    on sparse ``X``; SciPy releases the GIL inside them, so blocks of rows
    on separate threads run at once. The blocks are views of ``X`` (no copy),
    cut where the non-zeros split evenly. ``A @ v`` fills the blocks' slices
    of the result; ``A.T @ u`` sums the blocks' ``A_k.T @ u_k``.
    """

    def __init__(self, X, n_blocks):
        self.shape = X.shape
        self.dtype = X.dtype
        cuts = np.searchsorted(X.indptr, np.arange(1, n_blocks) * (X.nnz / n_blocks))
        bounds = np.unique(np.concatenate([[0], cuts, [X.shape[0]]]))
        self.rows = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
        self.blocks = [_row_block(X, rows.start, rows.stop) for rows in self.rows]
        self.transposed_blocks = [_transposed(block) for block in self.blocks]

    @classmethod
    def wrap(cls, X, threads, nonzeros_per_thread):
        """``X`` itself, or ``X`` on threads where it is sparse and large enough.

        A CSC matrix is the transpose of a CSR one (the same arrays): its
        blocks are blocks of columns, and the roles of the products swap.
        """
        n_blocks = min(threads, getattr(X, "nnz", 0) // nonzeros_per_thread)
        if n_blocks < 2 or X.format not in ("csr", "csc"):
            return X
        if X.format == "csc":
            return cls(_transposed(X), n_blocks).T
        return cls(X, n_blocks)

    def __matmul__(self, other):
        other = np.asarray(other)
        result = np.empty(
            (self.shape[0], *other.shape[1:]), np.result_type(self.dtype, other)
        )

        def block_product(k):
            result[self.rows[k]] = self.blocks[k] @ other

        on_threads(block_product, len(self.blocks))
        return result

    @property
    def T(self):
        return _TransposedThreadedRows(self)

    def transposed_product(self, values):
        """``A.T @ values``, summed over the blocks."""

        def block_product(k):
            return self.transposed_blocks[k] @ values[self.rows[k]]

        return functools.reduce(np.add, on_threads(block_product, len(self.blocks)))


class ThreadedDenseRows:
    """A dense ``X`` whose products with several columns run on threads.

    The rows are cut into one range per thread; ``A @ V`` fills each range's
    rows of the result, ``A.T @ U`` sums the ranges' ``(U_k.T @ X_k).T``, each
    on its own thread, with BLAS on one thread for the whole solve. Views of
    ``X``, no copy. The products are ``np.dot``, not ``@``: NumPy's
    ``matmul`` with a transposed operand did not run on two threads at once,
    where ``np.dot`` on the same operands did (docs/solvers.rst).
    """

    def __init__(self, X, n_ranges):
        self.X = X
        self.shape = X.shape
        self.dtype = X.dtype
        self.ranges = even_ranges(X.shape[0], n_ranges)

    @classmethod
    def wrap(cls, X, threads, n_outputs, entries_per_thread):
        """``X`` itself, or ``X`` on threads where it is dense, large enough and
        multiplied by several columns (one column is a matrix-vector product,
        which OpenBLAS's own threads split well)."""
        if not isinstance(X, np.ndarray) or n_outputs < 2:
            return X
        n_ranges = min(threads, X.size // entries_per_thread)
        return cls(X, n_ranges) if n_ranges >= 2 else X

    def _on_ranges(self, task):
        return on_threads(lambda k: task(self.ranges[k]), len(self.ranges))

    def __matmul__(self, other):
        other = np.asarray(other)
        result = np.empty(
            (self.shape[0], *other.shape[1:]), np.result_type(self.dtype, other)
        )

        def range_product(rows):
            # Written into the result: a range's product as a temporary would
            # hold the result twice over while the ranges run.
            np.dot(self.X[rows], other, out=result[rows])

        self._on_ranges(range_product)
        return result

    @property
    def T(self):
        return _TransposedThreadedRows(self)

    def transposed_product(self, values):
        """``A.T @ values``, summed over the ranges."""

        def range_product(rows):
            # BLAS is about twice as fast on U.T @ X (one output row per
            # column of U) as on X.T @ U for a C-ordered X.
            return np.dot(values[rows].T, self.X[rows]).T

        return functools.reduce(np.add, self._on_ranges(range_product))


class _TransposedThreadedRows:
    """``A.T`` for a ``ThreadedSparseRows`` or ``ThreadedDenseRows`` ``A``: only
    its product."""

    def __init__(self, rows):
        self.shape = rows.shape[::-1]
        self._rows = rows

    def __matmul__(self, values):
        return self._rows.transposed_product(np.asarray(values))

    @property
    def T(self):
        return self._rows


def _row_block(X, start, stop):
    first, last = X.indptr[start], X.indptr[stop]
    return _on_arrays(
        sp.csr_matrix,
        (stop - start, X.shape[1]),
        X.data[first:last],
        X.indices[first:last],
        X.indptr[start : stop + 1] - first,
    )


def _transposed(matrix):
    """The transpose of a CSR (CSC) matrix as a CSC (CSR) one on its arrays."""
    other_format = sp.csc_matrix if matrix.format == "csr" else sp.csr_matrix
    return _on_arrays(
        other_format, matrix.shape[::-1], matrix.data, matrix.indices, matrix.indptr
    )


def _on_arrays(matrix_class, shape, data, indices, indptr):
    """A compressed sparse matrix on the given arrays, without a copy.

    SciPy's constructors copy index arrays that are views of larger ones
    (``_prune_array``), and the point of the blocks is to share X's: the
    arrays are set on an empty matrix of the right shape instead.
    """
    matrix = matrix_class(shape, dtype=data.dtype)
    matrix.data, matrix.indices, matrix.indptr = data, indices, indptr
    return matrix
