"""The type token of this project's component, as its URNs carry it.

Stored in every stack's state (a changed token would re-create the component), and read
back by the policy pack, which tells the component's own documents by their URN."""

from __future__ import annotations

COMPONENT = "lightsail-ecr:index:PrivateEcrContainerService"

PACKAGE = COMPONENT.split(":", 1)[0]
"""The Pulumi package of the project's own provider (``pulumi-resource-lightsail-ecr``):
the component's token names it, so a Construct serves the very token Python stacks hold."""

# The project's own resources, as that provider serves them (see ``components.provider``).
PULLER_ROLE = f"{PACKAGE}:index:PullerRole"
GRANT_FINALIZER = f"{PACKAGE}:index:GrantFinalizer"
FRESH_POLICY_DOCUMENT = f"{PACKAGE}:index:FreshPolicyDocument"
GRANT_VERIFICATION = f"{PACKAGE}:index:GrantVerification"
ADOPTION_CHECK = f"{PACKAGE}:index:AdoptionCheck"
