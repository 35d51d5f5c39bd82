"""nosana_nb: run, scale, watch and pay for Nosana GPU deployments from Jupyter."""

__version__ = "0.1.0"
__all__ = ["__version__"]
