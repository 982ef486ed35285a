# The two commands of the README, plus helpers for developers.
.PHONY: serve test lint format deploy

serve:  ## set up and serve Podium on http://127.0.0.1:8000
	scripts/serve.sh

test:  ## set up and run the whole test suite (starts MariaDB, Redis, Docker as needed)
	scripts/test.sh

deploy:  ## Podium as a service on this machine: docker-compose.yml, built and started (README "Deploy")
	scripts/compose-up.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

# The test Kubernetes cluster (tests/cluster/README.md); needs root.
.PHONY: cluster-build cluster-up cluster-down

cluster-build:  ## build the cluster's Kubernetes 1.20.2 binaries from Debian's source (once per machine)
	tests/cluster/build.sh

cluster-up:  ## start the one-node test cluster (builds first if needed); prints the kubeconfig path
	tests/cluster/up.sh

cluster-down:  ## stop the test cluster and remove its pods' containers
	tests/cluster/down.sh
