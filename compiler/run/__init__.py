"""Run: values from the command line, run-time errors mapped to `.tfm` lines, devices."""
