"""Bad input, fuzzed: every malformed topology or argument gets nslab's own one-line error,
never another exception, and never a change to the kernel."""

from __future__ import annotations

import contextlib
import copy
import io
import os

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nslab_kernel import InputError, TopologyError, load, parse
from nslab_kernel.model.schema import from_dict
from tests.support import FUZZ_CORPUS, value_paths

CORPUS = FUZZ_CORPUS
EXAMPLES = int(os.environ.get("NSLAB_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
KEYS = ["name", "nodes", "links", "routing", "naming", "kind", "routes", "forwarding", "endpoints", "addresses",
        "netns", "h1", "r1", "eth0", "image"]
scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
           | st.sampled_from(["host", "router", "auto", "h1:eth0", "r1:eth0", "10.0.1.2/24", "10.0.1.300/24",
                              "default via 10.0.1.1", "10.0.3.0/24 via 10.0.12.2", "net-{node}", "{lab}", ""]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5), max_leaves=30)


def one_line_error(fn) -> str | None:
    """Run fn; it may succeed or raise nslab's own error with one readable line; nothing else."""
    try:
        fn()
    except (TopologyError, InputError) as exc:
        text = str(exc)
        assert text and "\n" not in text and "Traceback" not in text, text
        return text
    return None


@FUZZ
@given(st.text(max_size=400))
def test_any_text(text):
    one_line_error(lambda: parse(text, "fuzz.yaml"))


@FUZZ
@given(values)
def test_any_yaml_structure(data):
    text = yaml.safe_dump(data, allow_unicode=True)
    one_line_error(lambda: parse(text, "fuzz.yaml"))
    one_line_error(lambda: from_dict(data, "fuzz.yaml"))


FIGURE1 = load("figure1").to_dict()
PATHS = [p for p in value_paths(FIGURE1) if p]


@FUZZ
@given(st.sampled_from(PATHS), values)
def test_figure1_with_one_value_replaced(path, junk):
    data = copy.deepcopy(FIGURE1)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = junk
    one_line_error(lambda: from_dict(data, "fuzz.yaml"))


@pytest.mark.parametrize("case", sorted(CORPUS.iterdir()), ids=lambda p: p.name)
def test_corpus_of_nasty_inputs(case):
    """Kept regression cases: each is refused with one line, quickly."""
    text = one_line_error(lambda: load(str(case)))
    assert text is not None, f"{case.name} was accepted"


# --- the command line -------------------------------------------------------------------------------

TOKENS = ["up", "down", "status", "ping", "cleanup", "validate", "exec", "check", "explain", "doctor",
          "--lab", "--backend", "--json", "--timeout", "--section", "--lang", "--image", "-v", "--", "h1", "r9",
          "lxd", "netns", "sim", "foo", "-1", "1e9", "nan", "chain:0", "chain:x", "chain:99999", "figure9",
          "/nonexistent.yaml", "../../etc/passwd", "bad name!", "x" * 300, "ña", "\u200b", "--no-such-flag"]


@FUZZ
@given(st.lists(st.sampled_from(TOKENS) | st.text(max_size=12), max_size=6))
def test_any_command_line(argv):
    from nslab_kernel import cli
    if argv and argv[0] == "exec":
        argv = argv[:1] + ["h1"] + argv[1:]  # (exec with a junk node and no lab: still an error)
    before = set(os.listdir("/var/run/netns")) if os.path.isdir("/var/run/netns") else set()
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(argv)
    except SystemExit as exc:  # argparse's own --help / --version
        code = exc.code
        assert code == 0
    assert code in (0, 1, 2, 127), (argv, code)
    text = err.getvalue()
    assert "Traceback" not in text and "unexpected" not in text, (argv, text)
    if code:
        lines = [line for line in text.splitlines() if line.strip()]
        assert len(lines) <= 1 or argv[:1] == ["validate"], (argv, text)
    after = set(os.listdir("/var/run/netns")) if os.path.isdir("/var/run/netns") else set()
    assert after == before  # malformed input never changes the kernel


@pytest.fixture(autouse=True)
def _private_state(tmp_path, monkeypatch):
    monkeypatch.setenv("NSLAB_STATE_DIR", str(tmp_path / "fuzz-state"))
    monkeypatch.setenv("LXD_SOCKET", str(tmp_path / "no-lxd.socket"))  # never the real daemon
    monkeypatch.setenv("NSLAB_ROOTLESS", "0")  # run as a normal user, cli.main must not move pytest into a sandbox
