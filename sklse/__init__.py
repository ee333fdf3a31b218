"""sklse: multinomial softmax regression with a numerically stable log-softmax loss."""

from importlib.metadata import PackageNotFoundError, version

from sklse._cv import SoftmaxRegressionCV
from sklse._estimator import SoftmaxRegression
from sklse._numerics import log_softmax, logsumexp, softmax

try:
    __version__ = version("sklse")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "SoftmaxRegression",
    "SoftmaxRegressionCV",
    "log_softmax",
    "logsumexp",
    "softmax",
]
