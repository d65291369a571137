"""The service's settings, read from environment variables prefixed LOSS_SERVICE_."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings"]

MIB = 2**20


class Settings(BaseSettings):
    """Server, limits, authentication and logging; every field is `LOSS_SERVICE_<NAME>`.

    `api_keys` is a comma-separated list (or a JSON list); empty means the API is open.
    """

    model_config = SettingsConfigDict(env_prefix="LOSS_SERVICE_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    max_body_bytes: int = Field(default=128 * MIB, gt=0)
    max_elements: int = Field(default=2**24, gt=0)
    api_keys: Annotated[tuple[str, ...], NoDecode] = ()
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    log_format: Literal["json", "text"] = "json"

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        """Accept "key1,key2" and '["key1", "key2"]' from the environment."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return tuple(json.loads(text))
            return tuple(key.strip() for key in text.split(",") if key.strip())
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value
