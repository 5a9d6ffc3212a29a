"""Grants declared in any order: whatever the program does between two components
sharing a repository, both grants land through one policy resource.

Each scenario is a small program of its own, run by the emulated engine inside
``run_in_stack`` as the language host runs a program.
"""

from __future__ import annotations

import asyncio
import contextvars
import textwrap
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.settings import ROOT, SETTINGS

from components import ConfigurationError
from components.program import program_end
from components.program.repository_policies import RepositoryPolicyBook
from emulation.cloud import EmulatedAws
from emulation.engine import DeploymentFailed, Engine
from tests.conftest import CI_PUSH, REGION

HEADER = """
import asyncio
import pulumi
import pulumi_aws as aws
from components import PrivateEcrContainerService

def service(name):
    return PrivateEcrContainerService(
        name, {"service_name": name, "region": "us-east-1", "repositories": ["team/app"]}
    )
"""

BETWEEN = {
    "a plain invoke": "aws.get_caller_identity()",
    # What a transform registration or pickling an Output does: step the loop until done.
    "several loop turns": (
        "from pulumi.runtime.sync_await import _sync_await\n"
        "for _ in range(5):\n    _sync_await(asyncio.sleep(0))"
    ),
    "awaiting an output": (
        "from pulumi.runtime.sync_await import _sync_await\n_sync_await(web.service_name.future())"
    ),
}


@pytest.fixture
def cloud() -> Iterator[EmulatedAws]:
    with EmulatedAws(region=REGION, arn_after_polls=1) as aws_:
        aws_.create_repository("team/app", {"Version": "2012-10-17", "Statement": [CI_PUSH]})
        yield aws_


def project(tmp_path: Path, body: str) -> Engine:
    (tmp_path / "Pulumi.yaml").write_text("name: order\nruntime: python\n")
    (tmp_path / "__main__.py").write_text(HEADER + textwrap.dedent(body))
    return Engine(tmp_path, "dev", {"config": {"aws:region": REGION}})


def granted(cloud: EmulatedAws) -> list[str | None]:
    document = cloud.policy("team/app")
    assert document is not None
    return [s.get("Sid") for s in document["Statement"]]


@pytest.mark.parametrize("between", sorted(BETWEEN))
def test_both_grants_land_whatever_steps_the_loop_between_them(
    cloud: EmulatedAws, tmp_path: Path, between: str
) -> None:
    engine = project(
        tmp_path, f"web = service('web')\n{BETWEEN[between]}\njobs = service('jobs')\n"
    )

    report = engine.up()

    assert granted(cloud) == ["CiPush", "AllowLightsailPull-web", "AllowLightsailPull-jobs"]
    policies = [name for name in report.created if "-policy-" in name]
    assert policies == ["web-policy-team/app"]  # one document, one writer
    assert not engine.up().changed


def test_an_async_entrypoint_declares_after_awaits(cloud: EmulatedAws, tmp_path: Path) -> None:
    engine = project(
        tmp_path,
        """
        async def main():
            web = service("web")
            await web.principal_arn.future()  # the role exists by now
            await asyncio.sleep(0)
            service("jobs")
            return {"web": web.url}

        pulumi.run(main)
        """,
    )

    report = engine.up()

    assert granted(cloud) == ["CiPush", "AllowLightsailPull-web", "AllowLightsailPull-jobs"]
    assert report.outputs["web"].startswith("https://web.")


def test_a_grant_declared_after_the_program_ended_is_refused(
    cloud: EmulatedAws, tmp_path: Path
) -> None:
    engine = project(
        tmp_path,
        """
        web = service("web")
        # Runs once the role exists, after the program body has returned.
        pulumi.export("late", web.principal_arn.apply(lambda _: service("jobs").url))
        """,
    )

    with pytest.raises(DeploymentFailed, match="not inside an apply"):
        engine.up()

    assert "AllowLightsailPull-jobs" not in granted(cloud)


def test_a_program_that_fails_half_way_writes_no_policy(cloud: EmulatedAws, tmp_path: Path) -> None:
    engine = project(tmp_path, "service('web')\nraise RuntimeError('later mistake')\n")

    with pytest.raises(DeploymentFailed, match="later mistake"):
        engine.up()

    assert granted(cloud) == ["CiPush"]


# --- one book per program run ----------------------------------------------------


class _Root:
    """Stands for a run's root stack: ProgramEnd watches its register_outputs."""

    _outputs_registered = False

    def _finish(self) -> None:
        return None

    def register_outputs(self, outputs: Any) -> None:
        return None


def _book_of_a_new_run() -> RepositoryPolicyBook:
    ROOT.set(_Root())  # type: ignore[arg-type]
    SETTINGS.monitor = object()
    return RepositoryPolicyBook.for_this_program()


def test_concurrent_runs_in_one_process_each_get_their_own_book() -> None:
    # Automation API runs each run in a context of their own.
    first, second = contextvars.copy_context(), contextvars.copy_context()

    book_a = first.run(_book_of_a_new_run)
    book_b = second.run(_book_of_a_new_run)

    assert book_a is not book_b
    assert first.run(RepositoryPolicyBook.for_this_program) is book_a
    assert second.run(RepositoryPolicyBook.for_this_program) is book_b


def test_a_component_provider_construct_is_refused_with_the_reason() -> None:
    def construct() -> None:
        ROOT.set(None)  # what a component provider's Construct does
        RepositoryPolicyBook.for_this_program()

    with pytest.raises(ConfigurationError, match="multi-language component provider"):
        contextvars.copy_context().run(construct)


