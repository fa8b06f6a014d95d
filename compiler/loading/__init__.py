"""Load: execute generated code as a module (AutoGraph reads the same text) and the import hook."""
