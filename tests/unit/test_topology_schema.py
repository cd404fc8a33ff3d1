"""The topology file's JSON Schema (nslab_kernel/model/topology.schema.json) and the parser agree.

The schema is the one source of the file's structure: what it refuses, the parser refuses with the
same one-line message; what it accepts, the parser accepts unless a check a schema cannot express
(one subnet per link, unique addresses, routes via a neighbour, endpoints naming known nodes) says no.
No root, no kernel.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nslab_kernel import TopologyError, cli, load
from nslab_kernel.model import schema
from nslab_kernel.model.schema import from_dict, json_schema, structure_problems
from nslab_kernel.model.topology import DEFAULT_CONTAINER_NAMING, DEFAULT_NETNS_NAMING
from tests.support import FUZZ_CORPUS, MINI, ROOT, topologies, value_paths

TOPOLOGIES = ROOT / "nslab_kernel" / "model" / "topologies"
SCHEMA = json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
FAST = settings(max_examples=int(os.environ.get("NSLAB_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=list(HealthCheck))

BASE = MINI


def mutated(fn):
    data = copy.deepcopy(BASE)
    fn(data)
    return data


def schema_errors(data) -> list[str]:
    return [e.message for e in VALIDATOR.iter_errors(data)]


def parser_problems(data) -> list[str]:
    try:
        from_dict(data, source="lab.yaml")
    except TopologyError as exc:
        return exc.problems
    return []


# --- the schema itself ---------------------------------------------------------------------------------

def test_the_schema_is_a_valid_draft_2020_12_schema():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert jsonschema.validators.validator_for(SCHEMA) is jsonschema.Draft202012Validator


def test_the_schema_documents_what_editors_show():
    props = SCHEMA["properties"]
    node, link = SCHEMA["$defs"]["node"]["properties"], SCHEMA["$defs"]["link"]["properties"]
    assert node["kind"]["enum"] == ["host", "router"]
    assert props["routing"]["enum"] == ["static", "auto"]
    assert props["check"]["properties"]["routes"]["enum"] == ["outcome", "exact"]
    for where in (props, node, link):
        for key, spec in where.items():
            assert spec.get("title") and spec.get("description"), key
    for mapping in (SCHEMA, props["check"], props["naming"], SCHEMA["$defs"]["node"], SCHEMA["$defs"]["link"]):
        assert mapping["additionalProperties"] is False


def test_the_schema_defaults_are_the_parsers():
    topo = from_dict({"name": "x", "nodes": {"a": None, "b": {}}, "links": [{"endpoints": ["a:e0", "b:e0"]}]})
    props, node, link = SCHEMA["properties"], SCHEMA["$defs"]["node"]["properties"], SCHEMA["$defs"]["link"]["properties"]
    assert topo.routing == props["routing"]["default"]
    assert topo.routes_check == props["check"]["properties"]["routes"]["default"]
    assert topo.netns_naming == props["naming"]["properties"]["netns"]["default"] == DEFAULT_NETNS_NAMING
    assert topo.container_naming == props["naming"]["properties"]["container"]["default"] == DEFAULT_CONTAINER_NAMING
    assert topo.node("a").kind == topo.node("b").kind == node["kind"]["default"]
    assert list(topo.node("a").routes) == node["routes"]["default"]
    assert topo.links[0].choose is link["choose"]["default"]


def test_the_schema_examples_are_valid_labs():
    assert SCHEMA["examples"]
    for example in SCHEMA["examples"]:
        assert schema_errors(example) == []
        from_dict(example)


def test_draft_07_engines_give_the_same_verdicts():
    """Editors' yaml-language-server implements draft-07: the schema uses only keywords that mean the same there
    ($defs reached by JSON pointer, no $ref beside other keywords), so an editor refuses what nslab refuses."""
    draft7 = jsonschema.Draft7Validator(SCHEMA)
    cases = [BASE] + [mutated(m) for _l, m, _f in WRONG + SEMANTIC]
    cases += [yaml.safe_load(p.read_text()) for p in TOPOLOGIES.glob("*.yaml")]
    for data in cases:
        assert sorted(e.message for e in draft7.iter_errors(data)) == sorted(schema_errors(data))


# --- what is right passes both ---------------------------------------------------------------------------

@pytest.mark.parametrize("path", sorted(TOPOLOGIES.glob("*.yaml")), ids=lambda p: p.name)
def test_bundled_topologies_are_schema_valid_and_parse(path):
    text = path.read_text(encoding="utf-8")
    assert schema_errors(yaml.safe_load(text)) == []
    topo = load(str(path))
    assert schema_errors(topo.to_dict()) == []


def test_bundled_topologies_name_the_schema_for_editors():
    for path in sorted(TOPOLOGIES.glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../topology.schema.json", path.name
        assert (path.parent / "../topology.schema.json").resolve() == (ROOT / "nslab_kernel/model/topology.schema.json")


@pytest.mark.parametrize("routers", [1, 3, 40])
def test_generated_chains_are_schema_valid(routers):
    assert schema_errors(load(f"chain:{routers}").to_dict()) == []


@FAST
@given(topologies())
def test_every_generated_topology_is_schema_valid_and_parses(data):
    assert schema_errors(data) == []
    topo = from_dict(data, source="generated")
    assert schema_errors(topo.to_dict()) == []


# --- what is structurally wrong is refused by both, with the same message ------------------------------------

WRONG = [  # (label, mutation, a fragment of the parser's one-line message)
    ("empty mapping", lambda d: d.clear(), "missing 'name'"),
    ("unknown top key", lambda d: d.update(linkz=[]), "unknown key 'linkz'; did you mean 'links'?"),
    ("unknown node key", lambda d: d["nodes"]["r1"].update(knid="router"), "node 'r1': unknown key 'knid'; did you mean 'kind'?"),
    ("unknown link key", lambda d: d["links"][0].update(adresses=[]), "did you mean 'addresses'?"),
    ("unknown naming key", lambda d: d.update(naming={"netsn": "n-{node}"}), "naming: unknown key 'netsn'; did you mean 'netns'?"),
    ("unknown check key", lambda d: d.update(check={"rutes": "exact"}), "check: unknown key 'rutes'; did you mean 'routes'?"),
    ("far unknown key", lambda d: d.update(zzz=1), "allowed keys: name, description"),
    ("missing name", lambda d: d.pop("name"), "missing 'name'"),
    ("missing nodes", lambda d: d.pop("nodes"), "missing 'nodes'"),
    ("name with a space", lambda d: d.update(name="my lab"), "name 'my lab' is not valid"),
    ("name ending in a newline", lambda d: d.update(name="mini\n"), "name 'mini\\n' is not valid"),
    ("name too long", lambda d: d.update(name="a" * 32), "1 to 31 letters"),
    ("name a number", lambda d: d.update(name=5), "name 5 is not valid"),
    ("description a number", lambda d: d.update(description=5), "description 5 must be text"),
    ("routing", lambda d: d.update(routing="ospf"), "routing 'ospf' is not known; use 'auto'"),
    ("check not a mapping", lambda d: d.update(check="exact"), "check must be a mapping like {routes: exact}"),
    ("check.routes", lambda d: d.update(check={"routes": "exakt"}), "check.routes 'exakt' is not known"),
    ("naming a list", lambda d: d.update(naming=[]), "naming must be a mapping"),
    ("naming without {node}", lambda d: d.update(naming={"netns": "net-{lab}"}), "must contain '{node}'"),
    ("naming attribute", lambda d: d.update(naming={"netns": "{node.__class__}"}), "must contain '{node}'"),
    ("naming other field", lambda d: d.update(naming={"netns": "{x}{node}"}), "may use only {lab} and {node}"),
    ("naming path", lambda d: d.update(naming={"container": "../{node}"}), "naming.container '../{node}' may only have"),
    ("nodes empty", lambda d: d.update(nodes={}), "'nodes' must be a non-empty mapping"),
    ("nodes a list", lambda d: d.update(nodes=["h1"]), "'nodes' must be a non-empty mapping"),
    ("node name slash", lambda d: d["nodes"].update({"bad/name": {}}), "node 'bad/name': the name is not valid"),
    ("node name a number", lambda d: d["nodes"].update({7: {}}), "node 7: the name is not valid"),
    ("node name a control character", lambda d: d["nodes"].update({"\x1f": {}}), "node '\\x1f': the name is not valid"),
    ("node settings a list", lambda d: d["nodes"].update(r1=["router"]), "node 'r1': settings must be a mapping"),
    ("kind typo", lambda d: d["nodes"]["r1"].update(kind="routr"), "kind 'routr' is not known; did you mean 'router'?"),
    ("kind unknown", lambda d: d["nodes"]["r1"].update(kind="switch"), "kind 'switch' is not known; use 'host' or 'router'"),
    ("forwarding yes", lambda d: d["nodes"]["r1"].update(forwarding="yes"), "forwarding 'yes' must be true or false"),
    ("image blank", lambda d: d["nodes"]["r1"].update(image=" "), "image ' ' must be an image name"),
    ("routes a string", lambda d: d["nodes"]["h1"].update(routes="default via 10.0.1.1"), "routes must be a list"),
    ("route words", lambda d: d["nodes"]["h1"].update(routes=["default 10.0.1.1"]), "expected 'PREFIX via GATEWAY'"),
    ("route gateway", lambda d: d["nodes"]["h1"].update(routes=["default via 10.0.1.300"]),
     "gateway '10.0.1.300' is not an IPv4 address"),
    ("route prefix", lambda d: d["nodes"]["h1"].update(routes=["10.0.3.0/33 via 10.0.1.1"]), "'10.0.3.0/33' is not an IPv4 prefix"),
    ("route dangling dev", lambda d: d["nodes"]["h1"].update(routes=["default via 10.0.1.1 dev"]),
     "route 'default via 10.0.1.1 dev'"),
    ("route a number", lambda d: d["nodes"]["h1"].update(routes=[5]), "route 5: expected"),
    ("links a mapping", lambda d: d.update(links={"a": 1}), "'links' must be a list"),
    ("link a list", lambda d: d["links"].append(["h1:eth1"]), "link 3: must be a mapping"),
    ("link without endpoints", lambda d: d["links"].append({"choose": True}), "link 3: endpoints must be a list of two"),
    ("one endpoint", lambda d: d["links"][0].update(endpoints=["h1:eth0"]), "link 1: endpoints must be a list of two"),
    ("three endpoints", lambda d: d["links"][0].update(endpoints=["h1:eth0", "r1:eth0", "h2:eth9"]), "list of two"),
    ("endpoint without colon", lambda d: d["links"][0].update(endpoints=["h1-eth0", "r1:eth0"]),
     "endpoint 'h1-eth0' must be 'node:interface'"),
    ("endpoint two colons", lambda d: d["links"][0].update(endpoints=["h1:eth:0", "r1:eth0"]), "'node:interface'"),
    ("endpoint bad node name", lambda d: d["links"][0].update(endpoints=["h_1:eth0", "r1:eth0"]), "node name 'h_1' is not valid"),
    ("ifname too long", lambda d: d["links"][0].update(endpoints=["h1:averyverylongname0", "r1:eth0"]), "at most 15"),
    ("ifname slash", lambda d: d["links"][0].update(endpoints=["h1:eth/0", "r1:eth0"]), "nor contain '/'"),
    ("ifname dots", lambda d: d["links"][0].update(endpoints=["h1:..", "r1:eth0"]), "may not be '.' or '..'"),
    ("ifname lo", lambda d: d["links"][0].update(endpoints=["h1:lo", "r1:eth0"]), "the loopback's name"),
    ("ifname empty", lambda d: d["links"][0].update(endpoints=["h1:", "r1:eth0"]), "interface name '' is empty"),
    ("ifname zero width", lambda d: d["links"][0].update(endpoints=["h1:\u200beth0", "r1:eth0"]), "ASCII letters"),
    ("addresses a string", lambda d: d["links"][0].update(addresses="10.0.1.2/24"), "addresses must be a list of two"),
    ("three addresses", lambda d: d["links"][0].update(addresses=["10.0.1.2/24"] * 3), "addresses must be a list of two"),
    ("address no prefix", lambda d: d["links"][0].update(addresses=["10.0.1.2", "10.0.1.1/24"]),
     "address '10.0.1.2' is not an IPv4 address with prefix length"),
    ("address octet", lambda d: d["links"][0].update(addresses=["10.0.1.300/24", "10.0.1.1/24"]), "'10.0.1.300/24'"),
    ("address leading zero", lambda d: d["links"][0].update(addresses=["10.0.01.2/24", "10.0.1.1/24"]), "'10.0.01.2/24'"),
    ("address infinite", lambda d: d["links"][0].update(addresses=["10.0.1.2/24", float("inf")]), "address inf"),
    ("choose yes", lambda d: d["links"][0].update(choose="yes"), "choose 'yes' must be true"),
]


@pytest.mark.parametrize("label,mutate,fragment", WRONG, ids=[w[0] for w in WRONG])
def test_structurally_wrong_is_refused_by_both_with_one_message(label, mutate, fragment):
    data = mutated(mutate)
    assert schema_errors(data), f"{label}: the schema accepts it"
    structural = [p.message for p in structure_problems(data, "lab.yaml")]
    problems = parser_problems(data)
    assert problems, f"{label}: the parser accepts it"
    assert all(m in problems for m in structural), (structural, problems)  # the parser reports what the schema found
    assert any(fragment in p for p in structural), f"{label}: {fragment!r} not in {structural}"
    assert all(p.startswith("lab.yaml") and "\n" not in p for p in problems)


def test_a_document_that_is_not_a_mapping():
    for data, found in (([1, 2], "found list"), (None, "found an empty document"), ("text", "found str")):
        assert schema_errors(data)
        assert [p.message for p in structure_problems(data, "x.yaml")] == [
            f"x.yaml: a topology is a mapping with keys 'name', 'nodes' and 'links'; found {found.split('found ')[1]}"]
        with pytest.raises(TopologyError, match=found):
            from_dict(data, "x.yaml")


def test_problems_are_listed_all_at_once_in_file_order():
    """Top to bottom as written ('routing' is added last, so it comes after the links)."""
    data = mutated(lambda d: (d["links"][1].update(choose="no"), d["nodes"]["h2"].update(kind="hots"),
                              d["nodes"]["h1"].update(forwarding=1), d.update(routing="rip")))
    problems = parser_problems(data)
    assert [p.split(": ", 1)[1][:22] for p in problems] == [
        "node 'h1': forwarding ", "node 'h2': kind 'hots'", "link 2 (h2:eth0 - r1:e", "routing 'rip' is not k"]


def test_a_broken_part_adds_no_follow_on_noise():
    """A wrong 'links' is one problem, not also every route 'not on any connected subnet'."""
    assert parser_problems(mutated(lambda d: d.update(links={"a": 1}))) == [
        "lab.yaml: 'links' must be a list of {endpoints: [a:eth0, b:eth0], addresses: [...]}"]
    assert parser_problems(mutated(lambda d: d.update(nodes=[]))) == [
        "lab.yaml: 'nodes' must be a non-empty mapping like 'h1: {kind: host}'"]


def test_long_values_are_cut_short_in_messages():
    (problem,) = parser_problems(mutated(lambda d: d.update(name="x" * 5000)))
    assert len(problem) < 250 and "..." in problem


# --- what only the parser can see: structurally right, semantically wrong ------------------------------------

SEMANTIC = [
    ("different subnets", lambda d: d["links"][0].update(addresses=["10.0.1.2/24", "10.0.9.1/24"]), "different subnets"),
    ("duplicate address", lambda d: d["links"][1].update(addresses=["10.0.1.2/24", "10.0.1.9/24"]), "already used by h1:eth0"),
    ("network address", lambda d: d["links"][0].update(addresses=["10.0.1.0/24", "10.0.1.1/24"]), "network address"),
    ("unknown node", lambda d: d["links"][0].update(endpoints=["h9:eth0", "r1:eth0"]), "unknown node 'h9'"),
    ("reused interface", lambda d: d["links"].append({"endpoints": ["h1:eth0", "h2:eth5"]}), "already used by link 1"),
    ("gateway off-link", lambda d: d["nodes"]["h1"].update(routes=["default via 10.0.9.1"]), "not on any subnet"),
    ("host bits", lambda d: d["nodes"]["h1"].update(routes=["10.0.2.1/24 via 10.0.1.1"]), "host bits set"),
    ("auto plus routes", lambda d: d.update(routing="auto"), "lists routes but the lab says 'routing: auto'"),
]


@pytest.mark.parametrize("label,mutate,fragment", SEMANTIC, ids=[s[0] for s in SEMANTIC])
def test_semantic_problems_pass_the_schema_and_the_parser_refuses_them(label, mutate, fragment):
    data = mutated(mutate)
    assert schema_errors(data) == []
    assert any(fragment in p for p in parser_problems(data))


# --- the fuzz corpus: refused by both --------------------------------------------------------------------

# Files YAML itself refuses (what an editor reports before any schema): the parser refuses them at load.
NOT_YAML_DATA = {"deep-nesting.yaml", "impossible-date.yaml", "list-as-key.yaml", "python-tag.yaml"}
# Structurally right, wrong only in what a schema cannot say (here: overlapping /30 and /31 subnets).
SCHEMA_CANNOT_SAY = {"overlapping-31.yaml"}


@pytest.mark.parametrize("case", sorted(FUZZ_CORPUS.iterdir()), ids=lambda p: p.name)
def test_fuzz_corpus_is_refused_by_the_schema_and_the_parser(case):
    with pytest.raises(Exception):
        load(str(case))
    try:
        data = yaml.safe_load(case.read_bytes())
    except (yaml.YAMLError, ValueError, RecursionError):
        assert case.name in NOT_YAML_DATA, f"{case.name}: YAML refuses it; list it in NOT_YAML_DATA"
        return
    assert case.name not in NOT_YAML_DATA
    if case.name in SCHEMA_CANNOT_SAY:
        assert schema_errors(data) == []
        with pytest.raises(TopologyError, match="overlaps|network address"):
            from_dict(data, case.name)
        return
    assert schema_errors(data), f"{case.name}: the schema accepts it"
    with pytest.raises(TopologyError):
        from_dict(data, case.name)


# --- random damage to a right lab: the schema and the parser agree ---------------------------------------

FIGURE1 = load("figure1").to_dict()
PATHS = [p for p in value_paths(FIGURE1) if p]
junk = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12)
                    | st.sampled_from(["host", "router", "auto", "exact", "h1:eth0", "r1:eth9", "10.0.1.2/24",
                                       "10.0.1.300/24", "default via 10.0.1.1", "net-{node}", "{lab}", ""]),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=10)


@FAST
@given(st.sampled_from(PATHS), junk)
def test_schema_and_parser_agree_on_random_damage(path, value):
    data = copy.deepcopy(FIGURE1)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    structural = [" ".join(p.message.split()) for p in structure_problems(data, "lab.yaml")]  # as TopologyError shows
    assert bool(structural) == (not VALIDATOR.is_valid(data))
    problems = parser_problems(data)
    assert all(m in problems for m in structural)
    if structural:
        assert problems


# --- nslab schema ------------------------------------------------------------------------------------------

def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_nslab_schema_prints_a_valid_draft_2020_12_schema():
    code, out, err = run_cli("schema")
    assert (code, err) == (0, "")
    printed = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(printed)
    assert printed == SCHEMA
    assert out == schema.json_schema_text() == (ROOT / "nslab_kernel/model/topology.schema.json").read_text()


def test_nslab_schema_output_writes_the_file_and_rerunning_is_safe(tmp_path):
    target = tmp_path / "topology.schema.json"
    code, out, _err = run_cli("schema", "--output", str(target))
    assert code == 0 and out.startswith(f"wrote {target}") and "yaml-language-server: $schema=" in out
    assert json.loads(target.read_text()) == SCHEMA
    code, out, _err = run_cli("schema", "--output", str(target))
    assert code == 0 and "already" in out
    code, out, err = run_cli("schema", "--output", str(tmp_path))
    assert code == 2 and "is a folder" in err and len(err.strip().splitlines()) == 1
    code, out, err = run_cli("schema", "-o", str(tmp_path / "no" / "such" / "x.json"))
    assert code == 2 and "cannot write" in err and "--output" in err


@pytest.fixture(autouse=True)
def _private_state(tmp_path, monkeypatch):
    monkeypatch.setenv("NSLAB_STATE_DIR", str(tmp_path / "s3-state"))
    monkeypatch.setenv("NSLAB_ROOTLESS", "0")
    monkeypatch.setenv("NSLAB_LANG", "en")


def test_validating_a_file_does_not_build_rfc3987_grammars():
    """jsonschema is imported with rfc3987_syntax hidden (python-jsonschema/jsonschema#1428: its grammars cost
    ~1.8 s at import, for a format this schema never uses), and a later import of rfc3987_syntax still works;
    bundled topologies skip the structural pass (checked above), so they do not even import jsonschema."""
    import subprocess
    import sys
    code = ("import sys\n"
            "from nslab_kernel.model import schema\n"
            "schema.load(sys.argv[1])\n"
            "print('jsonschema' in sys.modules, 'rfc3987_syntax' in sys.modules)\n"
            "import rfc3987_syntax\n")
    out = subprocess.run([sys.executable, "-c", code, str(TOPOLOGIES / "figure1.yaml")], capture_output=True,
                         text=True, check=True).stdout
    assert out.split() == ["True", "False"], out
    out = subprocess.run([sys.executable, "-c", code, "figure1"], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"], out


def test_a_records_topology_is_trusted_only_as_nslab_wrote_it(tmp_path, monkeypatch):
    """A lab's record keeps the topology nslab validated, with its fingerprint: as written, it skips the
    structural pass; edited by hand (even into something the semantic pass alone would accept, like a
    node kind 'switch'), it is validated in full and what is wrong is named."""
    from nslab_kernel.core import records
    monkeypatch.setenv("NSLAB_STATE_DIR", str(tmp_path))
    good = load("figure1").to_dict()
    record = records.create("t-fp", "netns", good)
    assert records.read("t-fp").topology_as_written
    assert from_dict(good, "record", trusted=True) == from_dict(good, "record")
    edited = copy.deepcopy(good)
    edited["nodes"]["h1"]["kind"] = "switch"
    header = {**record.header, "topology": edited}
    records.write_atomically(record.path, json.dumps(header, sort_keys=True) + "\n")
    again = records.read("t-fp")
    assert not again.topology_as_written
    with pytest.raises(TopologyError, match="switch"):
        from_dict(again.topology, "record", trusted=again.topology_as_written)
