"""The peers of ``bench_training.py``: one small runner class per framework.

Every runner trains the same network on the same data: dense layers with ReLU,
dropout 0.2 on each hidden layer's output, softmax cross-entropy over 10
classes, Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8), one shuffled epoch in
batches of ``batch_size`` (the last, smaller batch included).  A runner is
used as::

    runner = RUNNERS[name]()
    runner.setup(X, y, hidden, batch_size)   # build the model (not timed)
    seconds, samples = runner.epoch(limit)   # one epoch, timed inside

``limit`` (``None`` for the whole epoch) caps the number of samples a slow
peer trains on; ``samples`` says how many it did, so samples/s stays honest.
Only ``epoch`` is timed, and it times only the training itself: after the
first (warm-up) call, which also pays for JIT compilation and first-touch
allocation, every call is one more epoch of continued training.

This module is imported only inside a worker process, one peer per process,
so each framework's thread pool has the cores to itself.
"""
import os
import time
import warnings

import numpy as np

N_CLASSES = 10
DROPOUT = 0.2
LEARNING_RATE = 1e-3
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-8


def bench_dtype():
    """The floating-point type every peer trains in (``--dtype``; float32 by default)."""
    return np.dtype(os.environ.get("HPFRAME_BENCH_DTYPE", "float32"))


