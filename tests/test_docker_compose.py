"""docker-compose.yml, checked against what the code, the realm file and scripts/keycloak.sh say.

No Docker engine is needed: PyYAML reads the file, and `${VAR}` references are resolved as
compose does, against a sample environment.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from m2m_auth.conf import ENVIRONMENT

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
KEYCLOAK_SH = ROOT / "scripts" / "keycloak.sh"
REALM_FILE = ROOT / "keycloak" / "realm-techstore.json"

SERVICES = {"keycloak", "postgres", "redis", "notifications", "shop", "worker"}
INFRASTRUCTURE = ("keycloak", "postgres", "redis")
SHOP_SETTINGS = "config.settings.shop"
NOTIFICATIONS_SETTINGS = "config.settings.notifications"

# Where the code reads the environment: python files under these folders (migrations aside).
CODE_DIRS = ("config", "m2m_auth", "shop", "notifications")
NOT_SERVICE_CODE = {"config/settings/test.py"}  # the test suite's settings
ENV_HELPERS = {"env_str", "env_bool", "env_list", "env_int", "env_required", "env_database"}
# Which service reads a file's variables: the settings module; None is every Django service.
SCOPE_BY_PREFIX = {
    "config/settings/shop.py": SHOP_SETTINGS,
    "shop/": SHOP_SETTINGS,
    "config/settings/notifications.py": NOTIFICATIONS_SETTINGS,
    "notifications/": NOTIFICATIONS_SETTINGS,
}
# m2m_auth.conf settings by side: the shop calls (service account), the notification service
# receives (validates tokens). The rest (KEYCLOAK_*, CACHE_ALIAS, ...) matter to both.
CALLER_SETTINGS = {name for name in ENVIRONMENT if name.startswith(("CLIENT_", "TOKEN_"))}
RECEIVER_SETTINGS = {
    "AUDIENCE",
    "ALGORITHMS",
    "LEEWAY",
    "MAX_TOKEN_BYTES",
    "WWW_AUTHENTICATE_REALM",
    "VALIDATED_TOKEN_CACHE_SIZE",
}
CALLERS = {SHOP_SETTINGS}
RECEIVERS = {NOTIFICATIONS_SETTINGS}
SECRET_NAME = re.compile(r"SECRET|PASSWORD")


# --- Compose's ${VAR} interpolation ----------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$(?:\$|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\})")
# A value that is nothing but one reference with no default (or an empty one).
_BARE_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*|:?-)?\}")


class MissingVariable(LookupError):
    pass


def references(value: str) -> set[str]:
    return {match["name"] for match in _INTERPOLATION.finditer(value) if match["name"]}


def interpolate(value: str, environment: Mapping[str, str]) -> str:
    """`value` as compose passes it on: `$$` is `$`, `${VAR:-default}` and friends resolved."""

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"]
        current = environment.get(name)
        if op in (":?", "?") and (current is None or (op == ":?" and not current)):
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-") and (current is None or (op == ":-" and not current)):
            return arg
        if op in (":+", "+"):
            return arg if current is not None and (op == "+" or current) else ""
        return current or ""

    resolved = _INTERPOLATION.sub(substitute, value)
    leftover = _INTERPOLATION.sub("", value)
    if "$" in leftover:
        raise ValueError(f"{value!r}: write ${{VAR}} for a variable and $$ for a literal $")
    return resolved


# --- The compose file, and what it says -----------------------------------------------------------


@cache
def compose() -> dict:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict) and isinstance(document.get("services"), dict)
    return document


def services() -> dict[str, dict]:
    return compose()["services"]


def all_strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [text for value in node.values() for text in all_strings(value)]
    if isinstance(node, list):
        return [text for value in node for text in all_strings(value)]
    return [node] if isinstance(node, str) else []


@cache
def sample_environment() -> dict[str, str]:
    """A value for every variable the file references, as a .env would give them."""
    names = {name for text in all_strings(compose()) for name in references(text)}
    return {name: f"sample-{name.lower().replace('_', '-')}" for name in names}


def raw_environment(service: str) -> dict[str, Any]:
    environment = services()[service].get("environment", {})
    assert isinstance(environment, dict), f"{service}: write environment as a mapping"
    return environment


def environment(service: str, values: Mapping[str, str] | None = None) -> dict[str, str]:
    values = sample_environment() if values is None else values
    return {name: interpolate(str(value), values) for name, value in raw_environment(service).items()}


def django_services() -> dict[str, str]:
    """Every container running Django, with its settings module."""
    return {
        name: raw_environment(name)["DJANGO_SETTINGS_MODULE"]
        for name in services()
        if "DJANGO_SETTINGS_MODULE" in raw_environment(name)
    }


def is_one_shot(service: str) -> bool:
    return services()[service].get("restart") == "no"


def long_running() -> list[str]:
    return [name for name in services() if not is_one_shot(name)]


def command(service: str) -> list[str]:
    value = services()[service].get("command", [])
    assert isinstance(value, list), f"{service}: write command as a list"
    return [str(part) for part in value]


def option(service: str, flag: str) -> str | None:
    """The value of `--flag=value` in a service's command."""
    for part in command(service):
        if part.startswith(f"{flag}="):
            return part.partition("=")[2]
    return None


