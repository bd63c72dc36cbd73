"""Decodes OTLP/HTTP protobuf bodies with the official generated classes (opentelemetry-proto).

argv: files, one ExportTraceServiceRequest each. Prints one JSON object: spans (ids as hex), each
with its resource's attributes, and `reencoded`: whether every body serializes back to the same bytes
(no field the schema does not know, nothing mis-typed).
"""
import json
import sys

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


def value_of(any_value):
    kind = any_value.WhichOneof("value")
    return None if kind is None else getattr(any_value, kind)


def attrs(key_values):
    return {kv.key: value_of(kv.value) for kv in key_values}


spans = []
reencoded = True
for path in sys.argv[1:]:
    body = open(path, "rb").read()
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    if request.SerializeToString(deterministic=True) != body:
        reencoded = False
    for resource_spans in request.resource_spans:
        resource = attrs(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append({
                    "traceId": span.trace_id.hex(),
                    "spanId": span.span_id.hex(),
                    "parentSpanId": span.parent_span_id.hex(),
                    "traceState": span.trace_state,
                    "name": span.name,
                    "kind": span.kind,
                    "start": span.start_time_unix_nano,
                    "end": span.end_time_unix_nano,
                    "attributes": attrs(span.attributes),
                    "status": span.status.code,
                    "flags": span.flags,
                    "scope": scope_spans.scope.name,
                    "resource": resource,
                })
print(json.dumps({"spans": spans, "reencoded": reencoded}))
