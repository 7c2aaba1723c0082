"""Generates the stubs of the tipgrants API while the package is built.

The `.proto` files live at the root of the repository (`proto/`), so the stubs are made from
them at build time instead of being committed: `pip install ./clients/python` from a checkout
runs protoc (from grpcio-tools, no system protoc) into `src/tipgrants/v1/` and installs the
result. Set TIPGRANTS_PROTO_DIR to build from another copy of `proto/`.

Made for each `.proto` file:
  *_pb2.py        messages and enums (protoc's Python output)
  *_pb2.pyi       their types (mypy-protobuf's protoc-gen-mypy: typed enum values, stricter
                  than grpcio-tools' --pyi_out)
  *_pb2_grpc.py   service stubs (grpcio-tools' gRPC plugin)
  *_pb2_grpc.pyi  their types (mypy-protobuf's protoc-gen-mypy_grpc)
"""

import os
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.egg_info import egg_info

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "src"
PACKAGES = [OUTPUT / "tipgrants", OUTPUT / "tipgrants" / "v1"]


def proto_directory() -> Path:
    configured = os.environ.get("TIPGRANTS_PROTO_DIR")
    directory = Path(configured) if configured else HERE.parent.parent / "proto"
    if not (directory / "tipgrants" / "v1").is_dir():
        sys.exit(
            f"tipgrants-client: no proto files in {directory}: build from a checkout of the "
            "repository (pip install ./clients/python) or set TIPGRANTS_PROTO_DIR"
        )
    return directory


GENERATED = False


def generate_stubs() -> None:
    global GENERATED
    if GENERATED:
        return
    import grpc_tools
    from grpc_tools import protoc

    protos = proto_directory()
    files = sorted(str(path) for path in (protos / "tipgrants" / "v1").glob("*.proto"))
    plugins = {name: shutil.which(name) for name in ("protoc-gen-mypy", "protoc-gen-mypy_grpc")}
    for name, path in plugins.items():
        if path is None:
            sys.exit(f"tipgrants-client: {name} (mypy-protobuf) is not on PATH")
    for package in PACKAGES:
        if package.exists():
            shutil.rmtree(package)
    PACKAGES[-1].mkdir(parents=True)
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    status = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{protos}",
            f"-I{well_known}",
            f"--python_out={OUTPUT}",
            f"--grpc_python_out={OUTPUT}",
            f"--plugin=protoc-gen-mypy={plugins['protoc-gen-mypy']}",
            f"--mypy_out=quiet:{OUTPUT}",
            f"--plugin=protoc-gen-mypy_grpc={plugins['protoc-gen-mypy_grpc']}",
            f"--mypy_grpc_out=quiet:{OUTPUT}",
            *files,
        ]
    )
    if status != 0:
        sys.exit(f"tipgrants-client: protoc failed with status {status}")
    for package in PACKAGES:
        (package / "__init__.py").write_text('"""Generated from proto/ by setup.py; do not edit."""\n')
        (package / "py.typed").write_text("")
    GENERATED = True


class BuildPyWithStubs(build_py):
    """build_py that first generates the stubs into src/ (ignored by git)."""

    def run(self) -> None:
        generate_stubs()
        super().run()


class EggInfoWithStubs(egg_info):
    """egg_info (the package's metadata) needs the generated packages to exist too."""

    def run(self) -> None:
        generate_stubs()
        super().run()


setup(cmdclass={"build_py": BuildPyWithStubs, "egg_info": EggInfoWithStubs})
