"""neuralscope.io."""
