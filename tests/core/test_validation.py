import numpy as np
import pytest

from neuralscope.core import NeuralscopeError, check_array, check_labels, check_positive


def test_error_message_names_parameter_expected_and_received():
    err = NeuralscopeError("X", "a 2-D array", "shape (3,)")
    assert str(err) == "X: expected a 2-D array, received shape (3,)"
    assert isinstance(err, ValueError)


def test_long_received_value_is_shortened_to_one_line():
    err = NeuralscopeError("y", "labels", "x\n" * 500)
    assert "\n" not in str(err) and len(str(err)) < 300


def test_check_array_paths():
    assert check_array([[1, 2]], "X", ndim=2).dtype == float
    with pytest.raises(NeuralscopeError, match="non-finite"):
        check_array([1.0, np.inf], "X")
    with pytest.raises(NeuralscopeError, match="non-negative"):
        check_array([1.0, -1.0], "counts", nonnegative=True)
    with pytest.raises(NeuralscopeError, match="numeric"):
        check_array(["a", "b"], "X")
    with pytest.raises(NeuralscopeError, match="3-D"):
        check_array(np.ones((2, 2)), "X", ndim=3)


def test_check_labels_requires_two_classes_and_matching_length():
    assert check_labels(["a", "b", "a"]).shape == (3,)
    with pytest.raises(NeuralscopeError, match="2 classes"):
        check_labels([1, 1, 1])
    with pytest.raises(NeuralscopeError, match="samples"):
        check_labels([0, 1], n_samples=3)


def test_check_positive():
    assert check_positive("2.5", "fs") == 2.5
    for bad in (0, -1, np.nan, "x"):
        with pytest.raises(NeuralscopeError):
            check_positive(bad, "fs")
