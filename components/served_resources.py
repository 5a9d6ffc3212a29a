"""The project's own resources as custom resources of its provider, for the component
when the provider constructs it (``pulumi package add`` from any language).

Each class is the dynamic resource of the same name (same inputs, same outputs, built
by the same ``__init__``) registered with a type token of this package instead of
through Pulumi's dynamic provider host, which a component built inside a provider
cannot use (pulumi/pulumi#5455). The dynamic ``__init__`` hands its provider, name,
inputs and options to ``super().__init__``; placed after it in the method order,
``_Served`` takes that call and registers a custom resource: one definition of each
resource's inputs, two ways to serve it. The provider serves them with the very
provider classes the dynamic host runs (``components.provider.plugin``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pulumi
from pulumi.dynamic import Resource as DynamicResource

from . import dynamic_providers as dynamic
from .rules import type_tokens


class _Served(DynamicResource):
    """Takes the dynamic resource's registration and makes it a custom resource of the
    project's provider."""

    token: ClassVar[str]
    was: ClassVar[type[DynamicResource]]
    """The dynamic resource it was up to 0.2.x, whose type token existing state holds."""

    def __init__(
        self,
        _provider: Any,
        name: str,
        props: dict[str, Any],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        # A stack made by 0.2.x holds this resource under its dynamic type: the alias
        # moves it to this type in place, and the provider's Diff (the same provider class
        # on the same stored outputs) finds nothing to do, so nothing is rewritten.
        moved = pulumi.ResourceOptions(
            aliases=[pulumi.Alias(type_=f"pulumi-python:{self.was._resource_type_name}")]
        )
        # Not DynamicResource.__init__: it would pickle the provider into `__provider`.
        pulumi.CustomResource.__init__(
            self, self.token, name, props, pulumi.ResourceOptions.merge(opts, moved)
        )


class PullerRole(dynamic.PullerRole, _Served):
    token, was = type_tokens.PULLER_ROLE, dynamic.PullerRole


class GrantFinalizer(dynamic.GrantFinalizer, _Served):
    token, was = type_tokens.GRANT_FINALIZER, dynamic.GrantFinalizer


class FreshPolicyDocument(dynamic.FreshPolicyDocument, _Served):
    token, was = type_tokens.FRESH_POLICY_DOCUMENT, dynamic.FreshPolicyDocument


class GrantVerification(dynamic.GrantVerification, _Served):
    token, was = type_tokens.GRANT_VERIFICATION, dynamic.GrantVerification


class AdoptionCheck(dynamic.AdoptionCheck, _Served):
    token, was = type_tokens.ADOPTION_CHECK, dynamic.AdoptionCheck


PROVIDERS: dict[str, type[pulumi.dynamic.ResourceProvider]] = {
    type_tokens.PULLER_ROLE: dynamic.PullerRoleProvider,
    type_tokens.GRANT_FINALIZER: dynamic.GrantFinalizerProvider,
    type_tokens.FRESH_POLICY_DOCUMENT: dynamic.FreshPolicyDocumentProvider,
    type_tokens.GRANT_VERIFICATION: dynamic.GrantVerificationProvider,
    type_tokens.ADOPTION_CHECK: dynamic.AdoptionCheckProvider,
}
"""Who does each served resource's work: the dynamic host's provider class of the same
resource, so both ways of serving it act alike."""