def bind_port(service: str) -> int:
    bind = option(service, "--bind")
    assert bind, f"{service}: gunicorn --bind=HOST:PORT"
    return int(bind.rpartition(":")[2])


def volumes(service: str) -> list[tuple[str, str, str]]:
    """Short-syntax volumes as (source, target, mode)."""
    result = []
    for volume in services()[service].get("volumes", []):
        source, target, *mode = str(volume).split(":")
        result.append((source, target, mode[0] if mode else "rw"))
    return result


def depends_on(service: str) -> dict[str, str]:
    value = services()[service].get("depends_on", {})
    assert isinstance(value, dict), f"{service}: depends_on must use the long syntax with a condition"
    return {target: (spec or {}).get("condition", "") for target, spec in value.items()}


def keycloak_sh() -> str:
    return KEYCLOAK_SH.read_text()


def keycloak_sh_start_flags() -> list[str]:
    """The arguments scripts/keycloak.sh gives `kc.sh start-dev`."""
    match = re.search(r'exec "\$\{KC_HOME\}/bin/kc\.sh" start-dev((?:[^\n]*\\\n)*[^\n]*)', keycloak_sh())
    assert match, "scripts/keycloak.sh no longer runs kc.sh start-dev"
    return [part.strip('"') for part in match.group(1).replace("\\\n", " ").split()]


def realm_placeholders() -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}", REALM_FILE.read_text()))


# --- What the code reads ---------------------------------------------------------------------------


def _scope(relative: str) -> str | None:
    for prefix, scope in SCOPE_BY_PREFIX.items():
        if relative == prefix or (prefix.endswith("/") and relative.startswith(prefix)):
            return scope
    return None


def _called_name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return f"{ast.unparse(func.value)}.{func.attr}" if func.attr in ("get", "getenv") else func.attr
    return ""


def _render(template: ast.JoinedStr, parameter: str, argument: str) -> str | None:
    """An f-string of one parameter (`{name}` or `{name.upper()}`) with that parameter bound."""
    parts = []
    for part in template.values:
        if isinstance(part, ast.Constant):
            parts.append(str(part.value))
        elif ast.unparse(part.value) == parameter:
            parts.append(argument)
        elif ast.unparse(part.value) == f"{parameter}.upper()":
            parts.append(argument.upper())
        else:
            return None
    return "".join(parts)


@cache
def environment_read_by_code() -> dict[str | None, set[str]]:
    """Variable names read by the services' code, by settings module (None: every service)."""
    names: dict[str | None, set[str]] = {None: set(), SHOP_SETTINGS: set(), NOTIFICATIONS_SETTINGS: set()}
    templates: dict[str, tuple[str, ast.JoinedStr]] = {}  # function -> (its parameter, f-string)
    calls: list[tuple[str | None, ast.Call]] = []
    unresolved = []
    for directory in CODE_DIRS:
        for path in sorted((ROOT / directory).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in NOT_SERVICE_CODE or "/migrations/" in relative:
                continue
            scope = _scope(relative)
            tree = ast.parse(path.read_text(), filename=relative)
            templated = set()  # helper calls whose name a function builds from its parameter
            for function in [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]:
                for call in [node for node in ast.walk(function) if isinstance(node, ast.Call)]:
                    if _called_name(call) in ENV_HELPERS and call.args and isinstance(call.args[0], ast.JoinedStr):
                        parameters = [argument.arg for argument in function.args.args]
                        templates[function.name] = (parameters[0] if parameters else "", call.args[0])
                        templated.add(call)
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Subscript)
                    and ast.unparse(node.value) == "os.environ"
                    and isinstance(node.slice, ast.Constant)
                ):
                    names[scope].add(node.slice.value)
                if not isinstance(node, ast.Call):
                    continue
                calls.append((scope, node))
                called = _called_name(node)
                first = node.args[0] if node.args else None
                if called not in ENV_HELPERS | {"os.environ.get", "os.getenv"}:
                    continue
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    names[scope].add(first.value)
                elif called in ENV_HELPERS and node not in templated:
                    unresolved.append(f"{relative}:{node.lineno}: {ast.unparse(node)}")
    # A helper that builds the name, such as service_database("shop") -> SHOP_DATABASE_URL.
    for scope, call in calls:
        called = _called_name(call)
        if called in templates and call.args and isinstance(call.args[0], ast.Constant):
            parameter, template = templates[called]
            name = _render(template, parameter, str(call.args[0].value))
            if name is None:
                unresolved.append(f"{called}(): {ast.unparse(template)}")
            else:
                names[scope].add(name)
    assert not unresolved, f"environment names this test cannot work out: {unresolved}"
    # m2m_auth reads its settings' variables when used: by side.
    for setting, variable in ENVIRONMENT.items():
        if setting in CALLER_SETTINGS:
            for module in CALLERS:
                names[module].add(variable)
        elif setting in RECEIVER_SETTINGS:
            for module in RECEIVERS:
                names[module].add(variable)
        else:
            names[None].add(variable)
    return names


