"""A Pulumi component for Lightsail container services that pull from private ECR repositories."""

from .container_service import (
    PrivateEcrContainerService,
    PrivateEcrContainerServiceArgs,
)
from .rules.errors import ConfigurationError

__version__ = "0.3.1"
"""This package's version (the wheel's, read by setuptools); CHANGELOG.md says what changed."""

__all__ = ["ConfigurationError", "PrivateEcrContainerService", "PrivateEcrContainerServiceArgs"]
