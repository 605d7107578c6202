"""shiplane: a standard, declarative deployment pipeline on Kubernetes."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("shiplane")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"
