"""The long-lived resources rewards run on, typed: built once at startup and closed at shutdown, so
worker processes, sandboxes and models are warm for every request."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from service.settings import Settings

if TYPE_CHECKING:  # the pools import sympy-free but heavy modules; only load what a server needs
    from rm_models.openai_judge import JudgeClient
    from service.runtime.sandbox_pool import SandboxPool
    from service.runtime.verifiers import Verifier
    from service.runtime.worker_pool import WorkerPool

ResourceName = Literal["math_pool", "sandboxes", "verifier", "judge"]
T = TypeVar("T")

MATH_WARMUP = "service.grading.math.warmup"


class Servable(Protocol):
    """What startup needs to know of a reward (`service.rewards.base.Reward` is one), so the runtime
    does not import the rewards that run on it."""

    @property
    def resources(self) -> tuple[ResourceName, ...]: ...

    @property
    def all_resources(self) -> tuple[ResourceName, ...]: ...

    @property
    def warmup(self) -> tuple[str, ...]: ...

    @property
    def unavailable_hint(self) -> str | None: ...


@dataclass
class Resources:
    """What a server has; a field is None when it runs without it (e.g. no reward model loaded)."""

    math_pool: WorkerPool | None = None
    sandboxes: SandboxPool | None = None
    verifier: Verifier | None = None
    judge: JudgeClient | None = None
    """A served judge model (OpenAI protocol): `rubric`, `judge`, `math`'s fallback; and the
    `verifier` when no local reward model is configured."""

    def missing(self, names: Iterable[ResourceName]) -> list[ResourceName]:
        return [name for name in names if getattr(self, name) is None]

    def present(self) -> list[str]:
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def describe(self, names: Iterable[ResourceName]) -> dict[str, Any]:
        details: dict[str, Any] = {}
        for name in names:
            resource = getattr(self, name)
            if resource is not None:
                details.update(resource.describe())
        return details

    def close(self) -> None:
        for name in self.present():
            getattr(self, name).close()


def required(resource: T | None, name: ResourceName) -> T:
    """A resource the engine has already checked for (so reward code needs no None branch)."""
    if resource is None:
        raise RuntimeError(f"resource {name!r} is not configured on this server")
    return resource


def build_resources(
    settings: Settings, rewards: Mapping[str, Servable], provided: Resources | None = None
) -> Resources:
    """The resources the served rewards need. Fields already set in `provided` are used as they
    are (the Ray deployment passes its reward-model deployment as the `verifier`)."""
    unknown = sorted(set(settings.only or ()) - set(rewards))
    if unknown:
        raise ValueError(
            f"--only names unknown rewards {', '.join(unknown)}; known: {', '.join(sorted(rewards))}"
        )
    resources = provided or Resources()
    wanted = {r for name in (settings.only or rewards) for r in rewards[name].all_resources}
    if "math_pool" in wanted and resources.math_pool is None:
        from service.runtime.worker_pool import WorkerPool

        served = [rewards[name] for name in (settings.only or rewards)]
        warmups = tuple(dict.fromkeys(module for reward in served for module in reward.warmup))

        # Up to 4x the workers (at most 16 more) for answers that hang sympy past the guards: they
        # time out side by side instead of one after another.
        resources.math_pool = WorkerPool(
            settings.math_workers,
            name="math",
            preload=warmups,
            burst=min(3 * settings.math_workers, 16),
        )
    if "sandboxes" in wanted and resources.sandboxes is None:
        from service.runtime.sandbox_pool import SandboxPool

        resources.sandboxes = SandboxPool(
            settings.sandbox_backend,
            settings.sandbox_concurrency,
            {
                "local": {"warm": settings.sandbox_warm},
                "docker": {"image": settings.sandbox_image, "runner": settings.sandbox_warm},
            },
        )
    if settings.judge_urls and wanted & {"judge", "verifier"} and resources.judge is None:
        from service.runtime.judges import build_judge

        resources.judge = build_judge(settings)
    if "verifier" in wanted and resources.verifier is None:
        from service.runtime.verifiers import RemoteVerifier, build_verifier

        if settings.rm_remote_url:
            resources.verifier = RemoteVerifier(settings.rm_remote_url, settings.api_key)
        elif settings.rm_model:
            resources.verifier = build_verifier(settings)
        elif resources.judge is not None:
            from service.runtime.judges import JudgeVerifier

            resources.verifier = JudgeVerifier(
                resources.judge, settings.rm_template, settings.judge_max_tokens
            )
    unservable = [name for name in settings.only or () if resources.missing(rewards[name].resources)]
    if unservable:  # a server that answers nothing useful should not start (and pass its health check)
        hints = "; ".join(
            f"{name}: {rewards[name].unavailable_hint or 'missing resources'}" for name in unservable
        )
        resources.close()
        raise ValueError(f"--only serves rewards that cannot run here: {hints}")
    return resources
