# EXPECTED: tries to copy the answers from the grader's own packages by importing them (`reference`,
# `grader`, `propgrade`). The worker refuses those imports, so every attempt raises ImportError,
# and the final unguarded import ends the module: the module's cell reports ImportError
# ("... is not available to submissions"), every property "missing", nothing "passed".
import importlib

for _name in ("reference", "reference.activations", "grader", "grader.remote", "propgrade"):
    try:
        _module = importlib.import_module(_name)
    except ImportError as error:
        print(f"import {_name}: {type(error).__name__}: {error}")
    else:
        print(f"import {_name}: got it!")
        globals().update({k: v for k, v in vars(_module).items() if not k.startswith("__")})

from reference import AND, NAND, OR, XOR, relu, sigmoid, step, tanh  # noqa: E402,F401
