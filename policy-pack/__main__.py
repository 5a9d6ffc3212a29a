"""The policy pack's program: only builds the pack from the package's policies.

The policies live in the installed package (``lightsail_ecr_access.policy_pack``), so
that the same code is tested, versioned and installed with the component; see the
README's "Policy pack" section for what each one reports and how to configure it.
"""

from lightsail_ecr_access.policy_pack import PACK_NAME, POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

# Constructing the pack starts its analyzer server and blocks, as the CLI expects.
PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    enforcement_level=EnforcementLevel.ADVISORY,
)
