"""Podium settings, all read from the environment (see .env.example).

With nothing set, Podium runs embedded: SQLite, the in-memory channel layer and
the sandbox worker inside the web process. DATABASE_URL, REDIS_URL and the
PODIUM_* variables switch to MariaDB, Redis and separate workers.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import database_from_url, env_bool, env_float, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PODIUM_VAR_DIR", str(BASE_DIR / "var")))

# Under pytest the environment defaults to "test": test doubles are allowed and the
# sandboxes tests create are labelled apart from a development install's.
PODIUM_ENV = env_str("PODIUM_ENV", "test" if "pytest" in sys.modules else "development")
if PODIUM_ENV not in {"development", "production", "test"}:
    raise ImproperlyConfigured(f"PODIUM_ENV={PODIUM_ENV!r} must be development, production or test")
PRODUCTION = PODIUM_ENV == "production"
DEBUG = env_bool("DEBUG", default=not PRODUCTION)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when PODIUM_ENV=production")
    # Development: one random key per checkout, kept under var/ so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.write_text(key)
    path.chmod(0o600)
    return key


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "deck",
    "sandbox",
    "rooms",
    "workshop",
    "ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'podium.sqlite3'}"))}
# Seconds a thread keeps its database connection between calls (checked before reuse). The websockets' database
# calls run in long-lived threads: with 0, each call of a run's path (claim, mark, finish...) connected afresh.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("PODIUM_DB_CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # socket_timeout=None: redis-py 8 defaults to 5 s, which breaks the layer's blocking
            # receive (every idle websocket died after 5 s with "Timeout reading from redis").
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}], "capacity": 1500, "expiry": 30},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1500}}}
# The rate limits' counts (config/ratelimit.py): in Redis when set, so every process shares them.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Security headers (config/csp.py adds the Content-Security-Policy). Production assumes HTTPS: it redirects
# plain HTTP and sends HSTS; set SECURE_SSL_REDIRECT=0 / SECURE_HSTS_SECONDS=0 to serve plain HTTP anyway.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
# Prometheus scrapes over plain HTTP from inside: a redirect would answer for /metrics. (/healthz and /readyz never
# reach Django: ops.probes answers them in front of it, for any Host and scheme.)
SECURE_REDIRECT_EXEMPT = [r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 30 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
# Behind a proxy that ends TLS: trust its X-Forwarded-Proto (only if it always sets it), or the redirect loops.
if env_bool("PODIUM_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Browser packages from npm (package.json; scripts/setup.sh installs them). Without them Podium still
# serves, and the run output falls back to plain text with a note saying how to install the terminal.
if (BASE_DIR / "node_modules" / "@xterm").is_dir():
    STATICFILES_DIRS.append(("vendor/xterm", BASE_DIR / "node_modules" / "@xterm"))
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Who serves /static/: "source" (embedded: the app, straight from the folders above), "collected" (the app,
# through WhiteNoise, from STATIC_ROOT as `collectstatic` filled it, compressed and cached: Podium's image),
# "off" (a web server in front serves STATIC_ROOT).
PODIUM_STATIC = env_str("PODIUM_STATIC", "source")
if PODIUM_STATIC not in {"source", "collected", "off"}:
    raise ImproperlyConfigured(f"PODIUM_STATIC={PODIUM_STATIC!r}: use source, collected or off.")
if PODIUM_STATIC == "collected":
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
        "whitenoise.middleware.WhiteNoiseMiddleware",
    )
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    }

LOGIN_URL = "/admin/login/"

# PODIUM_LOG_FORMAT: "line" (for people) or "json" (one JSON object per line, for log collectors: ops.logs).
PODIUM_LOG_FORMAT = env_str("PODIUM_LOG_FORMAT", "line")
if PODIUM_LOG_FORMAT not in ("line", "json"):
    raise ImproperlyConfigured(f'PODIUM_LOG_FORMAT must be "line" or "json", not {PODIUM_LOG_FORMAT!r}')
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "ops.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": PODIUM_LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- Podium -----------------------------------------------------------------
# Where decks live; every *.md directly in this folder is a deck.
PODIUM_SLIDES_DIR = Path(env_str("PODIUM_SLIDES_DIR", str(BASE_DIR / "slides")))
# Folders a deck may include files from (block option `file=`), relative to BASE_DIR.
PODIUM_INCLUDE_ROOT = Path(env_str("PODIUM_INCLUDE_ROOT", str(BASE_DIR)))
# Pages of a deck reload when its file changes (deck.live_reload); on by default only while developing.
PODIUM_LIVE_RELOAD = env_bool("PODIUM_LIVE_RELOAD", default=DEBUG and PODIUM_ENV == "development")
# Public base URL, used when printing presenter links.
PODIUM_BASE_URL = env_str("PODIUM_BASE_URL", "http://127.0.0.1:8000")
# Secret for presenter links; unset = one random token per talk, stored in the database.
PODIUM_PRESENTER_TOKEN = env_str("PODIUM_PRESENTER_TOKEN")
# Websocket messages larger than this many bytes are answered with an error, never parsed.
PODIUM_WS_MESSAGE_MAX = env_int("PODIUM_WS_MESSAGE_MAX", 256 * 1024)
# /metrics answers only the bearer of this token ("Authorization: Bearer <token>"; unset: no token works)
# or addresses in these networks (comma-separated; empty: none).
PODIUM_METRICS_TOKEN = env_str("PODIUM_METRICS_TOKEN")
PODIUM_METRICS_NETWORKS = env_str("PODIUM_METRICS_NETWORKS", "127.0.0.1/32,::1/128")
# Rate limits, "N/SECONDS" (at most N per window of SECONDS) or "off"; refusals say when to try again.
# New sandboxes (first run, reset) per attendee and per client address (a room behind one NAT shares one);
# runs and checks per attendee; wrong presenter links per client address; terminal opens (each a new exec in
# the sandbox, a page's reconnects included) per attendee and per client address.
PODIUM_RATE_SANDBOXES_PER_ATTENDEE = env_rate("PODIUM_RATE_SANDBOXES_PER_ATTENDEE", "5/600")
PODIUM_RATE_SANDBOXES_PER_ADDRESS = env_rate("PODIUM_RATE_SANDBOXES_PER_ADDRESS", "200/600")
PODIUM_RATE_RUNS = env_rate("PODIUM_RATE_RUNS", "60/60")
PODIUM_RATE_CHECKS = env_rate("PODIUM_RATE_CHECKS", "30/60")
PODIUM_RATE_PRESENTER_TOKEN = env_rate("PODIUM_RATE_PRESENTER_TOKEN", "10/600")
PODIUM_RATE_TERMINALS_PER_ATTENDEE = env_rate("PODIUM_RATE_TERMINALS_PER_ATTENDEE", "20/60")
PODIUM_RATE_TERMINALS_PER_ADDRESS = env_rate("PODIUM_RATE_TERMINALS_PER_ADDRESS", "600/60")
# Join attempts with a code that names no open room, per client address (so codes cannot be guessed by trying).
PODIUM_RATE_JOIN_CODES = env_rate("PODIUM_RATE_JOIN_CODES", "30/600")

# --- Sandboxes (see sandbox/backends/base.py) -----------------------------------
# The backend gets these through its configuration object, built once (sandbox/backends/config.py).
# "docker", "kubernetes", or a dotted path to a Backend subclass.
PODIUM_SANDBOX_BACKEND = env_str("PODIUM_SANDBOX_BACKEND", "docker")
# Name of this install; sandboxes are labelled with it, and reconciling only touches its own.
# Under test, each test session is an install of its own (set in the environment, so the servers and
# commands a test starts inherit it): two test runs sharing one engine or cluster never reconcile
# away each other's sandboxes.
if PODIUM_ENV == "test" and not os.environ.get("PODIUM_INSTANCE"):
    os.environ["PODIUM_INSTANCE"] = f"test-{secrets.token_hex(4)}"
PODIUM_INSTANCE = env_str("PODIUM_INSTANCE", "default")
# Image of the attendee's workspace (docker CLI + its own engine, kubectl, mysql client, the material).
PODIUM_WORKSPACE_IMAGE = env_str("PODIUM_WORKSPACE_IMAGE", "podium/workspace:1")
# How workspace containers get the rights their inner Docker engine needs (README "Security"):
# "userns" (default; the attendee's root is an unprivileged host uid of the sandbox's own), "sysbox"
# (the sysbox-runc runtime), or - HOST-ROOT-EQUIVALENT, for rooms the operator trusts only -
# "privileged" (plain --privileged) and "capabilities" (the set for hosts where --privileged fails).
PODIUM_SANDBOX_SECURITY = env_str("PODIUM_SANDBOX_SECURITY", "userns")
# Registry mirror the inner engines pull from ("" = the local mirror `sandbox prepare` runs on the docker bridge).
PODIUM_REGISTRY_MIRROR = env_str("PODIUM_REGISTRY_MIRROR")
PODIUM_REGISTRY_PORT = env_int("PODIUM_REGISTRY_PORT", 5000)
# Limits per sandbox and per run.
PODIUM_SANDBOX_MEMORY = env_str("PODIUM_SANDBOX_MEMORY", "2g")
PODIUM_SANDBOX_CPUS = env_float("PODIUM_SANDBOX_CPUS", 1.0)
PODIUM_SANDBOX_PIDS = env_int("PODIUM_SANDBOX_PIDS", 1024)
PODIUM_SANDBOX_DISK = env_str("PODIUM_SANDBOX_DISK", "10g")
# Seconds between a workspace's checks of its disk use against PODIUM_SANDBOX_DISK (a soft limit).
PODIUM_SANDBOX_DISK_CHECK_SECONDS = env_int("PODIUM_SANDBOX_DISK_CHECK_SECONDS", 30)
# The address range the Docker sandboxes' private networks are carved out of (/28 each; the firewall covers it).
PODIUM_SANDBOX_SUBNET_POOL = env_str("PODIUM_SANDBOX_SUBNET_POOL", "10.210.0.0/16")
# Docker backend: the folder of this host where each workspace gets a link folder, mounted read-only, through
# which its agent's output reaches this server without the engine ("" = none: every run's output then goes
# through the engine's exec stream). Must be the same path for the engine: empty it for an engine elsewhere.
PODIUM_SANDBOX_LINKS = env_str("PODIUM_SANDBOX_LINKS", str(VAR_DIR / "links"))
# What `sandbox cull --every` does with every sandbox of this install when it is stopped: keep (they outlive a
# restart of Podium, which finds them again) or remove (stopping the service leaves none behind: compose's way).
PODIUM_SANDBOXES_ON_STOP = env_str("PODIUM_SANDBOXES_ON_STOP", "keep")
if PODIUM_SANDBOXES_ON_STOP not in {"keep", "remove"}:
    raise ImproperlyConfigured(f"PODIUM_SANDBOXES_ON_STOP={PODIUM_SANDBOXES_ON_STOP!r}: use keep or remove.")
PODIUM_RUN_TIMEOUT = env_float("PODIUM_RUN_TIMEOUT", 120.0)
PODIUM_RUN_OUTPUT_CAP = env_int("PODIUM_RUN_OUTPUT_CAP", 1024 * 1024)
# Bytes of a run's output stored for a reload: its last ones (a page's terminal keeps its last 10,000 lines).
PODIUM_RUN_OUTPUT_STORED = env_int("PODIUM_RUN_OUTPUT_STORED", 1024 * 1024)
if PODIUM_RUN_OUTPUT_STORED < 0:
    raise ImproperlyConfigured(f"PODIUM_RUN_OUTPUT_STORED={PODIUM_RUN_OUTPUT_STORED}: bytes, 0 or more.")
PODIUM_RUN_CODE_MAX = env_int("PODIUM_RUN_CODE_MAX", 64 * 1024)
# Seconds between the beats of a run's executor (sandbox.liveness); a run silent for 4 beats lost its executor.
PODIUM_RUN_BEAT_SECONDS = env_float("PODIUM_RUN_BEAT_SECONDS", 5.0)
PODIUM_RUNS_PER_ATTENDEE = env_int("PODIUM_RUNS_PER_ATTENDEE", 2)
PODIUM_MAX_SANDBOXES = env_int("PODIUM_MAX_SANDBOXES", 50)
# Sandboxes one process creates or resets at once (sandbox.creations); the others wait their turn in order. 0: no limit.
PODIUM_SANDBOX_CREATIONS = env_int("PODIUM_SANDBOX_CREATIONS", 4)
if PODIUM_SANDBOX_CREATIONS < 0:
    raise ImproperlyConfigured(
        f"PODIUM_SANDBOX_CREATIONS={PODIUM_SANDBOX_CREATIONS}: use a whole number of sandboxes, 0 for no limit."
    )
# The attendee's terminal (sandbox.terminals): terminals open at once per attendee; seconds without a keystroke
# before one is closed; seconds its shell session outlives its last page (a reload attaches again meanwhile);
# bytes one input message may hold; bytes of output a page may leave unacknowledged before reading pauses.
PODIUM_TERMINALS_PER_ATTENDEE = env_int("PODIUM_TERMINALS_PER_ATTENDEE", 2)
PODIUM_TERMINAL_IDLE = env_float("PODIUM_TERMINAL_IDLE", 30 * 60.0)
PODIUM_TERMINAL_KEEP = env_float("PODIUM_TERMINAL_KEEP", 5 * 60.0)
PODIUM_TERMINAL_INPUT_MAX = env_int("PODIUM_TERMINAL_INPUT_MAX", 16 * 1024)
PODIUM_TERMINAL_WINDOW = env_int("PODIUM_TERMINAL_WINDOW", 256 * 1024)
# Whether anyone may open a deck and run code without joining a room (the single-user laptop's way);
# off: only admitted members of a room (and the presenter) get a sandbox.
PODIUM_SELF_PACED = env_bool("PODIUM_SELF_PACED", default=True)
PODIUM_SANDBOX_IDLE_TTL = env_int("PODIUM_SANDBOX_IDLE_TTL", 2 * 60 * 60)
# The sandbox worker runs inside the web process unless a Redis channel layer lets
# separate `manage.py runworker sandbox-runs` processes take the runs.
PODIUM_EMBEDDED_WORKER = env_bool("PODIUM_EMBEDDED_WORKER", default=not REDIS_URL)
# The local test double's sandboxes (PODIUM_SANDBOX_BACKEND=sandbox.backends.local.LocalBackend, PODIUM_ENV=test
# only): a folder for them ("" = under the system temporary folder).
PODIUM_LOCAL_SANDBOX_ROOT = env_str("PODIUM_LOCAL_SANDBOX_ROOT")

# Container images the deck's material builds on (sandbox prepare). Official names; where no registry answers,
# `manage.py sandbox prepare --offline` builds local stand-ins named PODIUM_STANDIN_PREFIX + the official name.
PODIUM_PYTHON_IMAGE = env_str("PODIUM_PYTHON_IMAGE", "python:3.11-slim")
PODIUM_MYSQL_IMAGE = env_str("PODIUM_MYSQL_IMAGE", "mysql:8")
PODIUM_STANDIN_PREFIX = env_str("PODIUM_STANDIN_PREFIX", "podium-standin/")
# Outside the repo: the debootstrapped Debian root filesystem is cached here so a second prepare is fast.
PODIUM_IMAGE_CACHE_DIR = Path(env_str("PODIUM_IMAGE_CACHE_DIR", "/var/cache/podium"))

# --- Kubernetes (sandbox/backends/kube_access.py, sandbox/backends/kubernetes.py) --
# The cluster attendees get a namespace on: a kubeconfig path, or "in-cluster" when Podium runs in a pod.
# "" = no cluster: the Kubernetes backend cannot start and Docker workspaces get no kubeconfig. Tests
# never pick up a stray KUBECONFIG: they set PODIUM_KUBECONFIG themselves.
PODIUM_KUBECONFIG = env_str("PODIUM_KUBECONFIG", "" if PODIUM_ENV == "test" else env_str("KUBECONFIG"))
PODIUM_K8S_CONTEXT = env_str("PODIUM_K8S_CONTEXT")  # "" = the kubeconfig's current context
# The API server as workspaces reach it ("" = the kubeconfig's own address), e.g. https://172.17.0.1:6443
# when the kubeconfig says 127.0.0.1, which a Docker workspace cannot reach.
PODIUM_K8S_SERVER = env_str("PODIUM_K8S_SERVER")
# Attendee namespaces are <prefix><sandbox id>; on PodSecurityPolicy clusters it also names Podium's policies and
# their ClusterRoles (pod_security_spec.psp_name), so two installs with two prefixes never share them.
PODIUM_K8S_NAMESPACE_PREFIX = env_str("PODIUM_K8S_NAMESPACE_PREFIX", "podium-")
# Each attendee namespace's ResourceQuota and pod count: what the attendee creates (the workspace pod lives in
# PODIUM_K8S_WORKSPACES_NAMESPACE and does not count).
PODIUM_K8S_QUOTA_CPU = env_str("PODIUM_K8S_QUOTA_CPU", "6")
PODIUM_K8S_QUOTA_MEMORY = env_str("PODIUM_K8S_QUOTA_MEMORY", "8Gi")
PODIUM_K8S_QUOTA_PODS = env_int("PODIUM_K8S_QUOTA_PODS", 20)
# Seconds for a namespace and its workspace pod to be ready (or an old namespace to be gone); one API call's own.
PODIUM_K8S_TIMEOUT = env_float("PODIUM_K8S_TIMEOUT", 180.0)
PODIUM_K8S_API_TIMEOUT = env_float("PODIUM_K8S_API_TIMEOUT", 30.0)
# Give the Kubernetes workspace pod a Docker engine sidecar (needs PODIUM_SANDBOX_SECURITY's rights on the cluster).
PODIUM_K8S_DOCKER = env_bool("PODIUM_K8S_DOCKER", default=True)
PODIUM_K8S_IMAGE_PULL_POLICY = env_str("PODIUM_K8S_IMAGE_PULL_POLICY", "IfNotPresent")
# The workspace pod's RuntimeClass, for clusters that offer a sandboxing runtime (gVisor, Kata, sysbox);
# "" = the cluster's default runtime (sysbox mode then asks for "sysbox-runc").
PODIUM_K8S_RUNTIME_CLASS = env_str("PODIUM_K8S_RUNTIME_CLASS")
# Where every workspace pod (and its Docker sidecar) lives, apart from attendees' namespaces; attendees have no
# rights in it.
PODIUM_K8S_WORKSPACES_NAMESPACE = env_str("PODIUM_K8S_WORKSPACES_NAMESPACE", "podium-workspaces")
# What attendees' pods may do in their namespace (README "Kubernetes"): "baseline" (no privileged container, no
# host namespace, port or path, no capability beyond the runtime's defaults) or "restricted" (also non-root,
# every capability dropped; the deck's mysql image does not run under it). Pod Security Admission labels pin
# PODIUM_K8S_POD_SECURITY_VERSION of the standards.
PODIUM_K8S_POD_SECURITY = env_str("PODIUM_K8S_POD_SECURITY", "baseline")
PODIUM_K8S_POD_SECURITY_VERSION = env_str("PODIUM_K8S_POD_SECURITY_VERSION", "v1.25")
# What enforces it: "auto" (Pod Security Admission from 1.23, PodSecurityPolicy before; checked with a dry-run
# probe, and a cluster where neither refuses a privileged hostPath pod is refused), "psa", "psp", or "none":
# the operator's explicit opt-out, under which attendees' kubectl can take the node (trusted rooms only).
PODIUM_K8S_POLICY_ENGINE = env_str("PODIUM_K8S_POLICY_ENGINE", "auto")

# --- Sandbox network isolation (provision/firewall.py) ----------------------------
# `manage.py sandbox prepare` installs iptables rules so a Docker workspace reaches nothing on this host but the
# registry mirror, the cluster DNS and (PODIUM_KUBECONFIG's server, when on this host) the Kubernetes API, and no
# other sandbox. Needs root. Set it to 0 where the operator manages the host's firewall. Off under pytest, whose
# `sandbox prepare` runs must not rewrite the host's rules; tests/sandbox/test_isolation.py installs them itself.
PODIUM_SANDBOX_FIREWALL = env_bool("PODIUM_SANDBOX_FIREWALL", default=PODIUM_ENV != "test")
