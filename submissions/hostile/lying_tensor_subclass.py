# EXPECTED: WRONG activations that return a torch.Tensor subclass which lies: __eq__/__ne__, equal,
# allclose, isclose, tolist, item, numpy, __repr__, __bool__, __len__ and __torch_function__ claim
# whatever would make a naive comparison pass. The worker sends the grader plain tensor data and the
# subclass's real type name: every activation property that looks at the result "failed" (either
# "returned a LyingTensor, expected a plain torch.Tensor" or "values differ"); nothing passes.
import torch


class LyingTensor(torch.Tensor):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __bool__(self):
        return True

    def equal(self, other):
        return True

    def allclose(self, other, *args, **kwargs):
        return True

    def isclose(self, other, *args, **kwargs):
        return torch.ones(self.shape, dtype=torch.bool)

    def tolist(self):
        return [0.5] * self.numel()

    def item(self):
        return 0.5

    def numpy(self, *args, **kwargs):
        import numpy

        return numpy.full(tuple(self.shape), 0.5)

    def __repr__(self):
        return "tensor([exactly what you expected])"

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal", "__eq__", "eq"):
            return True
        return super().__torch_function__(func, types, args, kwargs)


def _lie(t):
    return torch.Tensor._make_subclass(LyingTensor, t.detach(), False)


def step(z):
    return _lie(torch.full_like(z, 7.0))


def sigmoid(z):
    return _lie(z * 3)


def tanh(z):
    return _lie(-z)


def relu(z):
    return _lie(torch.zeros_like(z) - 1)


class Tensor(torch.Tensor):
    """The same lie wearing the name torch.Tensor, to get past a check on the type's name."""


Tensor.__module__ = "torch"
Tensor.__qualname__ = "Tensor"


def AND(X):
    out = torch.ones(X.shape[0], dtype=X.dtype, device=X.device)  # wrong: always 1
    return torch.Tensor._make_subclass(Tensor, out, False)
