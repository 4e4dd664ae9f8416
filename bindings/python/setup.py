"""Builds the tagflow Python package with CMake, from the repository this file lives in.

    cd bindings/python && /usr/bin/python3 -m pip install --no-build-isolation --target DIR .

build_ext configures the repository root with -DTAGFLOW_PYTHON=ON (tests, examples and the
command line off), builds the `tagflow_python` target and copies the resulting tagflow._core
module into the wheel next to the pure-Python files of tagflow/. Nothing is downloaded: CMake
finds the system's pybind11, Boost.JSON, SQLite, fmt, utf8proc and date (see
docs/dependencies.md).

Environment knobs:
    TAGFLOW_SOURCE_DIR  the repository root (default: two directories up from this file)
    TAGFLOW_BUILD_TYPE  CMake build type (default: Release, Debug with `build_ext --debug`)
    CMAKE_ARGS          extra arguments for the CMake configure step, shell-quoted
    CMAKE_GENERATOR     as for CMake; Ninja is used when available and this is unset
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("TAGFLOW_SOURCE_DIR", HERE.parent.parent)).resolve()


def tagflow_version() -> str:
    """The version, from its single definition in include/tagflow/version.hpp."""
    header = ROOT / "include" / "tagflow" / "version.hpp"
    text = header.read_text(encoding="utf-8")
    parts = []
    for part in ("MAJOR", "MINOR", "PATCH"):
        found = re.search(rf"#define TAGFLOW_VERSION_{part} (\d+)", text)
        if not found:
            raise RuntimeError(f"TAGFLOW_VERSION_{part} not found in {header}")
        parts.append(found.group(1))
    return ".".join(parts)


class CMakeExtension(Extension):
    """An extension CMake builds; setuptools compiles nothing itself."""

    def __init__(self, name: str):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        if not (ROOT / "CMakeLists.txt").is_file():
            raise RuntimeError(
                f"the tagflow sources were not found at {ROOT}: build from bindings/python inside the "
                "repository (pip builds in place), or set TAGFLOW_SOURCE_DIR")
        if shutil.which("cmake") is None:
            raise RuntimeError("cmake is required (Debian: apt-get install cmake)")
        target = Path(self.get_ext_fullpath(ext.name)).resolve()
        build_dir = Path(self.build_temp).resolve() / "cmake"
        config = os.environ.get("TAGFLOW_BUILD_TYPE", "Debug" if self.debug else "Release")
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir),
            f"-DCMAKE_BUILD_TYPE={config}",
            "-DTAGFLOW_PYTHON=ON",
            "-DTAGFLOW_BUILD_TESTS=OFF",
            "-DTAGFLOW_BUILD_EXAMPLES=OFF",
            "-DTAGFLOW_BUILD_CLI=OFF",
            "-DTAGFLOW_BUILD_BENCH=OFF",
            "-DTAGFLOW_INSTALL=OFF",
            f"-DPython_EXECUTABLE={sys.executable}",
        ]
        try:
            import pybind11  # the pybind11 this interpreter has, for its CMake package
        except ImportError:
            pass
        else:
            configure.append(f"-Dpybind11_DIR={pybind11.get_cmake_dir()}")
        if "CMAKE_GENERATOR" not in os.environ and shutil.which("ninja") and not (build_dir / "CMakeCache.txt").exists():
            configure += ["-G", "Ninja"]
        configure += shlex.split(os.environ.get("CMAKE_ARGS", ""))
        build = ["cmake", "--build", str(build_dir), "--target", "tagflow_python", "--config", config, "--parallel"]
        if self.parallel:
            build.append(str(self.parallel))
        subprocess.run(configure, check=True)
        subprocess.run(build, check=True)

        suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
        built = build_dir / "python" / "tagflow" / ("_core" + suffix)
        if not built.is_file():
            raise RuntimeError(f"CMake did not produce {built}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, target)


setup(
    version=tagflow_version(),
    ext_modules=[CMakeExtension("tagflow._core")],
    cmdclass={"build_ext": CMakeBuild},
)