# --- Interpolation ---------------------------------------------------------------------------------


def test_interpolation_follows_compose_rules():
    values = {"SET": "value", "EMPTY": ""}
    assert interpolate("${SET}/${UNSET}/$${SET}", values) == "value//${SET}"
    assert interpolate("${EMPTY:-default}|${EMPTY-default}|${UNSET-default}", values) == "default||default"
    with pytest.raises(MissingVariable, match="EMPTY: say why"):
        interpolate("${EMPTY:?say why}", values)
    with pytest.raises(ValueError, match="write"):
        interpolate("$SET", values)


# --- The stack -------------------------------------------------------------------------------------


def test_every_service_of_the_stack_is_defined():
    assert services().keys() >= SERVICES
    assert set(django_services().values()) == {SHOP_SETTINGS, NOTIFICATIONS_SETTINGS}


def test_every_reference_resolves_and_no_bare_dollar_is_left():
    for text in all_strings(compose()):
        interpolate(text, sample_environment())


def test_keycloak_runs_the_version_pinned_in_keycloak_sh():
    pinned = re.search(r'^readonly KC_VERSION="([^"]+)"', keycloak_sh(), re.MULTILINE)
    assert pinned, "KC_VERSION not found in scripts/keycloak.sh"
    image, _, tag = services()["keycloak"]["image"].rpartition(":")
    assert image == "quay.io/keycloak/keycloak"
    assert tag == pinned.group(1)


def test_keycloak_runs_in_the_same_mode_as_local_runs():
    assert command("keycloak")[0] == "start-dev"
    local_only = {"--http-host", "--http-port", "--http-management-port"}  # where the JVM listens
    local = {flag.partition("=")[0]: flag for flag in keycloak_sh_start_flags()}
    here = {flag.partition("=")[0]: flag for flag in command("keycloak")[1:]}
    assert here.keys() == local.keys() - local_only
    for name, flag in local.items():
        if name not in local_only and "$" not in flag:
            assert here[name] == flag


def test_keycloak_imports_the_realm_file_local_runs_import():
    realm_file = re.search(r'^readonly REALM_FILE="\$\{REPO_ROOT\}/([^"]+)"', keycloak_sh(), re.MULTILINE)
    copied_to = re.search(r'cp "\$\{REALM_FILE\}" "\$\{KC_HOME\}/([^"]+)"', keycloak_sh())
    assert realm_file and copied_to
    assert (ROOT / realm_file.group(1)) == REALM_FILE
    mounts = [(source, mode) for source, target, mode in volumes("keycloak") if target.endswith(".json")]
    assert mounts == [(f"./{realm_file.group(1)}", "ro")]
    targets = [target for _, target, _ in volumes("keycloak")]
    assert f"/opt/keycloak/{copied_to.group(1)}" in targets
    assert "--import-realm" in command("keycloak")


def test_keycloak_requires_every_realm_placeholder_and_its_admin():
    required = realm_placeholders() | {"KC_BOOTSTRAP_ADMIN_USERNAME", "KC_BOOTSTRAP_ADMIN_PASSWORD"}
    assert len(realm_placeholders()) >= 4
    keycloak = raw_environment("keycloak")
    for name in required:
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", keycloak.get(name, "")), f"{name}: write ${{{name}:?why}}"
        with pytest.raises(MissingVariable, match=name):
            interpolate(keycloak[name], {**sample_environment(), name: ""})


