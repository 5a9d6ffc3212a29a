"""The least-privilege IAM policy for whoever runs `pulumi up` on one component.

The ECR part is the AWS guide's "Required permissions", scoped to exactly the granted
repositories. Lightsail container services have no ARN before they exist (the ARN
carries a generated id), so the Lightsail actions the program calls are on "*".

With ``diagnosis`` it also holds the reads `python -m components.doctor` makes that
`pulumi up` does not (image details and manifests, deployments, container logs), so
one attached policy lets the same identity deploy and ask why a pull fails. They are
reads only, in statements of their own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

ECR_ACTIONS = (
    "ecr:DescribeRepositories",
    "ecr:GetRepositoryPolicy",
    "ecr:SetRepositoryPolicy",
    "ecr:DeleteRepositoryPolicy",
)
LIGHTSAIL_ACTIONS = (
    "lightsail:CreateContainerService",
    "lightsail:GetContainerServices",
    "lightsail:UpdateContainerService",
    "lightsail:DeleteContainerService",
    "lightsail:TagResource",
    "lightsail:UntagResource",
)
DEPLOYMENT_ACTIONS = (
    "lightsail:CreateContainerServiceDeployment",
    "lightsail:GetContainerServiceDeployments",
)

# Every read the doctor makes; the ones the statements above lack go in the diagnosis
# statements.
DIAGNOSIS_ECR_ACTIONS = (
    "ecr:DescribeRepositories",
    "ecr:GetRepositoryPolicy",
    "ecr:DescribeImages",
    "ecr:BatchGetImage",
)
DIAGNOSIS_LIGHTSAIL_ACTIONS = (
    "lightsail:GetContainerServices",
    "lightsail:GetContainerServiceDeployments",
    "lightsail:GetContainerLog",
)


def operator_policy(
    repository_arns: Sequence[str],
    deploys_containers: bool,
    assumed_role_arns: Sequence[str] = (),
    *,
    diagnosis: bool = False,
) -> str:
    """The policy as JSON text, ready for `aws iam put-user-policy` or a role.

    ``assumed_role_arns``: the roles the stack assumes (``aws:assumeRoles``), which the
    identity that starts pulumi must be allowed to assume. ``diagnosis``: add the reads
    of `python -m components.doctor`.
    """
    lightsail = list(LIGHTSAIL_ACTIONS) + (list(DEPLOYMENT_ACTIONS) if deploys_containers else [])
    # A deployment's image tags are checked before anything is written.
    ecr = list(ECR_ACTIONS) + (["ecr:DescribeImages"] if deploys_containers else [])
    statements: list[dict[str, object]] = [
        {
            "Sid": "ManageLightsailContainerService",
            "Effect": "Allow",
            "Action": lightsail,
            "Resource": "*",
        }
    ]
    if repository_arns:
        statements.append(
            {
                "Sid": "ManageEcrPrivateRepositoriesAccess",
                "Effect": "Allow",
                "Action": ecr,
                "Resource": sorted(repository_arns),
            }
        )
    if diagnosis:
        statements.extend(_diagnosis_statements(repository_arns, lightsail, ecr))
    if assumed_role_arns:
        statements.append(
            {
                "Sid": "AssumeDeploymentRoles",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": list(assumed_role_arns),
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


def _diagnosis_statements(
    repository_arns: Sequence[str], lightsail: Sequence[str], ecr: Sequence[str]
) -> list[dict[str, object]]:
    """The doctor's reads that the statements for `pulumi up` do not already allow."""
    statements: list[dict[str, object]] = []
    lightsail_reads = [a for a in DIAGNOSIS_LIGHTSAIL_ACTIONS if a not in lightsail]
    if lightsail_reads:
        statements.append(
            {
                "Sid": "DiagnoseLightsailContainerService",
                "Effect": "Allow",
                "Action": lightsail_reads,
                "Resource": "*",
            }
        )
    ecr_reads = [a for a in DIAGNOSIS_ECR_ACTIONS if a not in ecr]
    if repository_arns and ecr_reads:
        statements.append(
            {
                "Sid": "DiagnoseEcrPrivateRepositories",
                "Effect": "Allow",
                "Action": ecr_reads,
                "Resource": sorted(repository_arns),
            }
        )
    return statements
