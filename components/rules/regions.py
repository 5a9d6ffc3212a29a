"""AWS Region codes as people mistype them: the one place that says whether a code is a
Region and which known Region a mistyped one most likely meant.

Pure: the known Regions are given (``components.aws.regions`` reads them from botocore),
so the component's input check and the doctor's ``--region`` flag judge alike.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection

REGION_CODE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
"""The shape of a Region code: ``us-east-1``, ``us-gov-west-1``, ``ap-southeast-2``."""


def is_region_code(text: object) -> bool:
    return isinstance(text, str) and REGION_CODE.fullmatch(text) is not None


def is_known(region: str, known: Collection[str]) -> bool:
    """A well-formed code that is among ``known``; when nothing is known (the endpoint data
    could not be read), any well-formed code, rather than refusing every Region."""
    return is_region_code(region) and (not known or region in known)


def nearest_region(region: str, known: Collection[str]) -> str | None:
    """The known Region ``region`` most likely meant (``us-easty-1``: ``us-east-1``)."""
    found = difflib.get_close_matches(region, sorted(known), n=1)
    return found[0] if found else None


def why_unknown(region: object) -> str:
    """Why a code that ``is_known`` refused is not a Region, for the error's sentence."""
    if is_region_code(region):
        return (
            "is not an AWS Region: botocore knows none of that name (if it is a Region "
            "newer than your boto3, upgrade boto3)"
        )
    return "is not an AWS Region code (a Region code is like us-east-1)"
