"""A short story against emulated AWS: grant, re-run, a broken pull diagnosed, destroy;
other teams' statements stay.

Run from the project root: ``python -m emulation.demo``.
"""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import Any

from components import doctor, policy_pack
from emulation.analyzer import InProcessPack
from emulation.cloud import EcrHelpers, EmulatedAws
from emulation.engine import Engine, PolicyViolation, RunReport

ROOT = Path(__file__).resolve().parent.parent
WRITER = Path(__file__).resolve().parent / "whole_document_writer"
STACK_FILE = Path(__file__).resolve().parent / "Pulumi.demo.yaml"
REPOSITORY = "orders/api"
OTHER_TEAMS = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "CiPushFromPlatformTeam",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:role/platform-ci"},
            "Action": [
                "ecr:PutImage",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
            ],
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "platform"}},
        },
        {
            "Sid": "SecurityTeamDenyImageDeletion",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "ecr:BatchDeleteImage",
        },
    ],
}

TAG = "1.4.2"  # the tag Pulumi.demo.yaml deploys
ARN_DELAY = 31.0  # seconds from activation to the puller role's ARN
# Another team's statement that stops every pull, the kind of change the doctor explains.
FREEZE = {
    "Sid": "SecurityTeamFreezePulls",
    "Effect": "Deny",
    "Principal": "*",
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}
SERVICE, REGION = "orders-api", "us-east-1"  # as in Pulumi.demo.yaml
DOCTOR = [SERVICE, "--region", REGION]


def pretty(document: dict[str, Any] | None) -> list[str]:
    if document is None:
        return ["(no repository policy)"]
    return json.dumps(document, indent=2).splitlines()


def show_diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> None:
    print(f"  policy of {REPOSITORY}, before -> after:")
    diff = list(
        difflib.unified_diff(pretty(before), pretty(after), "before", "after", lineterm="", n=2)
    )
    for line in diff or ["  (unchanged)"]:
        print(f"    {line}")


def show_report(title: str, report: RunReport) -> None:
    print(f"\n== {title}: {report.summary()}")
    for kind, name in report.sequence:
        if kind != "unchanged":
            print(f"  {kind:9} {name}")


def main() -> int:
    print("EMULATED AWS: ECR by moto, Lightsail by an in-process emulation; no call leaves")
    print("this machine and no account is used. The program is the real __main__.py.\n")
    # The role's ARN appears 31 s after activation (the AWS guide: at least 30 s).
    with EmulatedAws(region="us-east-1", arn_after_seconds=ARN_DELAY) as aws:
        aws.create_repository(REPOSITORY, OTHER_TEAMS)
        aws.push_image(REPOSITORY, TAG)
        print(f"ECR repository {REPOSITORY} holds image {TAG} and two other teams' statements:")
        print("\n".join(f"  {line}" for line in pretty(aws.policy(REPOSITORY))))

        engine = Engine(ROOT, "demo", STACK_FILE)
        plan = engine.preview()
        print(f"\n== pulumi preview: would have {plan.summary()}; nothing was changed")
        before = aws.policy(REPOSITORY)
        report = engine.up()
        show_report("pulumi up", report)
        show_diff(before, aws.policy(REPOSITORY))
        print("  stack outputs:")
        for key, value in report.outputs.items():
            if key != "operatorPolicy":
                print(f"    {key}: {value}")
        seen = aws.lightsail.service(SERVICE, "us-east-1").arn_seen_at or 0.0
        print(
            f"  (the puller role's ARN appeared {ARN_DELAY:.0f} s after activation; the run "
            f"saw it {seen:.0f} s after, polling every 5 s at most; the emulated clock "
            "passes the waits at once)"
        )

        report = engine.up()
        show_report("pulumi up, again", report)
        quiet = not report.changed
        print("  nothing to change" if quiet else "  UNEXPECTED CHANGES")

        diagnosed = diagnose_a_broken_pull(aws)
        guarded = stop_a_whole_document_writer(aws)

        before = aws.policy(REPOSITORY)
        report = engine.destroy()
        show_report("pulumi destroy", report)
        print("  (retained: Pulumi forgets the policy resource and leaves the document in ECR;")
        print("   the grant finalizer took out only this service's statement)")
        show_diff(before, aws.policy(REPOSITORY))
        kept = aws.policy(REPOSITORY) == OTHER_TEAMS
        print("  the other teams' statements are " + ("intact." if kept else "NOT intact!"))

    print("\nTo run the same program for real (Pulumi CLI and AWS credentials needed):")
    print("  pulumi stack init dev && pulumi config set aws:region us-east-1")
    print("  pulumi config set serviceName orders-api")
    print("  pulumi config set --path 'repositories[0]' orders/api")
    print("  pulumi preview --diff   # shows the merged policy documents")
    print("  pulumi up")
    return 0 if kept and quiet and diagnosed and guarded else 1


def diagnose_a_broken_pull(aws: EcrHelpers) -> bool:
    """Another team freezes pulls; the doctor names their statement; they lift it again.

    True when the doctor said so: nothing wrong before, the freeze after, and all well
    once it is lifted.
    """
    command = f"python -m components.doctor {' '.join(DOCTOR)}"
    print(f"\n== {command}")
    healthy = summary(doctor.diagnose(SERVICE, REGION))
    before = aws.policy(REPOSITORY) or {"Statement": []}
    aws.set_policy(REPOSITORY, {**before, "Statement": [*before["Statement"], FREEZE]})
    print(f"\n== the security team adds {FREEZE['Sid']} (Deny, Principal *) to {REPOSITORY}:")
    print(f"   the next deployment would fail. {command}:")
    broken = doctor.main(DOCTOR) == doctor.EXIT_PROBLEM
    aws.set_policy(REPOSITORY, before)
    print(f"\n== the security team lifts {FREEZE['Sid']}; {command}:")
    lifted = summary(doctor.diagnose(SERVICE, REGION))
    return healthy and broken and lifted


def stop_a_whole_document_writer(aws: EmulatedAws) -> bool:
    """Another team's stack owns the whole document; the policy pack stops its `up`.

    True when the pack stopped the run before it wrote, and the grant is still there."""
    print(
        "\n== the platform team's stack holds a plain aws.ecr.RepositoryPolicy for "
        f"{REPOSITORY}:\n   its document is the policy as they copied it before this "
        "service existed.\n   pulumi up --policy-pack policy-pack:"
    )
    before = aws.policy(REPOSITORY)
    writer = Engine(
        WRITER,
        "prod",
        {
            "config": {
                "aws:region": REGION,
                "platform-registry:repository": REPOSITORY,
                "platform-registry:document": OTHER_TEAMS,
            }
        },
    )
    writer.policy_pack = InProcessPack(policy_pack.PACK_NAME, policy_pack.POLICIES)
    try:
        writer.up()
    except PolicyViolation as stopped:
        for violation in stopped.violations:
            print(f"  {violation.level} policy violation, {violation.policy}:")
            for line in violation.message.splitlines():
                print(f"    {line}")
    else:
        print("  UNEXPECTED: the run was not stopped")
        return False
    intact = aws.policy(REPOSITORY) == before and writer.state == {}
    print(
        "  nothing was written: this service's grant is still in the policy."
        if intact
        else "  UNEXPECTED: the policy changed"
    )
    return intact


def summary(diagnosis: doctor.Diagnosis) -> bool:
    """Print the diagnosis's last line and exit status; True when nothing is a problem."""
    print(f"  {diagnosis.render().splitlines()[-1]} (exit {diagnosis.exit_code})")
    return diagnosis.exit_code == doctor.EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
