"""What the material tests share: the material's own settings, and the users table as MySQL has it (support module)."""

from __future__ import annotations

from tests.material.conftest import SAMPLE_APP


def compose_env() -> dict[str, str]:
    """The settings the material itself uses (sample_app/compose.env), so the test runs what users run."""
    env = {}
    for line in (SAMPLE_APP / "compose.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def users_in_database(mysql, env: dict[str, str]) -> list[dict]:
    """The users table as MySQL itself has it, in the API's shape."""
    result = mysql.exec_run(
        [
            "mysql",
            "-h127.0.0.1",
            "-uroot",
            f"-p{env['MYSQL_ROOT_PASSWORD']}",
            "-N",
            "-B",
            env["DATABASE_NAME"],
            "-e",
            "SELECT id, username, email FROM users ORDER BY id",
        ]
    )
    assert result.exit_code == 0, result.output
    rows = [line.split("\t") for line in result.output.decode().splitlines()]
    return [{"id": int(row[0]), "name": row[1], "email": row[2]} for row in rows]
