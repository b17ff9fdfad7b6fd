"""neuralscope.cli."""
