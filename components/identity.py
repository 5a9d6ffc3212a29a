"""The public import path of the AWS identity settings: ``components.identity`` (and
``lightsail_ecr_access.identity`` once installed), as the README tells other programs to
write it. The settings and their use for boto3 live in ``aws/identity.py``; this module
only names them (nothing patches it: the classes are the same objects).
"""

from __future__ import annotations

from .aws.identity import AssumedRole, AwsIdentity

__all__ = ["AssumedRole", "AwsIdentity"]
