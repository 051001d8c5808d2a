"""HyperParams: validation, normalisation, serialisation, schedules and docs.

Oracles: the contract in DESIGN.md section 3 (written out by hand below), and
learning rates computed by hand.
"""
import dataclasses
import json
import math

import numpy as np
import pytest

from hpframe.hparams import (ACTIVATIONS, DTYPES, FIELDS, INITS, KINDS, LOSSES, SPECS,
                             LR_SCHEDULES, OPTIMIZERS, Explanation, HyperParams, explain)

# The contract, copied by hand from DESIGN.md section 3: name, default, in order.
CONTRACT = [
    ("hidden_layers", (64,)), ("activation", "relu"), ("loss", "cross_entropy"),
    ("optimizer", "adam"), ("learning_rate", 1e-3), ("momentum", 0.9), ("beta_1", 0.9),
    ("beta_2", 0.999), ("epsilon", 1e-8), ("weight_decay", 0.0), ("batch_size", 32),
    ("epochs", 10), ("dropout", 0.0), ("validation_split", 0.2), ("patience", None),
    ("lr_schedule", "constant"), ("lr_step_size", 10), ("lr_gamma", 0.1),
    ("lr_warmup_epochs", 0), ("init", "auto"),
    ("dtype", "float32"), ("shuffle", True), ("seed", 0), ("class_weight", None),
    ("clip_norm", None),
]


def test_fields_defaults_and_order_match_the_contract():
    fields = dataclasses.fields(HyperParams)
    assert [(f.name, f.default) for f in fields] == CONTRACT
    h = HyperParams()
    assert h.to_dict() == dict(CONTRACT)
    assert list(h.to_dict()) == [name for name, _ in CONTRACT]


