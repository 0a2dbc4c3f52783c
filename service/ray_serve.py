"""Referee on Ray Serve (`referee serve --ray`): the same FastAPI app as `referee serve`, run as
Serve replicas that Ray spreads over the cluster's CPU nodes, each with its own math workers and
sandbox sized to the CPUs it reserved; the `cot_rm` model is its own deployment, on a GPU node when
the cluster has GPUs. Nothing here scores anything: replicas run `service.api.app.create_app` and the
reward-model deployment runs `service.runtime.verifiers.build_verifier`.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from dataclasses import dataclass
from typing import Any

import ray
from fastapi import FastAPI
from ray import serve
from ray.serve.handle import DeploymentHandle

from rm_models.verdicts import ChatOptions, Completion, Judgement, Verdict
from service.api.app import create_app
from service.runtime.resources import Resources
from service.runtime.verifiers import build_verifier
from service.settings import Settings

APP_NAME = "referee"


@dataclass(frozen=True)
class Scaling:
    min_replicas: int = 1
    max_replicas: int = 1
    replica_cpus: float = 2.0
    """Ray CPUs each API replica reserves; its math workers and sandbox slots follow from it."""

    @classmethod
    def parse(cls, replicas: str, replica_cpus: float) -> Scaling:
        """`"2"`: two replicas; `"1-8"`: autoscale between one and eight."""
        low, _, high = replicas.partition("-")
        try:
            scaling = cls(int(low), int(high or low), replica_cpus)
        except ValueError:
            raise ValueError(f"--replicas must be N or MIN-MAX, not {replicas!r}") from None
        if not 1 <= scaling.min_replicas <= scaling.max_replicas:
            raise ValueError(f"--replicas needs 1 <= MIN <= MAX, not {replicas!r}")
        if replica_cpus <= 0:
            raise ValueError("--replica-cpus must be positive")
        return scaling


class DeploymentVerifier:
    """The `verifier` resource of an API replica: the RewardModel deployment, through its handle."""

    def __init__(self, handle: DeploymentHandle) -> None:
        self.handle = handle

    def score(self, judgements: list[Judgement]) -> list[Verdict]:
        return self.handle.score.remote(judgements).result()

    def complete(
        self, chats: list[list[dict[str, str]]], options: ChatOptions | None = None
    ) -> list[Completion]:
        return self.handle.complete.remote(chats).result()

    def describe(self) -> dict[str, Any]:
        return {"deployment": "RewardModel", **self.handle.describe.remote().result()}

    def close(self) -> None:
        """The deployment outlives this replica: Ray Serve closes it."""


@serve.deployment(name="RewardModel")
class RewardModel:
    """One model for the whole cluster: requests of every API replica share its dynamic batches."""

    def __init__(self, settings: Settings) -> None:
        self.verifier = build_verifier(settings)

    async def score(self, judgements: list[Judgement]) -> list[Verdict]:
        return await asyncio.to_thread(self.verifier.score, judgements)

    async def complete(self, chats: list[list[dict[str, str]]]) -> list[Completion]:
        return await asyncio.to_thread(self.verifier.complete, chats)

    def describe(self) -> dict[str, Any]:
        return self.verifier.describe()

    def __del__(self) -> None:
        self.verifier.close()


@serve.deployment(name="RefereeAPI")
@serve.ingress()
class RefereeAPI:
    """An API replica: `create_app` with the settings of the command line, built on the replica."""

    def __init__(self, settings: Settings, reward_model: DeploymentHandle | None = None) -> None:
        self.settings = settings
        self.reward_model = reward_model

    def __serve_build_asgi_app__(self) -> FastAPI:
        provided = (
            Resources(verifier=DeploymentVerifier(self.reward_model))
            if self.reward_model is not None
            else None
        )
        return create_app(self.settings, provided=provided)


def replica_settings(settings: Settings, cpus: float) -> Settings:
    """Size math workers and sandbox slots to the replica's CPUs, not to the node's (unless set)."""
    sized = {"math_workers": max(1, round(2 * cpus)), "sandbox_concurrency": max(1, round(cpus))}
    return settings.model_copy(update={k: v for k, v in sized.items() if k not in settings.model_fields_set})


def build_application(settings: Settings, scaling: Scaling) -> serve.Application:
    settings = replica_settings(settings, scaling.replica_cpus)
    reward_model = None
    serves_rm = settings.only is None or "cot_rm" in settings.only
    if settings.rm_model and not settings.rm_remote_url and serves_rm:
        gpus = (
            1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        )  # the model on a GPU node when there is one
        # @serve.deployment turns the class into a Deployment, but mypy keeps a decorated class's own type.
        reward_model = RewardModel.options(  # type: ignore[attr-defined]
            ray_actor_options={"num_cpus": 1, "num_gpus": gpus}
        ).bind(settings)
    if scaling.min_replicas == scaling.max_replicas:
        replicas: dict[str, Any] = {"num_replicas": scaling.min_replicas}
    else:
        replicas = {
            "autoscaling_config": {
                "min_replicas": scaling.min_replicas,
                "max_replicas": scaling.max_replicas,
                "target_ongoing_requests": 2,
            }
        }
    api = RefereeAPI.options(  # type: ignore[attr-defined]  # a Deployment, as above
        **replicas,
        max_ongoing_requests=16,
        ray_actor_options={"num_cpus": scaling.replica_cpus},
        graceful_shutdown_timeout_s=settings.shutdown_grace_s,
    )
    return api.bind(settings, reward_model)


def run(settings: Settings, scaling: Scaling, address: str | None = None, detach: bool = False) -> None:
    """Deploy on the cluster at `address` (None: start a local one) and, unless `detach`, serve until
    SIGINT/SIGTERM, then remove the deployment."""
    if detach and address is None:
        raise ValueError("--detach needs --address: a local cluster ends with this command")
    ray.init(address=address, include_dashboard=False)
    serve.start(http_options={"host": settings.host, "port": settings.port})
    serve.run(build_application(settings, scaling), name=APP_NAME, route_prefix="/")
    print(
        f"Referee on Ray Serve at http://{settings.host}:{settings.port} "
        f"({scaling.min_replicas}-{scaling.max_replicas} API replicas)",
        flush=True,
    )
    if detach:
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    serve.delete(APP_NAME)
    if address is None:
        serve.shutdown()
    ray.shutdown()
