"""neuralscope.report."""
