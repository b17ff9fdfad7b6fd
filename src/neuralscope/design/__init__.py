"""Experiment design: Bayesian optimisation and active receptive-field mapping.

- :class:`GaussianProcess`: exact GP (Matérn-5/2 / RBF, ARD, MAP priors, jitter retry).
- :class:`SearchSpace`, :class:`Parameter`: float / int / choice parameters, constraints.
- :class:`BayesianOptimizer`: log EI, noisy log EI (plug-in or Monte Carlo), UCB; Kriging-believer batches.
- :class:`Experiment`: ask/tell, failed trials, JSON state written atomically after every observation.
- :mod:`~neuralscope.design.functions`: Hartmann6, Branin, a simulated stimulation-response neuron.
- :mod:`~neuralscope.design.rfmap`: simulated receptive fields and active vs random vs grid mapping.
"""

from neuralscope.design.acquisition import (
    LogExpectedImprovement,
    MonteCarloNoisyLogEI,
    NoisyLogExpectedImprovement,
    UpperConfidenceBound,
    log_h,
    optimize_acquisition,
)
from neuralscope.design.bo import BayesianOptimizer
from neuralscope.design.experiment import Experiment
from neuralscope.design.functions import (
    BRANIN_OPTIMUM,
    HARTMANN6_OPTIMUM,
    TEST_FUNCTIONS,
    StimulationNeuron,
    branin,
    hartmann6,
)
from neuralscope.design.gp import GaussianProcess, cholesky_with_jitter
from neuralscope.design.space import LinearConstraint, Parameter, SearchSpace

__all__ = [
    "BRANIN_OPTIMUM", "HARTMANN6_OPTIMUM", "TEST_FUNCTIONS", "BayesianOptimizer", "Experiment", "GaussianProcess",
    "LinearConstraint", "LogExpectedImprovement", "MonteCarloNoisyLogEI", "NoisyLogExpectedImprovement", "Parameter", "SearchSpace",
    "StimulationNeuron", "UpperConfidenceBound", "branin", "cholesky_with_jitter", "hartmann6", "log_h",
    "optimize_acquisition",
]
