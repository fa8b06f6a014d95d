"""Runtime settings: precedence (defaults < config file < TFM_* < flags) with the source of each value,
one-line errors naming the setting, its value and its source, and the tf.config calls each setting
makes, recorded on a machine without GPUs (no GPU is available to these tests)."""

from __future__ import annotations

import json
import types

import pytest

from tfm.cli import main
from tfm.run.devices import apply_settings
from tfm.run.settings import ResolvedSettings, RuntimeSettings, SettingsError, resolve
from support import EXAMPLES, run_python


def test_precedence_and_sources(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.tfm]\nmemory_growth = true\nlogical_devices = 2\njit = true\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    resolved = resolve({"jit": False, "seed": None}, start=nested,
                       environ={"TFM_LOGICAL_DEVICES": "3", "TFM_VISIBLE_GPUS": "[0, 1]", "TFM_CACHE_DIR": "/x"})
    s = resolved.settings
    assert (s.memory_growth, s.logical_devices, s.jit, s.visible_gpus, s.seed) == (True, 3, False, [0, 1], None)
    assert resolved.source("memory_growth") == f"memory_growth in [tool.tfm] in {tmp_path / 'pyproject.toml'}"
    assert resolved.source("logical_devices") == "environment variable TFM_LOGICAL_DEVICES"
    assert resolved.source("jit") == "--jit"
    assert resolved.source("seed") == "default"


def test_tfm_toml_is_read_too(tmp_path):
    (tmp_path / "tfm.toml").write_text('strategy = "mirrored"\n')
    resolved = resolve({}, start=tmp_path, environ={})
    assert resolved.settings.strategy == "mirrored" and resolved.source("strategy").endswith("tfm.toml")