def test_django_services_get_every_variable_the_code_reads():
    read = environment_read_by_code()
    assert {"DJANGO_SECRET_KEY", "KEYCLOAK_URL", "KEYCLOAK_PUBLIC_URL", "KEYCLOAK_REALM"} <= read[None]
    assert "SHOP_DATABASE_URL" in read[SHOP_SETTINGS]
    assert "NOTIFICATIONS_DATABASE_URL" in read[NOTIFICATIONS_SETTINGS]
    for service, module in django_services().items():
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), f"{service}: no settings module {module}"
        given = raw_environment(service)
        missing = (read[None] | read.get(module, set())) - given.keys()
        assert not missing, f"{service} ({module}) lacks {sorted(missing)}"
        unset = [name for name, value in given.items() if not isinstance(value, str)]
        assert not unset, f"{service}: give {unset} a string value (null means: copy the host's)"


def test_the_notification_service_gets_no_caller_credentials():
    caller_variables = {ENVIRONMENT[setting] for setting in CALLER_SETTINGS}
    assert "KEYCLOAK_CLIENT_SECRET" in caller_variables
    for service, module in django_services().items():
        if module not in CALLERS:
            given = raw_environment(service).keys()
            assert not given & caller_variables, service
            assert not [name for name in given if "CLIENT_SECRET" in name], service


def test_services_reach_keycloak_inside_while_tokens_carry_its_public_url():
    container_port = services()["keycloak"]["ports"][0].rpartition(":")[2]
    hostname = option("keycloak", "--hostname")
    host_port = services()["keycloak"]["ports"][0].partition(":")[0]
    assert interpolate(hostname, {}) == f"http://localhost:{host_port}"
    assert interpolate(hostname, {"KEYCLOAK_PUBLIC_URL": "https://id.example"}) == "https://id.example"
    for service in django_services():
        raw = raw_environment(service)
        assert raw["KEYCLOAK_URL"] == f"http://keycloak:{container_port}", service
        assert raw["KEYCLOAK_PUBLIC_URL"] == hostname, f"{service}: use the keycloak service's --hostname"
        assert raw["KEYCLOAK_AUTH_PATH"] == "", service  # Keycloak 17+ has no /auth
        assert raw["KEYCLOAK_REALM"] == json.loads(REALM_FILE.read_text())["realm"], service


def test_the_shop_authenticates_with_the_secrets_keycloak_imports():
    shop_api = next(
        client for client in json.loads(REALM_FILE.read_text())["clients"] if client["clientId"] == "shop-api"
    )
    keycloak = environment("keycloak")
    for service, module in django_services().items():
        if module == SHOP_SETTINGS:
            shop = environment(service)
            assert shop["KEYCLOAK_CLIENT_ID"] == "shop-api", service
            assert interpolate(shop_api["secret"], keycloak) == shop["KEYCLOAK_CLIENT_SECRET"], service
    # A placeholder a service reads under its own name (SHOP_WEB_CLIENT_SECRET) has Keycloak's value.
    for service in django_services():
        for name in realm_placeholders() & raw_environment(service).keys():
            assert environment(service)[name] == keycloak[name], f"{service}: {name}"


def test_no_secret_is_written_in_the_file():
    for service in services():
        for name, value in raw_environment(service).items():
            if SECRET_NAME.search(name):
                assert _BARE_REFERENCE.fullmatch(str(value)), f"{service}: {name} must be a ${{VAR:?...}} reference"
        for name, value in environment(service).items():
            password = urlsplit(value).password if "://" in value else None
            if password is not None:
                assert password in sample_environment().values(), f"{service}: {name} has a literal password"


