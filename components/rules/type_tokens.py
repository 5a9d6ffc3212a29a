"""The type token of this project's component, as its URNs carry it.

Stored in every stack's state (a changed token would re-create the component), and read
back by the policy pack, which tells the component's own documents by their URN."""

from __future__ import annotations

COMPONENT = "lightsail-ecr:index:PrivateEcrContainerService"
