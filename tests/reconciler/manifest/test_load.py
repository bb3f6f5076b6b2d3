"""Property-based: whatever the input, the loader returns a manifest or located findings."""

from __future__ import annotations

import re

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.manifest import Manifest, conforms, load_text
from reconciler.manifest.schema import validator as _validator

# What YAML counts as a line break (YAML 1.1 also counts NEL and the Unicode separators).
LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str | bytes) -> None:
    manifest, findings = load_text(text, "m.yaml")
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    lines = len(LINE_BREAKS.findall(decoded)) + 1
    for finding in findings:
        assert finding.path == "m.yaml"
        assert 1 <= finding.line <= lines, finding
        assert finding.column >= 1, finding
        assert finding.severity in ("error", "warning")
        assert finding.message and finding.rule
    has_errors = any(f.severity == "error" for f in findings)
    assert (manifest is None) == has_errors
    if manifest is not None:
        assert isinstance(manifest, Manifest)
        assert [e.model_name for e in manifest.desired_entries()] == [
            m.name for m in manifest.models
        ]


# YAML-ish text: the characters that make YAML structure, plus anything at all.
yaml_alphabet = st.sampled_from(list("-:[]{},&*!|>'\"#?%@` \n\t") + ["---", "<<", "\ufeff"])
yaml_text = st.lists(st.one_of(yaml_alphabet, st.text(max_size=5)), max_size=60).map("".join)


@SETTINGS
@given(yaml_text)
def test_arbitrary_yaml_text(text):
    check(text)


@SETTINGS
@given(st.binary(max_size=200))
def test_arbitrary_bytes(data):
    check(data)


names = st.one_of(
    st.sampled_from(["llama-2-7b", "gpt-neo", "mistral-7b", "a", "Bad_Name", "x" * 60, ""]),
    st.from_regex(r"[a-z][-a-z0-9]{0,20}", fullmatch=True),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(), st.text(max_size=20)
)
endpoints = st.one_of(
    st.builds(
        lambda n, env, ns, port: f"{n}-{env}.{ns}.svc.cluster.local:{port}",
        names,
        st.sampled_from(["production", "staging"]),
        st.sampled_from(["system", "inference"]),
        st.integers(0, 70000),
    ),
    st.text(max_size=30),
)
model = st.fixed_dictionaries(
    {"name": st.one_of(names, scalars)},
    optional={
        "enabled": st.one_of(st.booleans(), scalars),
        "namespace": st.one_of(st.sampled_from(["system", "inference", "Bad"]), scalars),
        "endpoint": st.one_of(endpoints, scalars),
        "nmae": scalars,
    },
)
manifest_data = st.fixed_dictionaries(
    {},
    optional={
        "apiVersion": st.one_of(st.just("registry.vllm.ai/v1"), scalars),
        "kind": st.one_of(st.just("ModelRegistry"), scalars),
        "metadata": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "environment": st.one_of(
                        st.sampled_from(["production", "staging", "Prod", "x" * 70]), scalars
                    )
                },
            ),
            scalars,
        ),
        "spec": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "namespace": st.one_of(st.just("system"), scalars),
                    "port": st.one_of(st.integers(-5, 70000), scalars),
                    "prune": st.one_of(st.booleans(), scalars),
                    "kube": st.one_of(st.fixed_dictionaries({"context": scalars}), scalars),
                    "models": st.one_of(st.lists(st.one_of(model, scalars), max_size=6), scalars),
                    "modles": scalars,
                },
            ),
            scalars,
        ),
    },
)


@SETTINGS
@given(manifest_data, st.sampled_from(["block", "flow"]))
def test_arbitrary_manifest_shaped_data(data, style):
    text = yaml.safe_dump(data, default_flow_style=(style == "flow"), allow_unicode=True)
    check(text)


@SETTINGS
@given(manifest_data)
def test_fast_schema_check_agrees_with_jsonschema(data):
    # The loader trusts the compiled check to say "valid"; it must never disagree.
    assert conforms(data) == _validator().is_valid(data)


@SETTINGS
@given(st.lists(model.filter(lambda m: isinstance(m.get("name"), str)), max_size=5))
def test_well_formed_manifests_load(models):
    data = {
        "apiVersion": "registry.vllm.ai/v1",
        "kind": "ModelRegistry",
        "metadata": {"environment": "production"},
        "spec": {"models": [{"name": m["name"]} for m in models]},
    }
    text = yaml.safe_dump(data)
    manifest, findings = load_text(text)
    check(text)
    expected_valid = all(
        m["name"]
        and m["name"][0].isalpha()
        and not m["name"].endswith("-")
        and len(m["name"]) <= 52
        and m["name"] == m["name"].lower()
        and all(c.isalnum() or c == "-" for c in m["name"])
        and m["name"].isascii()
        for m in models
    ) and len({m["name"] for m in models}) == len(models)
    assert (manifest is not None) == expected_valid, findings
