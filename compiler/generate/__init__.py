"""Generate: Python source from the checked program (jinja2 templates and per-node emitters), the
escaping every emitter uses, the line map, and the allowlist check of what was generated."""
