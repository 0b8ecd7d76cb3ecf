"""The public surface: a short, sorted ``__all__`` whose every name resolves."""

from __future__ import annotations

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
