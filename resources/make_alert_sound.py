"""Writes resources/sounds/alert.wav, the console's alert chime: two soft bell notes (A5, E6),
0.42 s, 22,050 Hz mono 16-bit. Deterministic; run it again after changing a note.

    python resources/make_alert_sound.py
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 22_050
NOTES = ((880.0, 0.0), (1318.5, 0.14))  # frequency (Hz), start (s)
LENGTH = 0.42  # seconds
DECAY = 9.0  # per second: a bell's fade
VOLUME = 0.32  # of full scale: noticeable, never harsh


def samples() -> list[int]:
    count = int(RATE * LENGTH)
    out = []
    for n in range(count):
        t = n / RATE
        value = 0.0
        for frequency, start in NOTES:
            if t < start:
                continue
            age = t - start
            attack = min(1.0, age / 0.004)  # 4 ms attack: no click
            bell = math.sin(2 * math.pi * frequency * age) + 0.25 * math.sin(
                4 * math.pi * frequency * age
            )
            value += attack * math.exp(-DECAY * age) * bell
        fade = min(1.0, (LENGTH - t) / 0.02)  # 20 ms fade-out at the end
        out.append(round(max(-1.0, min(1.0, VOLUME * value * fade / 1.25)) * 32767))
    return out


def main() -> None:
    target = Path(__file__).resolve().parent / "sounds" / "alert.wav"
    target.parent.mkdir(exist_ok=True)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples()))
    print(f"wrote {target} ({target.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
