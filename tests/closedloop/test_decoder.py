"""The streaming decoder gives what the estimator's own predict gives."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier

from neuralscope.closedloop.decoder import StreamingDecoder
from neuralscope.core.errors import NeuralscopeError


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 12))
    y3 = np.argmax(X[:, :3], axis=1)
    y2 = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y2, y3


@pytest.mark.parametrize("which", ["binary", "multiclass"])
def test_linear_fast_path_equals_predict(data, which):
    X, y2, y3 = data
    y = y2 if which == "binary" else y3
    model = LogisticRegression(max_iter=500).fit(X[:200], y[:200])
    dec = StreamingDecoder(model)
    online = np.array([dec.update(x) for x in X[200:]])
    np.testing.assert_array_equal(online, model.predict(X[200:]))
    np.testing.assert_allclose(dec.score_, np.atleast_1d(model.decision_function(X[-1:])[0]), rtol=1e-10)


def test_regression_and_generic_predict(data):
    X, y2, _ = data
    reg = Ridge().fit(X[:200], X[:200, 0] * 2.0)
    dec = StreamingDecoder(reg)
    np.testing.assert_allclose([dec.update(x) for x in X[200:]], reg.predict(X[200:]), rtol=1e-10)
    knn = KNeighborsClassifier(3).fit(X[:200], y2[:200])
    dec = StreamingDecoder(knn)
    np.testing.assert_array_equal([dec.update(x) for x in X[200:]], knn.predict(X[200:]))


def test_smoothing_is_an_exponential_average(data):
    X, _, _ = data
    reg = Ridge().fit(X, X[:, 0])
    dec = StreamingDecoder(reg, smoothing_frames=4.0)
    a = 1 - np.exp(-1 / 4.0)
    state = X[0].copy()
    dec.update(X[0])
    for x in X[1:20]:
        state += a * (x - state)
        out = dec.update(x)
    np.testing.assert_allclose(out, reg.predict(state[None])[0], rtol=1e-10)


def test_bad_decoder(data):
    X, y2, _ = data
    with pytest.raises(NeuralscopeError):
        StreamingDecoder(object())
    dec = StreamingDecoder(LogisticRegression().fit(X, y2))
    with pytest.raises(NeuralscopeError):
        dec.update(np.zeros(5))
