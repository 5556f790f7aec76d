"""Playback's clock and sound, Qt-free: which frame is on screen while the timeline plays,
its mixed sound through sounddevice where an output device opens, and `SoundPlayer`, the
Audio panel's player (an output stream fed from a position, looping, seeking, metering).

The clock reads a monotonic clock and gives the frame due now, so a slow frame is dropped
rather than delaying the ones after it: picture and sound never drift apart. Without a
sound device (PortAudio missing, no default output, a device that will not open) playback
goes on silent and says so.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any, Protocol

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


# ---- the Audio panel's player ----------------------------------------------------------------


class OutputStream(Protocol):
    """What SoundPlayer needs of sounddevice.OutputStream."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


# open_stream(rate, channels, callback) -> a stream that calls callback(outdata, frames,
# time, status) for each block it plays
StreamOpener = Callable[[int, int, Callable[..., None]], OutputStream]


def open_output_stream(rate: int, channels: int, callback: Callable[..., None]) -> OutputStream:
    """A sounddevice output stream of float32 samples (not started); OSError saying
    NO_AUDIO when there is no output device."""
    import sounddevice

    if audio_problem() is not None:
        raise OSError(NO_AUDIO)
    return sounddevice.OutputStream(
        samplerate=rate, channels=channels, dtype="float32", callback=callback
    )


class SoundPlayer:
    """Plays (C, N) float32 samples through an output stream: from any sample, once or
    looping between two samples, with seek while playing and the level of what it just
    played. The stream's callback runs on PortAudio's thread; the position is shared
    under a lock. Where no stream opens, `play` returns NO_AUDIO and nothing plays.
    """

    def __init__(self, open_stream: StreamOpener = open_output_stream) -> None:
        self._open = open_stream
        self._lock = threading.Lock()
        self._stream: OutputStream | None = None
        self._samples = np.zeros((1, 0), np.float32)
        self.rate = 0
        self._position = 0
        self._loop: tuple[int, int] | None = None
        self._levels = np.zeros(1, np.float32)
        self._ended = False

    @property
    def playing(self) -> bool:
        return self._stream is not None and not self._ended

    @property
    def position(self) -> int:
        """The next sample to play."""
        with self._lock:
            return self._position

    @property
    def levels(self) -> np.ndarray:
        """Each channel's peak (0..1) in the block played last (zeros when stopped)."""
        with self._lock:
            return self._levels.copy() if self.playing else np.zeros_like(self._levels)

    def play(
        self,
        samples: np.ndarray,
        rate: int,
        start: int = 0,
        loop: tuple[int, int] | None = None,
    ) -> str | None:
        """Play `samples` at `rate` from sample `start`; with `loop` (first, end) it
        wraps from end back to first until stopped. None, or NO_AUDIO when no output
        device takes it (then nothing plays)."""
        self.stop()
        with self._lock:
            self._samples, self.rate = np.ascontiguousarray(samples, np.float32), int(rate)
            self._position = min(max(0, start), samples.shape[1])
            self._loop = loop if loop is not None and loop[0] < loop[1] else None
            self._levels = np.zeros(samples.shape[0], np.float32)
            self._ended = False
        try:
            stream = self._open(self.rate, samples.shape[0], self._fill)
            stream.start()
        except Exception as exc:  # no PortAudio, no device, one that will not open
            log.info("sound output failed: %s", exc)
            return NO_AUDIO
        self._stream = stream
        return None

    def grow(self, samples: np.ndarray) -> None:
        """Go on with `samples`, the sound playing now grown longer (a running job's
        preview), the position kept."""
        with self._lock:
            self._samples = np.ascontiguousarray(samples, np.float32)
            self._ended = False

    def seek(self, sample: int) -> None:
        """Go on from `sample` (playing or not)."""
        with self._lock:
            self._position = min(max(0, sample), self._samples.shape[1])

    def set_loop(self, loop: tuple[int, int] | None) -> None:
        """Loop between (first, end) samples from now on, or play to the end (None)."""
        with self._lock:
            self._loop = loop if loop is not None and loop[0] < loop[1] else None

    def stop(self) -> None:
        """Stop playing; the position stays where playback was."""
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:  # a device gone while playing
                log.debug("closing the sound output: %s", exc)

    def _fill(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        """The stream's callback: the next `frames` samples into outdata (frames, C),
        wrapping at the loop's end, silence after the end."""
        with self._lock:
            written = 0
            samples, loop = self._samples, self._loop
            end = loop[1] if loop is not None else samples.shape[1]
            while written < frames:
                if self._position >= end:
                    if loop is None:
                        break
                    self._position = loop[0]
                take = min(frames - written, end - self._position)
                block = samples[:, self._position : self._position + take]
                outdata[written : written + take] = block.T
                written += take
                self._position += take
            outdata[written:] = 0
            self._levels = np.abs(outdata[:frames]).max(axis=0) if frames else self._levels
            self._ended = written == 0 and loop is None
