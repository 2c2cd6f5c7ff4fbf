// Independent reference for Tessera's tokenizer parity tests: encodes lines with @huggingface/tokenizers (the JS
// port of HF tokenizers) from the same tokenizer.json. Usage: node encode.mjs DIR, where DIR holds tokenizer.json,
// tokenizer_config.json (optional) and lines.json (an array of strings); writes DIR/reference.json with the ids of
// every line (special tokens added) and the decode of those ids.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";

const dir = process.argv[2];
const tokenizerJson = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8"));
const configPath = join(dir, "tokenizer_config.json");
const config = existsSync(configPath) ? JSON.parse(readFileSync(configPath, "utf8")) : {};
const lines = JSON.parse(readFileSync(join(dir, "lines.json"), "utf8"));
const tokenizer = new Tokenizer(tokenizerJson, config);
const ids = [];
const decoded = [];
for (const line of lines) {
  const encoding = tokenizer.encode(line, { add_special_tokens: true });
  ids.push(encoding.ids);
  decoded.push(encoding.ids.length ? tokenizer.decode(encoding.ids, { skip_special_tokens: false }) : "");
}
writeFileSync(join(dir, "reference.json"), JSON.stringify({ ids, decoded }));