@pytest.mark.parametrize("where, expected", [
    ({"environ": {"TFM_MEMORY_GROWTH": "banana"}},
     "memory_growth = 'banana': Input should be a valid boolean, unable to interpret input "
     "(from environment variable TFM_MEMORY_GROWTH)"),
    ({"flags": {"logical_devices": 0}}, "logical_devices = 0: Input should be greater than or equal to 1 "
                                        "(from --logical-devices)"),
    ({"file": "[tool.tfm]\nmemory_grwoth = true\n"}, "unknown setting memory_grwoth (memory_grwoth in [tool.tfm] in"),
    ({"file": '[tool.tfm]\ndevice = "TPUX"\n'}, "device = 'TPUX': Value error, expected a device like CPU:0 or GPU:1"),
    ({"flags": {"workers": ["localhost"]}}, "expected host:port, got 'localhost'"),
])
def test_a_wrong_value_names_setting_value_and_source(tmp_path, where, expected):
    if "file" in where:
        (tmp_path / "pyproject.toml").write_text(where["file"])
    with pytest.raises(SettingsError) as caught:
        resolve(where.get("flags", {}), start=tmp_path, environ=where.get("environ", {}))
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_cli_reports_a_bad_setting_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFM_MEMORY_GROWTH", "banana")
    assert main(["config"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("tfm: error: memory_growth = 'banana'") and "TFM_MEMORY_GROWTH" in err
    assert "\n" not in err and "Traceback" not in err


def test_config_shows_each_setting_with_its_source(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFM_SEED", "7")
    assert main(["config", "--format", "json", "--strategy", "mirrored"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["seed"] == {"value": 7, "source": "environment variable TFM_SEED"}
    assert shown["strategy"] == {"value": "mirrored", "source": "--strategy"}
    assert shown["memory_growth"] == {"value": None, "source": "default"}
    assert main(["config"]) == 0
    assert "seed" in capsys.readouterr().out


def test_config_does_not_import_tensorflow(tmp_path):
    result = run_python("import sys\nfrom tfm.cli import main\nmain(['config'])\n"
                        "assert 'tensorflow' not in sys.modules\nprint('ok')\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("ok")


# --- the tf.config calls, recorded ---------------------------------------------------------------


class RecordingConfig:
    """tf.config's surface that apply_settings uses, on a pretend machine with `gpus` GPUs."""

    def __init__(self, gpus: int, fail: bool = False):
        self.calls: list[tuple] = []
        self.gpus = [f"GPU:{i}" for i in range(gpus)]
        self.fail = fail
        self.experimental = types.SimpleNamespace(set_memory_growth=self._record("set_memory_growth"))
        self.optimizer = types.SimpleNamespace(set_jit=self._record("set_jit"))
        self.set_visible_devices = self._record("set_visible_devices")
        self.set_logical_device_configuration = self._record("set_logical_device_configuration")
        self.set_soft_device_placement = self._record("set_soft_device_placement")

    def list_physical_devices(self, kind):
        return list(self.gpus) if kind == "GPU" else ["CPU:0"]

    @staticmethod
    def LogicalDeviceConfiguration(memory_limit=None):  # noqa: N802 - tf.config's name
        return ("logical", memory_limit)

    def _record(self, name):
        def call(*args):
            if self.fail:
                raise RuntimeError("Physical devices cannot be modified after being initialized")
            self.calls.append((name, *args))
        return call


def _apply(config, log=None, **values):
    resolved = ResolvedSettings(RuntimeSettings.model_validate(values), {k: f"--{k}" for k in values})
    apply_settings(resolved, log or (lambda message: None), config=config)


def test_gpu_settings_make_the_seeds_tf_config_calls():
    config = RecordingConfig(gpus=2)
    _apply(config, visible_gpus=[1], memory_growth=True, soft_placement=True)
    assert config.calls == [("set_visible_devices", ["GPU:1"], "GPU"), ("set_memory_growth", "GPU:1", True),
                            ("set_soft_device_placement", True)]


def test_a_gpu_split_into_logical_devices_with_a_memory_limit():
    config = RecordingConfig(gpus=2)
    _apply(config, memory_limit_mb=1024, logical_devices=2)
    assert config.calls == [
        ("set_logical_device_configuration", "GPU:0", [("logical", 1024), ("logical", 1024)]),
        ("set_logical_device_configuration", "GPU:1", [("logical", 1024)]),
    ]
    with pytest.raises(SettingsError, match="splitting a GPU needs memory_limit_mb"):
        _apply(RecordingConfig(gpus=1), logical_devices=2)


def test_a_gpu_that_does_not_exist_is_named():
    with pytest.raises(SettingsError, match=r"visible_gpus = \[0, 3\] \(--visible_gpus\): no GPU 3; this machine has 2"):
        _apply(RecordingConfig(gpus=2), visible_gpus=[0, 3])


def test_no_gpu_means_the_cpu_said_once_unless_required():
    said = []
    config = RecordingConfig(gpus=0)
    _apply(config, log=said.append, visible_gpus=[0], memory_growth=True)
    assert said == ["tfm: no GPU found: running on the CPU (visible_gpus, memory_growth ignored)"]
    assert config.calls == []
    with pytest.raises(SettingsError, match="require_gpu .*: this machine has no GPU"):
        _apply(RecordingConfig(gpus=0), require_gpu=True)


def test_settings_after_tensorflow_started_are_a_clear_error():
    with pytest.raises(SettingsError, match=r"logical_devices \(--logical_devices\): device settings must be applied "
                                            "before TensorFlow runs anything"):
        _apply(RecordingConfig(gpus=0, fail=True), logical_devices=2)


def test_cli_settings_after_tensorflow_started(capsys):
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # TensorFlow has initialised its devices in this process
    code = main(["run", str(EXAMPLES / "demo_module.tfm"), "DemoModule.addprint", "--arg", "a=1",
                 "--logical-devices", "3"])
    assert code == 1
    err = capsys.readouterr().err
    assert "logical_devices (--logical-devices): device settings must be applied before TensorFlow" in err


def test_devices_lists_logical_cpus_and_settings(tmp_path):
    result = run_python("from tfm.cli import main\nraise SystemExit(main(['devices', '--logical-devices', '2']))\n",
                        cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "/device:CPU:0 (CPU)" in out and "/device:CPU:1 (CPU)" in out
    assert "logical_devices  2" in out and "(--logical-devices)" in out
    assert "no GPU" in out
