"""`tfm devices`: apply the runtime settings, list TensorFlow's devices and the settings."""

from __future__ import annotations

from tfm.commands.common import EXIT_OK, apply_runtime, quiet_tensorflow, settings_lines
from tfm.commands.options import add_runtime

HELP_ORDER = 80  # where `tfm --help` lists it
EXAMPLES = ["tfm devices --logical-devices 2"]


def add_parser(commands):
    devices = commands.add_parser("devices", help="list devices and the effective runtime settings",
                                  description="Apply the runtime settings, then list TensorFlow's physical and "
                                              "logical devices and each setting with where its value came from.")
    add_runtime(devices)
    return devices


def run(args) -> int:
    quiet_tensorflow()
    settings = apply_runtime(args)
    from tfm.run.devices import device_report

    print("\n".join(device_report(settings)))
    print("settings:")
    print("\n".join(settings_lines(settings)))
    return EXIT_OK
