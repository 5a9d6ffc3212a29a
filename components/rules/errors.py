"""The error every layer raises for an input the component cannot act on.

Apart from the checks that raise it, so that a layer that only raises it (the AWS
identity, the program) needs none of the checks, and no check needs those layers.
"""

from __future__ import annotations

from collections.abc import Sequence

Path = tuple[str | int, ...]
"""Where an input is: the component's argument (``"containers"``), then the keys and
list positions inside it (``("containers", 0, "command")``)."""


class ConfigurationError(ValueError):
    """An input the component cannot act on; raised before any AWS write.

    ``path`` says which input, as data, so that a caller that spells the inputs another
    way (the package's schema, in camelCase) can name it without reading the sentence.
    """

    def __init__(self, message: str, *, path: Path = ()) -> None:
        super().__init__(message)
        self.path: Path = path

    @property
    def key(self) -> str | None:
        """The component's argument the error is about (None when it is about none)."""
        return str(self.path[0]) if self.path else None

    def within(self, *outer: str | int) -> ConfigurationError:
        """The same error, placed inside ``outer`` unless it already names its input."""
        if not self.path:
            self.path = tuple(outer)
        return self


class InputErrors(ConfigurationError):
    """Several inputs that cannot be used, found in one pass so the user fixes them all
    at once; ``errors`` holds each one, with its own path."""

    def __init__(self, errors: Sequence[ConfigurationError]) -> None:
        lines = "\n".join(f"  - {error}" for error in errors)
        super().__init__(f"{len(errors)} inputs cannot be used; nothing was changed:\n{lines}")
        self.errors = list(errors)
