"""Export formats (SavedModel, TFLite), publishing a verified export in place, and reading exports
back as data for `tfm inspect`."""
