"""The package schema the stand-in AWS provider serves: its own resource types, invokes and
settings, named and typed as pulumi-aws names and types them.

Python programs never ask for a schema; a YAML program's language host does, to resolve
`aws:ecr:RepositoryPolicy` to its token and type-check the properties a program sets.
So the schema describes what the stand-in serves and nothing more: a type it does not
serve is an error in the YAML host ("unable to find resource type"), before anything
reaches AWS, as a misspelt type is with the real provider. Nested objects (a service's
`privateRegistryAccess`, a deployment's `containers`) are typed `Any`: the stand-in
checks them itself, and YAML programs of this project do not set them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

SERVICE = "aws:lightsail/containerService:ContainerService"
POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
DEPLOYMENT = "aws:lightsail/containerServiceDeploymentVersion:ContainerServiceDeploymentVersion"

_STRING = {"type": "string"}
_BOOLEAN = {"type": "boolean"}
_INTEGER = {"type": "integer"}
_ANY = {"$ref": "pulumi.json#/Any"}
_STRINGS = {"type": "array", "items": _STRING}
_STRING_MAP = {"type": "object", "additionalProperties": _STRING}
_REGION = {
    "type": "string",
    "description": "Region where this resource will be managed. Defaults to the Region set "
    "in the provider configuration.",
}

# Per type: (description, inputs, required inputs, outputs only AWS knows).
_RESOURCES: dict[str, tuple[str, dict[str, Any], tuple[str, ...], dict[str, Any]]] = {
    POLICY: (
        "Provides an Elastic Container Registry Repository Policy.",
        {"policy": _STRING, "repository": _STRING, "region": _REGION},
        ("policy", "repository"),
        {"registryId": _STRING},
    ),
    SERVICE: (
        "An Amazon Lightsail container service.",
        {
            "name": _STRING,
            "power": _STRING,
            "scale": _INTEGER,
            "isDisabled": _BOOLEAN,
            "publicDomainNames": _ANY,
            "privateRegistryAccess": _ANY,
            "tags": _STRING_MAP,
            "region": _REGION,
        },
        ("name", "power", "scale"),
        {"arn": _STRING, "url": _STRING, "principalArn": _STRING, "tagsAll": _STRING_MAP},
    ),
    DEPLOYMENT: (
        "A deployment of an Amazon Lightsail container service.",
        {
            "serviceName": _STRING,
            "containers": {"type": "array", "items": _ANY},
            "publicEndpoint": _ANY,
            "region": _REGION,
        },
        ("serviceName", "containers"),
        {"version": _INTEGER, "state": _STRING},
    ),
}

_FUNCTIONS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "aws:index/getCallerIdentity:getCallerIdentity": (
        {},
        {"accountId": _STRING, "arn": _STRING, "userId": _STRING, "id": _STRING},
    ),
    "aws:index/getRegion:getRegion": (
        {"region": _STRING, "name": _STRING},
        {
            "id": _STRING,
            "name": _STRING,
            "region": _STRING,
            "endpoint": _STRING,
            "description": _STRING,
        },
    ),
    "aws:index/getPartition:getPartition": (
        {"id": _STRING},
        {"id": _STRING, "partition": _STRING, "dnsSuffix": _STRING, "reverseDnsPrefix": _STRING},
    ),
}

# The provider settings the stand-in reads (emulation.provider_identity, Configure).
PROVIDER_INPUTS: dict[str, Any] = {
    "region": _STRING,
    "profile": _STRING,
    "accessKey": {**_STRING, "secret": True},
    "secretKey": {**_STRING, "secret": True},
    "token": {**_STRING, "secret": True},
    "endpoints": {"type": "array", "items": _ANY},
    "assumeRoles": {"type": "array", "items": _ANY},
    "sharedConfigFiles": _STRINGS,
    "sharedCredentialsFiles": _STRINGS,
    "skipCredentialsValidation": _BOOLEAN,
    "skipRequestingAccountId": _BOOLEAN,
}


def _object(properties: Mapping[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    shape: dict[str, Any] = {"type": "object", "properties": dict(properties)}
    if required:
        shape["required"] = list(required)
    return shape


def schema(version: str) -> dict[str, Any]:
    """The whole package schema, as GetSchema answers it."""
    resources = {}
    for token, (description, inputs, required, computed) in _RESOURCES.items():
        resources[token] = {
            "description": description,
            "inputProperties": inputs,
            "requiredInputs": list(required),
            "properties": {**inputs, **computed},
            "required": sorted({*required, *computed, "region"}),
        }
    functions = {
        token: {
            "inputs": _object(args),
            "outputs": _object(outputs, sorted(outputs)),
        }
        for token, (args, outputs) in _FUNCTIONS.items()
    }
    return {
        "name": "aws",
        "displayName": "AWS (stand-in)",
        "version": version,
        "description": "The stand-in pulumi-aws of this project's tests: the resource types "
        "and invokes its programs use, against emulated AWS.",
        # As pulumi-aws's: `aws:ecr:RepositoryPolicy` names `aws:ecr/repositoryPolicy:...`.
        "meta": {"moduleFormat": "(.*)(?:/[^/]*)"},
        "config": {"variables": PROVIDER_INPUTS},
        "provider": {"inputProperties": PROVIDER_INPUTS},
        "resources": resources,
        "functions": functions,
    }


def schema_json(version: str) -> str:
    return json.dumps(schema(version), sort_keys=True)
