"""hpframe: learn what hyperparameters do to a neural network."""
__version__ = "0.1.0"
