"""tfm's version is written once (pyproject.toml) and read from it everywhere, installed or not."""

from __future__ import annotations

import importlib.metadata
import tomllib

import tfm
from support import ROOT
from tfm.generate.codegen import GENERATOR_VERSION
from tfm.version import tfm_version


def test_version_is_pyprojects_installed_or_not(monkeypatch):
    written = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert tfm_version() == GENERATOR_VERSION == tfm.__version__ == importlib.metadata.version("tfm") == written

    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    tfm_version.cache_clear()
    try:
        assert tfm_version() == written
    finally:
        tfm_version.cache_clear()
