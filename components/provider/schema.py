"""The package schema: what `pulumi package add` turns into an SDK in each language, and
what the YAML runtime checks a program's properties against.

Written out rather than inferred from the Python signature: the descriptions are the
user's documentation in every language, and the custom resources' inputs are the
dynamic resources' (``dynamic_providers``), which no Python annotation states.
"""

from __future__ import annotations

import json
from typing import Any

from .. import __version__
from ..rules import type_tokens

PACKAGE = type_tokens.PACKAGE


def _string(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _map_of_strings(description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": description,
    }


def _ref(name: str, description: str) -> dict[str, Any]:
    return {"$ref": f"#/types/{PACKAGE}:index:{name}", "description": description}


COMPONENT_INPUTS: dict[str, Any] = {
    "serviceName": _string(
        "Name of the Lightsail container service: 1-63 lowercase letters, digits and hyphens, "
        "no hyphen at either end. Unique per account and Region; changing it replaces the "
        "service."
    ),
    "region": _string(
        "AWS Region of the service; every repository must be in it too. Default: the stack's "
        "`aws:region`."
    ),
    "repositories": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Private ECR repositories the service may pull from: names, ARNs or URIs.",
    },
    "power": _string(
        "Power of each node: nano, micro, small, medium, large or xlarge (default nano)."
    ),
    "scale": {"type": "integer", "description": "Number of nodes, 1 to 20 (default 1)."},
    "privateRegistryAccess": {
        "type": "boolean",
        "description": "Keep the ECR image puller role on (default); false turns it off and "
        "removes this service's statement from every repository.",
    },
    "tags": _map_of_strings("Tags of the container service."),
    "containers": {
        "type": "array",
        "items": {"$ref": f"#/types/{PACKAGE}:index:Container"},
        "description": "Containers to deploy once every grant is in place (none: no deployment).",
    },
    "publicEndpoint": _ref("PublicEndpoint", "Container and port behind the service's public URL."),
    "pullerRoleTimeoutSeconds": {
        "type": "number",
        "description": "How long to wait for the puller role's principal ARN (default 300).",
    },
    "adoptExistingService": {
        "type": "boolean",
        "description": "Import a container service that already exists under serviceName "
        "instead of creating it; its power, scale and tags must match the live service.",
    },
    "awsIdentity": _ref(
        "AwsIdentity",
        "The AWS identity the component acts as, when it is not the stack's default AWS "
        "provider's (the stack's `aws:` config): the component builds its own AWS provider "
        "from it. Keys are never taken.",
    ),
}

COMPONENT_OUTPUTS: dict[str, Any] = {
    "serviceName": _string("Name of the container service."),
    "serviceArn": _string("ARN of the container service."),
    "url": _string("Public URL of the container service."),
    "principalArn": _string("The ECR image puller role's principal ARN ('' while access is off)."),
    "imageUriPrefixes": _map_of_strings(
        "Per repository name, `<account>.dkr.ecr.<region>.amazonaws.com/<name>`."
    ),
    "operatorPolicy": _string(
        "Least-privilege IAM policy (JSON) for whoever runs `pulumi up` on this component."
    ),
}

TYPES: dict[str, Any] = {
    f"{PACKAGE}:index:Container": {
        "type": "object",
        "description": "One container of the deployment.",
        "properties": {
            "name": _string("Container name: lowercase letters, digits and hyphens."),
            "repository": _string(
                "One of the component's repositories, as written there or by name."
            ),
            "tag": _string("Image tag in that repository."),
            "ports": _map_of_strings('Open ports, e.g. {"8080": "HTTP"}.'),
            "environment": _map_of_strings("Environment variables."),
            "command": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Launch command, when the image's default is not wanted.",
            },
        },
        "required": ["name", "repository", "tag"],
    },
    f"{PACKAGE}:index:PublicEndpoint": {
        "type": "object",
        "description": "Which container and port the service's public URL sends traffic to.",
        "properties": {
            "container": _string("Name of one of the containers."),
            "port": {"type": "integer", "description": "One of that container's ports."},
            "healthCheckPath": _string("Path of the health check (default /)."),
        },
        "required": ["container", "port"],
    },
    f"{PACKAGE}:index:AwsIdentity": {
        "type": "object",
        "description": "An AWS identity, with the names and values of the AWS provider's "
        "settings (its `aws:` config keys).",
        "properties": {
            "profile": _string("A profile of the shared AWS config files."),
            "assumeRoles": {
                "type": "array",
                "items": {"$ref": f"#/types/{PACKAGE}:index:AssumeRole"},
                "description": "Roles to assume, each from the one before.",
            },
            "sharedConfigFiles": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The shared config file (one).",
            },
            "sharedCredentialsFiles": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The shared credentials file (one).",
            },
            "stsRegion": _string("Region of the STS endpoint used to assume roles."),
            "endpoints": {
                "type": "array",
                "items": _map_of_strings("Endpoint URLs by service: ecr, lightsail, sts."),
                "description": "Custom endpoints, as `aws:endpoints` takes them.",
            },
        },
    },
    f"{PACKAGE}:index:AssumeRole": {
        "type": "object",
        "description": "One role to assume, as `aws:assumeRoles` takes it.",
        "properties": {
            "roleArn": _string("ARN of the role."),
            "sessionName": _string("Session name."),
            "externalId": _string("External ID the role's trust policy asks for."),
            "duration": _string("Session duration, e.g. 1h or 15m."),
            "policy": _string("Inline session policy (JSON)."),
            "policyArns": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Managed session policies.",
            },
            "tags": _map_of_strings("Session tags."),
            "transitiveTagKeys": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Session tags passed on to roles assumed later.",
            },
            "sourceIdentity": _string("Source identity."),
        },
        "required": ["roleArn"],
    },
}

