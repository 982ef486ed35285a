"""DockerBackend: each sandbox is a workspace container running its own Docker engine.

Docker-in-docker, as Play with Docker does it: an attendee's `docker build`, `docker run --name mysql` and
`docker-compose up` go to the engine inside their own container, on their own private network, so they behave
as on a laptop and never collide with another attendee's. The container specs come from `docker_spec` (pure);
this module sends them and streams runs.

A run is the in-sandbox runner (runner.py), started by the workspace's agent (docker_agent.py, over its
link folder: docker_link.py) or by one `docker exec`; it puts the code in a session of its own and writes its
id to a pidfile. Cancel and timeout are a second exec (`podium-run kill`) that reads that pidfile, so any
server process can cancel any run. Output past the run's `output_cap` is dropped, not streamed: the process
runs on until it ends, times out or is cancelled (a chatty `docker build` must not fail for it), and
`RunResult.truncated` says the output is incomplete.

The attendee's terminal is a `docker exec` with a TTY (docker_terminal.py). Configured with a `DockerConfig`
(config.py), built once from the settings. Every method blocks on the Docker Engine API; callers use threads.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shlex
import threading
import time

import docker
import docker.errors

from sandbox.backends import docker_spec as spec_
from sandbox.backends import runner
from sandbox.backends.base import (
    Backend,
    ManagedSandbox,
    OutputCallback,
    ProgressCallback,
    RunRequest,
    RunResult,
    SandboxDescription,
    SandboxSpec,
    StopCheck,
)
from sandbox.backends.config import DockerConfig
from sandbox.backends.docker_agent import AGENT, Agents, open_agent
from sandbox.backends.docker_engine import (
    ENGINE_FAILURES,
    container_get,
    engine_connect,
    engine_errors,
    engine_problem,
    exit_code,
    first_line,
    frames,
    network_ensure,
    registry_mirror_url,
)
from sandbox.backends.docker_link import LinkFolders
from sandbox.backends.docker_terminal import DockerTerminals
from sandbox.backends.kube_access import KubeAccess
from sandbox.backends.run_output import OutputCap, frames_follow
from sandbox.errors import SandboxError, SandboxLimitReached, SandboxNotFound, SandboxUnavailable

log = logging.getLogger(__name__)

READY_TIMEOUT = 60  # seconds for the inner engine to answer


class DockerBackend(DockerTerminals, Backend):
    """Sandboxes as docker-in-docker workspace containers on the engine DOCKER_HOST points at."""

    name = "docker"
    config_class = DockerConfig
    config: DockerConfig

    def __init__(self, *, config: DockerConfig | None = None) -> None:
        super().__init__(config=config)
        self.kube = KubeAccess(self.config.cluster)
        self._agents = Agents()  # runs go through each workspace's podium-agent (docker_agent.py)
        self._links = LinkFolders(self.config.links)  # where agents connect to this process (docker_link.py)
        self._agent_command = runner.as_attendee([AGENT], security=self.config.security)
        self._client: docker.DockerClient | None = None
        self._client_lock = threading.Lock()

    # --- the contract -------------------------------------------------------------------------------

    def check(self) -> str | None:
        """None when sandboxes can be created; else what is missing (engine, image, runtime) and how to fix it."""
        try:
            client = self._engine()
        except SandboxUnavailable as error:
            return error.user_message
        mode = self.config.security
        try:
            spec_.security_host_config(mode)
        except ValueError as error:
            return f"{error}."
        return engine_problem(client, mode=mode, image=self.config.image)

    def ensure(self, *, spec: SandboxSpec, state: dict, progress: ProgressCallback) -> dict:
        """Return the state of a running sandbox with a ready inner engine, creating or restarting it as needed;
        with a cluster configured (PODIUM_KUBECONFIG), also the attendee's namespace, whose kubeconfig the
        workspace gets at /root/.kube/config (see kube_access.py)."""
        new_state = self._ensure_container(spec=spec, state=state, progress=progress)
        if self.kube.configured and not new_state.get("namespace"):
            new_state = self._cluster_attach(spec, new_state, progress)
        return new_state

    def _ensure_container(self, *, spec: SandboxSpec, state: dict, progress: ProgressCallback) -> dict:
        client = self._engine()
        names = spec_.sandbox_names(spec.sandbox_id)
        with engine_errors("inspecting the sandbox"):
            container = container_get(client, names.container)
        if container is not None:
            owner = (container.labels or {}).get(spec_.LABEL_SANDBOX)
            if owner != spec.sandbox_id:
                raise SandboxError(f"container {names.container} belongs to sandbox {owner}, not {spec.sandbox_id}")
            if container.status == "running" and state.get("container_id") == container.id:
                return state
            if container.status != "running":
                progress("Starting your sandbox again…")
                with engine_errors("starting the sandbox"):
                    container.start()
            self._wait_ready(client, container, progress)
            return _state_of(names, container)
        return self._create(client, spec, names, progress)

    def poll(self, *, state: dict) -> str | None:
        """None while the workspace container runs; "missing" when it is gone; else its engine status ("exited" ...)."""
        if not state.get("container"):
            return "missing"
        client = self._engine()
        with engine_errors("inspecting the sandbox"):
            container = container_get(client, state["container"])
        if container is None:
            return "missing"
        return None if container.status == "running" else container.status

    def execute(
        self, *, state: dict, request: RunRequest, on_output: OutputCallback, should_stop: StopCheck
    ) -> RunResult:
        """Run one block through `podium-run` and stream its output; see the module docstring for cap and kill."""
        container = _container_name(state)
        api = self._engine().api
        kill = functools.partial(self._kill, api, container, request.run_id)
        agent = functools.partial(open_agent, api, container, self._agent_command, self._links)
        output = OutputCap(request.output_cap, on_output)
        follow = {"request": request, "output": output, "should_stop": should_stop, "kill": kill}
        result = self._agents.execute(container, agent, **follow)
        if result is not None:
            return result
        command = runner.as_attendee(
            runner.run_command(kind=request.kind, run_id=request.run_id), security=self.config.security
        )
        with engine_errors("starting your run", container=container, starting=True):
            exec_id = api.exec_create(container, command, environment=runner.run_environment(request))["Id"]
            stream = api.exec_start(exec_id, stream=True, demux=True)
        try:
            ending = frames_follow(
                frames(stream),
                request=request,
                kill=kill,
                should_stop=should_stop,
                on_frame=output.write,
                over_cap=lambda: output.truncated,
            )
        finally:
            with contextlib.suppress(Exception):
                stream.close()
        code = exit_code(api, exec_id)
        return RunResult(
            exit_code=code,
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
        self.destroy(state={**self.state_by_name(spec=spec), **state})
        return self.ensure(spec=spec, state={}, progress=progress)

    def destroy(self, *, state: dict) -> None:
        """Remove the workspace container, its network and its inner engine's volume; missing parts are fine."""
        if not state:
            return
        client = self._engine()
        if state.get("container"):
            self._agents.forget(state["container"])
            self._links.remove(state["container"])
        with engine_errors("removing the sandbox"):
            if state.get("container"):
                with contextlib.suppress(docker.errors.NotFound):
                    client.api.remove_container(state["container"], force=True, v=True)
            if state.get("network"):
                with contextlib.suppress(docker.errors.NotFound):
                    client.api.remove_network(state["network"])
            if state.get("volume"):
                with contextlib.suppress(docker.errors.NotFound):
                    client.api.remove_volume(state["volume"], force=True)
        if state.get("namespace") and self.kube.configured:
            self.kube.namespace_delete(namespace=state["namespace"])

    def list_managed(self) -> list[ManagedSandbox]:
        """Every sandbox of this install (labels podium.managed=1, podium.instance) with a container, network or
        volume left, leftovers of a crash included."""
        client = self._engine()
        label = {"label": [f"{spec_.LABEL_MANAGED}=1", f"{spec_.LABEL_INSTANCE}={self.config.instance}"]}
        found: dict[str, dict] = {}
        with engine_errors("listing the sandboxes"):
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
        if self.kube.configured:
            try:
                namespaces = self.kube.namespaces_managed(backend=self.name, instance=self.config.instance)
            except SandboxError as error:  # the cluster is down: the containers are still worth reconciling
                log.warning("listing the sandboxes' namespaces failed: %s", error)
                namespaces = {}
            for sandbox_id, namespace in namespaces.items():
                found.setdefault(sandbox_id, _state_of(spec_.sandbox_names(sandbox_id), None))["namespace"] = namespace
        return [ManagedSandbox(sandbox_id=key, state=value) for key, value in sorted(found.items())]

    def describe(self, *, state: dict) -> SandboxDescription:
        """`docker exec` into the workspace container; removing it takes its network, its volume and (when the
        cluster gave it one) its namespace. Its code can use Docker, and Kubernetes when it has a namespace."""
        remove, enter = [], ""
        if state.get("container"):  # userns mode: a shell of the attendee's, in their namespaces
            shell = shlex.join(runner.as_attendee(["bash"], security=self.config.security))
            enter = f"docker exec -it {state['container']} {shell}"
            remove.append(f"docker rm -f {state['container']}")
            remove.extend(f"docker {what} rm {state[what]}" for what in ("network", "volume") if state.get(what))
        if state.get("namespace"):
            remove.append(f"kubectl delete namespace {state['namespace']}")
        return SandboxDescription(
            enter=enter,
            remove=" && ".join(remove),
            namespace=state.get("namespace", ""),
            cluster=self.kube.configured,
            engine=True,
        )

    def state_by_name(self, *, spec: SandboxSpec) -> dict:
        """The container, network and volume names of `spec`'s sandbox, and its namespace when a cluster is set."""
        state = _state_of(spec_.sandbox_names(spec.sandbox_id), None)
        if self.kube.configured:
            state["namespace"] = self.kube.namespace_name_for(spec.sandbox_id)
        return state

    # --- creating ----------------------------------------------------------------------------------------

    def _create(
        self, client: docker.DockerClient, spec: SandboxSpec, names: spec_.SandboxNames, progress: ProgressCallback
    ) -> dict:
        problem = self.check()
        if problem is not None:
            raise SandboxUnavailable(problem, user_message=problem)
        with engine_errors("counting the sandboxes"):
            running = client.api.containers(all=True, filters={"label": f"{spec_.LABEL_MANAGED}=1"})
        if len(running) >= self.config.max_sandboxes:
            raise SandboxLimitReached(
                f"{len(running)} sandboxes exist, PODIUM_MAX_SANDBOXES={self.config.max_sandboxes}",
                user_message=f"This server already runs its maximum of {self.config.max_sandboxes} sandboxes. "
                "Try again later, or ask the presenter.",
            )
        started = time.monotonic()
        mode = self.config.security
        try:
            progress("Creating your private network…")
            subnet = network_ensure(client, spec=spec, pool=self.config.subnet_pool)
            base = spec_.userns_base(subnet=subnet, pool=self.config.subnet_pool) if mode == "userns" else 0
            with engine_errors("creating the sandbox's volume"):
                client.volumes.create(**spec_.volume_kwargs(spec=spec))
            progress("Starting your sandbox…")
            create = spec_.container_spec(
                spec=spec,
                image=self.config.image,
                limits=self.config.limits,
                security=mode,
                registry_mirror=self._registry_mirror(client),
                userns_base=base,
                link_bind=self._links.bind(names.container),
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
        except ENGINE_FAILURES as error:
            self._destroy_quietly(names)
            raise SandboxUnavailable(
                f"creating sandbox {names.container} failed: {first_line(error)}",
                user_message="Your sandbox could not be started: the Docker engine refused its container "
                f"(PODIUM_SANDBOX_SECURITY={mode}). The server log has the details.",
            ) from None
        log.info("sandbox %s created in %.1f s", names.container, time.monotonic() - started)
        progress("Your sandbox is ready.")
        return _state_of(names, container)

    def _wait_ready(self, client: docker.DockerClient, container, progress: ProgressCallback) -> None:
        with engine_errors("waiting for your sandbox"):
            result = container.exec_run(runner.ready_command(timeout=READY_TIMEOUT))
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
            namespace = self.kube.namespace_provision(spec=spec, backend=self.name, progress=progress)
            kubeconfig = self.kube.namespace_kubeconfig(namespace=namespace)
            archive = spec_.kubeconfig_archive(kubeconfig, owner=state.get("userns_base", 0))
            with engine_errors("copying the kubeconfig", container=state["container"]):
                self._engine().api.put_archive(state["container"], "/root", archive)
        except SandboxError as error:
            log.warning("sandbox %s: no Kubernetes namespace: %s", state.get("container"), error)
            progress(f"Kubernetes is not available in your sandbox right now: {error.user_message}")
            return state
        return {**state, "namespace": namespace}

    def _destroy_quietly(self, names: spec_.SandboxNames) -> None:
        with contextlib.suppress(Exception):
            self.destroy(state=_state_of(names, None))

    def _kill(self, api: docker.APIClient, container: str, run_id: str) -> bool:
        """Kill a run's session with a second exec; False when nothing was left to kill (or the exec failed)."""
        try:
            command = runner.as_attendee(runner.kill_command(run_id=run_id), security=self.config.security)
            exec_id = api.exec_create(container, command)["Id"]
            api.exec_start(exec_id)
            return api.exec_inspect(exec_id).get("ExitCode") == 0
        except ENGINE_FAILURES as error:
            # e.g. the sandbox is out of processes: the run then ends at the pids or memory limit
            log.warning("killing run %s in %s failed: %s", run_id, container, first_line(error))
            return False

    # --- the engine ---------------------------------------------------------------------------------------------

    def _engine(self) -> docker.DockerClient:
        with self._client_lock:
            if self._client is None:
                self._client = engine_connect()
            return self._client

    def _registry_mirror(self, client: docker.DockerClient) -> str:
        return registry_mirror_url(mirror=self.config.registry_mirror, port=self.config.registry_port, client=client)


# --- helpers -------------------------------------------------------------------------------------------------


def _container_name(state: dict) -> str:
    if not state.get("container"):
        raise SandboxNotFound("the sandbox state names no container")
    return state["container"]


def _state_of(names: spec_.SandboxNames, container) -> dict:
    state = {"container": names.container, "network": names.network, "volume": names.volume}
    if container is not None:
        state["container_id"] = container.id
        env = dict(item.partition("=")[::2] for item in (container.attrs.get("Config") or {}).get("Env") or [])
        if env.get("PODIUM_USERNS_BASE", "").isdigit():  # userns mode: the host uid of the attendee's root
            state["userns_base"] = int(env["PODIUM_USERNS_BASE"])
    return state
