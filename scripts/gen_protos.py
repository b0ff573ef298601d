"""Generate the Python gRPC stubs from protos/ and check them for drift.

    python scripts/gen_protos.py           # regenerate protos/counsel/**/*_pb2*.py{,i} in place
    python scripts/gen_protos.py --check   # exit 1 if the committed stubs differ from fresh output (CI)

Runs grpc_tools.protoc with --python_out, --grpc_python_out, --mypy_out and --mypy_grpc_out over every
.proto under protos/counsel, writing the generated files beside the .proto files, and adds the empty
__init__.py files that make `counsel.<svc>.v1` importable when protos/ is on sys.path. The gRPC plugins
emit a `*_pb2_grpc.py{,i}` for every file; those of files that declare no service (events, common) hold
nothing but a version check and are dropped.

Generation always happens in a temporary directory first; the in-place mode then syncs that tree into
protos/ (removing stubs whose .proto is gone), so both modes share one code path and the output is
deterministic.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
PACKAGE = "counsel"  # the top-level proto package and Python package, under PROTOS

# Every file this script owns under protos/counsel; anything else there is left alone.
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def _is_generated(path: Path) -> bool:
    return path.name == "__init__.py" or path.name.endswith(GENERATED_SUFFIXES)


def _proto_files() -> list[str]:
    """The .proto files to compile, relative to PROTOS, in a stable order."""
    files = sorted(p.relative_to(PROTOS).as_posix() for p in (PROTOS / PACKAGE).rglob("*.proto"))
    if not files:
        sys.exit(f"gen_protos: no .proto files under {PROTOS / PACKAGE}")
    return files


def _plugin(name: str) -> Path:
    # The mypy-protobuf plugins are console scripts installed next to this interpreter (not resolved:
    # a virtualenv's python is a symlink to the base interpreter, whose bin dir lacks them).
    bindir = Path(sys.executable).parent
    for candidate in (bindir / name, bindir / f"{name}.exe"):
        if candidate.exists():
            return candidate
    sys.exit(f"gen_protos: {name} not found in {bindir}; install the dev extras (mypy-protobuf)")


def _generated_files(tree: Path) -> set[str]:
    """Paths (relative to tree) of the files this script owns in tree/counsel."""
    base = tree / PACKAGE
    if not base.is_dir():
        return set()
    return {p.relative_to(tree).as_posix() for p in base.rglob("*") if p.is_file() and _is_generated(p)}


def generate(out: Path) -> None:
    """Compile every proto into `out`, laid out like PROTOS, with the package __init__.py files."""
    import grpc_tools  # from grpcio-tools; imported here so --help works without it

    wkt_include = Path(grpc_tools.__file__).parent / "_proto"  # google/protobuf/*.proto
    protos = _proto_files()
    descriptor_set = out / "descriptors.binpb"  # read below to find files that declare no service
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        "--proto_path=.",  # run from PROTOS so file names in descriptors are `counsel/...`
        f"--proto_path={wkt_include}",
        f"--descriptor_set_out={descriptor_set}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        f"--mypy_out={out}",
        f"--mypy_grpc_out={out}",
        *protos,
    ]
    result = subprocess.run(cmd, cwd=PROTOS, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        sys.exit(f"gen_protos: protoc failed (exit {result.returncode})")

    file_set = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set.read_bytes())
    descriptor_set.unlink()
    for file in file_set.file:
        if not file.service:
            stem = out / file.name.removesuffix(".proto")
            for suffix in ("_pb2_grpc.py", "_pb2_grpc.pyi"):
                stem.with_name(stem.name + suffix).unlink(missing_ok=True)

    # counsel/, counsel/<svc>/ and counsel/<svc>/v1/ become regular packages.
    for proto in protos:
        package_dir = (out / proto).parent
        while True:
            (package_dir / "__init__.py").touch()
            if package_dir == out / PACKAGE:
                break
            package_dir = package_dir.parent


def sync(fresh: Path) -> list[str]:
    """Make PROTOS's generated files identical to those in `fresh`; return what changed."""
    wanted, present = _generated_files(fresh), _generated_files(PROTOS)
    changes = []
    for rel in sorted(present - wanted):
        (PROTOS / rel).unlink()
        changes.append(f"removed  {rel}")
    for rel in sorted(wanted):
        target = PROTOS / rel
        if rel in present and filecmp.cmp(fresh / rel, target, shallow=False):
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fresh / rel, target)
        changes.append(f"{'updated' if rel in present else 'created'}  {rel}")
    return changes


def check(fresh: Path) -> list[str]:
    """Differences between the generated files in PROTOS and those in `fresh`."""
    wanted, present = _generated_files(fresh), _generated_files(PROTOS)
    problems = [f"missing  protos/{rel}" for rel in sorted(wanted - present)]
    problems += [f"extra    protos/{rel}" for rel in sorted(present - wanted)]
    problems += [
        f"differs  protos/{rel}"
        for rel in sorted(wanted & present)
        if not filecmp.cmp(fresh / rel, PROTOS / rel, shallow=False)
    ]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the stubs in protos/ differ from freshly generated ones",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="counsel-protos-") as tmp:
        fresh = Path(tmp)
        generate(fresh)
        if args.check:
            problems = check(fresh)
            if problems:
                print("gen_protos: generated stubs are out of date with protos/:", file=sys.stderr)
                for line in problems:
                    print(f"  {line}", file=sys.stderr)
                print("Run `python scripts/gen_protos.py` and commit the result.", file=sys.stderr)
                return 1
            print(f"gen_protos: {len(_generated_files(fresh))} generated files are up to date")
            return 0
        changes = sync(fresh)
    for line in changes:
        print(f"  {line}")
    print(f"gen_protos: {len(changes)} file(s) changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
