"""Containers to deploy on the service, with images from the granted repositories.

Checked up front like every other input: a container may only use a repository the
component grants, so a deployment can never point at an image the service cannot pull.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, NotRequired, TypedDict

from .errors import ConfigurationError, Path
from .stack_config import CONTAINER_FIELDS, PUBLIC_ENDPOINT_FIELDS, check_fields
from .validation import as_text, check_list, check_text_map, kind

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


def _require(spec: Mapping[str, Any], key: str, what: str, path: Path) -> Any:
    if key not in spec or spec[key] in (None, ""):
        raise ConfigurationError(f"{what} has no {key!r}; add it", path=(*path, key))
    return spec[key]


def check_containers(containers: Any, granted: Collection[str] | None) -> list[dict[str, Any]]:
    """Check the ``containers`` input, whole: each entry's shape, fields and values.

    ``granted``: every way the user may name a granted repository (the reference as
    listed, and the bare name); None when the repositories are themselves wrong, and
    then which repository a container uses is not judged. Each container comes back as
    ``container_name``, ``repository``, ``tag`` (text), ``ports`` (port as text to
    protocol), and ``environment`` and ``commands`` when given.
    """
    listed = check_list(
        containers,
        "containers",
        "[{name: api, repository: team/app, tag: '1.0'}]",
        ("containers",),
    )
    seen: set[str] = set()
    result: list[dict[str, Any]] = []
    for index, spec in enumerate(listed):
        checked = _check_container(index, spec, granted)
        if checked["container_name"] in seen:
            raise ConfigurationError(
                f"container {checked['container_name']!r} is listed twice in `containers`",
                path=("containers", index, "name"),
            )
        seen.add(checked["container_name"])
        result.append(checked)
    return result


def _check_container(index: int, spec: Any, granted: Collection[str] | None) -> dict[str, Any]:
    path: Path = ("containers", index)
    if not isinstance(spec, Mapping):
        raise ConfigurationError(
            f"each entry of `containers` must be an object with name, repository and tag, got "
            f"{kind(spec)} {spec!r}",
            path=path,
        )
    name = _require(spec, "name", "a container in `containers`", path)
    what = f"container {name!r}"
    check_fields(spec, CONTAINER_FIELDS, what, path)
    if not isinstance(name, str) or not _CONTAINER_NAME.fullmatch(name):
        raise ConfigurationError(
            f"{what}: the name must be 1 to 53 lowercase letters, digits and hyphens",
            path=(*path, "name"),
        )
    repository = _require(spec, "repository", what, path)
    if granted is not None and repository not in granted:
        raise ConfigurationError(
            f"{what} uses repository {repository!r}, which this service is not granted; "
            "add it to `repositories` (with privateRegistryAccess on) or pick one of: "
            + (", ".join(sorted(granted)) or "(none granted)"),
            path=(*path, "repository"),
        )
    tag = as_text(_require(spec, "tag", what, path), f"{what}: tag", (*path, "tag"))
    if not _TAG.fullmatch(tag):
        raise ConfigurationError(_bad_tag(what, tag), path=(*path, "tag"))
    checked: dict[str, Any] = {
        "container_name": name,
        "repository": repository,
        "tag": tag,
        "ports": _check_ports(spec.get("ports"), what, (*path, "ports")),
    }
    environment = check_text_map(
        spec.get("environment"),
        f"{what}: environment",
        "{LOG_LEVEL: info}",
        (*path, "environment"),
    )
    if environment:
        checked["environment"] = environment
    command = _check_command(spec.get("command"), what, (*path, "command"))
    if command:
        checked["commands"] = command
    return checked


def _check_ports(ports: Any, what: str, path: Path) -> dict[str, str]:
    if ports is None:
        return {}
    if not isinstance(ports, Mapping):
        raise ConfigurationError(
            f"{what}: `ports` must be a map of port number to protocol, as in "
            f'{{"8080": "HTTP"}}; got {kind(ports)} {ports!r}',
            path=path,
        )
    for port, protocol in ports.items():
        if (
            isinstance(port, bool)
            or not re.fullmatch(r"[0-9]{1,5}", str(port))
            or not 1 <= int(port) <= 65535
            or protocol not in _PROTOCOLS
        ):
            raise ConfigurationError(
                f"{what}: `ports` maps each port number (1 to 65535) to its protocol, "
                f'one of {", ".join(_PROTOCOLS)}, as in {{"8080": "HTTP"}}; '
                f"{port!r}: {protocol!r} is not such a pair",
                path=(*path, str(port)),
            )
    return {str(port): protocol for port, protocol in ports.items()}


def _check_command(command: Any, what: str, path: Path) -> list[str]:
    """The launch command as Lightsail takes it: a list of words, never one string (which
    would be sent letter by letter)."""
    if command is None:
        return []
    if isinstance(command, str):
        words = command.split()
        raise ConfigurationError(
            f"{what}: `command` must be a list of words, as Lightsail takes it, got the "
            f"text {command!r}; write it as {words!r}",
            path=path,
        )
    if not isinstance(command, list | tuple):
        raise ConfigurationError(
            f"{what}: `command` must be a list of words, as in ['python', '-m', 'app'], "
            f"got {kind(command)} {command!r}",
            path=path,
        )
    return [
        as_text(word, f"{what}: word {i} of `command`", (*path, i))
        for i, word in enumerate(command)
    ]


def container_args(
    containers: Sequence[Mapping[str, Any]],
    image_prefixes: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Check the containers and return them as ContainerServiceDeploymentVersion args.

    ``image_prefixes`` maps every way the user may name a granted repository (the
    reference as listed, and the bare name) to its image URI prefix.
    """
    return deployment_args(check_containers(containers, image_prefixes), image_prefixes)


