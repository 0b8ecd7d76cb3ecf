"""The direction of imports between the layers (docs/architecture.md), checked on the source.

Every ``import`` and ``from … import`` in the package, at any depth (imports inside functions
count too), is read with ``ast`` and checked against what its layer may use.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "whyops"

# (layer: module prefix, allowed whyops prefixes besides itself). First match wins.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("whyops.wire", ()),
    # OTLP <-> WhyOps events on the GenAI conventions, and prices: pure, over the wire layer.
    ("whyops.otlp", ("whyops.wire",)),
    ("whyops.pricing", ("whyops.wire",)),
    ("whyops.server", ("whyops.wire", "whyops.otlp", "whyops.pricing", "whyops._version")),
    ("whyops.cli", ("whyops",)),
    ("whyops.testing", ("whyops",)),
    ("whyops.demo_agent", ("whyops",)),
    ("whyops.pytest_plugin", ("whyops",)),
    ("whyops.__main__", ("whyops",)),
    # the SDK: core, exporters (the otlp exporter uses whyops.otlp), client, integrations
    ("whyops", ("whyops.wire", "whyops.otlp")),
)
SDK_FORBIDDEN = (
    "whyops.server", "whyops.cli", "whyops.testing", "whyops.demo_agent", "whyops.pricing",
)  # fmt: skip


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [f"{base}.{alias.name}" for alias in node.names]
    return [name for name in found if name == "whyops" or name.startswith("whyops.")]


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _rule(module: str) -> tuple[str, tuple[str, ...]]:
    return next(rule for rule in RULES if _within(module, rule[0]))


MODULES = sorted(PACKAGE.rglob("*.py"))


def _violations(module: str, imported: list[str]) -> list[str]:
    layer, allowed = _rule(module)
    wrong = []
    for name in imported:
        own = _within(name, layer)
        if layer == "whyops" and any(_within(name, bad) for bad in SDK_FORBIDDEN):
            own = False
        if not (own or any(_within(name, prefix) for prefix in allowed)):
            wrong.append(name)
    return wrong


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_each_module_imports_only_what_its_layer_may(path: Path) -> None:
    module = _module_name(path)
    wrong = _violations(module, _imports(path))
    assert not wrong, f"{module} ({_rule(module)[0]} layer) imports {wrong}"


def test_the_rules_catch_wrong_imports() -> None:
    """The check itself can fail, for each layer."""
    assert _violations("whyops._span", ["whyops.server.store.Store"]) == [
        "whyops.server.store.Store"
    ]
    assert _violations("whyops.wire.encode", ["whyops._capture.to_json_safe"]) != []
    assert _violations("whyops.server.app", ["whyops._span.Span", "whyops.wire.events"]) == [
        "whyops._span.Span"
    ]
    assert _violations("whyops.client._trace", ["whyops.wire.events.EventType"]) == []
    assert _violations("whyops.otlp.inbound", ["whyops.server.store.Store"]) != []
    assert _violations("whyops.pricing.cost", ["whyops.wire.usage", "whyops._span"]) == [
        "whyops._span"
    ]
