"""The least-privilege IAM policy for whoever runs `pulumi up` on one component.

The ECR part is the AWS guide's "Required permissions", scoped to exactly the granted
repositories. Lightsail container services have no ARN before they exist (the ARN
carries a generated id), so the Lightsail actions the program calls are on "*".
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


def operator_policy(
    repository_arns: Sequence[str],
    deploys_containers: bool,
    assumed_role_arns: Sequence[str] = (),
) -> str:
    """The policy as JSON text, ready for `aws iam put-user-policy` or a role.

    ``assumed_role_arns``: the roles the stack assumes (``aws:assumeRoles``), which the
    identity that starts pulumi must be allowed to assume.
    """
    lightsail = list(LIGHTSAIL_ACTIONS) + (list(DEPLOYMENT_ACTIONS) if deploys_containers else [])
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
                "Action": list(ECR_ACTIONS),
                "Resource": sorted(repository_arns),
            }
        )
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
