"""Helpers for calling the tipgrants API from Python.

The generated stubs are in the package ``tipgrants.v1`` (one ``*_pb2`` module per ``.proto``
file, ``*_pb2_grpc`` for the services). This module adds what every caller needs around them:

- :func:`connect`: a channel to ``http://HOST:PORT`` or ``https://HOST:PORT`` that sends the
  API token as ``authorization: Bearer <token>`` on every call;
- :func:`field_violations` and :func:`error_reason`: the ``google.rpc`` details of an error
  (which request fields were wrong, and the stable reason, such as ``INVALID_FIELD``);
- :func:`short_enum_name`: ``GRANT_STATE_ACTIVE`` -> ``ACTIVE``, the form list filters take.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple, Union

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

__all__ = [
    "BearerToken",
    "FieldViolation",
    "connect",
    "error_reason",
    "field_violations",
    "short_enum_name",
]


if TYPE_CHECKING:
    # The generic type of generated enums in the stubs (types-protobuf, mypy-protobuf).
    from google.protobuf.internal.enum_type_wrapper import _EnumTypeWrapper

Metadata = Tuple[Tuple[str, Union[str, bytes]], ...]


class _CallDetails(grpc.ClientCallDetails):
    """The details of a call, with metadata replaced (grpc's own class is abstract)."""

    def __init__(self, details: grpc.ClientCallDetails, metadata: Metadata) -> None:
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


class BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds ``authorization: Bearer <token>`` to every call, of every kind.

    An interceptor rather than call credentials: gRPC refuses call credentials on a plaintext
    channel, and a server on a loopback address (or behind a proxy that ends TLS) is plaintext.
    """

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("an API token is needed (tg_...)")
        self._header: Tuple[str, Union[str, bytes]] = ("authorization", f"Bearer {token}")

    def _with_token(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        kept = tuple(item for item in (details.metadata or ()) if item[0] != "authorization")
        return _CallDetails(details, kept + (self._header,))

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: Any, request: Any) -> Any:
        return continuation(self._with_token(details), request)

    def intercept_stream_unary(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)

    def intercept_stream_stream(self, continuation: Callable[..., Any], details: Any, requests: Any) -> Any:
        return continuation(self._with_token(details), requests)


def connect(server: str, token: str, *, root_certificates: Optional[bytes] = None) -> grpc.Channel:
    """A channel to ``server`` that sends ``token`` with every call.

    ``server`` is ``http://HOST:PORT`` (plaintext: a loopback address, or behind a proxy that ends
    TLS) or ``https://HOST:PORT`` (TLS, checked against the system's certificate authorities, or
    against ``root_certificates``, PEM bytes, when given). Use it with any generated stub::

        channel = connect("http://127.0.0.1:50051", token)
        grants = grant_service_pb2_grpc.GrantServiceStub(channel)
    """
    if server.startswith("https://"):
        credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
        channel = grpc.secure_channel(server[len("https://") :].rstrip("/"), credentials)
    elif server.startswith("http://"):
        channel = grpc.insecure_channel(server[len("http://") :].rstrip("/"))
    else:
        raise ValueError(f"{server!r}: write http://HOST:PORT (plaintext) or https://HOST:PORT (TLS)")
    return grpc.intercept_channel(channel, BearerToken(token))


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request, from ``google.rpc.BadRequest``.

    ``field`` is a path into the request, such as ``grant.title`` or ``outcomes[3].country_code``
    (``outcomes[N]`` is the N-th outcome of an upload, from 0).
    """

    field: str
    description: str
    reason: str


def _details(error: grpc.RpcError) -> List[Any]:
    status = rpc_status.from_call(error)
    return list(status.details) if status is not None else []


def field_violations(error: grpc.RpcError) -> List[FieldViolation]:
    """The field violations of an ``INVALID_ARGUMENT`` error (empty for other errors)."""
    violations: List[FieldViolation] = []
    for detail in _details(error):
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.extend(
                FieldViolation(violation.field, violation.description, violation.reason)
                for violation in bad_request.field_violations
            )
    return violations


def error_reason(error: grpc.RpcError) -> Optional[str]:
    """The stable reason of an error (``google.rpc.ErrorInfo.reason``, e.g. ``INVALID_FIELD``,
    ``ETAG_MISMATCH``): what a program should branch on, rather than the message."""
    for detail in _details(error):
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return None


def short_enum_name(enum: _EnumTypeWrapper[Any], value: int) -> str:
    """The name list filters take: ``short_enum_name(grant_pb2.GrantState, grant_pb2.GRANT_STATE_ACTIVE)``
    is ``ACTIVE``. Messages carry the full constant (``GRANT_STATE_ACTIVE``); a filter such as
    ``state = ACTIVE`` takes the name without its enum's prefix."""
    prefix = re.sub(r"(?<!^)(?=[A-Z])", "_", enum.DESCRIPTOR.name).upper() + "_"
    name = enum.Name(value)
    return name[len(prefix) :] if name.startswith(prefix) else name