def test_allowed_names_in_contract_order():
    assert ACTIVATIONS == ("relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "identity")
    assert LOSSES == ("cross_entropy", "binary_cross_entropy", "mse", "mae", "huber")
    assert OPTIMIZERS == ("sgd", "momentum", "nesterov", "adam", "adamw")
    assert LR_SCHEDULES == ("constant", "step", "cosine")
    assert INITS == ("auto", "he", "glorot")
    assert DTYPES == ("float32", "float64")


# -- validation, field by field -------------------------------------------
def _assert_names(exc_info, field, bad):
    msg = str(exc_info.value)
    assert field in msg, msg
    assert repr(bad) in msg or str(bad) in msg, msg


NOT_A_NUMBER = ["0.1", None, [0.1], True, np.bool_(False)]

# field: (valid values, out-of-range values, what the message says is allowed)
FLOAT_FIELDS = {
    "learning_rate": ([1e-6, 0.5, 3], [0.0, -1e-3, math.inf, math.nan], "> 0"),
    "momentum": ([0.0, 0.5, 0.99], [1.0, -0.1, 1.5, math.nan], "[0, 1)"),
    "beta_1": ([0.0, 0.9], [1.0, -0.5], "[0, 1)"),
    "beta_2": ([0.0, 0.999], [1.0, 2.0], "[0, 1)"),
    "epsilon": ([1e-12, 1.0], [0.0, -1e-8, math.inf], "> 0"),
    "weight_decay": ([0.0, 1e-4, 1], [-1e-4, math.inf], ">= 0"),
    "dropout": ([0.0, 0.5, 0.99], [1.0, 1.5, -0.1], "[0, 1)"),
    "validation_split": ([0.0, 0.1, 0.5], [1.0, -0.2, math.nan], "[0, 1)"),
    "lr_gamma": ([0.5, 2.0], [0.0, -0.5, -math.inf], "> 0"),
}


@pytest.mark.parametrize("field", FLOAT_FIELDS)
def test_float_fields(field):
    valid, out_of_range, allowed = FLOAT_FIELDS[field]
    for value in valid:
        got = getattr(HyperParams(**{field: value}), field)
        assert type(got) is float and got == value
    for bad in out_of_range:
        with pytest.raises(ValueError) as exc:
            HyperParams(**{field: bad})
        _assert_names(exc, field, bad)
        assert allowed in str(exc.value)
    for bad in NOT_A_NUMBER:
        with pytest.raises(TypeError) as exc:
            HyperParams(**{field: bad})
        _assert_names(exc, field, bad)


def test_dropout_message_is_exact():
    with pytest.raises(ValueError, match=r"^dropout must be in \[0, 1\), got 1\.5$"):
        HyperParams(dropout=1.5)


INT_FIELDS = {"batch_size": [0, -3], "epochs": [0, -1], "lr_step_size": [0]}


@pytest.mark.parametrize("field", INT_FIELDS)
def test_int_fields(field):
    for value, expected in [(1, 1), (7, 7), (np.int32(5), 5), (8.0, 8), (np.float64(4.0), 4)]:
        got = getattr(HyperParams(**{field: value}), field)
        assert type(got) is int and got == expected
    for bad in INT_FIELDS[field]:
        with pytest.raises(ValueError) as exc:
            HyperParams(**{field: bad})
        _assert_names(exc, field, bad)
        assert ">= 1" in str(exc.value)
    for bad in [2.5, math.nan, True, "8", None, np.float32(1.5)]:
        with pytest.raises(TypeError) as exc:
            HyperParams(**{field: bad})
        _assert_names(exc, field, bad)


def test_patience():
    assert HyperParams(patience=None).patience is None
    assert HyperParams(patience=np.int64(3)).patience == 3
    for bad in [0, -1]:
        with pytest.raises(ValueError) as exc:
            HyperParams(patience=bad)
        _assert_names(exc, "patience", bad)
    for bad in [1.5, True, "3"]:
        with pytest.raises(TypeError) as exc:
            HyperParams(patience=bad)
        _assert_names(exc, "patience", bad)


def test_seed():
    assert HyperParams(seed=None).seed is None
    assert HyperParams(seed=0).seed == 0
    assert HyperParams(seed=2**70).seed == 2**70          # SeedSequence entropy is that big
    assert type(HyperParams(seed=np.uint64(7)).seed) is int
    with pytest.raises(ValueError) as exc:
        HyperParams(seed=-1)
    _assert_names(exc, "seed", -1)
    for bad in [1.5, True, "0"]:
        with pytest.raises(TypeError) as exc:
            HyperParams(seed=bad)
        _assert_names(exc, "seed", bad)


def test_shuffle():
    assert HyperParams(shuffle=False).shuffle is False
    assert HyperParams(shuffle=np.bool_(False)).shuffle is False
    for bad in [1, 0, "yes", None]:
        with pytest.raises(TypeError) as exc:
            HyperParams(shuffle=bad)
        _assert_names(exc, "shuffle", bad)


CHOICE_FIELDS = {"activation": ACTIVATIONS, "loss": LOSSES, "optimizer": OPTIMIZERS,
                 "lr_schedule": LR_SCHEDULES, "init": INITS, "dtype": DTYPES}


@pytest.mark.parametrize("field", CHOICE_FIELDS)
def test_choice_fields(field):
    options = CHOICE_FIELDS[field]
    for option in options:
        assert getattr(HyperParams(**{field: option}), field) == option
    assert type(getattr(HyperParams(**{field: np.str_(options[0])}), field)) is str
    with pytest.raises(ValueError) as exc:
        HyperParams(**{field: "no_such_thing"})
    _assert_names(exc, field, "no_such_thing")
    for option in options:                       # every allowed value is listed
        assert repr(option) in str(exc.value)
    for bad in [3, None, ["relu"]]:
        with pytest.raises(TypeError) as exc:
            HyperParams(**{field: bad})
        _assert_names(exc, field, bad)


@pytest.mark.parametrize("field, typo, suggestion", [
    ("activation", "rleu", "relu"),
    ("activation", "ReLU", "relu"),
    ("activation", "tahn", "tanh"),
    ("activation", "linear", "identity"),
    ("loss", "categorical_crossentropy", "cross_entropy"),
    ("loss", "mean_squared_error", "mse"),
    ("loss", "binary_crossentropy", "binary_cross_entropy"),
    ("optimizer", "Adam", "adam"),
    ("optimizer", "nesterof", "nesterov"),
    ("lr_schedule", "cosin", "cosine"),
    ("init", "xavier", "glorot"),
    ("dtype", "complex", None),
    ("dtype", "double", "float64"),
])
def test_value_suggestions(field, typo, suggestion):
    with pytest.raises(ValueError) as exc:
        HyperParams(**{field: typo})
    msg = str(exc.value)
    assert field in msg and repr(typo) in msg
    if suggestion is None:
        assert "did you mean" not in msg
    else:
        assert f"(did you mean {suggestion!r}?)" in msg


def test_activation_message_format():
    with pytest.raises(ValueError) as exc:
        HyperParams(activation="rleu")
    assert str(exc.value) == (
        "activation must be one of 'relu', 'leaky_relu', 'elu', 'gelu', 'sigmoid', 'tanh', "
        "'identity'; got 'rleu' (did you mean 'relu'?)")


def test_hidden_layers_normalised():
    assert HyperParams(hidden_layers=[128, 64]).hidden_layers == (128, 64)
    assert HyperParams(hidden_layers=16).hidden_layers == (16,)
    assert HyperParams(hidden_layers=()).hidden_layers == ()
    assert HyperParams(hidden_layers=[]).hidden_layers == ()
    got = HyperParams(hidden_layers=np.array([8, 4])).hidden_layers
    assert got == (8, 4) and all(type(v) is int for v in got)
    assert HyperParams(hidden_layers=(np.int16(3), 2.0)).hidden_layers == (3, 2)


@pytest.mark.parametrize("bad, error", [
    (0, ValueError), (-4, ValueError), ([64, 0], ValueError), ((8, -1), ValueError),
    ("64", TypeError), ([4, 2.5], TypeError), (True, TypeError), ([4, None], TypeError),
    (None, TypeError), (np.ones((2, 2), dtype=int), TypeError), ({64, 32}, TypeError),
])
def test_hidden_layers_rejected(bad, error):
    with pytest.raises(error) as exc:
        HyperParams(hidden_layers=bad)
    msg = str(exc.value)
    assert "hidden_layers" in msg
    if not isinstance(bad, np.ndarray):
        assert repr(bad) in msg


def test_dtype_accepts_numpy_types():
    assert HyperParams(dtype=np.float64).dtype == "float64"
    assert HyperParams(dtype=np.dtype("float32")).dtype == "float32"
    with pytest.raises(ValueError, match="dtype"):
        HyperParams(dtype=np.int32)
    with pytest.raises(ValueError, match="dtype"):
        HyperParams(dtype="float16")
    for bad in [None, True, 3.5]:
        with pytest.raises(TypeError, match="dtype"):
            HyperParams(dtype=bad)


def test_numpy_scalars_become_python_scalars():
    h = HyperParams(learning_rate=np.float32(0.01), momentum=np.float64(0.5),
                    batch_size=np.int64(16), seed=np.int32(3), shuffle=np.bool_(True))
    assert h.learning_rate == 0.01                 # the decimal the user meant
    for name in ("learning_rate", "momentum"):
        assert type(getattr(h, name)) is float
    assert type(h.batch_size) is int and type(h.seed) is int and type(h.shuffle) is bool
    json.dumps(h.to_dict())                        # would fail on numpy scalars
    hash(h)


# -- replace / dict / JSON ---------------------------------------------------
NON_DEFAULT = dict(hidden_layers=[32, 16], activation="tanh", loss="mse", optimizer="sgd",
                   learning_rate=0.05, momentum=0.5, beta_1=0.8, beta_2=0.99, epsilon=1e-7,
                   weight_decay=1e-4, batch_size=8, epochs=3, dropout=0.25,
                   validation_split=0.0, patience=2, lr_schedule="step", lr_step_size=2,
                   lr_gamma=0.5, lr_warmup_epochs=1, init="glorot", dtype="float64", shuffle=False, seed=None,
                   class_weight={0: 2.0, 1: 0.5}, clip_norm=1.0)


def test_every_field_is_covered_by_the_round_trip_case():
    assert set(NON_DEFAULT) == {name for name, _ in CONTRACT}
    assert all(NON_DEFAULT[name] != default for name, default in CONTRACT)


def test_dict_and_json_round_trip():
    h = HyperParams(**NON_DEFAULT)
    for other in (HyperParams.from_dict(h.to_dict()), HyperParams.from_json(h.to_json()),
                  HyperParams.from_dict(json.loads(json.dumps(h.to_dict())))):
        assert other == h and hash(other) == hash(h)
        assert other.hidden_layers == (32, 16)
    assert json.loads(h.to_json())["hidden_layers"] == [32, 16]
    assert h != HyperParams() and len({h, HyperParams(), HyperParams(**NON_DEFAULT)}) == 2


def test_from_dict_fills_defaults_and_validates():
    h = HyperParams.from_dict({"epochs": 3})
    assert h == HyperParams(epochs=3)
    with pytest.raises(ValueError, match="dropout"):
        HyperParams.from_dict({"dropout": 2.0})
    with pytest.raises(TypeError):
        HyperParams.from_dict([("epochs", 3)])


@pytest.mark.parametrize("key, suggestion", [
    ("learnig_rate", "learning_rate"), ("lr", "learning_rate"), ("batchsize", "batch_size"),
    ("hidden_layer_sizes", "hidden_layers"), ("random_state", "seed"), ("eps", "epsilon"),
])
def test_unknown_keys_name_the_closest_field(key, suggestion):
    for call in (lambda: HyperParams.from_dict({key: 1}), lambda: HyperParams().replace(**{key: 1}),
                 lambda: HyperParams.from_json(json.dumps({key: 1}))):
        with pytest.raises(ValueError) as exc:
            call()
        assert repr(key) in str(exc.value)
        assert f"did you mean {suggestion!r}" in str(exc.value)


def test_unknown_key_without_close_match_lists_the_fields():
    with pytest.raises(ValueError) as exc:
        HyperParams.from_dict({"zzzz": 1})
    assert "'zzzz'" in str(exc.value) and "learning_rate" in str(exc.value)


def test_from_json_rejects_non_objects():
    for text in ("[1, 2]", "not json", "3"):
        with pytest.raises(ValueError):
            HyperParams.from_json(text)


def test_replace_validates_and_leaves_the_original():
    h = HyperParams()
    h2 = h.replace(learning_rate=0.1, hidden_layers=[5])
    assert (h2.learning_rate, h2.hidden_layers) == (0.1, (5,))
    assert h == HyperParams()
    with pytest.raises(ValueError, match="learning_rate"):
        h.replace(learning_rate=-1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        h.learning_rate = 0.5


# -- learning-rate schedules ---------------------------------------------------
def test_lr_constant():
    h = HyperParams(learning_rate=0.03, epochs=5)
    assert [h.lr_at(e) for e in range(8)] == [0.03] * 8


def test_lr_step():
    h = HyperParams(learning_rate=0.1, lr_schedule="step", lr_step_size=3, lr_gamma=0.5)
    expected = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]
    assert [h.lr_at(e) for e in range(8)] == pytest.approx(expected, rel=1e-15)


def test_lr_cosine():
    h = HyperParams(learning_rate=1.0, lr_schedule="cosine", epochs=4)
    # 0.5 * (1 + cos(pi * e / 4)) by hand: cos(pi/4) = sqrt(2)/2.
    expected = [1.0, 0.5 + math.sqrt(2) / 4, 0.5, 0.5 - math.sqrt(2) / 4, 0.0, 0.0, 0.0]
    assert [h.lr_at(e) for e in range(7)] == pytest.approx(expected, rel=1e-12, abs=1e-15)
    h2 = HyperParams(learning_rate=0.2, lr_schedule="cosine", epochs=10)
    assert h2.lr_at(5) == pytest.approx(0.1, rel=1e-12)


def test_lr_at_rejects_bad_epochs():
    h = HyperParams()
    with pytest.raises(ValueError, match="epoch"):
        h.lr_at(-1)
    with pytest.raises(TypeError, match="epoch"):
        h.lr_at(1.5)


# -- documentation ---------------------------------------------------------
NUMERIC = {"hidden_layers", "learning_rate", "momentum", "beta_1", "beta_2", "epsilon",
           "weight_decay", "batch_size", "epochs", "dropout", "validation_split", "patience",
           "lr_step_size", "lr_gamma", "lr_warmup_epochs", "clip_norm"}


def test_field_docs_table_is_complete():
    assert list(FIELDS) == [name for name, _ in CONTRACT]
    assert set(KINDS) == {"model", "optimizer", "training"}
    for name, doc in FIELDS.items():
        assert doc.kind in KINDS, name
        assert doc.summary and doc.allowed and doc.cost, name
        if name in NUMERIC:
            assert doc.too_low and doc.too_high, name
        else:
            assert doc.pitfalls, name
    # a few kinds a learner should be able to rely on
    assert FIELDS["learning_rate"].kind == "optimizer"
    assert FIELDS["hidden_layers"].kind == "model"
    assert FIELDS["batch_size"].kind == "training"


@pytest.mark.parametrize("name", [name for name, _ in CONTRACT])
def test_explain_each_field(name):
    text = explain(name)
    assert isinstance(text, str) and isinstance(text, Explanation)
    assert repr(text) == str(text)
    doc = FIELDS[name]
    assert text.startswith(name) and f"[{doc.kind}]" in text
    assert f"default: {dict(CONTRACT)[name]!r}" in text
    flat = " ".join(text.split())
    for part in (doc.summary, doc.allowed, doc.cost):
        assert " ".join(part.split()) in flat


def test_explain_parameters_and_unknown_names():
    for name in ("parameters", "hyperparameters"):
        flat = " ".join(explain(name).split())
        assert "weight" in flat and "bias" in flat and "trial and error" in flat
    with pytest.raises(ValueError) as exc:
        explain("dropuot")
    assert "'dropuot'" in str(exc.value) and "did you mean 'dropout'" in str(exc.value)
    with pytest.raises(ValueError, match="learning_rate"):
        explain("lr")


def test_describe_lists_every_field():
    text = HyperParams.describe()
    assert isinstance(text, Explanation) and repr(text) == str(text)
    for name, default in CONTRACT:
        assert f"\n{name}  [{FIELDS[name].kind}]  default: {default!r}" in text
    assert "current:" not in text


def test_describe_on_an_instance_shows_current_values():
    h = HyperParams(learning_rate=0.01, hidden_layers=[8])
    text = h.describe()
    assert "learning_rate  [optimizer]  default: 0.001  current: 0.01  *" in text
    assert "hidden_layers  [model]  default: (64,)  current: (8,)  *" in text
    assert "epochs  [training]  default: 10  current: 10\n" in text
    assert "2 differ from the default" in text


# -- one declaration per field: everything else is derived from it -----------------
def _parameters_entries():
    """(name, type, default text, flattened description) of HyperParams' docstring."""
    doc = HyperParams.__doc__.split("Parameters\n    ----------\n", 1)[1].split("\n\n")[0]
    entries = []
    for line in doc.split("\n"):
        if line.startswith("    ") and not line.startswith("        "):
            name, rest = line.strip().split(" : ", 1)
            kind, default = rest.rsplit(", default ", 1)
            entries.append([name, kind, default, ""])
        else:
            entries[-1][3] += " " + line.strip()
    return entries


def test_parameters_section_lists_every_field_with_its_default_and_allowed_values():
    entries = _parameters_entries()
    assert [(e[0], e[2]) for e in entries] == [(name, repr(d)) for name, d in CONTRACT]
    kinds = {e[0]: e[1] for e in entries}
    assert kinds["learning_rate"] == "float" and kinds["batch_size"] == "int"
    assert kinds["patience"] == kinds["seed"] == "int or None"
    assert kinds["optimizer"] == '{"sgd", "momentum", "nesterov", "adam", "adamw"}'
    for name, _, _, text in entries:
        assert " ".join(FIELDS[name].summary.split()) in text, name
        if name in NUMERIC:
            assert f"Allowed: {FIELDS[name].allowed}." in text, name


# A value just outside each numeric field's range, and the interval (by hand) that both
# the error message and the documented "allowed" text must state.
OUTSIDE = {
    "learning_rate": (0.0, "> 0"), "momentum": (1.0, "in [0, 1)"),
    "beta_1": (-0.1, "in [0, 1)"), "beta_2": (1.0, "in [0, 1)"), "epsilon": (0.0, "> 0"),
    "weight_decay": (-1e-9, ">= 0"), "batch_size": (0, ">= 1"), "epochs": (0, ">= 1"),
    "dropout": (1.0, "in [0, 1)"), "validation_split": (1.0, "in [0, 1)"),
    "patience": (0, ">= 1"), "lr_step_size": (0, ">= 1"), "lr_gamma": (0.0, "> 0"),
    "seed": (-1, ">= 0"), "clip_norm": (0.0, "> 0"),
}


@pytest.mark.parametrize("name", OUTSIDE)
def test_error_message_and_allowed_text_state_the_same_range(name):
    bad, interval = OUTSIDE[name]
    with pytest.raises(ValueError) as exc:
        HyperParams(**{name: bad})
    assert str(exc.value).startswith(f"{name} must be ") and interval in str(exc.value)
    assert f"got {bad!r}" in str(exc.value)
    assert interval.replace("in ", "") in FIELDS[name].allowed


def test_adding_a_declaration_adds_a_field(monkeypatch):
    """A contributor declares a hyperparameter once; HyperParams, its checks and its
    docs follow (here on a throwaway class built the way HyperParams is)."""
    from hpframe import hparams as H

    extra = H.Hyperparameter("warmup", type="int", default=0, low=0, kind="training",
                             summary="Epochs of warm-up.", cost="None.",
                             too_low="No warm-up.", too_high="Slow start.")
    monkeypatch.setattr(H, "DECLARED", H.DECLARED + (extra,))

    @H._declared_fields
    class Probe:
        """Probe.

        Parameters
        ----------
        %(parameters)s
        """

        def __post_init__(self):
            for spec in H.DECLARED:
                object.__setattr__(self, spec.name, spec.check(getattr(self, spec.name)))

    assert Probe().warmup == 0 and Probe(warmup=3.0).warmup == 3
    with pytest.raises(ValueError, match=r"^warmup must be an integer >= 0, got -2$"):
        Probe(warmup=-2)
    assert "warmup : int, default 0" in Probe.__doc__
    assert extra.allowed == "an int >= 0"


def test_sklearn_parameter_constraints_agree_with_hyperparams():
    pytest.importorskip("sklearn")
    from sklearn.utils._param_validation import (InvalidParameterError,
                                                 validate_parameter_constraints)
    from hpframe.sklearn import HPClassifier, HPRegressor

    assert set(HPClassifier._parameter_constraints) == set(HPClassifier().get_params())
    assert set(HPRegressor._parameter_constraints) == set(HPRegressor().get_params())
    probes = [-1, 0, 1, 7, -0.5, 0.0, 0.5, 0.999, 1.0, 2.5, 1e-9, math.nan, math.inf,
              "relu", "sgd", "step", "he", "float64", "bogus", True, None]
    for name in FIELDS:
        if name == "loss":
            continue
        for value in probes:
            if name == "hidden_layers" and isinstance(value, float):
                continue            # HyperParams takes 7.0 for 7; scikit-learn does not
            if isinstance(value, float) and value.is_integer() and \
                    SPECS[name].type == "int":
                continue
            if value is True and SPECS[name].type != "bool":
                continue            # scikit-learn's Interval(Integral) takes a bool
            try:
                HyperParams(**{name: value})
                ours = True
            except (TypeError, ValueError):
                ours = False
            try:
                validate_parameter_constraints(HPClassifier._parameter_constraints,
                                               {name: value}, "HPClassifier")
                theirs = True
            except InvalidParameterError:
                theirs = False
            assert ours == theirs, (name, value, ours, theirs)


# -- sizes no buffer can hold: refused with a ValueError naming the field ------------
TOO_BIG = [
    (dict(learning_rate=10**400),
     r"^learning_rate must be a finite number > 0, got 10000000\.\.\.0000 \(an integer of "
     r"401 digits\)$"),
    (dict(batch_size=10**30),
     r"^batch_size must be an integer >= 1 and at most 2\*\*63 - 1 .*, got 10{30}$"),
    (dict(epochs=2**63), r"^epochs must be an integer >= 1 and at most 2\*\*63 - 1"),
    (dict(hidden_layers=(10**19,)),
     r"^hidden_layers=\(10{19},\) would need at least 208\.2 EiB .* more than a 64-bit "
     r"computer can address"),
    (dict(hidden_layers=(2**31, 2**31, 2**31)),
     r"^hidden_layers=\(2147483648, 2147483648, 2147483648\) would need at least 64\.0 EiB"),
]


@pytest.mark.parametrize("fields, message", TOO_BIG)
def test_sizes_no_computer_can_hold_are_refused_at_construction(fields, message):
    # 10**19 units: 2 * 4 bytes * (2 * 10**19 + ...) = 1.6e20 bytes = 138.8 EiB for the
    # weights, plus the biases and the output layer: 8 * (3e19 + 2) bytes = 208.2 EiB.
    # 3 layers of 2**31: 8 * (2 * 2**31 + 2 * 2**62 + ...) bytes ~ 2**66 = 64 EiB.
    with pytest.raises(ValueError, match=message):
        HyperParams(**fields)


def test_seed_may_be_any_size():
    assert HyperParams(seed=10**30).seed == 10**30       # entropy, not a size


@pytest.mark.parametrize("fields, n_samples, message", [
    # (4 + 1) * 1e12 + (1e12 + 1) * 3 weights and biases, float32, twice (gradients):
    # 8 * (8e12 + 3) bytes = 58.2 TiB; sgd keeps no state.
    (dict(hidden_layers=(10**12,), optimizer="sgd"), 40,
     r"^hidden_layers=\(1000000000000,\) with 4 input\(s\) and 3 output\(s\) needs "
     r"[0-9.]+ PiB of memory \(parameters, gradients and sgd state 58\.2 TiB; .*\), more "
     r"than this computer's 1\.0 GiB; use fewer or narrower hidden layers$"),
    # the layers fit, but 20,000-row batches of a 10,000-unit layer do not:
    # 20,000 * 10,000 float32 = 0.75 GiB per activation buffer alone
    (dict(hidden_layers=(10_000,), batch_size=20_000, validation_split=0.0), 20_000,
     r"^batch_size=20000 with layers up to 10000 wide needs [0-9.]+ GiB of memory "
     r"\(.*buffers for batches of 20000 rows [0-9.]+ GiB\), more than this computer's "
     r"1\.0 GiB; use a smaller batch_size$"),
])
def test_networks_larger_than_memory_are_refused_before_allocating(
        monkeypatch, fields, n_samples, message):
    import tracemalloc

    from hpframe import _validation
    import hpframe as hp

    monkeypatch.setattr(_validation, "physical_memory", lambda: 2**30)   # a 1 GiB computer
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_samples, 4)).astype(np.float32)
    y = np.arange(n_samples) % 3
    trainer = hp.Trainer(**fields)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=message):
            trainer.fit(X, y, verbose=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20                 # refused before any big buffer existed
    assert not trainer.is_built
    with pytest.raises(ValueError, match=r"^hidden_layers=\(1000000000000,\) with 4 input"):
        hp.Trainer(hidden_layers=(10**12,)).build(4, 3)


def test_sklearn_estimators_take_every_declared_field_with_its_default():
    """The estimators' __init__ is written out (scikit-learn reads its signature); this
    keeps it in step with the declarations."""
    pytest.importorskip("sklearn")
    from hpframe.sklearn import HPClassifier, HPRegressor

    differs = {"epochs": 100, "validation_split": 0.0}        # documented in each class
    for cls, loss in ((HPClassifier, "cross_entropy"), (HPRegressor, "mse")):
        params = cls().get_params()
        assert set(SPECS) <= set(params)          # plus estimator options (verbose, ...)
        for name, spec in SPECS.items():
            expected = loss if name == "loss" else differs.get(name, spec.default)
            assert params[name] == expected, (cls.__name__, name)
