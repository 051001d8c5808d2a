"""The shared argument checks of hpframe._validation: one wording everywhere.

Oracle: the messages written out by hand.
"""
import math

import numpy as np
import pytest

from hpframe._validation import check_bool, check_float, check_int, format_bytes, shown


@pytest.mark.parametrize("call, error, message", [
    (lambda: check_int("n", 0, 1), ValueError, "n must be an integer >= 1, got 0"),
    (lambda: check_int("n", 2.0, 1), TypeError, "n must be an integer >= 1, got 2.0"),
    (lambda: check_int("n", True, 1), TypeError, "n must be an integer >= 1, got True of type bool"),
    (lambda: check_int("n", "3", 1), TypeError, "n must be an integer >= 1, got '3' of type str"),
    (lambda: check_int("n", 5, 1, 4), ValueError, "n must be an integer in [1, 4], got 5"),
    (lambda: check_int("n", 0, 1, none_ok=True), ValueError,
     "n must be None or an integer >= 1, got 0"),
    (lambda: check_int("n", 2**63, 1), ValueError,
     "n must be an integer >= 1 and at most 2**63 - 1 (the largest count compiled code can "
     "hold), got 9223372036854775808"),
    (lambda: check_float("p", 1.0, 0.0, 1.0, high_open=True), ValueError,
     "p must be in [0, 1), got 1.0"),
    (lambda: check_float("p", "0.2", 0.0, 1.0, high_open=True), TypeError,
     "p must be a number in [0, 1), got '0.2' of type str"),
    (lambda: check_float("lr", 0, 0.0, low_open=True), ValueError,
     "lr must be a finite number > 0, got 0.0"),
    (lambda: check_float("lr", math.nan, 0.0, low_open=True), ValueError,
     "lr must be a finite number > 0, got nan"),
    (lambda: check_float("lr", -10**400), ValueError,
     "lr must be a finite number, got -1000000...0000 (an integer of 401 digits)"),
    (lambda: check_bool("shuffle", 1), TypeError, "shuffle must be True or False, got 1 of type int"),
])
def test_messages_name_the_argument_the_value_and_what_is_allowed(call, error, message):
    with pytest.raises(error) as exc:
        call()
    assert str(exc.value) == message


def test_conversions():
    assert check_int("n", np.int16(3), 1) == 3 and type(check_int("n", np.int16(3))) is int
    assert check_int("n", 8.0, 1, integral_float=True) == 8
    assert check_int("n", None, 1, none_ok=True) is None
    assert check_int("seed", 10**30, 0, size=False) == 10**30
    assert check_float("p", np.float32(0.01), decimal=True) == 0.01
    assert check_float("p", np.float32(0.01)) == float(np.float32(0.01))
    assert check_bool("b", np.bool_(False)) is False


def test_helpers_for_people():
    assert shown(10**3) == "1000"
    assert shown(10**50) == "10000000...0000 (an integer of 51 digits)"
    assert format_bytes(512) == "512 B"
    assert format_bytes(3 * 2**40) == "3.0 TiB"
    assert format_bytes(2**70) == "1024.0 EiB"
