# An independent OpenAI streaming client: POSTs a JSON body and parses the server-sent events by the spec
# (lines "data: ...", events end at a blank line, "data: [DONE]" ends the stream). Prints a JSON summary.
import json, sys, urllib.request

url, body = sys.argv[1], sys.argv[2]
req = urllib.request.Request(url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST")
chunks, done, after_done, text, finish, usage, roles = [], False, 0, "", None, None, []
tool_calls = {}  # by index, accumulated as OpenAI's clients do: id and type once, name and arguments concatenated
with urllib.request.urlopen(req, timeout=60) as resp:
    content_type = resp.headers.get("Content-Type")
    data_lines = []
    for raw in resp:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line == "":
            if not data_lines:
                continue
            payload = "\n".join(data_lines)
            data_lines = []
            if done:
                after_done += 1
                continue
            if payload == "[DONE]":
                done = True
                continue
            chunk = json.loads(payload)
            chunks.append(chunk)
            if chunk.get("usage") is not None:
                usage = chunk["usage"]
                assert chunk["choices"] == [], "the usage chunk must have no choices"
            for c in chunk["choices"]:
                if "delta" in c:
                    if "role" in c["delta"]:
                        roles.append(c["delta"]["role"])
                    text += c["delta"].get("content") or ""
                    for tc in c["delta"].get("tool_calls") or []:
                        slot = tool_calls.setdefault(tc["index"], {"id": None, "type": None, "name": "", "arguments": ""})
                        slot["id"] = tc.get("id") or slot["id"]
                        slot["type"] = tc.get("type") or slot["type"]
                        slot["name"] += (tc.get("function") or {}).get("name") or ""
                        slot["arguments"] += (tc.get("function") or {}).get("arguments") or ""
                else:
                    text += c["text"]
                if c["finish_reason"] is not None:
                    assert finish is None, "two chunks carry a finish_reason"
                    finish = c["finish_reason"]
        elif line.startswith("data:"):
            data_lines.append(line[5:].lstrip(" "))
        else:
            raise AssertionError("unexpected SSE line: " + line)
objects = sorted({c["object"] for c in chunks})
ids = sorted({c["id"] for c in chunks})
print(json.dumps({"content_type": content_type, "chunks": len(chunks), "done": done, "after_done": after_done, "text": text,
                  "finish_reason": finish, "usage": usage, "tool_calls": [tool_calls[i] for i in sorted(tool_calls)], "roles": roles, "objects": objects, "ids": len(ids),
                  "usage_null_on_others": all(("usage" in c and c["usage"] is None) for c in chunks[:-1])}))