def deployment_args(
    checked: Sequence[Mapping[str, Any]], image_prefixes: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Containers that ``check_containers`` passed, as ContainerServiceDeploymentVersion
    args: the image made from the repository's prefix and the tag."""
    result = []
    for spec in checked:
        args = {k: v for k, v in spec.items() if k not in ("repository", "tag")}
        args["image"] = f"{image_prefixes[spec['repository']]}:{spec['tag']}"
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


def public_endpoint_args(endpoint: Any, containers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Check ``publicEndpoint`` against the checked ``containers``; return it as the
    deployment's public endpoint args."""
    what = "publicEndpoint"
    path: Path = ("public_endpoint",)
    if not isinstance(endpoint, Mapping):
        raise ConfigurationError(
            f"{what} must be an object with container and port, got {kind(endpoint)} {endpoint!r}",
            path=path,
        )
    check_fields(endpoint, PUBLIC_ENDPOINT_FIELDS, what, path)
    container = _require(endpoint, "container", what, path)
    port = _require(endpoint, "port", what, path)
    if (
        isinstance(port, bool)
        or not re.fullmatch(r"[0-9]{1,5}", str(port))
        or not (1 <= int(port) <= 65535)
    ):
        raise ConfigurationError(
            f"{what}: port must be a port number from 1 to 65535 that the container opens, "
            f"got {kind(port)} {port!r}",
            path=(*path, "port"),
        )
    health = endpoint.get("health_check_path", "/")
    if not isinstance(health, str) or not health.startswith("/"):
        raise ConfigurationError(
            f"{what}: health_check_path must be a path on the container starting with '/', "
            f"such as '/healthz', got {kind(health)} {health!r}",
            path=(*path, "health_check_path"),
        )
    match = [c for c in containers if c["container_name"] == container]
    if not match:
        raise ConfigurationError(
            f"{what} names container {container!r}, which is not deployed",
            path=(*path, "container"),
        )
    if str(port) not in match[0]["ports"]:
        raise ConfigurationError(
            f"{what}: container {container!r} does not open port {port}; add it to its ports",
            path=(*path, "port"),
        )
    return {
        "container_name": container,
        "container_port": int(port),
        "health_check": {"path": health},
    }


def wanted_tags(
    containers: Sequence[Mapping[str, Any]], repository_names: Mapping[str, str]
) -> dict[str, set[str]]:
    """The image tags the containers (as ``check_containers`` passed them) will pull, by
    repository name, for the image check.

    ``repository_names`` maps each way a granted repository may be written to its name.
    """
    wanted: dict[str, set[str]] = {}
    for spec in containers:
        name = repository_names.get(str(spec["repository"]))
        if name is not None:
            wanted.setdefault(name, set()).add(str(spec["tag"]))
    return wanted


def check_images_exist(
    containers: Sequence[Mapping[str, Any]],
    repository_names: Mapping[str, str],
    missing: Mapping[str, tuple[tuple[str, ...], tuple[str, ...], str]],
) -> None:
    """Refuse a deployment whose image tag is not in its repository, before any write.

    ``missing``: by repository name, (missing tags, newest tags, repository ARN).
    """
    for index, spec in enumerate(containers):
        name = repository_names[str(spec["repository"])]
        lacking, newest, arn = missing.get(name, ((), (), ""))
        tag = str(spec["tag"])
        if tag in lacking:
            nearby = ", ".join(newest) if newest else "none: the repository holds no tagged image"
            raise ConfigurationError(
                f"container {spec['container_name']!r} uses image {name}:{tag}, which is not in "
                f"repository {name} ({arn}); its newest tags are {nearby}. Push the image "
                "before `pulumi up` runs (in a pipeline, push before this step), or set the "
                "container's tag to one that exists. Nothing was changed",
                path=("containers", index, "tag"),
            )
