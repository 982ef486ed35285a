# The two commands of the README, plus helpers for developers.
.PHONY: serve test lint format

serve:  ## set up and serve Podium on http://127.0.0.1:8000
	scripts/serve.sh

test:  ## set up and run the whole test suite (starts MariaDB, Redis, Docker as needed)
	scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .
