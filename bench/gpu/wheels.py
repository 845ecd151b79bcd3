"""The wheels the lent GPU machine lacks: which ones, Ray's without its jars, in parts that fit a call.

`bench/gpu/bundle.sh` runs this here, in three steps:

    python bench/gpu/wheels.py select REPORT IMAGE_LIST [--carry-all] > pins.txt
    python bench/gpu/wheels.py repack-ray DIR
    python bench/gpu/wheels.py split DIR OUT --tag cp312 --part-mib 60

`select` reads pip's `--dry-run --report` of idealoop's dependencies resolved for the GPU
machine's Python and prints `name==version  kind` for each wheel to carry: `missing` (the image
has no such package) or `spare` (the image has it, at a version we cannot read from here: the
spare is installed only where the image's version does not satisfy a requirement). The image's
heavy numeric stack (HEAVY) is never carried; its requirements here are loose upper bounds.

`repack-ray` drops `ray/jars/` (Java workers; a Tune run needs none) from Ray's wheel and its
RECORD, so the wheel stays valid and pip installs it. `split` deals the wheels into part folders
of at most `--part-mib` MiB each (first fit, largest first), one folder a `carry` path, each with
a MANIFEST (`kind filename` lines) and TAG (the CPython tag the wheels were fetched for).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import sys
import zipfile
from pathlib import Path

# On the image, large, and only loosely bounded by what idealoop's dependencies ask of them.
HEAVY = {
    "torch", "numpy", "pandas", "scipy", "scikit-learn", "pyarrow", "matplotlib", "pillow", "grpcio",
    "fonttools", "contourpy", "kiwisolver", "triton", "jax", "jaxlib", "cryptography",
}  # fmt: skip


def canon(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def select(report: Path, image_list: Path, carry_all: bool) -> None:
    lines = [ln for ln in image_list.read_text().splitlines() if not ln.startswith("#")]
    image = {canon(n.strip()) for n in ",".join(lines).split(",") if n.strip()}
    rows = []
    for item in json.loads(report.read_text())["install"]:
        meta = item["metadata"]
        name = canon(meta["name"])
        if name == "torch" or name.startswith("nvidia-"):
            continue  # the image's CUDA build (here: the local CPU wheel, installed first)
        if carry_all or name not in image:
            rows.append(f"{meta['name']}=={meta['version']} missing")
        elif name not in HEAVY:
            rows.append(f"{meta['name']}=={meta['version']} spare")
    print("\n".join(sorted(rows, key=str.lower)))


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def repack_ray(folder: Path) -> None:
    found = sorted(folder.glob("ray-*.whl"))
    if len(found) != 1:
        sys.exit(f"wheels: expected one ray wheel in {folder}, found {len(found)}")
    src = found[0]
    tmp = src.with_suffix(".repack")
    dropped = 0
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        # The wheel's own RECORD, at the top: Ray vendors packages whose dist-info has one too.
        record = next(n for n in zin.namelist() if n.endswith(".dist-info/RECORD") and n.count("/") == 1)
        for info in zin.infolist():
            if info.filename.startswith("ray/jars/"):
                dropped += info.file_size
                continue
            if info.filename == record:
                continue
            zout.writestr(info, zin.read(info.filename), compress_type=zipfile.ZIP_DEFLATED)
        lines = [ln for ln in zin.read(record).decode().splitlines() if ln and not ln.startswith("ray/jars/")]
        zout.writestr(record, "\n".join(lines) + "\n")
    before = src.stat().st_size
    tmp.replace(src)  # same file name: the wheel's name still says what it is
    print(f"ray: dropped ray/jars/ ({dropped / 2**20:.1f} MiB unpacked); "
          f"wheel {before / 2**20:.1f} -> {src.stat().st_size / 2**20:.1f} MiB")  # fmt: skip


def split(folder: Path, out: Path, tag: str, part_mib: float, kinds: dict[str, str]) -> None:
    limit = part_mib * 2**20
    wheels = sorted(folder.glob("*.whl"), key=lambda p: -p.stat().st_size)
    parts: list[list[Path]] = []
    for whl in wheels:
        size = whl.stat().st_size
        if size > limit:
            sys.exit(f"wheels: {whl.name} is {size / 2**20:.1f} MiB, over a part's {part_mib:g} MiB")
        for part in parts:
            if sum(p.stat().st_size for p in part) + size < limit:
                part.append(whl)
                break
        else:
            parts.append([whl])
    for i, part in enumerate(parts, 1):
        dest = out / f"part{i}"
        dest.mkdir(parents=True)
        manifest = []
        for whl in part:
            shutil.move(str(whl), dest / whl.name)
            manifest.append(f"{kinds.get(canon(whl.name.split('-')[0]), 'missing')} {whl.name}")
        (dest / "MANIFEST").write_text("\n".join(sorted(manifest)) + "\n")
        (dest / "TAG").write_text(tag + "\n")
        mib = sum((dest / p.name).stat().st_size for p in part) / 2**20
        print(f"{dest}: {len(part)} wheels, {mib:.1f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("select")
    s.add_argument("report", type=Path)
    s.add_argument("image_list", type=Path)
    s.add_argument("--carry-all", action="store_true", help="carry what the image has too (a local check)")
    r = sub.add_parser("repack-ray")
    r.add_argument("folder", type=Path)
    p = sub.add_parser("split")
    p.add_argument("folder", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--tag", required=True)
    p.add_argument("--part-mib", type=float, default=60)
    p.add_argument("--pins", type=Path, required=True, help="select's output: each wheel's kind")
    args = ap.parse_args()
    if args.cmd == "select":
        select(args.report, args.image_list, args.carry_all)
    elif args.cmd == "repack-ray":
        repack_ray(args.folder)
    else:
        kinds = {}
        for line in args.pins.read_text().splitlines():
            pin, kind = line.split()
            kinds[canon(pin.split("==")[0])] = kind
        split(args.folder, args.out, args.tag, args.part_mib, kinds)


if __name__ == "__main__":
    main()
