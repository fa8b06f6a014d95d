"""The tfm compiler: generate Python from `.tfm`, load it, export it; the `tfm` command line.

    >>> import compiler
    >>> model = compiler.load("examples/demo_module.tfm")      # the generated Python module
    >>> demo = model.DemoModule(init_value=1.0)
    >>> compiler.install_import_hook()                         # then `import demo_module` works

TensorFlow is imported only when a model is loaded, run or exported.
"""

from .loader import install_import_hook, load, uninstall_import_hook
from .pipeline import Compiled, compile_file, compile_text
from .runtime_errors import tfm_location as locate

__all__ = ["Compiled", "compile_file", "compile_text", "export", "install_import_hook", "load", "locate",
           "uninstall_import_hook"]


def export(source, module: str, out_dir, init: dict | None = None, force: bool = False, tflite=None):
    """Compile `source`, build `module` with `init`, and write a verified SavedModel to `out_dir`."""
    from .exporter import export_saved_model

    from .loader import import_compiled

    compiled = compile_file(source)
    return export_saved_model(import_compiled(compiled), compiled.analysis, module, init or {}, out_dir,
                              force=force, tflite=tflite)
