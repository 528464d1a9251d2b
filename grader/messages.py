"""Every student-facing sentence, in English and Chinese.

Checks raise ``Message`` objects (a template key plus code-like fields such as
``XOR(X)`` or ``(5,)``); the language is chosen only when results are written,
so one grading run can be reported in either language.

A field holds code or numbers, or another ``Message`` (rendered in the same
language): a description of what was being done (``doing``) or of what came
back is itself a template when it has words in it, e.g.
``say("for_x_of_shape", call="seq_net(x)", shape=(3, 2))``. Never pass English
prose as a field; add a template here instead (tests/test_messages.py checks).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LANGUAGES = ("en", "zh")

# Chinese text has no spaces between Han characters nor next to full-width brackets;
# the templates put one around every field, so nested messages are tightened here.
_HAN = "\u4e00-\u9fff"
_ZH_SPACES = re.compile(rf"(?<=[{_HAN}]) (?=[{_HAN}])|(?<=[（）]) +| +(?=[（）])")

TEMPLATES: dict[str, tuple[str, str]] = {
    # how a property ended
    "passed": ("holds", "成立"),
    "missing": ("{names} is not defined, so this cannot be checked", "没有定义 {names}，无法检查这一项"),
    "skipped": ("not checked here: {reason}", "此处未检查：{reason}"),
    "no_cuda": ("no CUDA device on the grading machine", "评分机器上没有 CUDA 设备"),
    "timeout": ("timed out after {seconds:g} s in {doing}", "{doing} 运行超时（{seconds:g} 秒）"),
    "memory": ("killed: memory cap {cap} exceeded in {doing}", "已终止：{doing} 超出内存上限 {cap}"),
    "crashed": ("the submission ended its own process in {doing} ({how})", "{doing} 导致提交的进程退出（{how}）"),
    "protocol": ("the submission interfered with the grader in {doing}", "{doing} 干扰了评分程序"),
    "raised": ("{doing} raised {type}: {message}", "{doing} 抛出异常 {type}：{message}"),
    "not_implemented": (
        "{doing}: not implemented yet (its stub still raises NotImplementedError)",
        "{doing}：尚未实现（占位代码仍在抛出 NotImplementedError）",
    ),
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
    "law": ("{law} fails: {detail}", "{law} 不成立：{detail}"),
    "no_grad": ("{doing} is not differentiable by autograd (the result has no gradient)", "{doing} 无法通过 autograd 求导（结果没有梯度）"),
    # what is wrong, property by property (fields hold code and numbers only)
    "mutated": ("{doing} changed its input {name}: it became {after}", "{doing} 修改了输入 {name}：它变成了 {after}"),
    "not_monotone": ("{name} is monotone fails: {detail}", "{name} 不是单调不减的：{detail}"),
    "not_binary": ("{doing} returned {got}: values other than 0.0 and 1.0", "{doing} 返回了 {got}：其中有 0.0 和 1.0 以外的值"),
    "batch_shapes": ("{doing} has shape {got} and {other} has shape {other_got}", "{doing} 的形状是 {got}，而 {other} 的形状是 {other_got}"),
    "contract_misfit": ("{name} takes {takes} here, but the lesson's {name} takes {lesson}, and that is how it is called",
                        "这里的 {name} 接受 {takes}，但课程中的 {name} 接受 {lesson}，评分时也是这样调用的"),
    "arguments_count": ("{count} arguments", "{count} 个参数"),
    "arguments_range": ("{low} to {high} arguments", "{low} 到 {high} 个参数"),
    "no_arguments": ("no arguments", "零个参数"),
    "arguments_naming": ("{count} (among them {names})", "{count}（其中有 {names}）"),
    "lesson_takes_tensor_z": ("one tensor z", "一个张量 z"),
    "lesson_takes_gate_X": ("one tensor X of shape (n, 3)", "一个形状为 (n, 3) 的张量 X"),
    "lesson_takes_stack": ("one nn.Sequential of nn.Linear layers", "一个由 nn.Linear 层组成的 nn.Sequential"),
    "lesson_takes_arguments": ("the arguments {signature}", "参数 {signature}"),
    "lesson_takes_no_arguments": ("no arguments", "零个参数"),
    "train_in_runs": ("{call}, {runs} times in a row", "连续 {runs} 次调用 {call}"),
    "row_depends_on_rows": (
        "row {row} gives {got} as row {i} of {rows} but {other_got} as row {j} of {others}",
        "同一行 {row} 作为 {rows} 的第 {i} 行得到 {got}，作为 {others} 的第 {j} 行却得到 {other_got}",
    ),
    "no_state_key": ("{doing}: its state_dict has no {name} (it has {names})", "{doing}：它的 state_dict 中没有 {name}（现有的键是 {names}）"),
    "unregistered_layers": (
        "{doing}: layers kept in a plain list or dict are invisible to PyTorch: {names} (use attributes, nn.ModuleList or nn.ModuleDict)",
        "{doing}：放在普通 list 或 dict 里的层对 PyTorch 不可见：{names}（请改用属性、nn.ModuleList 或 nn.ModuleDict）",
    ),
    "wrong_parameters": ("{doing}: {problems}", "{doing}：{problems}"),
    "missing_parameters": ("missing parameters {names}", "缺少参数 {names}"),
    "unexpected_parameters": ("unexpected parameters {names}", "多出了参数 {names}"),
    "parameter_shape": ("{name} has shape {got}, expected {expected}", "{name} 的形状是 {got}，应当是 {expected}"),
    "and_also": ("{first}; {rest}", "{first}；{rest}"),
    "extra_layers": ("{doing}: it has layers the lesson's network does not: {names}", "{doing}：它含有课程中的网络所没有的层：{names}"),
    "no_submodule": ("{doing}: it has no submodule {name}", "{doing}：它没有子模块 {name}"),
    "wrong_layer_type": ("{doing}: {name} is a {got}, expected {expected}", "{doing}：{name} 是 {got}，应当是 {expected}"),
    "layer_order": ("{doing}: its layers run in the order {order}, expected {expected}", "{doing}：它的层的顺序是 {order}，应当是 {expected}"),
    "parameter_count": ("{doing}: it has {count} parameters, expected {expected}", "{doing}：它有 {count} 个参数，应当是 {expected} 个"),
    "negative_entries": ("{doing} has negative entries", "{doing} 中有负数"),
    "not_one_linear": ("{doing}: it returned a {got}, expected one nn.Linear", "{doing}：它返回的是 {got}，应当返回一个 nn.Linear"),
    "wrong_linear": ("{doing}: it returned {got}, expected {expected}", "{doing}：它返回的是 {got}，应当是 {expected}"),
    "still_affine": (
        "Linear -> {name} -> Linear is still affine (relative residual {residual}): {name} acts like a linear function",
        "Linear -> {name} -> Linear 仍然是仿射映射（相对残差 {residual}）：{name} 的作用和线性函数一样",
    ),
    "not_affine": (
        "{doing} is not affine in x (relative residual {residual}): its forward does not go through {layer}",
        "{doing} 不是 x 的仿射函数（相对残差 {residual}）：它的 forward 没有经过 {layer}",
    ),
    "to_returned_other": ("{call} returned a different object", "{call} 返回了另一个对象"),
    "stayed_behind": ("after {call} these stayed behind: {names}", "执行 {call} 之后，这些仍留在原来的设备上：{names}"),
    "file_missing": ("{doing}: no file was written", "{doing}：没有写出任何文件"),
    "file_refused": (
        "{doing}: torch.load(weights_only=True) refuses the file: {type}: {message}",
        "{doing}：torch.load(weights_only=True) 拒绝读取这个文件：{type}：{message}",
    ),
    "missing_key": ("{doing}: missing {entry}", "{doing}：缺少 {entry}"),
    "wrong_keys": ("{doing}: keys {got}, expected {expected}", "{doing}：键是 {got}，应当是 {expected}"),
    "not_same_model": ("{doing} returned {got}, expected the model it loaded into", "{doing} 返回了 {got}，应当返回被加载参数的那个模型"),
    "not_strict": (
        "{doing} did not raise: its keys 0.weight, ... do not match layer1.weight, ... (use strict loading)",
        "{doing} 没有抛出异常：文件里的键 0.weight, ... 与 layer1.weight, ... 并不匹配（请使用严格加载）",
    ),
    "not_loss_list": ("{doing} returned {got}, expected a list of floats", "{doing} 返回了 {got}，应当返回由 float 组成的列表"),
    "wrong_loss_count": ("{doing} returned {got} losses, expected {expected}", "{doing} 返回了 {got} 个损失值，应当是 {expected} 个"),
    "loss_not_float": (
        "{doing} returned a loss that is {got}, expected a float (use loss.item())",
        "{doing} 返回的某个损失值是 {got}，应当是 float（请使用 loss.item()）",
    ),
    "lost_parameter": ("{doing}: the model lost its parameter {name}", "{doing}：模型丢失了参数 {name}"),
    "not_better_than_logistic": (
        "after {doing}, seq_net is {network} accurate on fresh flower points; logistic regression gets {baseline}",
        "执行 {doing} 之后，seq_net 在新的 flower 数据点上的准确率为 {network}；逻辑回归的准确率为 {baseline}",
    ),
    "xor_rows": ("XOR on the four rows gives {got}, expected {expected}", "XOR 在四行输入上给出 {got}，应当是 {expected}"),
    "perceptron_is_xor": (
        "the perceptron with b={b}, w1={w1}, w2={w2} reproduces XOR: step(X @ w) = {got}",
        "b={b}, w1={w1}, w2={w2} 的感知机复现了异或：step(X @ w) = {got}",
    ),
    "xor_not_learned": (
        "module_net(2, {hidden}, 1) trained from initial-weight seed {seed} predicts {got} on the XOR rows {rows}, expected {expected} (the reference learns it from there)",
        "module_net(2, {hidden}, 1) 从初始权重种子 {seed} 开始训练后，在异或的输入 {rows} 上的预测是 {got}，应当是 {expected}（参考实现从同一起点能学会）",
    ),
    "xor_without_activation": (
        "module_net(2, {hidden}, 1) with layer2 = nn.Identity() still learned XOR: its forward does not go through self.layer2",
        "把 layer2 换成 nn.Identity() 之后，module_net(2, {hidden}, 1) 仍然学会了异或：它的 forward 没有经过 self.layer2",
    ),
    "xor_with_scaled_layer2": (
        "module_net(2, {hidden}, 1) with layer2 replaced by a layer computing {factor} * x still learned XOR: its forward does not go through self.layer2",
        "把 layer2 换成计算 {factor} * x 的层之后，module_net(2, {hidden}, 1) 仍然学会了异或：它的 forward 没有经过 self.layer2",
    ),
    "forward_skips_replaced_layer": (
        "{model} with {layer} replaced by a layer computing {factor} * x gives {got} on the XOR points, but layer3({factor} * layer1(x)) is {expected}: its forward does not go through self.{layer}",
        "把 {layer} 换成计算 {factor} * x 的层之后，{model} 在异或的四个点上给出 {got}，而 layer3({factor} * layer1(x)) 是 {expected}：它的 forward 没有经过 self.{layer}",
    ),
    "layer_not_linear": (
        "{doing}: {name} has {weight} but no {bias} beside it in the file, so it cannot be checked as a Linear layer",
        "{doing}：文件中有 {weight}，却没有对应的 {bias}，无法把 {name} 当作 Linear 层检查",
    ),
    "flaky": (
        "the submission answers the same question differently on repeated calls ({type})",
        "对同一个问题重复调用时，提交的代码给出了不同的回答（{type}）",
    ),
    "unchecked": ("its answer could not be checked ({type}: {message})", "无法检查它的回答（{type}：{message}）"),
    # parts of the messages above: what was returned or expected
    "tensor_of_shape": ("a {dtype} tensor of shape {shape}", "形状为 {shape} 的 {dtype} 张量"),
    "meta_tensor": ("a meta tensor of shape {shape}", "形状为 {shape} 的 meta 张量"),
    "an_object": ("a {type}", "一个 {type}"),
    "a_float_dtype": ("a float dtype", "浮点 dtype"),
    "where_input": (" where {name} = {value}", "（{name} = {value}）"),
    "tolerance": ("{atol} + {rtol}·|expected|", "{atol} + {rtol}·|期望值|"),
    # parts of the messages above: what was being done (``doing``)
    "call": ("{name}({args})", "{name}({args})"),
    "item": ("{mapping}[{entry}]", "{mapping}[{entry}]"),
    "applied_to_x": ("{model}(x)", "{model}(x)"),
    "backward": ("{call}.sum().backward()", "{call}.sum().backward()"),
    "load_state_dict": ("{model}.load_state_dict({weights})", "{model}.load_state_dict({weights})"),
    "labelled": ("{doing}: {part}", "{doing}：{part}"),
    "after": ("{what} after {doing}", "{doing} 之后的 {what}"),
    "against": ("{got} against {expected}", "{got} 与 {expected} 的对比"),
    "against_for_x_of_shape": ("{got} against {expected}, x of shape {shape}", "{got} 与 {expected} 的对比（x 的形状为 {shape}）"),
    "against_cpu": ("{doing} against the CPU result", "{doing} 与 CPU 结果的对比"),
    "for_x_of_shape": ("{call} for x of shape {shape}", "{call}（x 的形状为 {shape}）"),
    "row_sums": ("row sums of {doing}", "{doing} 的各行之和"),
    "gate_batch": ("{gate}(X) on a batch of {rows} rows", "{gate}(X)（批量为 {rows} 行）"),
    "law_with_z": ("{law} with z = {z}", "{law}，其中 z = {z}"),
    "with_identity": ("{model} with {layer} = nn.Identity()", "{model}（其中 {layer} = nn.Identity()）"),
    "training_on_xor": ("training {model} on XOR", "在异或数据上训练 {model}"),
    "on_meta": ("{name}(x) with x on the meta device, shape {shape}", "{name}(x)（x 在 meta 设备上，形状为 {shape}）"),
    "model_on_meta": ("{model}(x) with the model and x on the meta device", "{model}(x)（模型和 x 都在 meta 设备上）"),
    "on_fake_device": (
        "{name}(x) with x a fake tensor on {device} (PyTorch's FakeTensor: a shape and a device, no data), shape {shape}",
        "{name}(x)（x 是 {device} 上的 fake 张量（PyTorch 的 FakeTensor：只有形状和设备，没有数据），形状为 {shape}）",
    ),
    "model_on_fake_device": (
        "{model}(x) with the model moved by .to('{device}') and x on {device}, as PyTorch's fake tensors (no data)",
        "{model}(x)（模型用 .to('{device}') 移动，x 在 {device} 上，均为 PyTorch 的 fake 张量（没有数据））",
    ),
    "on_cuda": ("{name}(x) with x on cuda, {x}", "{name}(x)（x 在 cuda 上，{x}）"),
    "model_on_cuda": ("{name}(x) on cuda", "{name}(x)（在 cuda 上）"),
    "save_on_device": ("save_params(module_net on {device}, path)", "save_params(在 {device} 上的 module_net, path)"),
    "load_on_device": (
        "load_params(module_net on {target}, path saved on {source})",
        "load_params(在 {target} 上的 module_net, 在 {source} 上保存的 path)",
    ),
    "load_into_fresh": ("load_params(fresh {model}, path)", "load_params(新建的 {model}, path)"),
    "load_seq_net_file": (
        "load_params(module_net(2, 4, 1), path of seq_net's parameters)",
        "load_params(module_net(2, 4, 1), 保存 seq_net 参数的 path)",
    ),
    "train_on_flower": (
        "train(model, x, y, epochs={epochs}, lr={lr}) on {n} flower points",
        "在 {n} 个 flower 数据点上执行 train(model, x, y, epochs={epochs}, lr={lr})",
    ),
    "losses_returned_by": ("the losses returned by {doing}", "{doing} 返回的损失值"),
    "seq_net_on_fresh_flower": ("seq_net(fresh flower x)", "seq_net(新的 flower x)"),
    "file_written_by": ("the file written by {doing}", "{doing} 写出的文件"),
    "known_weights": ("known weights", "已知权重"),
    "initial_weights": ("initial weights", "初始权重"),
    "other_weights": ("other weights", "另一组权重"),
    "seq_net_weights_renamed": ("seq_net's weights renamed", "改名后的 seq_net 权重"),
    "fresh_model": ("fresh model", "新建的模型"),
    "listing_names": ("listing names", "列出名称"),
    "marking_output": ("marking where the output of visible checks ends", "标记可见检查的输出结束处"),
    "building_stack": ("building an nn.Sequential", "构建 nn.Sequential"),
    "inspecting_model": ("inspecting the model", "检查模型"),
    "replacing_with_scaled_identity": ("replacing {path} with a layer computing {factor} * x", "把 {path} 替换为计算 {factor} * x 的层"),
    "with_scaled_identity": ("{model} with {layer} = a layer computing {factor} * x", "{model}（其中 {layer} = 计算 {factor} * x 的层）"),
    "layer_computes": ("{model}.{name}(x), which should compute {kind}", "{model}.{name}(x)（应当计算 {kind}）"),
    "layer_with_file_weights": (
        "{model}.{name}(x) against the Linear layer with {name}.weight and {name}.bias from the file written by {doing}",
        "{model}.{name}(x) 与使用 {doing} 写出的文件中 {name}.weight 和 {name}.bias 的 Linear 层对比",
    ),
    "sequential_composes": ("{model}(x) against its layers applied one after another", "{model}(x) 与依次应用其各层的结果对比"),
    "fresh_after_load": ("the fresh model's outputs after {doing}", "{doing} 之后新模型的输出"),
    "file_after_round_trip": ("the file saved from the fresh model after {doing}", "{doing} 之后从新模型保存的文件"),
    "replacing_with_identity": ("replacing {path} with nn.Identity", "把 {path} 替换为 nn.Identity"),
    "making_file_name": ("making a file name", "生成文件名"),
    "releasing_model": ("releasing a model", "释放模型"),
    # notebook and module execution
    "cell_error": ("cell {cell} raised {type}: {message}", "第 {cell} 个单元格抛出异常 {type}：{message}"),
    "module_error": ("{file}, line {line}: {type}: {message}", "{file} 第 {line} 行：{type}：{message}"),
    "load_error": ("the submission could not be read: {why}", "无法读取提交：{why}"),
    # reading a submission
    "folder_needs_one_entry": (
        "a submission folder needs exactly one notebook, or else exactly one module; found {found}",
        "提交文件夹中应当恰好有一个 notebook，没有 notebook 时恰好有一个模块；实际找到：{found}",
    ),
    "nothing": ("nothing", "无"),
    "does_not_exist": ("{path} does not exist", "{path} 不存在"),
    "not_notebook_or_module": ("{name} is neither a .ipynb notebook nor a .py module", "{name} 既不是 .ipynb notebook，也不是 .py 模块"),
    "file_error": ("{name}: {error}", "{name}：{error}"),
    "not_utf8": ("not UTF-8 text (byte {position})", "不是 UTF-8 文本（第 {position} 个字节）"),
    "unreadable_notebook": ("not a readable Jupyter notebook ({error})", "不是可读取的 Jupyter notebook（{error}）"),
    "no_cells": ("not a Jupyter notebook (it has no cells)", "不是 Jupyter notebook（没有单元格）"),
    "undecodable_source": ("cannot decode the source ({error})", "无法解码源代码（{error}）"),
    "syntax_error_at": ("line {line}: SyntaxError: {message}", "第 {line} 行：SyntaxError：{message}"),
    # the controller and its workers
    "exit_code": ("exit code {code}", "退出码 {code}"),
    "killed_by_signal": ("signal {signal}", "信号 {signal}"),
    "no_reply": ("no reply", "没有回应"),
    "starting_worker": ("starting the worker", "启动工作进程"),
    "cell": ("cell {cell}", "第 {cell} 个单元格"),
    "total_limit": ("grading (total time limit)", "评分（总时间上限）"),
    "grading": ("grading", "评分"),
    "worker_lost_earlier": ("the worker was lost earlier", "工作进程之前已经丢失"),
    "worker_lost_times": ("the worker was lost {count} times", "工作进程已丢失 {count} 次"),
    # assignments: aliases, the student's self-check, the rubric
    "defined_as": ("{name} is defined here as {spelling}", "{name} 在这里定义为 {spelling}"),
    "self_check_start": ("checking {path}: {count} checks", "正在检查 {path}：共 {count} 项"),
    "self_check_score": ("score on these checks: {score:g} / {max:g} points", "这些检查的得分：{score:g} / {max:g} 分"),
    "isolation_limited": (
        "isolation: no memory cap on this platform; time limits are enforced by ending the worker",
        "隔离：此平台上没有内存上限；超时则结束工作进程",
    ),
    "rubric_title": ("assignment {name}, fingerprint {fingerprint}, from {sources}", "作业 {name}，指纹 {fingerprint}，来自 {sources}"),
    "rubric_topic": ("{topic} ({points:g} points)", "{topic}（{points:g} 分）"),
    "column_property": ("property", "性质"),
    "column_points": ("points", "分值"),
    "column_visibility": ("visibility", "可见性"),
    "column_enabled": ("enabled", "启用"),
    "column_statement": ("statement", "陈述"),
    "rubric_totals": (
        "{count} of {all} properties enabled, {points:g} points: {split}",
        "{all} 项性质中启用 {count} 项，共 {points:g} 分：{split}",
    ),
    "rubric_aliases": ("also accepted: {aliases}", "也接受的名称：{aliases}"),
    "rubric_limits": (
        "limits: {call:g} s per call, {cell:g} s per cell, {total:g} s per submission, {memory} of memory per worker",
        "限制：每次调用 {call:g} 秒，每个单元格 {cell:g} 秒，每份提交 {total:g} 秒，每个工作进程内存 {memory}",
    ),
    # staging a folder and reading files (grader/sandbox/staging.py, grader/load.py)
    "staging_skipped": ("not copied for grading (only plain files and folders are): {entries}{more}", "未复制用于评分（只复制普通文件和文件夹）：{entries}{more}"),
    "staging_skipped_entry": ("{path} ({why})", "{path}（{why}）"),
    "and_more": (" and {count} more", "，另有 {count} 项"),
    "staging_link": ("a link", "链接"),
    "staging_fifo": ("a FIFO", "命名管道 FIFO"),
    "staging_socket": ("a socket", "套接字"),
    "staging_device": ("a device", "设备文件"),
    "staging_special": ("not a plain file", "不是普通文件"),
    "staging_unreadable": ("could not be read", "无法读取"),
    "staging_cap": ("the submission's folder could not be copied for grading: {cap}", "无法复制提交的文件夹用于评分：{cap}"),
    "staging_cap_bytes": ("its files hold more than {size}", "其中的文件超过 {size}"),
    "staging_cap_files": ("it holds more than {count} files", "其中的文件超过 {count} 个"),
    "staging_cap_depth": ("its folders are nested deeper than {depth}", "文件夹嵌套超过 {depth} 层"),
    "staging_cap_time": ("copying took longer than {seconds:g} s", "复制耗时超过 {seconds:g} 秒"),
    "staging_changed": ("the submission's folder changed while it was being graded", "提交的文件夹在评分期间被修改"),
    "is_link": ("{name} is a link, and links are not followed", "{name} 是链接，评分时不会跟随链接"),
    "not_plain_file": ("{name} is not a plain file", "{name} 不是普通文件"),
    "too_large": ("{name} is {size}, over the limit of {cap}", "{name} 的大小为 {size}，超过上限 {cap}"),
    "grader_failed": ("the grader failed on this submission in {doing} ({error}); please tell your teacher", "评分程序在{doing}时出错（{error}），请告知老师"),
    # the grading machine's own memory (grader/machine.py): never the submission's fault
    "limit_cgroup": ("the memory cgroup's {file}", "内存 cgroup 的 {file}"),
    "limit_address_space": ("RLIMIT_AS (ulimit -v)", "RLIMIT_AS（ulimit -v）"),
    "machine_memory_low": (
        "{limit} allows {have}, but propgrade itself needs about {need} (controller, fork server and one worker): submissions may not get graded. On Gradescope raise the memory in Autograder Settings; elsewhere raise the container's or job's memory limit",
        "{limit} 只允许 {have}，而 propgrade 本身约需 {need}（控制进程、fork 服务进程和一个工作进程）：提交可能无法评分。在 Gradescope 上请在 Autograder Settings 中调高内存；在其他环境请调高容器或作业的内存上限",
    ),
    "machine_out_of_memory_limit": (
        "not graded: the grading machine ran out of memory ({limit} allows {have}; propgrade needs about {need}) and the kernel ended a grading process; this is not the submission's fault: raise the limit (on Gradescope: Autograder Settings) and grade it again",
        "未评分：评分机器内存不足（{limit} 只允许 {have}；propgrade 约需 {need}），内核终止了一个评分进程；这不是提交的问题：请调高上限（Gradescope：Autograder Settings）后重新评分",
    ),
    "machine_out_of_memory": (
        "not graded: the grading machine ran out of memory (propgrade needs about {need}) and the kernel ended a grading process; this is not the submission's fault: give the machine more memory (on Gradescope: Autograder Settings) and grade it again",
        "未评分：评分机器内存不足（propgrade 约需 {need}），内核终止了一个评分进程；这不是提交的问题：请为评分机器分配更多内存（Gradescope：Autograder Settings）后重新评分",
    ),
    "controller_lost": (
        "not graded: the grading process itself ended ({how}); this is not the submission's fault: grade it again",
        "未评分：评分进程自身意外结束（{how}）；这不是提交的问题：请重新评分",
    ),
    "loading": ("loading", "读取提交"),
    # the check inside a notebook (grader/notebook.py)
    "notebook_unsaved": (
        "the kernel ran code that the saved notebook does not hold ({count} cell(s)); this check grades the saved file: save the notebook and run the check again",
        "内核运行过的代码有 {count} 个单元格不在已保存的 notebook 中；本检查评的是已保存的文件：请先保存 notebook，再运行检查",
    ),
    "notebook_stale": (
        "the saved notebook is older than the kernel's last run of a cell; this check grades the saved file: save the notebook and run the check again",
        "已保存的 notebook 比内核最近一次运行单元格的时间更早；本检查评的是已保存的文件：请先保存 notebook，再运行检查",
    ),
    "notebook_not_found": (
        "cannot tell which notebook file this kernel runs; pass its path: propgrade(\"{example}\")",
        "无法确定这个内核运行的是哪个 notebook 文件；请给出路径：propgrade(\"{example}\")",
    ),
    "notebook_other_assignment": (
        "this notebook was released for assignment {released} ({released_fingerprint}), but the check used {used} ({used_fingerprint}): "
        "pass the assignment file your course gave you, propgrade(assignment=\"course.toml\")",
        "这个 notebook 是为作业 {released}（{released_fingerprint}）发布的，但本次检查使用的是 {used}（{used_fingerprint}）："
        "请传入课程提供的作业文件，propgrade(assignment=\"course.toml\")",
    ),
    "notebook_checked_file": ("checked the saved file {path}", "检查的是已保存的文件 {path}"),
    "check_unchanged": (
        "the saved file is the one checked last time: its result, shown again (save your changes to check them)",
        "保存的文件与上次检查的相同：以下是上次的结果（保存修改后再检查）",
    ),
    "column_result": ("result", "结果"),
    "column_found": ("what was found", "检查发现"),
}

@dataclass(frozen=True)
class Message:
    key: str
    fields: dict = field(default_factory=dict)

    def render(self, lang: str = "en") -> str:
        template = TEMPLATES[self.key][LANGUAGES.index(lang)]
        fields = {name: value.render(lang) if isinstance(value, Message) else value for name, value in self.fields.items()}
        text = template.format(**fields)
        return _ZH_SPACES.sub("", text) if lang == "zh" else text

    def __str__(self) -> str:
        return self.render("en")


def say(key: str, **fields) -> Message:
    if key not in TEMPLATES:
        raise KeyError(f"no message template {key!r}")
    return Message(key, fields)
