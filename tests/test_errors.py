"""Every public exception lives in stylegate.errors, with an exit code and an HTTP status."""

from __future__ import annotations

import importlib
import pkgutil

import stylegate
from stylegate import errors

PACKAGES = ["stylegate", "stylegate.governance", "stylegate.registry", "stylegate.generator", "stylegate.reports"]


def _import_everything() -> None:
    for name in PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            if module.name.endswith("__main__"):
                continue
            importlib.import_module(module.name)


def _subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def test_every_stylegate_error_is_defined_in_the_errors_module() -> None:
    _import_everything()
    ours = {c for c in _subclasses(errors.StylegateError) if c.__module__.startswith("stylegate")}
    elsewhere = sorted(f"{c.__module__}.{c.__qualname__}" for c in ours if c.__module__ != "stylegate.errors")
    assert elsewhere == []
    assert len(ours) > 20  # the walk really found the package's errors


def test_usage_errors_exit_2_and_answer_4xx_environment_errors_exit_1_and_answer_503() -> None:
    for cls in _subclasses(errors.StylegateError) | {errors.StylegateError}:
        if not cls.__module__.startswith("stylegate"):
            continue
        if issubclass(cls, errors.InputError):
            assert cls.exit_code == errors.EXIT_USAGE and 400 <= cls.http_status < 500, cls
        else:
            assert cls.exit_code == errors.EXIT_ERROR and cls.http_status == 503, cls
    assert stylegate.StylegateError is errors.StylegateError
