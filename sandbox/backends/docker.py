"""DockerBackend: each sandbox is a workspace container running its own Docker engine.

Docker-in-docker, as Play with Docker does it: an attendee's `docker build`,
`docker run --name mysql` and `docker-compose up` go to the engine inside their
own container, on their own private network, so they behave as on a laptop and
never collide with another attendee's. The container specs come from
`docker_spec` (pure); this module sends them and streams runs.

A run is one `docker exec` of the in-sandbox runner (`podium-run`, see
sandbox/workspace/), which puts the code in a session of its own and writes
its id to a pidfile. Cancel and timeout are a second exec (`podium-run kill`)
that reads that pidfile, so any server process can cancel any run. Output
past the run's `output_cap` is read and dropped, not streamed: the process
keeps running until it ends, times out or is cancelled (killing it would make
a long `docker build` fail just for being chatty), and `RunResult.truncated`
says the output is incomplete.

Every method blocks on the Docker Engine API; callers use threads.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tarfile
import threading
import time
from collections.abc import Iterator

import docker
import docker.errors
import requests.exceptions
from django.conf import settings

from sandbox import kube_access
from sandbox.backends import docker_spec as spec_
from sandbox.backends.base import (
    Backend,
    ManagedSandbox,
    OutputCallback,
    ProgressCallback,
    RunRequest,
    RunResult,
    SandboxSpec,
    StopCheck,
)
from sandbox.backends.run_output import OutputCap, frames_follow
from sandbox.errors import SandboxError, SandboxLimitReached, SandboxNotFound, SandboxUnavailable

log = logging.getLogger(__name__)

API_TIMEOUT = 60  # seconds for one engine call (creating a container on a busy host can take a while)
READY_TIMEOUT = 60  # seconds for the inner engine to answer
EXIT_CODE_WAIT = 2.0  # seconds for the engine to record the exit code after the output ended


class DockerBackend(Backend):
    """Sandboxes as docker-in-docker workspace containers on the engine DOCKER_HOST points at."""

    name = "docker"

    def __init__(self, *, options: dict | None = None) -> None:
        super().__init__(options=options)
        self._client: docker.DockerClient | None = None
        self._client_lock = threading.Lock()

    # --- the contract -------------------------------------------------------------------------------

    def check(self) -> str | None:
        """None when sandboxes can be created; else what is missing (engine, image, runtime) and how to fix it."""
        try:
            client = self._engine()
        except SandboxUnavailable as error:
            return error.user_message
        mode = settings.PODIUM_SANDBOX_SECURITY
        try:
            spec_.security_host_config(mode)
        except ValueError as error:
            return f"{error}."
        try:
            if mode == "sysbox" and "sysbox-runc" not in (client.info().get("Runtimes") or {}):
                return (
                    "PODIUM_SANDBOX_SECURITY=sysbox needs the sysbox-runc runtime, which this Docker engine does not "
                    "have: install Sysbox (https://github.com/nestybox/sysbox) or choose privileged or capabilities."
                )
            client.images.get(settings.PODIUM_WORKSPACE_IMAGE)
        except docker.errors.ImageNotFound:
            return (
                f"The sandbox image {settings.PODIUM_WORKSPACE_IMAGE} is not built yet: run "
                "`.venv/bin/python manage.py sandbox prepare` (about a minute after the base images)."
            )
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            return f"The Docker engine did not answer properly ({_first_line(error)}); look at its log."
        return None

    def ensure(self, *, spec: SandboxSpec, state: dict, progress: ProgressCallback) -> dict:
        """Return the state of a running sandbox with a ready inner engine, creating or restarting it as needed;
        with a cluster configured (PODIUM_KUBECONFIG), also the attendee's namespace, whose kubeconfig the
        workspace gets at /root/.kube/config (see sandbox/kube_access.py)."""
        new_state = self._ensure_container(spec=spec, state=state, progress=progress)
        if kube_access.cluster_configured() and not new_state.get("namespace"):
            new_state = self._cluster_attach(spec, new_state, progress)
        return new_state

    def _ensure_container(self, *, spec: SandboxSpec, state: dict, progress: ProgressCallback) -> dict:
        client = self._engine()
        names = spec_.sandbox_names(spec.sandbox_id)
        with _engine_errors("inspecting the sandbox"):
            container = _container_get(client, names.container)
        if container is not None:
            owner = (container.labels or {}).get(spec_.LABEL_SANDBOX)
            if owner != spec.sandbox_id:
                raise SandboxError(f"container {names.container} belongs to sandbox {owner}, not {spec.sandbox_id}")
            if container.status == "running" and state.get("container_id") == container.id:
                return state
            if container.status != "running":
                progress("Starting your sandbox again…")
                with _engine_errors("starting the sandbox"):
                    container.start()
            self._wait_ready(client, container, progress)
            return _state_of(names, container)
        return self._create(client, spec, names, progress)

    def poll(self, *, state: dict) -> str | None:
        """None while the workspace container runs; "missing" when it is gone; else its engine status ("exited" ...)."""
        if not state.get("container"):
            return "missing"
        client = self._engine()
        with _engine_errors("inspecting the sandbox"):
            container = _container_get(client, state["container"])
        if container is None:
            return "missing"
        return None if container.status == "running" else container.status

    def execute(
        self, *, state: dict, request: RunRequest, on_output: OutputCallback, should_stop: StopCheck
    ) -> RunResult:
        """Run one block through `podium-run` and stream its output; see the module docstring for cap and kill."""
        container = _container_name(state)
        api = self._engine().api
        command = spec_.run_command(kind=request.kind, run_id=request.run_id)
        with _engine_errors("starting your run", container=container):
            exec_id = api.exec_create(container, command, environment=spec_.run_environment(request))["Id"]
            stream = api.exec_start(exec_id, stream=True, demux=True)
        output = OutputCap(request.output_cap, on_output)
        try:
            ending = frames_follow(
                _frames(stream),
                request=request,
                kill=lambda: self._kill(api, container, request.run_id),
                should_stop=should_stop,
                on_frame=output.write,
            )
        finally:
            with contextlib.suppress(Exception):
                stream.close()
        exit_code = _exit_code(api, exec_id)
        return RunResult(
            exit_code=exit_code,
            timed_out=ending.timed_out,
            cancelled=ending.cancelled,
            truncated=output.truncated,
            output_bytes=output.total,
        )

    def cancel(self, *, state: dict, run_id: str) -> bool:
        """Kill the run's session in the sandbox (from any process); True when something was killed."""
        if not state.get("container"):
            return False
        return self._kill(self._engine().api, state["container"], run_id)

    def reset(self, *, spec: SandboxSpec, state: dict, progress: ProgressCallback) -> dict:
        """Remove the sandbox with everything in it (images, containers, files) and create a fresh one."""
        progress("Removing your old sandbox…")
        old = _state_of(spec_.sandbox_names(spec.sandbox_id), None)
        if kube_access.cluster_configured():
            old["namespace"] = kube_access.namespace_name_for(spec.sandbox_id)
        self.destroy(state={**old, **state})
        return self.ensure(spec=spec, state={}, progress=progress)

    def destroy(self, *, state: dict) -> None:
        """Remove the workspace container, its network and its inner engine's volume; missing parts are fine."""
        if not state:
            return
        client = self._engine()
        with _engine_errors("removing the sandbox"):
            if state.get("container"):
                with contextlib.suppress(docker.errors.NotFound):
                    client.api.remove_container(state["container"], force=True, v=True)
            if state.get("network"):
                with contextlib.suppress(docker.errors.NotFound):
                    client.api.remove_network(state["network"])
            if state.get("volume"):
                with contextlib.suppress(docker.errors.NotFound):
                    client.api.remove_volume(state["volume"], force=True)
        if state.get("namespace") and kube_access.cluster_configured():
            kube_access.namespace_delete(namespace=state["namespace"])

    def list_managed(self) -> list[ManagedSandbox]:
        """Every sandbox of this install (labels podium.managed=1, podium.instance) with a container, network or
        volume left, leftovers of a crash included."""
        client = self._engine()
        label = {"label": [f"{spec_.LABEL_MANAGED}=1", f"{spec_.LABEL_INSTANCE}={settings.PODIUM_INSTANCE}"]}
        found: dict[str, dict] = {}
        with _engine_errors("listing the sandboxes"):
            objects = [
                *client.api.containers(all=True, filters=label),
                *client.api.networks(filters=label),
                *(client.api.volumes(filters=label).get("Volumes") or []),
            ]
            for obj in objects:
                sandbox_id = (obj.get("Labels") or {}).get(spec_.LABEL_SANDBOX)
                if not sandbox_id:
                    continue
                state = found.setdefault(sandbox_id, _state_of(spec_.sandbox_names(sandbox_id), None))
                if "Image" in obj:  # a container
                    state["container_id"] = obj["Id"]
        if kube_access.cluster_configured():
            try:
                namespaces = kube_access.namespaces_managed(backend=self.name)
            except SandboxError as error:  # the cluster is down: the containers are still worth reconciling
                log.warning("listing the sandboxes' namespaces failed: %s", error)
                namespaces = {}
            for sandbox_id, namespace in namespaces.items():
                found.setdefault(sandbox_id, _state_of(spec_.sandbox_names(sandbox_id), None))["namespace"] = namespace
        return [ManagedSandbox(sandbox_id=key, state=value) for key, value in sorted(found.items())]

    # --- creating ----------------------------------------------------------------------------------------

    def _create(
        self, client: docker.DockerClient, spec: SandboxSpec, names: spec_.SandboxNames, progress: ProgressCallback
    ) -> dict:
        problem = self.check()
        if problem is not None:
            raise SandboxUnavailable(problem, user_message=problem)
        with _engine_errors("counting the sandboxes"):
            running = client.api.containers(all=True, filters={"label": f"{spec_.LABEL_MANAGED}=1"})
        if len(running) >= settings.PODIUM_MAX_SANDBOXES:
            raise SandboxLimitReached(
                f"{len(running)} sandboxes exist, PODIUM_MAX_SANDBOXES={settings.PODIUM_MAX_SANDBOXES}",
                user_message=f"This server already runs its maximum of {settings.PODIUM_MAX_SANDBOXES} sandboxes. "
                "Try again later, or ask the presenter.",
            )
        started = time.monotonic()
        mode = settings.PODIUM_SANDBOX_SECURITY
        try:
            progress("Creating your private network…")
            self._network_ensure(client, spec, names)
            with _engine_errors("creating the sandbox's volume"):
                client.volumes.create(**spec_.volume_kwargs(spec=spec))
            progress("Starting your sandbox…")
            create = spec_.container_spec(
                spec=spec,
                image=settings.PODIUM_WORKSPACE_IMAGE,
                limits=self._limits(),
                security=mode,
                registry_mirror=self._registry_mirror(client),
            )
            try:
                client.api.create_container(**create)
            except docker.errors.APIError as error:
                if error.status_code != 409:  # 409: a concurrent ensure created it first
                    raise
            container = client.containers.get(names.container)
            container.start()
            progress("Starting the Docker engine inside your sandbox…")
            self._wait_ready(client, container, progress)
        except SandboxError:
            self._destroy_quietly(names)
            raise
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            self._destroy_quietly(names)
            raise SandboxUnavailable(
                f"creating sandbox {names.container} failed: {_first_line(error)}",
                user_message="Your sandbox could not be started: the Docker engine refused its container "
                f"(PODIUM_SANDBOX_SECURITY={mode}; where --privileged fails, the operator can choose "
                "capabilities). The server log has the details.",
            ) from None
        log.info("sandbox %s created in %.1f s", names.container, time.monotonic() - started)
        progress("Your sandbox is ready.")
        return _state_of(names, container)

    def _network_ensure(self, client: docker.DockerClient, spec: SandboxSpec, names: spec_.SandboxNames) -> None:
        with _engine_errors("creating your network"):
            if any(net["Name"] == names.network for net in client.api.networks(names=[names.network])):
                return
            taken = {
                config.get("Subnet")
                for net in client.api.networks()
                for config in ((net.get("IPAM") or {}).get("Config") or [])
            }
            pool = getattr(settings, "PODIUM_SANDBOX_SUBNET_POOL", spec_.SUBNET_POOL)
            for subnet in spec_.subnet_candidates(pool=pool, taken=taken):
                try:
                    client.networks.create(**spec_.network_kwargs(spec=spec, subnet=subnet))
                    return
                except docker.errors.APIError as error:
                    message = str(error.explanation or error).lower()
                    if "already exists" in message:
                        return  # a concurrent ensure made it
                    if "overlap" not in message:
                        raise
                    # another sandbox took this subnet since we listed them; try the next one
        raise SandboxLimitReached(
            f"no free /{spec_.SUBNET_PREFIX} left in {pool} for a sandbox network",
            user_message="This server has no network left for another sandbox. Ask the presenter.",
        )

    def _wait_ready(self, client: docker.DockerClient, container, progress: ProgressCallback) -> None:
        with _engine_errors("waiting for your sandbox"):
            result = container.exec_run([spec_.READY, str(READY_TIMEOUT)])
        if result.exit_code == 0:
            return
        output = result.output.decode("utf-8", "replace").strip() if result.output else ""
        with contextlib.suppress(docker.errors.DockerException):
            container.reload()
            if container.status != "running":
                output = container.logs(tail=20).decode("utf-8", "replace").strip() or output
        raise SandboxUnavailable(
            f"the inner Docker engine of {container.name} did not start: {output}",
            user_message="The Docker engine inside your sandbox did not start. Reset your sandbox to try again; "
            "if that fails too, tell the presenter.",
        )

    def _cluster_attach(self, spec: SandboxSpec, state: dict, progress: ProgressCallback) -> dict:
        """Give the workspace its namespace on the cluster and a kubeconfig for it. When the cluster fails, the
        Docker half of the deck still works: say so and try again on the next ensure."""
        try:
            namespace = kube_access.namespace_provision(
                spec=spec, backend=self.name, privileged_workspace=False, progress=progress
            )
            config = kube_access.namespace_kubeconfig(namespace=namespace).encode()
            archive = io.BytesIO()
            with tarfile.open(fileobj=archive, mode="w") as tar:
                folder = tarfile.TarInfo(".kube")
                folder.type, folder.mode = tarfile.DIRTYPE, 0o700
                tar.addfile(folder)
                entry = tarfile.TarInfo(".kube/config")
                entry.size, entry.mode = len(config), 0o600
                tar.addfile(entry, io.BytesIO(config))
            with _engine_errors("copying the kubeconfig", container=state["container"]):
                self._engine().api.put_archive(state["container"], "/root", archive.getvalue())
        except SandboxError as error:
            log.warning("sandbox %s: no Kubernetes namespace: %s", state.get("container"), error)
            progress(f"Kubernetes is not available in your sandbox right now: {error.user_message}")
            return state
        return {**state, "namespace": namespace}

    def _destroy_quietly(self, names: spec_.SandboxNames) -> None:
        with contextlib.suppress(Exception):
            self.destroy(state=_state_of(names, None))

    # --- runs ----------------------------------------------------------------------------------------------

    def _kill(self, api: docker.APIClient, container: str, run_id: str) -> bool:
        """Kill a run's session with a second exec; False when nothing was left to kill (or the exec failed)."""
        try:
            exec_id = api.exec_create(container, spec_.kill_command(run_id=run_id))["Id"]
            api.exec_start(exec_id)
            return api.exec_inspect(exec_id).get("ExitCode") == 0
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            # e.g. the sandbox is out of processes: the run then ends at the pids or memory limit
            log.warning("killing run %s in %s failed: %s", run_id, container, _first_line(error))
            return False

    # --- engine and settings ---------------------------------------------------------------------------

    def _engine(self) -> docker.DockerClient:
        with self._client_lock:
            if self._client is not None:
                return self._client
            try:
                client = docker.from_env(timeout=API_TIMEOUT, max_pool_size=64)
                client.ping()
            except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
                host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
                message = (
                    f"No Docker engine answers at {host}: run `make serve` as root, or scripts/docker-up.sh "
                    "(it installs and starts Docker on Debian)."
                )
                raise SandboxUnavailable(f"{message} ({_first_line(error)})", user_message=message) from None
            self._client = client
            return client

    def _limits(self) -> spec_.SandboxLimits:
        return spec_.SandboxLimits(
            memory=settings.PODIUM_SANDBOX_MEMORY,
            cpus=settings.PODIUM_SANDBOX_CPUS,
            pids=settings.PODIUM_SANDBOX_PIDS,
            disk=settings.PODIUM_SANDBOX_DISK,
            disk_check_seconds=getattr(settings, "PODIUM_SANDBOX_DISK_CHECK_SECONDS", 30),
        )

    def _registry_mirror(self, client: docker.DockerClient) -> str:
        from sandbox.registry import registry_mirror_url  # sandbox.registry imports the image helpers

        return registry_mirror_url(client=client)


