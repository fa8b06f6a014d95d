"""`tfm config`: the effective runtime settings and where each came from (no TensorFlow import)."""

from __future__ import annotations

from tfm.commands.common import EXIT_OK, resolved, settings_lines
from tfm.commands.options import add_runtime

QUICK = True
HELP_ORDER = 90  # where `tfm --help` lists it
EXAMPLES = ["tfm config", "TFM_DEVICE=CPU:0 tfm config --format json"]


def add_parser(commands):
    config = commands.add_parser("config", help="show the effective runtime settings (no TensorFlow import)",
                                 description="Each runtime setting, its value and where it came from: a flag, a "
                                             "TFM_<NAME> variable, the config file, or the default.")
    config.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    add_runtime(config)
    return config


def run(args) -> int:
    import json

    settings = resolved(args)
    if args.format == "json":
        print(json.dumps({name: {"value": value, "source": source} for name, value, source in settings.describe()},
                         indent=2))
    else:
        print("\n".join(settings_lines(settings)))
    return EXIT_OK
