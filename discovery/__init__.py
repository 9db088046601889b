"""The campaign side: configuration, the discovery loop, model clients, the CLI and exports."""

__version__ = "0.1.0"
