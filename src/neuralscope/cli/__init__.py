"""The ``neuralscope`` command line."""
