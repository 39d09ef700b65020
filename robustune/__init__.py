"""Floor 4: the CLI and the pipeline around the library packages."""

__version__ = "0.1.0"