def test_the_program_end_is_the_root_stack_registering_its_outputs(
    cloud: EmulatedAws, tmp_path: Path
) -> None:
    # Pins the SDK behaviour the shared documents rely on; the flag watch is a fallback.
    engine = project(
        tmp_path,
        """
        from components.program.repository_policies import RepositoryPolicyBook

        service("web")
        end = RepositoryPolicyBook.for_this_program().program_end
        pulumi.export("signal", pulumi.Output.from_input(end.wait()).apply(lambda _: end.signal))
        """,
    )

    assert engine.up().outputs["signal"] == "register_outputs"


def test_when_the_stack_registers_its_outputs_another_way_the_flag_still_ends_the_wait() -> None:
    from components.program.program_end import ProgramEnd

    class Root:
        _outputs_registered = False

        def _finish(self) -> None:
            return None

        def register_outputs(self, outputs: Any) -> None:
            return None

    async def scenario() -> str:
        root = Root()
        end = ProgramEnd(root)
        waiting = asyncio.ensure_future(end.wait())
        await asyncio.sleep(0.01)
        assert not waiting.done()
        root._outputs_registered = True  # set without calling the instance's method
        await asyncio.wait_for(waiting, timeout=2)
        return end.signal

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(scenario()) == "watch"
    finally:
        loop.close()


# --- the program's own error, and the program's end ----------------------------------


def _chain(error: BaseException) -> list[BaseException]:
    """The exception and its causes, each once (the SDK may make one its own cause)."""
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in found):
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


@pytest.mark.parametrize("kind", ["ValueError", "KeyError", "RuntimeError"])
def test_the_programs_own_exception_reaches_the_user_as_itself(
    cloud: EmulatedAws, tmp_path: Path, kind: str
) -> None:
    engine = project(tmp_path, f"service('web')\nraise {kind}('boom')\n")

    with pytest.raises(DeploymentFailed) as failed:
        engine.up()

    assert "ProgramFailed" not in str(failed.value)
    assert "the program failed before" not in str(failed.value)
    cause = failed.value.__cause__
    if kind != "ValueError":
        # What the SDK re-raises is the program's exception itself.
        assert type(cause).__name__ == kind and "boom" in str(cause)
    # The SDK wraps a ValueError met while registering a resource ("While processing
    # resource ..."); the program's own one is its cause.
    mine = [e for e in _chain(failed.value) if type(e).__name__ == kind and e.args == ("boom",)]
    assert mine
    # Its traceback goes down to the program's line, as the language host prints it.
    printed = "".join(traceback.format_exception(mine[0]))
    main = tmp_path / "__main__.py"
    assert f'File "{main}", line' in printed
    assert f"raise {kind}('boom')" in printed
    assert granted(cloud) == ["CiPush"]  # nothing written for that run
    assert not [s for s in engine.state.values() if "-policy-" in s.name]


def test_a_program_that_exits_says_so_and_writes_no_policy(
    cloud: EmulatedAws, tmp_path: Path
) -> None:
    engine = project(tmp_path, "service('web')\nimport sys\nsys.exit(3)\n")

    with pytest.raises(DeploymentFailed, match=r"the program stopped \(SystemExit\(3\)\)"):
        engine.up()

    assert granted(cloud) == ["CiPush"]


def test_a_first_component_declared_after_the_program_ended_is_refused(
    cloud: EmulatedAws, tmp_path: Path
) -> None:
    engine = project(
        tmp_path,
        """
        later = pulumi.Output.from_input(asyncio.sleep(0.05, result="x"))
        # The first component of the run, declared once the program has ended: too late.
        pulumi.export("late", later.apply(lambda _: service("jobs").url))
        """,
    )

    with pytest.raises(DeploymentFailed, match="not inside an apply"):
        engine.up()

    assert granted(cloud) == ["CiPush"]


def test_an_sdk_whose_stack_lacks_the_private_flag_fails_at_once_saying_what_it_expected(
    cloud: EmulatedAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pulumi.runtime.stack import Stack, massage

    original_init = Stack.__init__

    def init(self: Stack, *args: Any, **kwargs: Any) -> None:  # the flag renamed
        original_init(self, *args, **kwargs)
        del self._outputs_registered
        self._registered = False

    def finish(self: Stack) -> None:
        if not self._registered:
            self._registered = True
            self.register_outputs(massage(self.outputs, []))

    monkeypatch.setattr(Stack, "__init__", init)
    monkeypatch.setattr(Stack, "_finish", finish)
    engine = project(tmp_path, "service('web')\n")

    started = time.monotonic()
    with pytest.raises(DeploymentFailed, match="no _finish or _outputs_registered") as failed:
        engine.up()

    assert time.monotonic() - started < 30
    assert "register_outputs" in str(failed.value) and "installed pulumi is" in str(failed.value)
    assert granted(cloud) == ["CiPush"]


def test_a_stack_that_ends_the_program_another_way_fails_the_run_within_the_bound(
    cloud: EmulatedAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pulumi.runtime.stack import Stack, massage

    def finish(self: Stack) -> None:  # registers the outputs, but neither hook sees it
        pulumi.ComponentResource.register_outputs(self, massage(self.outputs, []))

    monkeypatch.setattr(Stack, "_finish", finish)
    monkeypatch.setattr(program_end, "PROGRAM_END_TIMEOUT", 0.5)
    engine = project(tmp_path, "service('web')\n")

    started = time.monotonic()
    late = r"program's end was not seen within 0\.5 s"
    with pytest.raises(DeploymentFailed, match=late) as failed:
        engine.up()

    assert time.monotonic() - started < 30
    assert "register_outputs" in str(failed.value) and "installed pulumi is" in str(failed.value)
    assert granted(cloud) == ["CiPush"]
