"""Playback's clock and sound, Qt-free: which frame is on screen while the timeline plays,
and its mixed sound through sounddevice where an output device opens.

The clock reads a monotonic clock and gives the frame due now, so a slow frame is dropped
rather than delaying the ones after it: picture and sound never drift apart. Without a
sound device (PortAudio missing, no default output, a device that will not open) playback
goes on silent and says so.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from app.model.timeline_render import frame_count

NO_AUDIO = "No audio device: playing without sound"
log = logging.getLogger(__name__)


def last_frame_time(duration: Fraction, fps: Fraction) -> Fraction:
    """When the last frame of `duration` seconds at `fps` starts (0 for none)."""
    return max(0, frame_count(duration, fps) - 1) / fps


class PlaybackClock:
    """The frame due at each moment of playback from `start` to `end` at `fps`."""

    def __init__(
        self,
        start: Fraction,
        end: Fraction,
        fps: Fraction,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.start, self.end, self.fps, self._now = start, end, fps, now
        self._began = now()

    @property
    def position(self) -> Fraction:
        """Seconds of timeline played: the start plus the time since playing began."""
        elapsed = Fraction(self._now() - self._began).limit_denominator(1_000_000)
        return self.start + max(Fraction(0), elapsed)

    @property
    def finished(self) -> bool:
        return self.position >= self.end

    def frame_time(self) -> Fraction:
        """The start of the frame on screen now (at most the last frame's)."""
        due = Fraction(math.floor(self.position * self.fps)) / self.fps
        return min(due, last_frame_time(self.end, self.fps))


def audio_problem() -> str | None:
    """Why sound cannot play here (NO_AUDIO), or None when an output device is there."""
    try:
        import sounddevice

        device = sounddevice.query_devices(kind="output")
    except Exception as exc:  # PortAudio missing (OSError), no default device, any driver's
        log.info("no sound output: %s", exc)
        return NO_AUDIO
    if not device or int(device.get("max_output_channels", 0)) < 1:
        return NO_AUDIO
    return None


def play_sound(samples: np.ndarray, rate: int) -> str | None:
    """Start playing (C, N) float32 samples now, without waiting; NO_AUDIO when no device
    takes them (playback then goes on silent)."""
    problem = audio_problem()
    if problem is not None or samples.shape[1] == 0:
        return problem
    try:
        import sounddevice

        sounddevice.play(np.ascontiguousarray(samples.T), rate)
    except Exception as exc:  # a device that is listed but will not open
        log.info("sound output failed: %s", exc)
        return NO_AUDIO
    return None


def stop_sound() -> None:
    """Stop the sound play_sound started (nothing when none plays)."""
    try:
        import sounddevice

        sounddevice.stop()
    except Exception as exc:  # no PortAudio: nothing was playing
        log.debug("stopping sound: %s", exc)
