"""A Pulumi component for Lightsail container services that pull from private ECR repositories."""

from .container_service import (
    PrivateEcrContainerService,
    PrivateEcrContainerServiceArgs,
)
from .validation import ConfigurationError

__all__ = ["ConfigurationError", "PrivateEcrContainerService", "PrivateEcrContainerServiceArgs"]
