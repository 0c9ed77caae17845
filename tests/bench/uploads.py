"""Benchmark: peak memory of one web process while 8 worst-case screenshots arrive at once.

Run: ``.venv/bin/python tests/bench/uploads.py`` (part of ``make bench``, never of ``make test``).

The screenshots are generated first, in a separate process (so making them costs this
measurement nothing), and written to a temporary folder. A fresh process then loads the
console (``create_app``: Flask, SQLAlchemy, Pillow... as a web worker has them), and 8
threads - gunicorn's threads of one worker - each check, re-encode and store one of them
at the same moment with :func:`webapp.uploads.clean_screenshot` and
:func:`webapp.uploads.store`, which is what the update-request form does with its file.

The 8 files are the worst the console accepts, plus the file of the report:
flat 16-megapixel PNGs (RGBA, palette with transparency, grey + alpha, 16-bit grey), a
6 MP RGBA WebP, a 16 MP CMYK JPEG, a 64 MP JPEG (decoded at half scale), and the reported
6320 x 6320 flat PNG (131 kB, refused from its header). Each is a few hundred kB on disk
and 16 to 64 MB decoded.

The same run is repeated with the decode budget lifted (every decode at once) to show what
the budget saves; that figure is printed before the result.

Target: ``peak_rss_mb <= 300`` (the process's peak resident memory, baseline included).
The last line is exactly ``peak_rss_mb=<n>``.

A low peak only counts when the uploads were really done: refusing one (for example with the
budget's "busy" answer) would lower it. So the run fails, with no ``peak_rss_mb`` line, unless
every file was stored except :data:`REFUSED`, which must be refused.
"""

from __future__ import annotations

import io
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
THREADS = 8
#: The one file the console must refuse (from its header, before decoding anything).
REFUSED = "reported_6320.png"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _flat_png(width: int, height: int, colour_type: int, bit_depth: int, pixel: bytes, extra: bytes = b"") -> bytes:
    """A flat PNG written row by row (never a whole decoded image in memory)."""
    row = b"\x00" + pixel * width
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + extra + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def make_files(folder: Path) -> None:
    """Child process: write the worst-case files into ``folder``."""
    from PIL import Image

    side = 4000  # 16,000,000 pixels: webapp.uploads.MAX_PIXELS
    files = {
        "rgba.png": _flat_png(side, side, 6, 8, b"\x80\x40\x20\xff"),
        "palette_transparent.png": _flat_png(
            side, side, 3, 8, b"\x00", _chunk(b"PLTE", b"\x10\x20\x30") + _chunk(b"tRNS", b"\x80")
        ),
        "grey_alpha.png": _flat_png(side, side, 4, 8, b"\x80\xff"),
        "grey16.png": _flat_png(side, side, 0, 16, b"\x80\x00"),
        "reported_6320.png": _flat_png(6320, 6320, 2, 8, b"\x80\x80\x80"),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    image = Image.new("RGBA", (3000, 2000), (20, 40, 60, 128))  # webapp.uploads.MAX_WEBP_PIXELS
    image.save(folder / "rgba.webp", "WEBP", quality=90, method=0)
    image.close()
    image = Image.new("CMYK", (side, side), (10, 20, 30, 40))
    image.save(folder / "cmyk.jpg", "JPEG", quality=90)
    image.close()
    image = Image.new("RGB", (8000, 8000), (200, 100, 50))  # 64 MP: webapp.uploads.MAX_JPEG_PIXELS
    image.save(folder / "photo_64mp.jpg", "JPEG", quality=90)
    image.close()


def measure(folder: Path, unbounded: bool) -> None:
    """Child process: load the console, then clean and store every file at once; print JSON."""
    sys.path.insert(0, str(ROOT))
    from webapp import create_app, uploads

    instance = Path(tempfile.mkdtemp(prefix="bench-uploads-"))
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/db",
            "REDIS_URL": None,
            "INSTANCE_DIR": instance,
            "SCREENSHOT_DIR": str(instance / "shots"),
        }
    )
    if unbounded:
        uploads._budget = uploads.MemoryBudget(10**12)
    payloads = {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
    assert len(payloads) == THREADS, sorted(payloads)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = threading.Barrier(THREADS)
    outcome: dict[str, str] = {}

    def upload(name: str, data: bytes) -> None:
        with app.app_context():
            start.wait()
            try:
                stored = uploads.store(uploads.clean_screenshot(io.BytesIO(data)))
                outcome[name] = f"stored {stored.width}x{stored.height} {stored.mime} {stored.size // 1024} kB"
            except uploads.ScreenshotError as exc:
                outcome[name] = f"refused: {exc}"

    threads = [threading.Thread(target=upload, args=item) for item in payloads.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"baseline_mb": round(baseline), "peak_mb": round(peak), "outcome": outcome}))


def unexpected(outcome: dict[str, str]) -> list[str]:
    """The files whose outcome is not the expected one: every file stored, only :data:`REFUSED` refused."""
    wrong = [
        f"{name}: {what}"
        for name, what in sorted(outcome.items())
        if not what.startswith("refused: " if name == REFUSED else "stored ")
    ]
    if REFUSED not in outcome:
        wrong.append(f"{REFUSED}: missing")
    return wrong


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-upload-files-") as tmp:
        folder = Path(tmp)
        subprocess.run([sys.executable, __file__, "--make-files", tmp], check=True)
        sizes = ", ".join(f"{p.name} {p.stat().st_size // 1024} kB" for p in sorted(folder.iterdir()))
        print(f"files: {sizes}")
        results = {}
        for label, flag in (("unbounded", "--unbounded"), ("budgeted", "--budgeted")):
            out = subprocess.run(
                [sys.executable, __file__, flag, tmp],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
            results[label] = json.loads(out.stdout.strip().splitlines()[-1])
        for name, what in sorted(results["budgeted"]["outcome"].items()):
            print(f"  {name}: {what[:110]}")
        for label in ("unbounded", "budgeted"):
            r = results[label]
            print(
                f"{label}: baseline {r['baseline_mb']} MB after loading the console, peak {r['peak_mb']} MB "
                f"with {THREADS} uploads at once"
            )
        failed = {label: unexpected(results[label]["outcome"]) for label in results}
        if any(failed.values()):
            for label, wrong in failed.items():
                for line in wrong:
                    print(f"FAILED ({label}): {line[:160]}")
            sys.exit(
                f"uploads bench: every file but {REFUSED} must be stored (and it refused); the peak "
                "of a run that refused uploads does not count"
            )
        print(f"peak_rss_mb={results['budgeted']['peak_mb']}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--make-files":
        make_files(Path(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] in ("--unbounded", "--budgeted"):
        measure(Path(sys.argv[2]), unbounded=sys.argv[1] == "--unbounded")
    else:
        main()
