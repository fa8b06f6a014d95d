"""Run a `.tflite` on sample inputs and compare with the SavedModel's outputs, in a process of its own.

    python litert_check.py MODEL.tflite CASES.npz

CASES.npz holds `order` (a JSON list of [case, signature] in the order to run them) and, for each,
`CASE/SIGNATURE/in/NAME` and `CASE/SIGNATURE/out/NAME` arrays (the SavedModel's outputs). This file
imports only numpy and LiteRT (`ai_edge_litert`), never TensorFlow or tfm, so the check runs the model
as a deployment would.
Prints one JSON object: {"ok", "errors", "max_abs_diff": {signature: float}}.
"""

import json
import sys

import numpy as np


def check(path, cases_path):
    from ai_edge_litert.interpreter import Interpreter

    result = {"ok": True, "errors": [], "max_abs_diff": {}}
    try:
        interpreter = Interpreter(model_path=path)
    except Exception as exc:  # the runtime refuses the model (unsupported ops, a damaged file)
        return {"ok": False, "errors": [f"the .tflite does not load: {_first_line(exc)}"], "max_abs_diff": {}}
    cases = np.load(cases_path, allow_pickle=False)
    runners = {}
    for case, key in json.loads(str(cases["order"])):
        prefix = f"{case}/{key}/"
        inputs = {name[len(prefix) + 3:]: cases[name] for name in cases.files if name.startswith(prefix + "in/")}
        expected = {name[len(prefix) + 4:]: cases[name] for name in cases.files if name.startswith(prefix + "out/")}
        try:
            runner = runners.get(key) or runners.setdefault(key, interpreter.get_signature_runner(key))
            outputs = runner(**inputs)
        except Exception as exc:
            result["ok"] = False
            result["errors"].append(f"signature {key} ({case}) failed: {_first_line(exc)}")
            continue
        for name, want in expected.items():
            got = outputs.get(name)
            if got is None or np.shape(got) != np.shape(want):
                result["ok"] = False
                result["errors"].append(f"signature {key} ({case}): output {name} has shape "
                                        f"{None if got is None else list(np.shape(got))}, expected {list(np.shape(want))}")
                continue
            diff = _difference(got, want)
            result["max_abs_diff"][key] = max(result["max_abs_diff"].get(key, 0.0), diff)
    return result


def _difference(got, want):
    if want.dtype.kind in "fc":
        if np.any(np.isnan(got) != np.isnan(want)):
            return float("inf")
        mask = ~np.isnan(want)
        return float(np.max(np.abs(got[mask].astype(np.float64) - want[mask].astype(np.float64)), initial=0.0))
    return 0.0 if np.array_equal(got, want) else float("inf")


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


if __name__ == "__main__":
    arguments = sys.argv[1:]
    print(json.dumps(check(arguments[0], arguments[1])))
