"""A Pulumi component for Lightsail container services that pull from private ECR repositories."""

from components.container_service import (
    PrivateEcrContainerService,
    PrivateEcrContainerServiceArgs,
)
from components.validation import ConfigurationError

__all__ = ["ConfigurationError", "PrivateEcrContainerService", "PrivateEcrContainerServiceArgs"]
