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
        description="Most array elements in one request (all arrays together); more is a 413.",
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
    log_flush_interval: float = Field(
        default=1.0,
        ge=0,
        le=60,
        allow_inf_nan=False,
        description="Seconds (at most 60) a log line may wait to be written with the next ones: "
        "one write for many lines, as Envoy's and nginx's buffered access logs. Warnings and "
        "errors are written at once, and everything kept when the service stops; a crash "
        "(SIGKILL, out of memory) loses at most the last interval's lines. `0`: every line at "
        "once.",
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