_IDENTITY = {
    "type": "object",
    "additionalProperties": {"$ref": "pulumi.json#/Any"},
    "description": "How the resource reaches AWS (profile, roles; never keys).",
}
_REGION = _string("AWS Region.")
_GRANTS = {
    "type": "array",
    "items": _map_of_strings("One grant: the service and its principal ARN."),
    "description": "The grants this repository's policy must hold.",
}

# The project's own resources: a component's children, not meant to be declared alone.
RESOURCES: dict[str, dict[str, Any]] = {
    type_tokens.PULLER_ROLE: {
        "description": "The ECR image puller role of one container service.",
        "inputs": {
            "region": _REGION,
            "service_name": _string("Container service name."),
            "active": {"type": "boolean", "description": "Whether the role is on."},
            "timeout_seconds": {"type": "number", "description": "How long to wait for the ARN."},
            "identity": _IDENTITY,
        },
        "outputs": {
            "principal_arn": _string("The role's principal ARN."),
            "account": _string("Account acted in."),
        },
    },
    type_tokens.GRANT_FINALIZER: {
        "description": "Removes one service's pull statement from one repository when deleted.",
        "inputs": {
            "region": _REGION,
            "repository": _string("Repository name."),
            "sid": _string("Sid of the statement it removes."),
            "identity": _IDENTITY,
        },
        "outputs": {"account": _string("Account acted in.")},
    },
    type_tokens.FRESH_POLICY_DOCUMENT: {
        "description": "A repository's policy document, merged from a read taken just "
        "before the write.",
        "inputs": {
            "region": _REGION,
            "repository": _string("Repository name."),
            "grants": _GRANTS,
            "policy": _string("The document merged at plan time (what preview shows)."),
            "missing": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Grants not yet in the policy.",
            },
            "identity": _IDENTITY,
        },
        "outputs": {
            "revision": _string("A new value for every fresh merge."),
            "read_at": {"type": "number", "description": "When the fresh read was taken."},
            "account": _string("Account acted in."),
        },
    },
    type_tokens.GRANT_VERIFICATION: {
        "description": "Checks after each write of a repository's policy that each grant held.",
        "inputs": {
            "region": _REGION,
            "repository": _string("Repository name."),
            "grants": _GRANTS,
            "revision": _string("The fresh document's revision it verifies."),
            "write_window": {
                "type": "number",
                "description": "Seconds from the fresh read to the write.",
            },
            "settled_until": {"type": "number", "description": "When the settle delay ended."},
            "identity": _IDENTITY,
        },
        "outputs": {
            "repairs": {"type": "integer", "description": "Grants written again."},
            "account": _string("Account acted in."),
        },
    },
    type_tokens.ADOPTION_CHECK: {
        "description": "Stands before an adopted service's import: the live service must match.",
        "inputs": {
            "region": _REGION,
            "service_name": _string("Container service name."),
            "power": _string("Power asked."),
            "scale": {"type": "integer", "description": "Scale asked."},
            "tags": _map_of_strings("Tags asked."),
            "identity": _IDENTITY,
        },
        "outputs": {},
    },
}


def package() -> dict[str, Any]:
    """The schema, as a JSON-ready dict."""
    resources: dict[str, Any] = {
        type_tokens.COMPONENT: {
            "isComponent": True,
            "description": "A Lightsail container service granted pull access to private ECR "
            "repositories. Each repository's policy keeps every statement other people wrote; "
            "this service's statement (Sid AllowLightsailPull-<service name>) is added, and "
            "removed again when the repository leaves the list, access is turned off, or the "
            "stack is destroyed.",
            "inputProperties": COMPONENT_INPUTS,
            "requiredInputs": ["serviceName"],
            "properties": COMPONENT_OUTPUTS,
            "required": sorted(COMPONENT_OUTPUTS),
        }
    }
    for token, resource in RESOURCES.items():
        resources[token] = {
            "description": resource["description"],
            "inputProperties": resource["inputs"],
            "properties": {**resource["inputs"], **resource["outputs"]},
        }
    return {
        "name": PACKAGE,
        "displayName": "Lightsail container service with private ECR access",
        "version": __version__,
        "description": "A Lightsail container service with pull access to private ECR "
        "repositories, granted without touching anyone else's repository policy statements.",
        "keywords": ["aws", "lightsail", "ecr", "category/cloud", "kind/component"],
        "license": "Apache-2.0",
        "resources": resources,
        "types": TYPES,
        "language": {
            "nodejs": {"respectSchemaVersion": True},
            "python": {"requires": {"pulumi-aws": ">=7.51,<8"}, "respectSchemaVersion": True},
            "go": {"generateResourceContainerTypes": True, "respectSchemaVersion": True},
        },
    }


def text() -> str:
    return json.dumps(package(), indent=2, sort_keys=True)
