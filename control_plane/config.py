"""The control plane's tuning values; `bot` builds them from its settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ControlPlaneSettings(Protocol):
    """The settings fields the control plane reads (`bot.settings.Settings` has them)."""

    control_plane_skip_threshold: float
    control_plane_ambiguity_margin: float
    control_plane_shadow_rate: float


@dataclass(frozen=True)
class ControlPlaneConfig:
    # Skip LLM validation when the best pattern confidence reaches this... (above 1: always validate)
    skip_threshold: float = 0.9
    # ...and beats the runner-up intent by at least this much.
    ambiguity_margin: float = 0.1
    # Share of skipped messages validated anyway, in the background, to measure agreement.
    shadow_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.skip_threshold < 0:
            raise ValueError("skip_threshold must be >= 0")
        if not 0 <= self.ambiguity_margin <= 1:
            raise ValueError("ambiguity_margin must be between 0 and 1")
        if not 0 <= self.shadow_rate <= 1:
            raise ValueError("shadow_rate must be between 0 and 1")

    @classmethod
    def from_settings(cls, settings: ControlPlaneSettings) -> ControlPlaneConfig:
        return cls(
            skip_threshold=settings.control_plane_skip_threshold,
            ambiguity_margin=settings.control_plane_ambiguity_margin,
            shadow_rate=settings.control_plane_shadow_rate,
        )
