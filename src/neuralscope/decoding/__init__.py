"""neuralscope.decoding."""
