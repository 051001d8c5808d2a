"""A search log never damages a file that is not its own (issue 19, item 2).

The oracle is the file's bytes before and after: a file that is not this search's log
is refused and left byte for byte as it was (a model still loads); a log of this search
is changed only under its lock, and only to cut a torn last line.
"""
import json

import numpy as np
import pytest

import hpframe as hp
from hpframe.search.log import SearchLog, check_record

from test_search import BASE, X, Y, search


def _snapshot(path):
    return path.read_bytes()


def test_a_model_file_given_as_log_is_refused_untouched(tmp_path):
    path = tmp_path / "model.npz"
    trainer = hp.Trainer(BASE.replace(epochs=1)).fit(X, Y, verbose=0)
    trainer.save(path)
    before = _snapshot(path)
    assert not before.endswith(b"\n")           # a binary file: its "last line" is torn
    with pytest.raises(ValueError, match="not an hpframe search log.*untouched"):
        search(log=path, n_trials=2)
    assert _snapshot(path) == before
    loaded = hp.Trainer.load(path)
    np.testing.assert_array_equal(loaded.predict(X), trainer.predict(X))


def test_a_csv_without_a_final_newline_is_refused_untouched(tmp_path):
    path = tmp_path / "results.csv"
    path.write_bytes(b"a,b\n1,2\n3,4")
    with pytest.raises(ValueError, match="not an hpframe search log"):
        search(log=path, n_trials=2)
    assert path.read_bytes() == b"a,b\n1,2\n3,4"


def test_another_searchs_torn_log_is_refused_untouched(tmp_path):
    path = tmp_path / "search.jsonl"
    search(log=path, n_trials=2)
    with open(path, "ab") as f:
        f.write(b'{"number": 2, "sta')               # that search was killed mid-line
    before = _snapshot(path)
    with pytest.raises(ValueError, match="different search.*seed"):
        search(log=path, n_trials=2, seed=1)
    assert _snapshot(path) == before
    with pytest.warns(RuntimeWarning, match="incomplete"):   # its own search trims it
        resumed = search(log=path, n_trials=2)
    assert len(resumed.trials) == 2
    assert _snapshot(path) == before[:before.rfind(b"\n") + 1]


def _break_line(path, line, change):
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = change(lines[line - 1])
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize("change, message", [
    (lambda b: json.dumps({**json.loads(b), "value": None}).encode(),
     "status 'ok' needs a finite number as 'value', got None"),
    (lambda b: json.dumps({**json.loads(b), "value": "nan"}).encode(), "finite number"),
    (lambda b: json.dumps({**json.loads(b), "status": "great"}).encode(), "'status' must be"),
    (lambda b: json.dumps({**json.loads(b), "number": -1}).encode(), "'number' must be"),
    (lambda b: json.dumps({**json.loads(b), "train_time": -2.0}).encode(), "train_time"),
    (lambda b: b[:10] + b"\xff\xfe" + b[12:], "not UTF-8"),
    (lambda b: b"[1, 2]", "not an object"),
])
def test_impossible_records_name_the_file_and_line(tmp_path, change, message):
    path = tmp_path / "search.jsonl"
    search(log=path, n_trials=3)
    _break_line(path, 3, change)
    before = _snapshot(path)
    with pytest.raises(ValueError, match=f"search.jsonl, line 3: .*{message}"):
        search(log=path, n_trials=3)
    assert _snapshot(path) == before


def test_a_non_utf8_header_is_not_a_search_log(tmp_path):
    path = tmp_path / "search.jsonl"
    path.write_bytes(b"\xff\xd8\xff\xe0 JFIF\n")
    with pytest.raises(ValueError, match="not an hpframe search log"):
        search(log=path, n_trials=1)
    assert path.read_bytes() == b"\xff\xd8\xff\xe0 JFIF\n"


def test_a_torn_line_is_trimmed_only_under_the_lock(tmp_path):
    path = tmp_path / "search.jsonl"
    owner = SearchLog(path, {"strategy": "s", "seed": 0})
    owner.open()
    owner.append({"number": 0, "status": "ok", "value": 0.5})
    with open(path, "ab") as f:
        f.write(b'{"number": 1, "st')        # the owner is writing this line right now
    before = _snapshot(path)
    second = SearchLog(path, {"strategy": "s", "seed": 0})
    with pytest.raises(RuntimeError, match="in use by another running search"):
        second.open()
    assert _snapshot(path) == before             # the owner's line was not cut under it
    owner.close()
    with pytest.warns(RuntimeWarning, match="incomplete"):
        assert second.open() == [(2, {"number": 0, "status": "ok", "value": 0.5})]
    second.close()


def test_a_new_log_appears_whole_with_its_header(tmp_path):
    path = tmp_path / "sub" / "search.jsonl"
    log = SearchLog(path, {"strategy": "s", "seed": 0})
    assert log.open() == []
    log.close()
    assert json.loads(path.read_text()) == {"hpframe_search": 1, "strategy": "s", "seed": 0}
    assert [p.name for p in path.parent.iterdir()] == ["search.jsonl"]   # no temp file left
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")                       # an empty file holds nothing to damage
    log = SearchLog(empty, {"strategy": "s"})
    assert log.open() == []
    log.close()
    assert json.loads(empty.read_text())["strategy"] == "s"


@pytest.mark.parametrize("record, problem", [
    ({"number": 0, "status": "ok", "value": 0.1}, None),
    ({"number": 0, "status": "failed", "value": None}, None),
    ({"number": 0, "status": "diverged", "value": "nan"}, None),
    ({"number": True, "status": "ok", "value": 0.1}, "'number'"),
    ({"number": 0, "status": "ok", "value": True}, "finite number"),
    ({"number": 0, "status": "ok", "value": "inf"}, "finite number"),
    ({"number": 0, "status": "ok", "value": 1.0, "rung": -1}, "'rung'"),
    ({"number": 0, "status": "ok", "value": 1.0, "peak_memory": 1.5}, "peak_memory"),
])
def test_check_record(record, problem):
    found = check_record(record)
    assert (found is None) if problem is None else (problem in found)
