"""neuralscope.datasets."""
