"""The README's quick start runs as written."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_quick_start_and_the_evaluation_example_run():
    text = README.read_text()
    quick = re.search(r"## Quick start\s+```python\n(.*?)```", text, re.S).group(1)
    evaluation = re.search(r"## Serving, fold-in and evaluation.*?```python\n(.*?)```", text,
                           re.S).group(1)
    namespace = {}
    exec(compile(quick, "README quick start", "exec"), namespace)
    exec(compile(evaluation, "README evaluation example", "exec"), namespace)
