# Renders chat templates with Jinja2 configured as transformers configures it for apply_chat_template: the immutable
# sandbox, trim_blocks and lstrip_blocks, loop controls, tojson as json.dumps(ensure_ascii=False), raise_exception and
# strftime_now (here at a fixed time). Input: a JSON file of {"cases": [{"template", "vars"}]}; output: a JSON list
# of {"ok": text} or {"error": message}.
import json, sys
from datetime import datetime
import jinja2.ext
from jinja2.exceptions import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

def raise_exception(message):
    raise TemplateError(message)

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = lambda fmt: datetime(2024, 7, 26, 9, 5, 3).strftime(fmt)

with open(sys.argv[1], encoding="utf-8") as f:
    cases = json.load(f)["cases"]
results = []
for case in cases:
    try:
        results.append({"ok": env.from_string(case["template"]).render(**case["vars"])})
    except Exception as e:
        results.append({"error": str(e)})
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump(results, f)
