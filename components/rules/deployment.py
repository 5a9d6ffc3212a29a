"""Containers to deploy on the service, with images from the granted repositories.

Checked up front like every other input: a container may only use a repository the
component grants, so a deployment can never point at an image the service cannot pull.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

from .errors import ConfigurationError
from .stack_config import CONTAINER_FIELDS, PUBLIC_ENDPOINT_FIELDS, check_fields

_CONTAINER_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,51}[a-z0-9])?$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "UDP")


class ContainerSpec(TypedDict):
    """One container of the deployment."""

    name: str
    """Container name: lowercase letters, digits and hyphens."""
    repository: str
    """One of the component's repositories, written as in ``repositories`` or by name."""
    tag: str
    """Image tag in that repository."""
    ports: NotRequired[Mapping[str, str]]
    """Open ports, e.g. ``{"8080": "HTTP"}``."""
    environment: NotRequired[Mapping[str, str]]
    """Environment variables."""
    command: NotRequired[Sequence[str]]
    """Launch command, when the image's default is not wanted."""


class PublicEndpointSpec(TypedDict):
    """Which container and port the service's public URL sends traffic to."""

    container: str
    port: int
    health_check_path: NotRequired[str]


def _require(spec: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in spec or spec[key] in (None, ""):
        raise ConfigurationError(f"{what} has no {key!r}; add it")
    return spec[key]


def container_args(
    containers: Sequence[Mapping[str, Any]],
    image_prefixes: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Check the containers and return them as ContainerServiceDeploymentVersion args.

    ``image_prefixes`` maps every way the user may name a granted repository (the
    reference as listed, and the bare name) to its image URI prefix.
    """
    seen: set[str] = set()
    result: list[dict[str, Any]] = []
    for spec in containers:
        if not isinstance(spec, Mapping):
            raise ConfigurationError(
                f"each entry of `containers` must be an object with name, repository and "
                f"tag, got {spec!r}"
            )
        name = _require(spec, "name", "a container in `containers`")
        what = f"container {name!r}"
        check_fields(spec, CONTAINER_FIELDS, what)
        if not isinstance(name, str) or not _CONTAINER_NAME.fullmatch(name):
            raise ConfigurationError(
                f"{what}: the name must be 1 to 53 lowercase letters, digits and hyphens"
            )
        if name in seen:
            raise ConfigurationError(f"{what} is listed twice in `containers`")
        seen.add(name)
        repository = _require(spec, "repository", what)
        if repository not in image_prefixes:
            raise ConfigurationError(
                f"{what} uses repository {repository!r}, which this service is not granted; "
                "add it to `repositories` (with privateRegistryAccess on) or pick one of: "
                + (", ".join(sorted(image_prefixes)) or "(none granted)")
            )
        tag = str(_require(spec, "tag", what))
        if not _TAG.fullmatch(tag):
            raise ConfigurationError(_bad_tag(what, tag))
        ports = dict(spec.get("ports") or {})
        for port, protocol in ports.items():
            if (
                not re.fullmatch(r"[0-9]{1,5}", str(port))
                or not 1 <= int(port) <= 65535
                or protocol not in _PROTOCOLS
            ):
                raise ConfigurationError(
                    f"{what}: `ports` maps each port number (1 to 65535) to its protocol, "
                    f'one of {", ".join(_PROTOCOLS)}, as in {{"8080": "HTTP"}}; '
                    f"{port!r}: {protocol!r} is not such a pair"
                )
        args: dict[str, Any] = {
            "container_name": name,
            "image": f"{image_prefixes[repository]}:{tag}",
            "ports": {str(k): v for k, v in ports.items()},
        }
        if spec.get("environment"):
            args["environment"] = dict(spec["environment"])
        if spec.get("command"):
            args["commands"] = list(spec["command"])
        result.append(args)
    return result


def _bad_tag(what: str, tag: str) -> str:
    message = (
        f"{what}: {tag!r} is not a valid image tag: a tag is 1 to 128 letters, digits, "
        "'_', '.' and '-', not starting with '.' or '-', such as '1.4.2' or 'latest'"
    )
    if "/" in tag or "@" in tag or ":" in tag:
        # An image URI or a digest pasted where only the tag goes.
        after = tag.rsplit("/", 1)[-1].rpartition(":")[2]
        # A digest names no tag to suggest.
        hint = f" (here perhaps {after!r})" if "@" not in tag and _TAG.fullmatch(after) else ""
        message += (
            "; give the tag alone, without registry, repository or digest: the image URI "
            f"is made from `repository` and the tag{hint}"
        )
    return message


def public_endpoint_args(
    endpoint: Mapping[str, Any], containers: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    what = "publicEndpoint"
    if not isinstance(endpoint, Mapping):
        raise ConfigurationError(
            f"{what} must be an object with container and port, got {endpoint!r}"
        )
    check_fields(endpoint, PUBLIC_ENDPOINT_FIELDS, what)
    container = _require(endpoint, "container", what)
    port = _require(endpoint, "port", what)
    match = [c for c in containers if c["container_name"] == container]
    if not match:
        raise ConfigurationError(f"{what} names container {container!r}, which is not deployed")
    if str(port) not in match[0]["ports"]:
        raise ConfigurationError(
            f"{what}: container {container!r} does not open port {port}; add it to its ports"
        )
    return {
        "container_name": container,
        "container_port": int(port),
        "health_check": {"path": endpoint.get("health_check_path", "/")},
    }


def wanted_tags(containers: object, repository_names: Mapping[str, str]) -> dict[str, set[str]]:
    """The image tags the containers will pull, by repository name, for the image check.

    ``repository_names`` maps each way a granted repository may be written to its name.
    Entries that are not well formed are skipped here: ``container_args`` refuses them.
    """
    wanted: dict[str, set[str]] = {}
    for spec in containers if isinstance(containers, list) else []:
        if not isinstance(spec, Mapping):
            continue
        name = repository_names.get(str(spec.get("repository")))
        tag = spec.get("tag")
        if name is not None and isinstance(tag, str | int) and _TAG.fullmatch(str(tag)):
            wanted.setdefault(name, set()).add(str(tag))
    return wanted


def check_images_exist(
    containers: Sequence[Mapping[str, Any]],
    repository_names: Mapping[str, str],
    missing: Mapping[str, tuple[tuple[str, ...], tuple[str, ...], str]],
) -> None:
    """Refuse a deployment whose image tag is not in its repository, before any write.

    ``missing``: by repository name, (missing tags, newest tags, repository ARN).
    """
    for spec in containers:
        name = repository_names[str(spec["repository"])]
        lacking, newest, arn = missing.get(name, ((), (), ""))
        tag = str(spec["tag"])
        if tag in lacking:
            nearby = ", ".join(newest) if newest else "none: the repository holds no tagged image"
            raise ConfigurationError(
                f"container {spec['name']!r} uses image {name}:{tag}, which is not in "
                f"repository {name} ({arn}); its newest tags are {nearby}. Push the image "
                "before `pulumi up` runs (in a pipeline, push before this step), or set the "
                "container's tag to one that exists. Nothing was changed"
            )