# --- helpers -------------------------------------------------------------------------------------------------


def _frames(stream) -> Iterator[tuple[str, bytes]]:
    """The exec's demultiplexed (stdout, stderr) pairs as (stream, bytes) frames."""
    for out, err in stream:
        if out:
            yield "stdout", out
        if err:
            yield "stderr", err


def _exit_code(api: docker.APIClient, exec_id: str) -> int | None:
    # The output can end a moment before the engine records the exit; None if the process still runs.
    deadline = time.monotonic() + EXIT_CODE_WAIT
    while True:
        try:
            info = api.exec_inspect(exec_id)
        except (docker.errors.DockerException, requests.exceptions.RequestException):
            return None
        if not info.get("Running") or time.monotonic() > deadline:
            return None if info.get("Running") else info.get("ExitCode")
        time.sleep(0.02)


def _container_get(client: docker.DockerClient, name: str):
    try:
        return client.containers.get(name)
    except docker.errors.NotFound:
        return None


def _container_name(state: dict) -> str:
    if not state.get("container"):
        raise SandboxNotFound("the sandbox state names no container")
    return state["container"]


def _state_of(names: spec_.SandboxNames, container) -> dict:
    state = {"container": names.container, "network": names.network, "volume": names.volume}
    if container is not None:
        state["container_id"] = container.id
    return state


@contextlib.contextmanager
def _engine_errors(doing: str, *, container: str | None = None) -> Iterator[None]:
    """Turn docker SDK failures into sandbox errors with a sentence for the learner."""
    try:
        yield
    except docker.errors.NotFound as error:
        raise SandboxNotFound(f"{doing}: {_first_line(error)}") from None
    except docker.errors.APIError as error:
        if error.status_code == 409 and container is not None:  # "container ... is not running"
            raise SandboxNotFound(
                f"{doing}: {_first_line(error)}",
                user_message="Your sandbox had stopped; it will start again on your next run.",
            ) from None
        raise SandboxError(f"{doing}: {_first_line(error)}") from None
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        raise SandboxUnavailable(
            f"{doing}: the Docker engine did not answer ({_first_line(error)})",
            user_message="The Docker engine of this server did not answer. Try again in a moment.",
        ) from None


def _first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