def he_normal(rng, n_in, n_out):
    """He-normal weights ``(n_in, n_out)`` in the bench's dtype, for ReLU layers."""
    return (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(bench_dtype())


def bench_threads():
    """Threads every peer may use (bench_training.py sets HPFRAME_BENCH_THREADS)."""
    return int(os.environ.get("HPFRAME_BENCH_THREADS", os.cpu_count()))


class Runner:
    """Base class of a peer: its version check, its note, setup and one timed epoch."""

    #: shown next to the peer's name (how it is measured)
    note = ""

    @staticmethod
    def version():
        """Return the peer's version string; raise ImportError when it is missing."""
        raise NotImplementedError

    def setup(self, X, y, hidden, batch_size):
        """Build the model for ``X`` (float32, ``(n, f)``) and ``y`` (int64 labels 0..9).

        Parameters
        ----------
        X : ndarray of float32, shape (n_samples, n_features)
        y : ndarray of int64, shape (n_samples,)
        hidden : tuple of int
            Hidden layer sizes.
        batch_size : int
        """
        raise NotImplementedError

    def epoch(self, limit=None):
        """Train one shuffled epoch (on at most ``limit`` samples) and time it.

        Returns
        -------
        seconds : float
            Wall time of the training alone.
        samples : int
            Samples trained on.
        """
        raise NotImplementedError


# ---------------------------------------------------------------------------
# hpframe
# ---------------------------------------------------------------------------

class HpframeTrainer(Runner):
    """hpframe through its public API: ``Trainer.fit`` with ``epochs=1``.

    The warm-up ``fit`` builds the network and trains one epoch; every timed
    ``fit`` continues training for one more epoch.  The time therefore holds
    the Trainer's whole per-call overhead (input checks and conversion, label
    encoding, history, callbacks) on top of the core's epoch.
    """

    note = "Trainer.fit(epochs=1), timed after a warm-up fit"

    @staticmethod
    def version():
        import hpframe
        if not hasattr(hpframe, "Trainer"):
            raise ImportError("hpframe.Trainer is not importable yet")
        return hpframe.__version__

    def setup(self, X, y, hidden, batch_size):
        import hpframe as hp
        hp.set_num_threads(bench_threads())
        self.X, self.y = X, y
        self.trainer = hp.Trainer(hidden_layers=tuple(hidden), activation="relu",
                                  dropout=DROPOUT, optimizer="adam",
                                  learning_rate=LEARNING_RATE, batch_size=batch_size,
                                  epochs=1, validation_split=0.0, shuffle=True, seed=0,
                                  dtype=bench_dtype().name)

    def epoch(self, limit=None):
        X, y = (self.X, self.y) if limit is None else (self.X[:limit], self.y[:limit])
        start = time.perf_counter()
        self.trainer.fit(X, y, verbose=0)
        seconds = time.perf_counter() - start
        # the epoch's own time, as the Trainer records it around the core loop:
        # the rest of `seconds` is fit's overhead, measured in the same call
        self.inner_seconds = self.trainer.history.history["time"][-1]
        return seconds, len(X)


class HpframeCore(Runner):
    """hpframe's compiled epoch loop alone: ``Network.train_epoch``.

    The difference to :class:`HpframeTrainer` is the Trainer's overhead.
    """

    note = "_core Network.train_epoch, no Python layer"
    #: what the benchmark trains with (profile_step.py switches them one at a time)
    optimizer, dropout = "adam", DROPOUT

    @staticmethod
    def version():
        import hpframe
        from hpframe._core import Network  # noqa: F401
        return hpframe.__version__

    def setup(self, X, y, hidden, batch_size):
        from hpframe._core import Network
        from hpframe._core.spec import NetworkSpec
        sizes = (X.shape[1], *hidden, N_CLASSES)
        self.net = Network(NetworkSpec(sizes, "relu", "cross_entropy", self.optimizer,
                                       self.dropout, 0.9, BETA_1, BETA_2, EPSILON, 0.0,
                                       batch_size, bench_dtype(), 0))
        rng = np.random.default_rng(0)
        for l in range(self.net.n_layers):
            W = self.net.weight(l)
            W[...] = he_normal(rng, *W.shape)
        self.X, self.labels = X, y.astype(np.intc)
        self.no_targets = np.empty((0, N_CLASSES), dtype=bench_dtype())
        self.batch_size = batch_size
        # The Trainer shares each step among a team of threads sized to the step,
        # each calling BLAS single-threaded; do the same here (once, outside the
        # timing) so the difference is the Python layer alone.
        import hpframe
        from hpframe._threads import team_size
        from threadpoolctl import threadpool_limits
        hpframe.set_num_threads(bench_threads())
        self.team = team_size(batch_size, self.net.n_weights)
        threadpool_limits(limits=1, user_api="blas")

    def epoch(self, limit=None):
        X, labels = ((self.X, self.labels) if limit is None
                     else (self.X[:limit], self.labels[:limit]))
        start = time.perf_counter()
        self.net.train_epoch(X, labels, self.no_targets, self.batch_size, LEARNING_RATE, True,
                             self.team)
        return time.perf_counter() - start, len(X)


# ---------------------------------------------------------------------------
# NumPy
# ---------------------------------------------------------------------------

class NumpyReference(Runner):
    """hpframe's pure-NumPy twin: ``hpframe.reference.ReferenceMLP.train_epoch``.

    The readable oracle the tests compare the core with (its shuffle and
    dropout masks replay the core's bit streams in Python), timed as the
    "NumPy baseline".
    """

    note = "hpframe.reference.ReferenceMLP.train_epoch"

    @staticmethod
    def version():
        from hpframe.reference import ReferenceMLP  # noqa: F401
        return "numpy " + np.__version__

    def setup(self, X, y, hidden, batch_size):
        from hpframe.reference import ReferenceMLP
        rng = np.random.default_rng(0)
        sizes = (X.shape[1], *hidden, N_CLASSES)
        weights = [he_normal(rng, a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        biases = [np.zeros(b, bench_dtype()) for b in sizes[1:]]
        self.mlp = ReferenceMLP(weights, biases, activation="relu", loss="cross_entropy",
                                optimizer="adam", dropout=DROPOUT, beta_1=BETA_1,
                                beta_2=BETA_2, epsilon=EPSILON, seed=0)
        self.X, self.y, self.batch_size = X, y, batch_size

    def epoch(self, limit=None):
        X, y = (self.X, self.y) if limit is None else (self.X[:limit], self.y[:limit])
        start = time.perf_counter()
        self.mlp.train_epoch(X, y, self.batch_size, LEARNING_RATE, shuffle=True)
        return time.perf_counter() - start, len(X)


class GemmBound(Runner):
    """Only the matrix products of a dense training step, through ``numpy.matmul``.

    Per layer and batch: forward ``X @ W``, weight gradient ``X^T @ dY`` and,
    except for the first layer, input gradient ``dY @ W^T`` - into
    preallocated outputs, on contiguous batches (no gather, no elementwise
    work, no optimizer).  No framework can train faster than this on the same
    BLAS, so ``hpframe / gemm`` is the share of the machine's GEMM rate that
    hpframe reaches.
    """

    note = "matmuls only (X@W, X^T@dY, dY@W^T), numpy's BLAS, best of 1 and N threads"

    @staticmethod
    def version():
        return "numpy " + np.__version__

    def setup(self, X, y, hidden, batch_size):
        rng = np.random.default_rng(0)
        sizes = (X.shape[1], *hidden, N_CLASSES)
        bs = batch_size
        self.W = [he_normal(rng, a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        dt = bench_dtype()
        self.Z = [np.zeros((bs, b), dt) for b in sizes[1:]]
        self.dW = [np.zeros_like(W) for W in self.W]
        self.dX = [np.zeros((bs, a), dt) for a in sizes[:-1]]
        self.X, self.batch_size = X, bs

    def epoch(self, limit=None):
        # Small products run faster on one BLAS thread than on all (hpframe's
        # Trainer picks one for small steps), so the bound is the faster of the two.
        from threadpoolctl import threadpool_limits
        all_threads = bench_threads()
        best = None
        for threads in sorted({1, all_threads}):
            with threadpool_limits(limits=threads, user_api="blas"):
                seconds, todo = self._epoch(limit)
            best = seconds if best is None else min(best, seconds)
        return best, todo

    def _epoch(self, limit):
        n, bs = len(self.X), self.batch_size
        todo = n if limit is None else min(limit, n)
        W, Z, dW, dX, L = self.W, self.Z, self.dW, self.dX, len(self.W)
        matmul = np.matmul
        start = time.perf_counter()
        for i in range(0, todo, bs):
            x = self.X[i:i + bs]
            b = len(x)
            inputs = [x]
            for l in range(L):
                z = matmul(inputs[l], W[l], out=Z[l][:b])
                inputs.append(z)
            for l in range(L - 1, -1, -1):
                d = Z[l][:b]                        # stands in for dL/dZ_l
                matmul(inputs[l].T, d, out=dW[l])
                if l > 0:
                    matmul(d, W[l].T, out=dX[l][:b])
        return time.perf_counter() - start, todo


# ---------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------

class Pytorch(Runner):
    """PyTorch's standard eager loop, DataLoader-free.

    ``randperm`` once per epoch, index the data tensors per batch,
    ``zero_grad``, forward through ``nn.Sequential`` with ``nn.Dropout(0.2)``,
    ``CrossEntropyLoss``, ``backward``, ``Adam.step`` (PyTorch's default
    implementation).  The loss is not read back (no ``.item()``).
    """

    note = "eager loop, torch.set_num_threads(N), no DataLoader"

    @staticmethod
    def version():
        import torch
        return torch.__version__

    def setup(self, X, y, hidden, batch_size):
        import torch
        torch.set_num_threads(bench_threads())
        torch.manual_seed(0)
        sizes = (X.shape[1], *hidden)
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [torch.nn.Linear(n_in, n_out), torch.nn.ReLU(), torch.nn.Dropout(DROPOUT)]
        layers.append(torch.nn.Linear(sizes[-1], N_CLASSES))
        self.torch = torch
        self.model = torch.nn.Sequential(*layers).to(getattr(torch, bench_dtype().name))
        self.model.train()
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE,
                                          betas=(BETA_1, BETA_2), eps=EPSILON)
        self.X = torch.from_numpy(X)
        self.y = torch.from_numpy(y.astype(np.int64))
        self.batch_size = batch_size

    def epoch(self, limit=None):
        torch, model, loss_fn, opt = self.torch, self.model, self.loss_fn, self.optimizer
        X, y, bs = self.X, self.y, self.batch_size
        n = len(X)
        todo = n if limit is None else min(limit, n)
        start = time.perf_counter()
        perm = torch.randperm(n)
        for i in range(0, todo, bs):
            idx = perm[i:min(i + bs, todo)]
            xb, yb = X[idx], y[idx]
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        return time.perf_counter() - start, todo


# ---------------------------------------------------------------------------
# JAX
# ---------------------------------------------------------------------------

class Jax(Runner):
    """JAX the way an expert writes a fast CPU epoch.

    The whole epoch is one jitted function: a ``jax.random.permutation`` of
    the rows, a ``lax.scan`` over the full batches with the batch gather
    inside, dropout masks from ``jax.random``, Adam written out over the
    parameter pytree, parameters and optimizer state donated (updated in
    place).  The last, smaller batch is one more call of the same step
    function inside the same jitted epoch, with its own static shape (no
    padding, no masking).  The first call compiles (the warm-up); timed calls
    end with ``block_until_ready``.
    """

    note = "whole epoch = one jit (lax.scan + tail step), Adam by hand"

    @staticmethod
    def version():
        import jax
        return jax.__version__

    def setup(self, X, y, hidden, batch_size):
        import jax
        if bench_dtype() == np.float64:
            jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        from jax import lax
        dt = jnp.dtype(bench_dtype().name)

        n = len(X)
        sizes = (X.shape[1], *hidden, N_CLASSES)
        rng = np.random.default_rng(0)
        params = [(jnp.asarray(he_normal(rng, a, b)), jnp.zeros(b, dt))
                  for a, b in zip(sizes[:-1], sizes[1:])]
        zeros = jax.tree.map(jnp.zeros_like, params)
        self.state = (params, zeros, jax.tree.map(jnp.zeros_like, params),
                      jnp.zeros((), jnp.int32), jax.random.key(0))
        self.X = jax.device_put(X)
        self.y = jax.device_put(y.astype(np.int32))
        self.n = n
        keep = 1.0 - DROPOUT

        def loss_fn(params, xb, yb, key):
            h = xb
            for W, b in params[:-1]:
                h = jax.nn.relu(h @ W + b)
                key, sub = jax.random.split(key)
                h = jnp.where(jax.random.bernoulli(sub, keep, h.shape), h / keep, 0.0)
            W, b = params[-1]
            logp = jax.nn.log_softmax(h @ W + b)
            return -jnp.take_along_axis(logp, yb[:, None], axis=1).mean()

        grad_fn = jax.value_and_grad(loss_fn)

        def adam(params, m, v, grads, t):
            c1 = 1 - BETA_1 ** t
            c2 = 1 - BETA_2 ** t
            m = jax.tree.map(lambda m, g: BETA_1 * m + (1 - BETA_1) * g, m, grads)
            v = jax.tree.map(lambda v, g: BETA_2 * v + (1 - BETA_2) * g * g, v, grads)
            params = jax.tree.map(
                lambda p, m, v: p - LEARNING_RATE * (m / c1) / (jnp.sqrt(v / c2) + EPSILON),
                params, m, v)
            return params, m, v

        def step(carry, idx, X, y):
            params, m, v, t, key, loss_sum = carry
            key, sub = jax.random.split(key)
            loss, grads = grad_fn(params, X[idx], y[idx], sub)
            t = t + 1
            params, m, v = adam(params, m, v, grads, t.astype(dt))
            return (params, m, v, t, key, loss_sum + loss * idx.shape[0])

        def epoch(params, m, v, t, key, X, y, n_rows):
            # n_rows is static: the warm-up and timed calls use the same value
            nf, tl = divmod(n_rows, batch_size)
            key, sub = jax.random.split(key)
            order = jax.random.permutation(sub, X.shape[0])[:n_rows]
            carry = (params, m, v, t, key, jnp.zeros((), dt))
            if nf:
                carry, _ = lax.scan(lambda c, idx: (step(c, idx, X, y), None), carry,
                                    order[:nf * batch_size].reshape(nf, batch_size))
            if tl:
                carry = step(carry, order[nf * batch_size:], X, y)
            return carry

        self.jax = jax
        self.epoch_fn = jax.jit(epoch, static_argnames="n_rows", donate_argnums=(0, 1, 2))

    def epoch(self, limit=None):
        n_rows = self.n if limit is None else min(limit, self.n)
        params, m, v, t, key = self.state
        start = time.perf_counter()
        out = self.epoch_fn(params, m, v, t, key, self.X, self.y, n_rows=n_rows)
        self.jax.block_until_ready(out)
        seconds = time.perf_counter() - start
        self.state = out[:5]
        return seconds, n_rows


# ---------------------------------------------------------------------------
# scikit-learn
# ---------------------------------------------------------------------------

class Sklearn(Runner):
    """scikit-learn's ``MLPClassifier``: solver adam, ``max_iter=1``, ``alpha=0``.

    It has no dropout, so it does a little less work per step than the
    others.  ``warm_start=True``: the warm-up ``fit`` builds and trains one
    epoch, every timed ``fit`` trains one more (``ConvergenceWarning``
    silenced).
    """

    note = "MLPClassifier(solver='adam', max_iter=1, alpha=0), NO dropout"

    @staticmethod
    def version():
        import sklearn
        return sklearn.__version__

    def setup(self, X, y, hidden, batch_size):
        from sklearn.neural_network import MLPClassifier
        self.model = MLPClassifier(hidden_layer_sizes=tuple(hidden), activation="relu",
                                   solver="adam", batch_size=batch_size, max_iter=1,
                                   learning_rate_init=LEARNING_RATE, alpha=0.0,
                                   beta_1=BETA_1, beta_2=BETA_2, epsilon=EPSILON,
                                   shuffle=True, random_state=0, warm_start=True)
        self.X, self.y = X, y

    def epoch(self, limit=None):
        X, y = (self.X, self.y) if limit is None else (self.X[:limit], self.y[:limit])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            self.model.fit(X, y)
            return time.perf_counter() - start, len(X)


RUNNERS = {
    "hpframe": HpframeTrainer,
    "hpframe-core": HpframeCore,
    "reference": NumpyReference,
    "pytorch": Pytorch,
    "jax": Jax,
    "sklearn": Sklearn,
    "gemm": GemmBound,
}
