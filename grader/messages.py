"""Every student-facing sentence, in English and Chinese.

Checks raise ``Message`` objects (a template key plus code-like fields such as
``XOR(X)`` or ``(5,)``); the language is chosen only when results are written,
so one grading run can be reported in either language.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LANGUAGES = ("en", "zh")

TEMPLATES: dict[str, tuple[str, str]] = {
    # how a property ended
    "passed": ("holds", "成立"),
    "missing": ("{names} is not defined, so this cannot be checked", "没有定义 {names}，无法检查这一项"),
    "skipped": ("not checked here: {reason}", "此处未检查：{reason}"),
    "no_cuda": ("no CUDA device on the grading machine", "评分机器上没有 CUDA 设备"),
    "timeout": ("timed out after {seconds:g} s in {doing}", "{doing} 运行超时（{seconds:g} 秒）"),
    "memory": ("killed: memory cap {cap} exceeded in {doing}", "已终止：{doing} 超出内存上限 {cap}"),
    "crashed": ("the submission ended its own process in {doing} ({detail})", "{doing} 导致提交的进程退出（{detail}）"),
    "protocol": ("the submission interfered with the grader in {doing}", "{doing} 干扰了评分程序"),
    "raised": ("{doing} raised {type}: {message}", "{doing} 抛出异常 {type}：{message}"),
    "not_run": ("not run: {reason}", "未运行：{reason}"),
    # what came back
    "not_tensor": ("{doing} returned {got}, expected a tensor", "{doing} 返回了 {got}，应当返回张量"),
    "not_plain_tensor": ("{doing} returned a {got}, expected a plain torch.Tensor", "{doing} 返回了 {got}，应当返回普通的 torch.Tensor"),
    "not_module": ("{doing} gave {got}, expected an nn.Module", "{doing} 得到的是 {got}，应当是 nn.Module"),
    "not_mapping": ("{doing} gave {got}, expected a mapping of names to tensors", "{doing} 得到的是 {got}，应当是名称到张量的映射"),
    "wrong_shape": ("{doing} returned shape {got}, expected {expected}", "{doing} 返回的形状是 {got}，应当是 {expected}"),
    "wrong_dtype": ("{doing} returned dtype {got}, expected {expected}", "{doing} 返回的 dtype 是 {got}，应当是 {expected}"),
    "wrong_device": ("{doing} returned a tensor on {got}, expected {expected}", "{doing} 返回的张量在 {got} 上，应当在 {expected} 上"),
    "values_differ": (
        "{doing}: at index {index}{input} got {got}, expected {expected} ({count} of {total} elements differ beyond the tolerance {tolerance})",
        "{doing}：在索引 {index}{input} 处得到 {got}，应当是 {expected}（{total} 个元素中有 {count} 个超出容差 {tolerance}）",
    ),
    "not_finite": ("{doing}: at index {index}{input} got {got} for a finite input", "{doing}：在索引 {index}{input} 处，有限的输入得到了 {got}"),
    "mutated": ("{doing} changed its input {what}", "{doing} 修改了输入 {what}"),
    "law": ("{law} fails: {detail}", "{law} 不成立：{detail}"),
    "fact": ("{detail}", "{detail}"),
    "structure": ("{doing}: {detail}", "{doing}：{detail}"),
    "no_grad": ("{doing} is not differentiable by autograd (the result has no gradient)", "{doing} 无法通过 autograd 求导（结果没有梯度）"),
    "file": ("{doing}: {detail}", "{doing}：{detail}"),
    # notebook and module execution
    "cell_error": ("cell {cell} raised {type}: {message}", "第 {cell} 个单元格抛出异常 {type}：{message}"),
    "module_error": ("{file}, line {line}: {type}: {message}", "{file} 第 {line} 行：{type}：{message}"),
    "load_error": ("the submission could not be read: {detail}", "无法读取提交：{detail}"),
}

PHRASES: dict[str, tuple[str, str]] = {
    "none": ("none", "无"),
    "no_training": ("the model does not learn it", "模型学不会"),
}


@dataclass(frozen=True)
class Message:
    key: str
    fields: dict = field(default_factory=dict)

    def render(self, lang: str = "en") -> str:
        template = TEMPLATES[self.key][LANGUAGES.index(lang)]
        fields = {name: value.render(lang) if isinstance(value, Message) else value for name, value in self.fields.items()}
        return template.format(**fields)

    def __str__(self) -> str:
        return self.render("en")


def say(key: str, **fields) -> Message:
    if key not in TEMPLATES:
        raise KeyError(f"no message template {key!r}")
    return Message(key, fields)
