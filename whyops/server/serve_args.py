"""The ``whyops serve`` flags; each one overrides its environment variable (docs/server.md)."""

from __future__ import annotations

import argparse

import attrs

from whyops.server.settings import (
    DEFAULT_HEADER_TIMEOUT_S,
    DEFAULT_MAX_CONNECTIONS,
    ServerSettings,
    env_defaults,
)

EPILOG = """\
On first start with no --api-key, the server generates a key, prints it once (it is stored
hashed) and prints the web page's address with the key in it (#key=...). Point the SDK at
the server with WHYOPS_BASE_URL and WHYOPS_API_KEY. Flags override the environment variables
named in each flag's help.

examples:
  whyops serve --simulate          # offline: the proxy answers from the built-in simulator
  whyops serve --port 9000 --db traces.db --api-key my-key
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``serve`` flags; each one overrides its environment variable (docs/server.md)."""
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add = parser.add_argument
    add("--host", help="interface to listen on (default 127.0.0.1; env WHYOPS_SERVER_HOST)")
    add("--port", type=int, help="port (default 8787, 0 = any free port; env WHYOPS_SERVER_PORT)")
    add(
        "--db",
        dest="db_path",
        metavar="PATH|URL",
        help="SQLite file, created if missing, or a postgresql://user:pass@host:5432/dbname URL"
        " (default .whyops/whyops.db; env WHYOPS_SERVER_DB)",
    )
    add(
        "--api-key",
        dest="api_keys",
        action="append",
        metavar="KEY[=PROJECT]",
        help="accept this API key; repeatable; keys with the same =PROJECT share their traces"
        " (env WHYOPS_SERVER_API_KEYS, comma-separated). Default: a key generated on first start",
    )
    add(
        "--api-key-file",
        metavar="PATH",
        help="read keys from this file, one KEY[=PROJECT] a line, so they do not show in the"
        " process list (env WHYOPS_SERVER_API_KEY_FILE)",
    )
    add(
        "--simulate",
        action="store_true",
        default=None,
        help="answer proxied model calls from the built-in simulator: no provider key, no"
        " internet (env WHYOPS_SERVER_SIMULATE)",
    )
    _add_upstream_arguments(parser)
    _add_limit_arguments(parser)
    _add_otlp_arguments(parser)
    _add_cost_arguments(parser)
    add(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug", "trace"),
        help="default info (env WHYOPS_SERVER_LOG_LEVEL)",
    )
    add("--access-log", action="store_true", help="log every request")


def _add_limit_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--max-body-bytes", type=int, metavar="N", help="largest request body accepted (413 above)")
    add(
        "--max-batch-events",
        type=int,
        metavar="N",
        help="most events in one posted array (413 above)",
    )
    add(
        "--max-trace-events",
        type=int,
        metavar="N",
        help="most events the graph and span views load per trace; beyond it they answer"
        ' "truncated": true (default 100000; env WHYOPS_SERVER_MAX_TRACE_EVENTS)',
    )
    add(
        "--max-connections",
        type=int,
        metavar="N",
        help="most open client connections; one more is answered 503 and closed (default"
        f" {DEFAULT_MAX_CONNECTIONS}; env WHYOPS_SERVER_MAX_CONNECTIONS)",
    )
    add(
        "--header-timeout",
        type=float,
        metavar="SECONDS",
        help="time to send a request's head, and the longest pause within its body; then 408"
        f" and closed (default {DEFAULT_HEADER_TIMEOUT_S:g}; env WHYOPS_SERVER_HEADER_TIMEOUT)",
    )


def _add_upstream_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--openai-base-url", metavar="URL", help="OpenAI upstream (env OPENAI_BASE_URL)")
    add("--openai-api-key", metavar="KEY", help="OpenAI key for the proxy (env OPENAI_API_KEY)")
    add("--anthropic-base-url", metavar="URL", help="Anthropic upstream (env ANTHROPIC_BASE_URL)")
    add(
        "--anthropic-api-key",
        metavar="KEY",
        help="Anthropic key for the proxy (env ANTHROPIC_API_KEY)",
    )
    add(
        "--default-agent",
        metavar="NAME",
        help="agent of proxied calls without X-Agent-Name (default 'default';"
        " env WHYOPS_SERVER_DEFAULT_AGENT)",
    )
    add(
        "--require-agent-name",
        action="store_true",
        default=None,
        help="refuse proxied model calls without X-Agent-Name"
        " (env WHYOPS_SERVER_REQUIRE_AGENT_NAME)",
    )
    add(
        "--no-signature",
        dest="signature",
        action="store_false",
        default=None,
        help="never add the invisible trace signature to answers (env WHYOPS_SERVER_NO_SIGNATURE)",
    )


def _add_otlp_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--otlp-export",
        dest="otlp_export_url",
        metavar="URL",
        help="forward everything stored, proxied calls included, to this OTLP/HTTP traces"
        " endpoint (e.g. http://127.0.0.1:4318/v1/traces), durably: it catches up after a"
        " restart or an outage (env WHYOPS_SERVER_OTLP_EXPORT)",
    )
    add(
        "--otlp-export-header",
        dest="otlp_export_headers",
        action="append",
        metavar="NAME=VALUE",
        help="a header for --otlp-export, e.g. authorization=Bearer%%20KEY; repeatable"
        " (env WHYOPS_SERVER_OTLP_EXPORT_HEADERS, comma-separated, as OTEL_EXPORTER_OTLP_HEADERS)",
    )


def _add_cost_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--prices",
        dest="prices_path",
        metavar="PATH",
        help="a price file whose rows override and extend the shipped table (docs/cost.md;"
        " env WHYOPS_SERVER_PRICES)",
    )
    add(
        "--budget",
        dest="budgets",
        action="append",
        metavar="SPEC",
        help="refuse proxied calls past a budget, e.g. agent=support:10USD/day or"
        " key=whyops_ab:2000000tokens/day; repeatable (env WHYOPS_SERVER_BUDGETS,"
        " semicolon-separated)",
    )


# Flags given several times: a tuple in the settings.
_REPEATED = frozenset({"api_keys", "otlp_export_headers", "budgets"})


def settings_from_args(args: argparse.Namespace) -> ServerSettings:
    values = env_defaults()
    for field in attrs.fields(ServerSettings):
        given = getattr(args, field.name, None)
        if given is not None:
            values[field.name] = tuple(given) if field.name in _REPEATED else given
    return ServerSettings(**values)  # type: ignore[arg-type]
