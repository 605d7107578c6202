"""Building blocks of the spec models: the base config and constrained scalar types."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from shiplane.spec import limits


class Model(BaseModel):
    """Every spec object: unknown keys are errors, values are frozen, keys are camelCase as in Kubernetes."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        hide_input_in_errors=True,
    )


def _stringify(value: Any) -> Any:
    """YAML turns `1`, `0.5` and `true` into numbers and booleans; Kubernetes wants strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _has_letter(value: str) -> str:
    if not any(c.isalpha() for c in value):
        raise ValueError("a port name needs at least one letter (a bare number would be read as a port number)")
    return value


# A Kubernetes resource quantity (the apiserver's own grammar, e.g. 100m, 0.5, 1Gi, 2e3).
QUANTITY = r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$"
Quantity = Annotated[str, BeforeValidator(_stringify), StringConstraints(pattern=QUANTITY)]
# RFC 1035 label: Service names, DNS names of pods. Capped so suffixes (-env-<hash>) still fit in 63.
DnsLabel = Annotated[str, StringConstraints(pattern=r"^[a-z]([-a-z0-9]*[a-z0-9])?$", max_length=40)]
# IANA service name: what Kubernetes accepts for a named port.
PortName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=15),
    AfterValidator(_has_letter),
]
EnvName = Annotated[str, StringConstraints(pattern=r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")]
Str = Annotated[str, BeforeValidator(_stringify)]
AbsPath = Annotated[str, StringConstraints(pattern=r"^/")]
PortNumber = Annotated[int, Field(ge=1, le=65535)]
PortRef = PortName | PortNumber
LabelValue = Annotated[
    str,
    BeforeValidator(_stringify),
    StringConstraints(pattern=r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$", max_length=63),
]


def _limit(check: Callable[[Any], str | None], what: str = "") -> AfterValidator:
    """A pydantic validator from a `spec.limits` check (None: fine, else what was expected)."""

    def validate(value: Any) -> Any:
        problem = check(value)
        if problem:
            raise ValueError(what + problem)
        return value

    return AfterValidator(validate)


def _key_limits(key: str) -> str | None:
    problem = limits.qualified_name(key)
    return problem.split(": ", 1)[1] if problem else None


Labels = dict[
    Annotated[
        str,
        StringConstraints(pattern=r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"),
        _limit(_key_limits),
    ],
    LabelValue,
]
# Annotations: qualified-name keys, at most 256 KiB of keys and values per object.
Annotations = Annotated[dict[str, str], _limit(limits.annotations)]
# A DNS subdomain (RFC 1123): RuntimeClass, StorageClass, IngressClass and Secret names, hosts.
DnsSubdomain = Annotated[str, _limit(limits.dns_subdomain, "expected ")]
Cidr = Annotated[str, _limit(limits.cidr, "expected ")]
CronSchedule = Annotated[str, _limit(limits.cron, "invalid cron schedule: ")]
Capability = Annotated[str, _limit(limits.capability, "expected ")]
Int32 = Annotated[int, Field(le=limits.INT32_MAX)]
SubPath = Annotated[str, _limit(limits.sub_path, "expected ")]
FieldPath = Annotated[str, _limit(limits.field_path, "expected ")]
ExtendedResource = Annotated[str, _limit(limits.extended_resource, "expected ")]
# An image reference: name[:tag][@sha256:digest]; tags must not be `latest`-implicit for promotion.
IMAGE = r"^[a-z0-9]+([._/:-][a-z0-9]+)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"
Image = Annotated[str, StringConstraints(pattern=IMAGE)]
# An image still to be built or chosen (written by `shiplane import`): it loads, and renders for a
# stage that does not pin images (dev on the local plane, where kwok never pulls); `.invalid` is
# reserved (RFC 2606), so no registry can ever serve it.
PLACEHOLDER_REGISTRY = "image-to-fill.invalid"


def exactly_one(model: BaseModel, names: tuple[str, ...], what: str) -> None:
    """Raise the error users see when an either/or block has none or several of its choices."""
    given = [n for n in names if getattr(model, n) is not None]
    if len(given) != 1:
        aliases = [to_camel(n) for n in names]
        found = ", ".join(to_camel(g) for g in given) or "none"
        raise ValueError(f"{what} needs exactly one of {', '.join(aliases)} (found: {found})")
