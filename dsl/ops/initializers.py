"""Variable initializers: valid only as a `var`/`state` initial value. Shape and dtype come from the
declaration; each lowers to a runtime helper taking (shape, dtype, ...)."""

from __future__ import annotations

from .registry import op

INITIALIZERS = {entry.name: entry for entry in (
    op("zeros", "_init_zeros", "", "initializer"),
    op("ones", "_init_ones", "", "initializer"),
    op("full", "_init_full", "value:static", "initializer"),
    op("normal", "_init_normal", "mean:static=0.0, stddev:static=1.0, seed:static=-1", "initializer"),
    op("uniform", "_init_uniform", "minval:static=-0.05, maxval:static=0.05, seed:static=-1", "initializer"),
    op("truncated_normal", "_init_truncated_normal", "mean:static=0.0, stddev:static=1.0, seed:static=-1",
       "initializer"),
    op("glorot", "_init_glorot_uniform", "seed:static=-1", "initializer"),
    op("glorot_uniform", "_init_glorot_uniform", "seed:static=-1", "initializer"),
    op("glorot_normal", "_init_glorot_normal", "seed:static=-1", "initializer"),
    op("he_normal", "_init_he_normal", "seed:static=-1", "initializer"),
)}
