"""OpenTelemetry (OTLP) in and out: GenAI and OpenInference spans to WhyOps events and back.

Pure except for the protobuf bindings, which only ``whyops.otlp.proto`` imports, lazily. This
package imports nothing of whyops but ``whyops.wire`` (docs/architecture.md); import the
submodule you need (``conventions``, ``inbound``, ``outbound``, ``attributes``, ``proto``).
"""
