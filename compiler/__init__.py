"""tfm: a declarative language for TensorFlow modules. `.tfm` source -> checked program -> a plain
Python `tf.Module` subclass -> loaded, run, exported.

    >>> import tfm
    >>> tfm.check("examples/demo_module.tfm")                  # [] : no diagnostics (no TensorFlow import)
    >>> model = tfm.load("examples/demo_module.tfm")           # the generated Python module
    >>> demo = model.DemoModule(init_value=1.0)
    >>> tfm.export("examples/demo_module.tfm", "DemoModule", "export/demo", init={"init_value": 1.0})
    >>> tfm.install_import_hook()                              # then `import demo_module` works

The package's parts: `tfm.grammar` (the Lark grammar), `tfm.dsl` (parse, check, infer, diagnostics,
the op registry), `tfm.generate`, `tfm.loading`, `tfm.exports`, `tfm.run`, and `tfm.cli`
(`python -m tfm`). TensorFlow is imported only when a model is loaded, run or exported.
"""

from __future__ import annotations

from pathlib import Path

from tfm.dsl import Diagnostic, InternalError, Limits, TfmError
from tfm.loading.loader import install_import_hook, load, uninstall_import_hook
from tfm.pipeline import Compiled, compile_file, compile_text
from tfm.run.runtime_errors import tfm_location as locate

__all__ = ["Compiled", "Diagnostic", "InternalError", "Limits", "TfmError", "check", "compile_file",
           "compile_text", "export", "install_import_hook", "load", "locate", "uninstall_import_hook"]


def check(source: str | Path, limits: Limits | None = None) -> list[Diagnostic]:
    """The diagnostics of a `.tfm` file (an empty list if it compiles). Never imports TensorFlow."""
    try:
        compile_file(source, limits)
    except TfmError as exc:
        return list(exc.diagnostics)
    return []


def export(source: str | Path, module: str, out_dir: str | Path, init: dict | None = None, force: bool = False,
           tflite: str | Path | None = None, *, instance: object = None, checkpoint: str | Path | None = None,
           signatures: list[str] | None = None):
    """Compile `source` and write a verified SavedModel of `module` to `out_dir`: built with `init`, or
    a built (trained) `instance` of it, or built with the weights of `checkpoint` (a directory or a
    prefix). `signatures` names the methods to serve (default: those that do not update trainable
    variables, and those marked @signature). Raises tfm.exports.exporter.ExportError on failure."""
    from tfm.exports.exporter import export_saved_model
    from tfm.loading.loader import import_compiled

    compiled = compile_file(source)
    return export_saved_model(import_compiled(compiled), compiled.analysis, module, init or {}, out_dir,
                              force=force, tflite=tflite, instance=instance, checkpoint=checkpoint,
                              signatures=signatures)
