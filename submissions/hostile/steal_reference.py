# EXPECTED (the contract of the grader): a submission cannot use the grader's reference solution.
# `import reference` is refused inside the worker (see import_reference.py), but the worker runs the
# grader's own remote.py from the grader's checkout, so sys.argv[0] says where the checkout is. This
# submission removes the import blocker from sys.meta_path, puts the checkout on sys.path and imports
# `reference`: it defines NO code of its own. Properties must not pass.
# (Closed as root on Linux: the worker's private mount namespace covers grader/ and reference/ with
# empty mounts. Without root every property it is asked about "passed": the score is fully inflated.
# Any OTHER readable copy of the reference on the machine, e.g. a second checkout, still works.)
import os
import sys

_root = os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[0])))
sys.meta_path[:] = [f for f in sys.meta_path if "Refuse" not in type(f).__name__]
sys.path.insert(0, _root)

from reference import *  # noqa: E402,F401,F403
from reference.activations import relu, sigmoid, step, tanh  # noqa: E402,F401
from reference.gates import AND, NAND, OR, XOR  # noqa: E402,F401
