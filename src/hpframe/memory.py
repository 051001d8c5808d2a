"""How much memory a choice of hyperparameters costs, before you train."""
import numpy as np

from hpframe._core.layout import team_scratch_size
from hpframe._core.spec import NetworkSpec
from hpframe._threads import team_size
from hpframe._validation import check_int
from hpframe.hparams import HyperParams

__all__ = ["estimate_memory"]


class MemoryEstimate(dict):
    """A dict of byte counts that prints as a small table."""

    def __repr__(self):
        width = max(len(k) for k in self)
        lines = [f"{k.replace('_', ' '):<{width}}  {v / 2**20:10.3f} MB" for k, v in self.items()]
        return "\n".join(lines)


def estimate_memory(hparams, n_features, n_outputs, n_samples):
    """Estimate the memory ``Trainer.fit`` allocates, broken down by purpose.

    Counts exactly the buffers the compiled core allocates for these
    hyperparameters (the same layout, ``hpframe._core.layout``), plus the copies ``fit`` makes of the data (the
    validation split), assuming ``X`` arrives C-contiguous in the training
    dtype and ``y`` as int64 labels or float targets.

    Parameters
    ----------
    hparams : HyperParams or dict
        The hyperparameters.
    n_features : int
        Inputs per sample.
    n_outputs : int
        Output units (classes for ``cross_entropy``; 1 for binary ``binary_cross_entropy``).
    n_samples : int
        Samples passed to ``fit`` (before the validation split); 0 for the model alone.

    Returns
    -------
    dict
        Bytes for ``parameters``, ``gradients``, ``optimizer_state``,
        ``activations`` (the per-batch buffers, which grow with ``batch_size``,
        including the partial sums of a team of threads: see
        :func:`hpframe.set_num_threads`), ``data`` (copies made by ``fit``) and
        ``total``.

    Examples
    --------
    >>> import hpframe as hp
    >>> mem = hp.estimate_memory(hp.HyperParams(hidden_layers=(128,)), 784, 10, 60000)
    >>> mem["parameters"]                   # (784*128 + 128 + 128*10 + 10) float32 numbers
    407080
    """
    if isinstance(hparams, dict):
        hparams = HyperParams.from_dict(hparams)
    if not isinstance(hparams, HyperParams):
        raise TypeError(f"hparams must be a HyperParams or dict; got {type(hparams).__name__}")
    for name, value, low in (("n_features", n_features, 1), ("n_outputs", n_outputs, 1),
                             ("n_samples", n_samples, 0)):
        check_int(name, value, low)
    item = np.dtype(hparams.dtype).itemsize
    n_val = int(round(hparams.validation_split * n_samples))
    n_train = n_samples - n_val
    spec = NetworkSpec.from_hparams(hparams, n_features, n_outputs, n_train)
    batch, capacity = NetworkSpec.batch_rows(hparams, n_train), spec.capacity
    ce = hparams.loss == "cross_entropy"
    lay = spec.layout()
    team = max(team_size(batch, lay.n_weights), team_size(capacity, lay.n_weights, training=False))
    activations = (lay.work_size + team_scratch_size(spec.sizes, capacity, team)) * item
    activations += capacity * 4 + n_train * 8                         # batch labels, row order
    data = 0
    if n_val:
        data += n_samples * n_features * item + n_samples * 8          # X and y split copies
        data += n_val * n_outputs * item                               # validation outputs
    data += n_samples * 4 if ce else n_samples * n_outputs * item      # encoded targets
    out = MemoryEstimate(parameters=lay.n_params * item, gradients=lay.n_params * item,
                         optimizer_state=lay.n_state * item, activations=activations, data=data)
    out["total"] = sum(out.values())
    return out
