"""The service's settings, read from environment variables prefixed LOSS_SERVICE_."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["ENV_PREFIX", "Settings", "settings_table"]

ENV_PREFIX = "LOSS_SERVICE_"
MIB = 2**20


class Settings(BaseSettings):
    """Server, limits, authentication, logging and shutdown; every field is `LOSS_SERVICE_<NAME>`.

    The field descriptions are the README's settings table (a test keeps the two equal).
    """

    # hide_input_in_errors: a malformed LOSS_SERVICE_API_KEYS must not print the keys.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, hide_input_in_errors=True
    )

    host: str = Field(
        default="127.0.0.1",
        description="Address `loss-service serve` binds; `0.0.0.0` in the container image.",
    )
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port.")
    workers: int = Field(
        default=1,
        ge=1,
        description="Worker processes, supervised by uvicorn: a worker that dies is replaced. "
        "Metrics stay correct across workers (prometheus-client's multiprocess mode).",
    )
    max_body_bytes: int = Field(
        default=128 * MIB,
        gt=0,
        description="Largest request body, and largest gzip body once decompressed; more is a "
        "413 decided before the body is read.",
    )
    max_elements: int = Field(
        default=2**24,
        gt=0,
        description="Most array elements in one request, every array together: the array fields "
        "and array-valued parameters such as `class_weight`; more is a 413.",
    )
    max_evaluate_losses: int = Field(
        default=16,
        gt=0,
        description="Most losses one `/v1/evaluate` request may name; more is a 422.",
    )
    max_scored_elements: int = Field(
        default=2**23,
        gt=0,
        description="Most prediction elements one request may have scored, counted once per "
        "loss: an evaluate request of 4 losses over 1e6 predictions scores 4e6. More is a 413: "
        "the work and the response (a gradient per loss) grow with it, not with the body. The "
        "default lets one loss score the largest request max_elements allows (predictions and "
        "targets of 2^23 each), and a composite no more than that in all.",
    )
    max_groups: int = Field(
        default=65_536,
        gt=0,
        description="Most distinct `group_by` keys in one request; more is a 422.",
    )
    max_group_key_length: int = Field(
        default=256,
        gt=0,
        description="Longest `group_by` key, in characters; a longer one is a 422.",
    )
    max_object_keys: int = Field(
        default=256,
        gt=0,
        description="Most keys in any one object of a request body; more is a 422 decided "
        "while parsing (MessagePack) or right after (JSON), before validation.",
    )
    max_nesting_depth: int = Field(
        default=32,
        gt=2,
        description="Deepest nesting of objects and arrays in a request body; deeper is a 422.",
    )
    max_dimensions: int = Field(
        default=8,
        ge=2,
        le=32,
        description="Most dimensions of an array (a typed array's shape, or nested lists); "
        "more is a 422. Predictions and targets take at most 2 whatever this says.",
    )
    max_header_bytes: int = Field(
        default=64 * 1024,
        ge=4096,
        description="Largest request line and headers together; more is answered 431 and the "
        "connection closed, before the app sees the request.",
    )
    header_timeout: float = Field(
        default=10.0,
        gt=0,
        allow_inf_nan=False,
        description="Seconds a client may take to send its request line and headers, from the "
        "connection's first byte (or its opening); slower is answered 408 and closed.",
    )
    body_timeout: float = Field(
        default=60.0,
        gt=0,
        allow_inf_nan=False,
        description="Seconds a client may take to send the whole request body, once its headers "
        "are in; slower is answered 408 and closed. Raise it for large uploads over slow links.",
    )
    api_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated (or a JSON list). When set, every `/v1` route needs "
        "`Authorization: Bearer <key>` or `X-API-Key: <key>`; empty leaves the API open.",
    )
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        default="info", description="Level of the service's and uvicorn's logs."
    )
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="`json`: one object per line, for a log pipeline; `text`: for a terminal.",
    )
    cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated origins (or a JSON list) that browsers may call the API "
        "from, e.g. `https://dashboard.example`; `*` for any. Empty: no CORS headers at all.",
    )
    keep_alive_timeout: int = Field(
        default=75,
        ge=1,
        description="Seconds an idle keep-alive connection stays open. Longer than the idle "
        "timeout of the proxy in front (nginx's upstream keepalive: 60 s), so that the proxy, "
        "not the service, closes idle connections and never reuses one the service just closed.",
    )
    shutdown_timeout: int = Field(
        default=30,
        ge=0,
        description="Seconds that requests in flight get to finish after SIGTERM; one still "
        "running then is answered 503 and cut. Keep it below the orchestrator's grace period.",
    )

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        """Accept "key1,key2" and '["key1", "key2"]' from the environment."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    keys = json.loads(text)
                except ValueError:
                    keys = None
                if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                    # The message names no key: it ends up in a startup log.
                    raise ValueError("a value starting with [ must be a JSON list of strings")
                return tuple(keys)
            return tuple(key.strip() for key in text.split(",") if key.strip())
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    def __repr_args__(self) -> Any:
        """Keys never show in a repr (and so in no log or traceback that prints the settings)."""
        for name, value in super().__repr_args__():
            yield name, (f"<{len(value)} keys>" if name == "api_keys" else value)


def settings_table() -> str:
    """The README's settings table: variable, default and meaning of every setting."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, tuple):
            shown = "(none)" if not default else ",".join(default)
        else:
            shown = str(default)
        rows.append(f"| `{ENV_PREFIX}{name.upper()}` | `{shown}` | {field.description} |")
    return "\n".join(rows) + "\n"
