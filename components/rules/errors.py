"""The error every layer raises for an input the component cannot act on.

Apart from the checks that raise it, so that a layer that only raises it (the AWS
identity, the program) needs none of the checks, and no check needs those layers.
"""

from __future__ import annotations


class ConfigurationError(ValueError):
    """An input the component cannot act on; raised before any AWS write."""
