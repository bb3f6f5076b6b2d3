"""The garbage-collector pause around manifest loading and cluster observation."""

import gc

import pytest

from reconciler import gcpause
from reconciler.manifest import load_text


def test_paused_disables_collection_inside_and_restores_it_after_an_error():
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gcpause.paused():
        assert not gc.isenabled()
        raise RuntimeError("a failed step")
    assert gc.isenabled()


def test_paused_leaves_a_collector_that_was_off_off():
    gc.disable()
    try:
        with gcpause.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_loading_a_manifest_valid_or_not_leaves_the_collector_on():
    load_text("apiVersion: v1\nkind: ModelRegistry\n")
    load_text(b"\xff\xfe not utf-8")
    load_text("a: [unclosed")
    assert gc.isenabled()
