"""The AWS Regions this installation knows: botocore's endpoint data, read offline.

Used by the component's check of its ``region`` and by the doctor's ``--region``; the
judgement itself is ``components.rules.regions``.
"""

from __future__ import annotations

import functools

import botocore.session


@functools.cache
def known_regions() -> frozenset[str]:
    """Every Region of every partition in botocore's endpoint data; empty when that cannot
    be read, and then any well-formed Region code is taken."""
    try:
        session = botocore.session.Session()
        return frozenset(
            region
            for partition in session.get_available_partitions()
            for region in session.get_available_regions("ec2", partition_name=partition)
        )
    except Exception:
        return frozenset()
