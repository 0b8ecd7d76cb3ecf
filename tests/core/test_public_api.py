"""The public surface: a short, sorted ``__all__`` whose every name resolves."""

from __future__ import annotations

from pathlib import Path

import whyops


def test_all_is_sorted_and_every_name_resolves() -> None:
    assert whyops.__all__ == sorted(whyops.__all__)
    for name in whyops.__all__:
        assert getattr(whyops, name) is not None, name


def test_unknown_attributes_raise_attribute_error() -> None:
    try:
        whyops.no_such_name
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_flush_and_shutdown_report_when_tracing_is_off(tracing_off: None) -> None:
    report = whyops.flush(1)
    assert report == whyops.DeliveryReport() and report.ok
    assert whyops.shutdown(1) == whyops.DeliveryReport()


def test_dir_lists_the_public_names_only() -> None:
    assert dir(whyops) == sorted(whyops.__all__)
    assert {"WhyOps", "WhyOpsTrace", "span", "configure"} <= set(dir(whyops))
    assert not {"Any", "TYPE_CHECKING", "annotations"} & set(dir(whyops))


def test_all_is_complete() -> None:
    """Every public name defined in the package is in ``__all__``."""
    import types

    defined = {
        name
        for name, value in vars(whyops).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    } - {"Any", "TYPE_CHECKING", "annotations"}
    assert defined <= set(whyops.__all__), defined - set(whyops.__all__)


def test_span_is_typed_as_a_block_or_a_transparent_decorator(tmp_path: Path) -> None:
    """``with whyops.span("x") as s`` gives a Span; ``@whyops.span`` keeps the signature."""
    source = tmp_path / "typed.py"
    source.write_text(
        "import whyops\n"
        "@whyops.span\n"
        "def f(x: int) -> str:\n"
        "    return str(x)\n"
        "@whyops.span(kind='llm')\n"
        "def g(x: int) -> str:\n"
        "    return str(x)\n"
        "with whyops.span('step') as s:\n"
        "    reveal_type(s)\n"
        "reveal_type(f)\n"
        "reveal_type(g)\n"
    )
    from mypy import api

    out, err, _ = api.run(
        [str(source), "--no-incremental", "--follow-imports=silent", "--python-version=3.11"]
    )
    notes = [line.split("note: ", 1)[1] for line in out.splitlines() if "note: " in line]
    assert [note.replace("builtins.", "") for note in notes] == [
        'Revealed type is "whyops._span.Span"',
        'Revealed type is "def (x: int) -> str"',
        'Revealed type is "def (x: int) -> str"',
    ], out + err


def test_span_and_span_block_share_one_async_with() -> None:
    from whyops._api import SpanBlock
    from whyops._span import AsyncWith, Span

    for cls in (Span, SpanBlock):
        assert issubclass(cls, AsyncWith)
        assert "__aenter__" not in vars(cls) and "__aexit__" not in vars(cls)


def _whyops_classes(hint: object) -> set[type]:
    """The whyops classes a type hint mentions (through unions and generics)."""
    import typing

    found: set[type] = set()
    if isinstance(hint, type) and hint.__module__.startswith("whyops"):
        found.add(hint)
    for arg in typing.get_args(hint):
        found |= _whyops_classes(arg)
    return found


def test_types_in_public_signatures_are_exported() -> None:
    """A type a user meets in a public signature or record can be imported from ``whyops``."""
    import inspect
    import typing

    import attrs

    owners: list[object] = [whyops.Span, whyops.SpanRecord, whyops.DeliveryReport]
    mentioned: set[type] = set()
    for owner in owners:
        if attrs.has(owner):  # type: ignore[arg-type]
            hints = typing.get_type_hints(owner)
            mentioned |= {c for hint in hints.values() for c in _whyops_classes(hint)}
        for name, member in inspect.getmembers(owner, inspect.isfunction):
            if not name.startswith("_"):
                hints = typing.get_type_hints(member)
                mentioned |= {c for hint in hints.values() for c in _whyops_classes(hint)}
    exported = {getattr(whyops, name) for name in whyops.__all__}
    assert {whyops.Status, whyops.TokenUsage, whyops.ThinkingBlock} <= mentioned
    assert mentioned <= exported, mentioned - exported
