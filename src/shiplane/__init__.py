"""shiplane: a standard, declarative deployment pipeline on Kubernetes."""

# The one place the version is written (pyproject.toml reads it from here): a constant,
# because asking importlib.metadata costs `shiplane --version` some 30 ms of start-up.
__version__ = "0.1.0"
