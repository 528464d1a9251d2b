"""``propgrade release``: the notebook students receive, written from the effective assignment.

Per topic with enabled properties: a markdown cell stating that part of the contract, a code cell
per contract name the topic is the first to need (its signature and a stub raising
``NotImplementedError``, which grades as "not implemented yet" rather than as an error), and a
cell for the student's own experiments. The notebook ends with the self-check cell
(``grader/notebook.py``), which grades the saved file. ``solution()`` fills the stubs with
``reference/``'s code: the instructor's key, and what the tests grade to full marks.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.assignment import Assignment
from grader.properties import TOPICS

NOTEBOOK_NAME = "homework.ipynb"
README_NAME = "README.md"
RUBRIC_NAME = "assignment.toml"  # the course's own rubric, handed out beside the notebook for its check
STUB_TAG = "propgrade-stub"
SELF_CHECK_TAG = "propgrade-self-check"


@dataclass(frozen=True)
class Name:
    """One contract name as the notebook hands it out: how it is written, and what it must be."""

    kind: str  # "function", "class" (constructor arguments in ``args``) or "instance"
    args: str
    en: str
    zh: str


NAMES: dict[str, Name] = {
    "step": Name("function", "z", "1.0 where z >= 0, else 0.0 (so step(0) is 1).", "z >= 0 处为 1.0，否则为 0.0（所以 step(0) 等于 1）。"),
    "sigmoid": Name("function", "z", "1 / (1 + e^(-z)), differentiable by autograd, finite for every finite z.",
                    "1 / (1 + e^(-z))，可由 autograd 求导，对任何有限的 z 结果都有限。"),
    "tanh": Name("function", "z", "(e^z - e^(-z)) / (e^z + e^(-z)), the same as 2*sigmoid(2z) - 1, differentiable.",
                 "(e^z - e^(-z)) / (e^z + e^(-z))，等于 2*sigmoid(2z) - 1，可求导。"),
    "relu": Name("function", "z", "max(0, z), differentiable (gradient 1 above 0, 0 below).", "max(0, z)，可求导（大于 0 处梯度为 1，小于 0 处为 0）。"),
    "AND": Name("function", "X", "0, 0, 0, 1 on (x1, x2) = (0,0), (1,0), (0,1), (1,1); the lesson's weights are [-0.2, 0.15, 0.15].",
                "在 (x1, x2) = (0,0), (1,0), (0,1), (1,1) 上给出 0, 0, 0, 1；课程中的权重是 [-0.2, 0.15, 0.15]。"),
    "OR": Name("function", "X", "0, 1, 1, 1 on the same four rows; weights [-0.08, 0.15, 0.15].", "在同样四行上给出 0, 1, 1, 1；权重 [-0.08, 0.15, 0.15]。"),
    "NAND": Name("function", "X", "1, 1, 1, 0 on the same four rows; weights [0.23, -0.15, -0.15].", "在同样四行上给出 1, 1, 1, 0；权重 [0.23, -0.15, -0.15]。"),
    "XOR": Name("function", "X", "0, 1, 1, 0: a second layer, the AND of NAND and OR (one perceptron cannot do it).",
                "0, 1, 1, 0：第二层，对 NAND 和 OR 的结果再做 AND（单个感知机做不到）。"),
    "collapse_linear": Name("function", "stack", "stack is an nn.Sequential of nn.Linear layers only (bias or not); return one nn.Linear computing the same function.",
                            "stack 是只含 nn.Linear 层的 nn.Sequential（有无偏置均可）；返回一个计算同一函数的 nn.Linear。"),
    "seq_net": Name("instance", "", "an instance of nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1)).",
                    "nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1)) 的一个实例。"),
    "seq_model": Name("instance", "", "an nn.Sequential built from an OrderedDict: hidden_linear = nn.Linear(1, 8), hidden_activation = nn.Tanh(), output_linear = nn.Linear(8, 1).",
                      "用 OrderedDict 构建的 nn.Sequential：hidden_linear = nn.Linear(1, 8)，hidden_activation = nn.Tanh()，output_linear = nn.Linear(8, 1)。"),
    "module_net": Name("class", "num_input, num_hidden, num_output",
                       "layer1 = nn.Linear(num_input, num_hidden), layer2 = nn.Tanh(), layer3 = nn.Linear(num_hidden, num_output); forward is layer3(layer2(layer1(x))).",
                       "layer1 = nn.Linear(num_input, num_hidden)，layer2 = nn.Tanh()，layer3 = nn.Linear(num_hidden, num_output)；forward 为 layer3(layer2(layer1(x)))。"),
    "Model": Name("class", "in_features, out_features",
                  "linear1 = nn.Linear(in_features, 13), linear2 = nn.Linear(13, 8), output = nn.Linear(8, out_features); forward is softmax(output(sigmoid(linear2(relu(linear1(x))))), dim=1).",
                  "linear1 = nn.Linear(in_features, 13)，linear2 = nn.Linear(13, 8)，output = nn.Linear(8, out_features)；forward 为 softmax(output(sigmoid(linear2(relu(linear1(x))))), dim=1)。"),
    "NeuralNetwork": Name("class", "",
                          "flatten = nn.Flatten(), linear_relu_stack = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)): (n, 28, 28) images to (n, 10) logits, nothing after the last layer.",
                          "flatten = nn.Flatten()，linear_relu_stack = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))：把 (n, 28, 28) 的图像变成 (n, 10) 的 logits，最后一层之后不再接任何层。"),
    "train": Name("function", "model, x, y, epochs, lr",
                  "nn.BCEWithLogitsLoss and torch.optim.SGD(model.parameters(), lr), one full-batch step per epoch; return the epochs losses as Python floats (loss.item()).",
                  "使用 nn.BCEWithLogitsLoss 和 torch.optim.SGD(model.parameters(), lr)，每个 epoch 对全部数据做一步；以 Python float 列表返回每个 epoch 的损失（loss.item()）。"),
    "save_params": Name("function", "model, path", "torch.save(model.state_dict(), path): tensors only, readable by torch.load(path, weights_only=True).",
                        "torch.save(model.state_dict(), path)：只保存张量，torch.load(path, weights_only=True) 能读取。"),
    "load_params": Name("function", "model, path", "load that file into model strictly (a file of another architecture raises) and return model.",
                        "把这个文件严格地加载进 model（其他结构的文件要抛出异常），并返回 model。"),
}

TOPIC_TEXT: dict[str, tuple[str, str]] = {
    "activations": (
        "An activation works on each element on its own. Each function below takes a float tensor z (float32 or float64, "
        "any shape, 0-d and empty included, on any device) and returns a *new* tensor with z's shape, dtype and device, "
        "leaving z unchanged. Finite inputs give finite outputs (no NaN, no overflow); at ±inf, give what PyTorch gives.",
        "激活函数逐个元素地作用。下面每个函数接受一个浮点张量 z（float32 或 float64，任意形状，包括 0 维和空张量，任意设备），"
        "返回一个*新的*张量，形状、dtype 和设备都与 z 相同，并且不修改 z。有限的输入得到有限的输出（没有 NaN，没有溢出）；"
        "在 ±inf 处与 PyTorch 的结果一致。",
    ),
    "gates": (
        "A perceptron gate computes step(X @ w). X has shape (n, 3) for any n ≥ 1: column 0 is all ones (the bias input x0), "
        "columns 1 and 2 hold 0 or 1, rows in any order, repeats allowed. A gate returns a float tensor of shape (n,) "
        "holding 0.0 or 1.0, row i depending only on row i of X, on X's device.",
        "感知机逻辑门计算 step(X @ w)。X 的形状为 (n, 3)，n ≥ 1：第 0 列全是 1（偏置输入 x0），第 1、2 列是 0 或 1，"
        "行的顺序任意，可以重复。逻辑门返回形状为 (n,) 的浮点张量，值为 0.0 或 1.0，第 i 行只取决于 X 的第 i 行，并且与 X 在同一设备上。",
    ),
    "collapse": (
        "Without an activation between them, linear layers collapse into one: W2 (W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2). "
        "With sigmoid, tanh or ReLU between two layers this no longer holds; that is why networks need activations.",
        "层与层之间没有激活函数时，多个线性层会坍缩成一个：W2 (W1 x + b1) + b2 = (W2 W1) x + (W2 b1 + b2)。"
        "在两层之间加上 sigmoid、tanh 或 ReLU 后就不再如此，这正是网络需要激活函数的原因。",
    ),
    "xor": (
        "No single perceptron computes XOR, but a network with a hidden layer and an activation learns it. The grader trains "
        "your module_net(2, h, 1) on the four XOR points with its own loop, and checks that it no longer learns XOR "
        "once layer2 is replaced by the identity.",
        "单个感知机无法计算异或，但带激活函数的隐藏层网络可以学会它。评分程序会用自己的训练循环在异或的四个点上训练你的 "
        "module_net(2, h, 1)，并检查把 layer2 换成恒等映射后它就学不会异或。",
    ),
    "builders": (
        "Two ways to build a network: nn.Sequential, and a subclass of nn.Module. Every model registers all of its layers "
        "(attributes, nn.Sequential, nn.ModuleList or nn.ModuleDict; never a plain list or dict), works for any batch size, "
        "and creates no tensor on a fixed device inside forward.",
        "构建网络有两种方式：nn.Sequential，以及 nn.Module 的子类。每个模型都要注册它的全部层（用属性、nn.Sequential、"
        "nn.ModuleList 或 nn.ModuleDict，不要用普通的 list 或 dict），适用于任意批量大小，并且 forward 中不在固定设备上创建张量。",
    ),
    "training": (
        "train(model, x, y, epochs, lr) trains a model that outputs logits, on float inputs x of shape (n, d) and 0/1 float "
        "labels y of shape (n, 1). With it a seq_net-shaped network learns the lesson's flower data far better than logistic regression.",
        "train(model, x, y, epochs, lr) 训练一个输出 logits 的模型，输入 x 是形状为 (n, d) 的浮点张量，标签 y 是形状为 (n, 1) 的 0/1 浮点张量。"
        "用它训练的 seq_net 结构的网络在课程的 flower 数据上远好于逻辑回归。",
    ),
    "saveload": (
        "Save a model's parameters (its state_dict), not the model object. After save_params and then load_params, a freshly "
        "built model of the same architecture has the same state_dict, bit for bit.",
        "保存模型的参数（state_dict），而不是模型对象本身。先 save_params 再 load_params 之后，新建的同结构模型的 state_dict 完全相同，逐位一致。",
    ),
    "devices": (
        "Everything above must compute on the device of its input and parameters: the grader also runs your functions and "
        "models on PyTorch's meta device (and on CUDA where there is one). Nothing new to write here.",
        "上面的一切都要在输入和参数所在的设备上计算：评分程序还会在 PyTorch 的 meta 设备上（有 CUDA 时也在 CUDA 上）运行你的函数和模型。这里没有新的内容要写。",
    ),
}

TEXT = {
    "title": ("# Multi-layer networks, Sequential and Module: homework", "# 多层网络、Sequential 与 Module：作业"),
    "intro": (
        "Fill in every cell marked **TODO**: replace its stub (`raise NotImplementedError`) with your code and keep the name "
        "as it is. Add cells of your own anywhere; what counts is the names the notebook defines when it runs from top to bottom, "
        "so every cell must run without error. When you are done, **save the notebook** and run the last cell: it checks the saved file.",
        "完成每个标有 **TODO** 的单元格：把其中的占位代码（`raise NotImplementedError`）换成你的代码，名称保持不变。"
        "你可以在任何地方添加自己的单元格；评分看的是 notebook 从头到尾运行后定义的名称，所以每个单元格都要能无错运行。"
        "完成后，**先保存 notebook**，再运行最后一个单元格：它检查的是已保存的文件。",
    ),
    "scope": (
        "This assignment has {count} checks ({points:g} points). {visible} of them ({visible_points:g} points) run in the self-check below; "
        "the rest are graded after you hand in.",
        "本作业共有 {count} 项检查（{points:g} 分），其中 {visible} 项（{visible_points:g} 分）可以在下面的自查中运行，其余的在提交后评分。",
    ),
    "also": ("Also accepted under the name{s}: {names}.", "也接受以下名称：{names}。"),
    "todo": ("TODO", "TODO"),
    "replace_instance": ("replace this stub with: {name} = ...", "把这段占位代码换成：{name} = ..."),
    "explore": ("# Your own experiments (optional). This cell runs when the notebook is graded too: keep it quick and free of errors.",
                "# 你自己的实验（可选）。评分时这个单元格也会运行：请保持它运行快速且没有错误。"),
    "check_title": (
        "## Self-check\nSave the notebook first (Ctrl+S / Cmd+S), then run this cell. It grades the **saved file** in a fresh sandbox, "
        "with exactly the settings of the final grading, on the checks you may see.",
        "## 自查\n先保存 notebook（Ctrl+S / Cmd+S），再运行这个单元格。它在全新的沙箱中评的是**已保存的文件**，"
        "设置与最终评分完全相同，只运行你可以看到的检查。",
    ),
    "not_installed": ("propgrade is not installed in this kernel's Python: install it as your course says, then restart the kernel",
                      "这个内核的 Python 中没有安装 propgrade：请按课程的说明安装，然后重启内核"),
}

IMPORTS = "import torch\nfrom torch import nn\nimport torch.nn.functional as F\nfrom collections import OrderedDict"


def text(key: str, lang: str, **fields) -> str:
    return TEXT[key][0 if lang == "en" else 1].format(**fields)


def release(assignment: Assignment, out: Path, lang: str = "en") -> dict[str, Path]:
    """Write the student's notebook and README into ``out``, and the course's rubric file when it has one (the
    notebook's check reads it from beside the notebook); returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"notebook": out / NOTEBOOK_NAME, "readme": out / README_NAME}
    nbformat.write(student_notebook(assignment, lang), paths["notebook"])
    paths["readme"].write_text(student_readme(lang), encoding="utf-8")
    if own_rubric(assignment):
        paths["rubric"] = out / RUBRIC_NAME
        paths["rubric"].write_bytes(Path(assignment.sources[-1]).read_bytes())
    return paths


def own_rubric(assignment: Assignment) -> bool:
    """Whether the assignment was read from a course's file on top of the lesson's default."""
    return len(assignment.sources) > 1


def student_notebook(assignment: Assignment, lang: str = "en") -> nbformat.NotebookNode:
    new_code, new_markdown = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    enabled = assignment.properties()
    visible = [p for p in enabled if assignment.visibility(p.id) == "visible"]
    cells = [
        new_markdown("\n\n".join([
            text("title", lang), text("intro", lang),
            text("scope", lang, count=len(enabled), points=sum(p.points for p in enabled), visible=len(visible), visible_points=sum(p.points for p in visible)),
        ])),
        new_code(IMPORTS),
    ]
    given: set[str] = set()
    for topic, titles in TOPICS.items():
        members = [p for p in enabled if p.topic == topic]
        if not members:
            continue
        names = [name for p in members for name in p.needs if name not in given]
        names = list(dict.fromkeys(names))
        given.update(names)
        cells.append(new_markdown(f"## {titles[0 if lang == 'en' else 1]}\n\n{TOPIC_TEXT[topic][0 if lang == 'en' else 1]}"))
        cells += [stub_cell(name, assignment, lang) for name in names]
        if names:
            cells.append(new_code(text("explore", lang)))
    cells.append(new_markdown(text("check_title", lang)))
    cells.append(new_code(self_check_source(lang, RUBRIC_NAME if own_rubric(assignment) else None), metadata={"tags": [SELF_CHECK_TAG]}))
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata.update({
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "propgrade": {"assignment": assignment.name, "fingerprint": assignment.fingerprint(), "lang": lang},
    })
    nbformat.validate(notebook)
    return notebook


def stub_cell(name: str, assignment: Assignment, lang: str) -> nbformat.NotebookNode:
    """The cell a student fills in for ``name``: what it must be, then a stub that raises NotImplementedError."""
    spec = NAMES[name]
    lines = [f"# {text('todo', lang)}: {name}{f'({spec.args})' if spec.kind != 'instance' else ''}", f"# {spec.en if lang == 'en' else spec.zh}"]
    aliases = assignment.aliases.get(name, ())
    if aliases:
        lines.append(f"# {text('also', lang, s='s' if len(aliases) > 1 else '', names=', '.join(aliases))}")
    if spec.kind == "function":
        lines += [f"def {name}({spec.args}):", f"    raise NotImplementedError({name!r})"]
    elif spec.kind == "class":
        init_args = f", {spec.args}" if spec.args else ""
        lines += [
            f"class {name}(nn.Module):",
            f"    def __init__(self{init_args}):",
            "        super().__init__()",
            f"        raise NotImplementedError({name!r})",
            "",
            "    def forward(self, x):",
            f"        raise NotImplementedError({name!r})",
        ]
    else:  # an instance: until it is built, a function that refuses, so every use says "not implemented yet"
        lines += [f"# {text('replace_instance', lang, name=name)}", f"def {name}(*args):", f"    raise NotImplementedError({name!r})"]
    return nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": [STUB_TAG], "propgrade": {"name": name}})


def self_check_source(lang: str, rubric: str | None = None) -> str:
    """The last cell: the check when propgrade is installed beside the kernel; nothing when the notebook is
    being graded (the grader's packages are not importable there, by design)."""
    rubric_argument = f", assignment={rubric!r}" if rubric else ""
    return "\n".join([
        "try:",
        "    from grader.notebook import propgrade",
        "except ImportError:",
        f"    print({text('not_installed', lang)!r})",
        "else:",
        f"    propgrade(lang={lang!r}{rubric_argument})",
    ])


def student_readme(lang: str = "en") -> str:
    return README_TEXT[0 if lang == "en" else 1]


README_TEXT = (
    """# Homework: multi-layer networks, Sequential and Module

1. Open `homework.ipynb` in JupyterLab, Jupyter Notebook 7 or VS Code, with a Python that has
   torch and propgrade installed, as your course says (for example
   `pip install propgrade-0.1.0-py3-none-any.whl` with the file your course gives you).
2. Fill in every cell marked TODO; keep the names. Add your own cells as you like: the notebook is
   graded by running it from top to bottom, so every cell must run without error.
3. Save, then run the last cell. It grades the saved file in a fresh sandbox, with the settings of
   the final grading, on the checks you may see: ✓ holds, ✗ does not (with the smallest input that
   shows it), and your score on these checks. "not implemented yet" means the stub is still there.
   The same check from a terminal: `propgrade check homework.ipynb` (add
   `--assignment assignment.toml` when your course gave you that file; keep it beside the notebook).
4. Hand in `homework.ipynb` the way your course says. Some checks are graded only after you hand in.

More: docs/students.md in propgrade.
""",
    """# 作业：多层网络、Sequential 与 Module

1. 用 JupyterLab、Jupyter Notebook 7 或 VS Code 打开 `homework.ipynb`，所用的 Python 需要安装 torch 和 propgrade
   （按课程的说明安装，例如用课程提供的文件 `pip install propgrade-0.1.0-py3-none-any.whl`）。
2. 完成每个标有 TODO 的单元格，名称保持不变。可以随意添加自己的单元格：评分时 notebook 会从头到尾运行，所以每个单元格都要能无错运行。
3. 保存，然后运行最后一个单元格。它在全新的沙箱中、用最终评分的设置检查已保存的文件，只运行你可以看到的检查：
   ✓ 表示成立，✗ 表示不成立（并给出能说明问题的最小输入），以及你在这些检查上的得分。"尚未实现"表示占位代码还在。
   在终端中也可以做同样的检查：`propgrade check homework.ipynb --lang zh`（如果课程提供了
   `assignment.toml`，请加上 `--assignment assignment.toml`，并把它和 notebook 放在同一个文件夹中）。
4. 按课程的要求提交 `homework.ipynb`。有些检查只在提交之后评分。

更多说明：propgrade 中的 docs/students.md。
""",
)


def solution(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The same notebook with every stub replaced by ``reference/``'s code for its name (the instructor's key).

    The first stub of a reference module gets that module's whole source (its helpers come along);
    relative imports are dropped, since the names they bring are defined by earlier cells."""
    filled = nbformat.from_dict(notebook)
    emitted: set[str] = set()
    for cell in filled.cells:
        name = cell.metadata.get("propgrade", {}).get("name")
        if name is None:
            continue
        module = defining_module(name)
        if module.__name__ in emitted:
            cell.source = f"# {name}: defined with {module.__name__}'s code above"
            continue
        emitted.add(module.__name__)
        cell.source = re.sub(r"^from \.\w* import (\([^)]*\)|.*)$\n?", "", inspect.getsource(module), flags=re.MULTILINE)
    return filled


def defining_module(name: str):
    """The module of ``reference/`` that defines ``name`` (instances such as ``seq_net`` included)."""
    package = importlib.import_module("reference")
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"reference.{info.name}")
        if name in getattr(module, "__all__", ()):
            return module
    raise LookupError(f"reference/ defines no {name}")