def test_each_service_has_its_own_database_and_cache_shared_by_its_containers():
    postgres = raw_environment("postgres")
    init_scripts = [
        (ROOT / source).read_text()
        for source, target, _ in volumes("postgres")
        if target.startswith("/docker-entrypoint-initdb.d/")
    ]
    created = {postgres.get("POSTGRES_DB") or postgres["POSTGRES_USER"]}
    created |= {name for script in init_scripts for name in re.findall(r"CREATE DATABASE (\w+)", script)}
    databases, caches = {}, {}
    for service, module in django_services().items():
        given = environment(service)
        (database_url,) = [name for name in environment_read_by_code()[module] if name.endswith("_DATABASE_URL")]
        url = urlsplit(given[database_url])
        assert (url.scheme, url.hostname, url.port) == ("postgres", "postgres", 5432), service
        assert url.username == postgres["POSTGRES_USER"], service
        assert url.password == interpolate(postgres["POSTGRES_PASSWORD"], sample_environment()), service
        assert url.path.lstrip("/") in created, f"{service}: database {url.path} is never created"
        databases.setdefault(module, set()).add(url.path)
        redis = urlsplit(given["REDIS_URL"])
        assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379), service
        caches.setdefault(module, set()).add(redis.path)
    assert all(len(paths) == 1 for paths in [*databases.values(), *caches.values()]), (databases, caches)
    assert len({*map(frozenset, databases.values())}) == len(databases), "the services share a database"
    assert len({*map(frozenset, caches.values())}) == len(caches), "the services share a cache"


def test_the_shop_calls_the_notification_service_by_its_service_name():
    port = bind_port("notifications")
    assert f"{port}:{port}" in services()["notifications"]["ports"]
    for service, module in django_services().items():
        if module == SHOP_SETTINGS:
            assert raw_environment(service)["NOTIFICATION_URL"] == f"http://notifications:{port}", service


def test_the_worker_delivers_the_shops_notifications():
    assert command("worker")[-3:] == ["python", "manage.py", "deliver_notifications"]
    assert django_services()["worker"] == SHOP_SETTINGS
    assert raw_environment("worker") == raw_environment("shop")
    assert services()["worker"].get("deploy", {}).get("replicas", 1) >= 1


def test_depends_on_waits_for_health_or_for_one_shot_jobs_to_succeed():
    for service in services():
        for target, condition in depends_on(service).items():
            assert target in services(), f"{service} depends on unknown {target}"
            if is_one_shot(target):
                assert condition == "service_completed_successfully", f"{service} -> {target}"
            else:
                assert condition == "service_healthy", f"{service} -> {target}"
    for service, module in django_services().items():
        waits_for = depends_on(service)
        assert "postgres" in waits_for, service
        if is_one_shot(service):
            continue
        assert set(INFRASTRUCTURE) <= waits_for.keys(), service
        migrate_jobs = [
            job for job, job_module in django_services().items() if is_one_shot(job) and job_module == module
        ]
        assert migrate_jobs and set(migrate_jobs) <= waits_for.keys(), f"{service} starts before its migrations"
        reached = {urlsplit(value).hostname for value in environment(service).values() if "://" in value}
        assert reached & services().keys() <= waits_for.keys(), f"{service} may start before what it calls"


def test_one_shot_jobs_migrate_before_their_service_starts():
    jobs = [service for service in django_services() if is_one_shot(service)]
    assert {django_services()[job] for job in jobs} == {SHOP_SETTINGS, NOTIFICATIONS_SETTINGS}
    for job in jobs:
        script = next((part for part in command(job) if part.endswith(".sh")), None)
        assert script and (ROOT / script).is_file(), f"{job}: {command(job)}"
        assert "manage.py migrate" in (ROOT / script).read_text()


def test_every_long_running_service_has_a_healthcheck():
    for service in long_running():
        healthcheck = services()[service].get("healthcheck", {})
        assert not healthcheck.get("disable"), service
        test = healthcheck.get("test")
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, service
    for service in long_running():
        if option(service, "--bind"):
            port = bind_port(service)
            assert f"http://127.0.0.1:{port}/" in " ".join(services()[service]["healthcheck"]["test"]), service


def test_keycloaks_healthcheck_asks_the_management_port_for_readiness():
    healthcheck = services()["keycloak"]["healthcheck"]
    script = " ".join(healthcheck["test"])
    assert "/dev/tcp/127.0.0.1/9000" in script and "/health/ready" in script
    assert "--health-enabled=true" in command("keycloak")
    start_period = re.fullmatch(r"(\d+)s", healthcheck["start_period"])
    assert start_period and int(start_period.group(1)) >= 60  # first start: about 30 s on 2 CPUs


def test_django_containers_run_one_non_root_image_built_from_requirements():
    for service in django_services():
        build = services()[service].get("build", {})
        assert build == {"context": ".", "dockerfile": "docker/Dockerfile"}, service
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.MULTILINE)
    assert "pip install -r requirements.txt" in dockerfile
    users = re.findall(r"^USER (\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    requirements = (ROOT / "requirements.txt").read_text().lower()
    assert "gunicorn" in requirements and "psycopg" in requirements
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".venv" in ignored
