import pytest

from neuralscope.core import NeuralscopeError
from neuralscope.decoding import KalmanDecoder, LinearDecoder, SVMDecoder, WienerFilter
from neuralscope.decoding.registry import available_decoders, check_model_names, make_decoder


def test_names_map_to_estimators_with_seed_and_history():
    assert isinstance(make_decoder("linear", "classification", random_state=3), LinearDecoder)
    svm = make_decoder("linear-svm", "classification")
    assert isinstance(svm, SVMDecoder) and svm.kernel == "linear"
    wiener = make_decoder("wiener", "regression", n_history=4)
    assert isinstance(wiener, WienerFilter) and wiener.n_history == 4
    assert isinstance(make_decoder("kalman", "regression"), KalmanDecoder)
    assert make_decoder("linear", "classification", random_state=3).random_state == 3


def test_deep_names_are_listed_for_both_tasks():
    for task in ("classification", "regression"):
        assert {"cnn", "lstm", "gru", "transformer"} <= set(available_decoders(task))


def test_unknown_or_misplaced_names_fail_with_the_choices():
    with pytest.raises(NeuralscopeError, match="telepathy"):
        check_model_names(["linear", "telepathy"], "classification")
    with pytest.raises(NeuralscopeError, match="wiener"):
        make_decoder("wiener", "classification")
    with pytest.raises(NeuralscopeError):
        check_model_names([], "regression")
