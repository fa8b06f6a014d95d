"""The tfm compiler: generate Python from `.tfm`, load it, export it, and the `tfm` command line."""
